import { expandDims, squeeze, type Tensor, treeEntries, zeros } from "@unroll/tensor";
import { OnnxExportError } from "../export/builder.js";
import { traceToOnnx } from "../export/graph-to-onnx.js";
import type { RecurrentLowering } from "../export/lowering.js";
import { loweringFor } from "../runtime/providers.js";
import type { ExecutionProvider } from "../runtime/session.js";
import { formatMetadata, METADATA_KEYS, type GraphSignature } from "../metadata.js";
import { encodeModel, type ModelProto } from "../proto/onnx.js";

// The language model's export, without importing @unroll/nlp (which sits above this package): the
// model is anything with nlp's `LanguageModel` shape, and the tokenizer anything with `toJSON`.

/** A recurrent state: `[layers * directions, batch, hidden]` each. */
export interface RecurrentStateLike {
  readonly h: Tensor;
  readonly c?: Tensor;
}

/** What the exporter needs of a language model: nlp's `LanguageModel` fits. */
export interface LanguageModelLike<P> {
  readonly config: {
    readonly vocabSize: number;
    readonly cell: string;
    readonly hiddenSize: number;
    readonly numLayers: number;
  };
  /** Logits `[T, B, V]` for int32 tokens `[T, B]` from `state`; `lengths` marks a padded batch. */
  forward(
    params: P,
    tokens: Tensor,
    state?: RecurrentStateLike | null,
    options?: { readonly lengths?: Tensor },
  ): { readonly logits: Tensor; readonly state: RecurrentStateLike };
}

