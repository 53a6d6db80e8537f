import { CompileError, onnxruntimeEngine, type OnnxEngineOptions } from "@unroll/onnx";
import { defaultWasmThreads, MAX_WASM_THREADS } from "@unroll/tensor";
import type { EngineFactory } from "@unroll/train";
import { kinds } from "../settings/validate.js";
import { UserError } from "../ui/errors.js";

// The train commands' choice of what computes the gradients: the library's autodiff on the
// WebAssembly (or reference) kernels, or each step compiled into one onnxruntime graph. By default
// ("auto") the compiled engine, which trains 2-3x faster on native kernels (tooling/bench), with
// the library's as the fallback for a model that does not compile and whenever --kernels is given.

export type EngineName = "auto" | "library" | "onnxruntime";

/** The `--threads` and `--engine` settings of a train command; `compiles` says what the compiled engine trains. */
export function engineSettings(compiles: string) {
  return {
    threads: { kind: { type: "integer", min: 1, max: MAX_WASM_THREADS }, help: "threads for the WebAssembly kernels and for onnxruntime (default: the cores, at most 8)" },
    engine: {
      kind: kinds.choice("auto", "library", "onnxruntime"),
      default: "auto",
      help: `auto (onnxruntime where the model compiles and --kernels is not given, else library) | library (autodiff on --kernels) | onnxruntime (each step compiled into one onnxruntime graph; ${compiles})`,
    },
  } as const;
}

/** What `--engine` (and `--kernels`) resolve to: "onnxruntime" for auto, unless --kernels names the library's kernels. */
export function engineOf(values: ReadonlyMap<string, unknown>): EngineName {
  const asked = (values.get("engine") as EngineName | undefined) ?? "auto";
  if (asked !== "auto") return asked;
  return values.has("kernels") ? "library" : "auto";
}

/** How the command's summary line names the engine. */
export function engineLabel(values: ReadonlyMap<string, unknown>, kernels: string): string {
  const engine = engineOf(values);
  return engine === "library" ? `kernels ${kernels}` : engine === "auto" ? "engine onnxruntime (auto)" : "engine onnxruntime";
}

/**
 * The engine the settings ask for: none (the library's) or onnxruntime on `--threads` (default: the
 * cores). Under auto, a model that does not compile trains on the library's kernels, and `tell` says why.
 */
export function chosenEngine(
  values: ReadonlyMap<string, unknown>,
  options: Pick<OnnxEngineOptions, "tokens"> & { readonly tell?: (line: string) => void } = {},
): { readonly engine?: EngineFactory } {
  const engine = engineOf(values);
  if (engine === "library") return {};
  const { tell, ...rest } = options;
  return {
    engine: onnxruntimeEngine({
      ...rest,
      threads: (values.get("threads") as number | undefined) ?? defaultWasmThreads(),
      ...(engine === "auto"
        ? { onUncompilable: (e: CompileError) => tell?.(`the compiled engine cannot train this model (${e.message.replace(/^compileStep: /, "")}); training on the library's kernels instead`) }
        : {}),
    }),
  };
}

/** A model the compiled engine cannot train, as the user's error it is: the cause, and the fix (by default the other engine or another cell). */
export function engineRefusal(e: unknown, fix = "use --engine library (or auto, the default), or change what it names (--cell lstm or gru)"): UserError | null {
  if (!(e instanceof CompileError)) return null;
  return new UserError(`--engine onnxruntime cannot train this model: ${e.message.replace(/^compileStep: /, "")}`, fix);
}
