import { CompileError, onnxruntimeEngine, type OnnxEngineOptions } from "@unroll/onnx";
import { defaultWasmThreads, MAX_WASM_THREADS } from "@unroll/tensor";
import type { EngineFactory } from "@unroll/train";
import { kinds } from "../settings/validate.js";
import { UserError } from "../ui/errors.js";

// The train commands' choice of what computes the gradients: the library's autodiff on the
// WebAssembly (or reference) kernels, or each step compiled into one onnxruntime graph. By default
// ("auto") the faster one for the command's batches: the compiled engine, 2-3x faster on native
// kernels (tooling/bench), where the batches come in few shapes (language models, translation,
// forecasting), with the library's as the fallback for a model that does not compile and whenever
// --kernels is given; the library's where every batch length would be a graph of its own (texts
// of up to 400 tokens: 105 steps in 8 minutes against the library's 439 on SpamAssassin).

export type EngineName = "auto" | "library" | "onnxruntime";

/** What `--engine auto` is for a command. */
export type AutoEngine = "onnxruntime" | "library";

/** The `--threads` and `--engine` settings of a train command; `compiles` says what the compiled engine trains. */
export function engineSettings(compiles: string, auto: AutoEngine = "onnxruntime") {
  const autoHelp =
    auto === "onnxruntime"
      ? "auto (onnxruntime where the model compiles and --kernels is not given, else library)"
      : "auto (library: texts of many lengths would each compile a graph of their own)";
  return {
    threads: { kind: { type: "integer", min: 1, max: MAX_WASM_THREADS }, help: "threads for the WebAssembly kernels and for onnxruntime (default: the cores, at most 8)" },
    engine: {
      kind: kinds.choice("auto", "library", "onnxruntime"),
      default: "auto",
      help: `${autoHelp} | library (autodiff on --kernels) | onnxruntime (each step compiled into one onnxruntime graph; ${compiles})`,
    },
  } as const;
}

/** What `--engine` (and `--kernels`) resolve to: auto stays auto (onnxruntime with the library as fallback) unless --kernels is given or the command's auto is the library. */
export function engineOf(values: ReadonlyMap<string, unknown>, auto: AutoEngine = "onnxruntime"): EngineName {
  const asked = (values.get("engine") as EngineName | undefined) ?? "auto";
  if (asked !== "auto") return asked;
  return auto === "library" || values.has("kernels") ? "library" : "auto";
}

/** How the command's summary line names the engine. */
export function engineLabel(values: ReadonlyMap<string, unknown>, kernels: string, auto: AutoEngine = "onnxruntime"): string {
  const engine = engineOf(values, auto);
  return engine === "library" ? `kernels ${kernels}` : engine === "auto" ? "engine onnxruntime (auto)" : "engine onnxruntime";
}

/**
 * The engine the settings ask for: none (the library's) or onnxruntime on `--threads` (default: the
 * cores). Under auto, a model that does not compile trains on the library's kernels, and `tell` says why.
 */
export function chosenEngine(
  values: ReadonlyMap<string, unknown>,
  options: Pick<OnnxEngineOptions, "tokens"> & { readonly tell?: (line: string) => void; readonly auto?: AutoEngine } = {},
): { readonly engine?: EngineFactory } {
  const engine = engineOf(values, options.auto);
  if (engine === "library") return {};
  const { tell, auto: _auto, ...rest } = options;
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