export interface ExportLanguageModelOptions {
  /**
   * "step" (default): one token per example, the state in and out, for generation: inputs
   * `tokens` int32 [batch], `h_0` (and `c_0`) [layers, batch, hidden]; outputs `logits`
   * [batch, vocab], `h_n` (and `c_n`). "sequence": inputs `tokens` int32 [time, batch], `lengths`
   * int32 [batch] (unless `lengths: false`), `h_0`, `c_0`; outputs `logits` [time, batch, vocab],
   * `h_n`, `c_n` (each example's state at its own last step).
   */
  readonly graph?: "step" | "sequence";
  /** Sequence graph only: whether it takes per-example lengths (sequence_lens). Default true. */
  readonly lengths?: boolean;
  /** Stored as metadata `unroll.tokenizer` (its `toJSON()`), so the file carries its vocabulary. */
  readonly tokenizer?: { toJSON(): unknown };
  /**
   * "operators" (default): ONNX LSTM/GRU/RNN. "unrolled": MatMul-level steps (step graph only).
   * Default with `provider`: what that provider runs in full (`loweringFor`).
   */
  readonly lowering?: RecurrentLowering;
  /**
   * The execution provider the file is for, when `lowering` is not given: "webgpu" writes a plain
   * RNN's step graph unrolled (onnxruntime-web's WebGPU provider has no RNN kernel) and keeps the
   * LSTM and GRU operators, which it runs. The sequence graph keeps the operators (it has a dynamic
   * time axis); `OnnxSession.cpuNodes` then says which nodes run on the CPU.
   */
  readonly provider?: ExecutionProvider;
  /** Default 17. */
  readonly opset?: number;
  /** More metadata_props. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** The same export as a `ModelProto` (see `exportLanguageModel`). */
export function languageModelToOnnx<P>(model: LanguageModelLike<P>, params: P, options: ExportLanguageModelOptions = {}): ModelProto {
  const { vocabSize: V, cell, hiddenSize: H, numLayers: L } = model.config;
  const kind = options.graph ?? "step";
  if (kind !== "step" && kind !== "sequence") throw new OnnxExportError("exportLanguageModel", `graph must be "step" or "sequence", got ${String(kind)}`);
  if (kind === "step" && options.lengths !== undefined) {
    throw new OnnxExportError("exportLanguageModel", "lengths applies to the sequence graph (a step reads one token per example)");
  }
  const lstm = cell === "lstm";
  const withLengths = kind === "sequence" && options.lengths !== false;
  const state = (h: Tensor, c: Tensor | undefined): RecurrentStateLike => (lstm ? { h, c: c! } : { h });
  const stateOut = (s: RecurrentStateLike): Tensor[] => (lstm ? [s.h, s.c!] : [s.h]);

  // Examples at two sizes per dynamic axis (time 3 and 7, batch 2 and 5: no axis, nor one off by
  // one, shares its sizes with another), every one padded, so that the exporter can check that the
  // graph records no size and that lengths are read as an input.
  const sizes = [
    { T: 3, B: 2, lengths: [3, 2] },
    { T: 7, B: 5, lengths: [7, 2, 6, 1, 4] },
  ];
  const tokens = (n: number, shape: number[]): Tensor => {
    const t = zeros(shape, "int32");
    for (let i = 0; i < n; i++) t.data[i] = (i * 7 + 3) % V;
    return t;
  };
  const initial = (B: number): Tensor[] => (lstm ? [zeros([L, B, H]), zeros([L, B, H])] : [zeros([L, B, H])]);

  const stateNames = lstm ? ["h_0", "c_0"] : ["h_0"];
  const stateOutNames = lstm ? ["h_n", "c_n"] : ["h_n"];
  let f: (...inputs: Tensor[]) => Tensor[];
  let examples: Tensor[][];
  let inputNames: string[];
  let outputNames: string[];
  let dynamicAxes: Record<string, Record<number, string>>;
  if (kind === "step") {
    f = (t, h, c) => {
      const out = model.forward(params, expandDims(t!, 0), state(h!, c));
      return [squeeze(out.logits, [0]), ...stateOut(out.state)];
    };
    examples = sizes.map(({ B }) => [tokens(B, [B]), ...initial(B)]);
    inputNames = ["tokens", ...stateNames];
    outputNames = ["logits", ...stateOutNames];
    dynamicAxes = { tokens: { 0: "batch" } };
  } else if (withLengths) {
    f = (t, lengths, h, c) => {
      const out = model.forward(params, t!, state(h!, c), { lengths: lengths! });
      return [out.logits, ...stateOut(out.state)];
    };
    examples = sizes.map(({ T, B, lengths }) => {
      const len = zeros([B], "int32");
      len.data.set(lengths);
      return [tokens(T * B, [T, B]), len, ...initial(B)];
    });
    inputNames = ["tokens", "lengths", ...stateNames];
    outputNames = ["logits", ...stateOutNames];
    dynamicAxes = { tokens: { 0: "time", 1: "batch" }, lengths: { 0: "batch" } };
  } else {
    f = (t, h, c) => {
      const out = model.forward(params, t!, state(h!, c));
      return [out.logits, ...stateOut(out.state)];
    };
    examples = sizes.map(({ T, B }) => [tokens(T * B, [T, B]), ...initial(B)]);
    inputNames = ["tokens", ...stateNames];
    outputNames = ["logits", ...stateOutNames];
    dynamicAxes = { tokens: { 0: "time", 1: "batch" } };
  }
  for (const name of stateNames) dynamicAxes[name] = { 1: "batch" };

  const signature: GraphSignature = {
    tokens: "tokens",
    tokenType: "int32",
    ...(withLengths ? { lengths: "lengths" } : {}),
    logits: "logits",
    state: stateNames.map((input, k) => ({ input, output: stateOutNames[k]!, shape: [L, "batch", H] })),
  };
  const names = new Map<Tensor, string>(treeEntries(params).map(([path, t]) => [t, path]));
  return traceToOnnx(f, examples, {
    inputNames,
    outputNames,
    dynamicAxes,
    names,
    lowering: options.lowering ?? (options.provider !== undefined && kind === "step" ? loweringFor(options.provider, cell) : "operators"),
    ...(options.opset !== undefined ? { opset: options.opset } : {}),
    graphName: `language-model-${kind}`,
    docString: `${L}-layer ${cell} language model (hidden ${H}, vocabulary ${V}), ${kind === "step" ? "one step" : "whole sequences"}`,
    metadata: {
      ...formatMetadata(`language-model/${kind}`, model.config),
      ...(options.tokenizer ? { [METADATA_KEYS.tokenizer]: JSON.stringify(options.tokenizer.toJSON()) } : {}),
      [METADATA_KEYS.signature]: JSON.stringify(signature),
      ...options.metadata,
    },
  });
}

/**
 * Exports a language model (nlp's `LanguageModel`, or anything of its shape) as an ONNX file:
 * the one-step graph for generation or the whole-sequence graph (see `ExportLanguageModelOptions`),
 * batch and time axes dynamic, parameters as initializers under their state_dict names, and
 * metadata: format tag and version, the model configuration, the tokenizer and the graph's
 * signature (which `onnxStepFunction` reads).
 */
export function exportLanguageModel<P>(model: LanguageModelLike<P>, params: P, options: ExportLanguageModelOptions = {}): Uint8Array {
  return encodeModel(languageModelToOnnx(model, params, options));
}
