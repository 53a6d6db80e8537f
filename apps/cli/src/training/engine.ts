import { CompileError, onnxruntimeEngine, type OnnxEngineOptions } from "@unroll/onnx";
import { defaultWasmThreads, MAX_WASM_THREADS } from "@unroll/tensor";
import type { EngineFactory } from "@unroll/train";
import { kinds } from "../settings/validate.js";
import { UserError } from "../ui/errors.js";

// The train commands' choice of what computes the gradients: the library's autodiff on the
// WebAssembly (or reference) kernels, or each step compiled into one onnxruntime graph.

/** The `--threads` and `--engine` settings of a train command; `compiles` says what the compiled engine trains. */
export function engineSettings(compiles: string) {
  return {
    threads: { kind: { type: "integer", min: 1, max: MAX_WASM_THREADS }, help: "threads for the WebAssembly kernels, and for onnxruntime with --engine onnxruntime (default: the cores, at most 8)" },
    engine: {
      kind: kinds.choice("library", "onnxruntime"),
      help: `library (default: autodiff on --kernels) | onnxruntime (each step compiled into one onnxruntime graph; ${compiles})`,
    },
  } as const;
}

/** The engine the settings ask for: none (the library's) or onnxruntime on `--threads` (default: the cores). */
export function chosenEngine(values: ReadonlyMap<string, unknown>, options: Pick<OnnxEngineOptions, "tokens"> = {}): { readonly engine?: EngineFactory } {
  if (values.get("engine") !== "onnxruntime") return {};
  return { engine: onnxruntimeEngine({ ...options, threads: (values.get("threads") as number | undefined) ?? defaultWasmThreads() }) };
}

/** A model the compiled engine cannot train, as the user's error it is: the cause, and the fix (by default the other engine or another cell). */
export function engineRefusal(e: unknown, fix = "use --engine library (the default), or change what it names (--cell lstm or gru)"): UserError | null {
  if (!(e instanceof CompileError)) return null;
  return new UserError(`--engine onnxruntime cannot train this model: ${e.message.replace(/^compileStep: /, "")}`, fix);
}
