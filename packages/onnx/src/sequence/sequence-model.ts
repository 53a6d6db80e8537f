import { Tensor, treeEntries, zeros } from "@unroll/tensor";
import { OnnxExportError } from "../export/builder.js";
import { traceToOnnx } from "../export/graph-to-onnx.js";
import { encodeModel, type ModelProto } from "../proto/onnx.js";
import { formatMetadata } from "../metadata.js";

// The export of nlp's many-to-one and regression models (SequenceClassifier, SequenceForecaster)
// without importing @unroll/nlp: anything of their shape.

/** What the exporter needs of a sequence classifier or forecaster. */
export interface SequenceModelLike<P> {
  readonly config: {
    /** Token ids in (then `inputSize` is null). */
    readonly vocabSize: number | null;
    /** Numeric features per step in. */
    readonly inputSize: number | null;
    readonly cell: string;
    readonly hiddenSize: number;
  };
  /** A classifier returns its logits (and attention weights); a forecaster its predictions. */
  forward(params: P, inputs: Tensor, lengths: Tensor): Tensor | { readonly logits: Tensor; readonly attention: Tensor | null };
}

export interface ExportSequenceModelOptions {
  /** The name of a model's single output (default "predictions"; a tagger's per-step logits: "logits"). */
  readonly outputName?: string;
  /**
   * The length of every sequence, for models that read numeric features: their graph has a fixed
   * time axis (a forecaster's window) and a dynamic batch. Token models have a dynamic time axis
   * and need none.
   */
  readonly time?: number;
  readonly opset?: number;
  /** More metadata_props (the vocabulary, the class names, the feature scaling...). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * A sequence classifier, tagger or forecaster as ONNX: inputs `inputs` (int32 token ids `[time, batch]`,
 * 0 at padding, or float features `[time, batch, features]`) and `lengths` int32 `[batch]`;
 * outputs `logits` `[batch, classes]` (and `attention` `[batch, time]` with attention pooling) or
 * `predictions` `[batch, outputs]` (a tagger's `[time, batch, tags]`, named with `outputName`). Batch (and, for tokens, time) axes are dynamic; the recurrent
 * layers are ONNX's LSTM/GRU/RNN operators with `sequence_lens`.
 */
export function sequenceModelToOnnx<P>(model: SequenceModelLike<P>, params: P, options: ExportSequenceModelOptions = {}): ModelProto {
  const { vocabSize, inputSize } = model.config;
  const tokens = vocabSize !== null;
  if (!tokens && options.time === undefined) {
    throw new OnnxExportError("exportSequenceModel", "a model of numeric features is exported for one sequence length: pass time (e.g. the forecaster's window)");
  }
  // Two sizes per dynamic axis (no axis shares its sizes with another), every example padded where
  // the axis is dynamic, so that the exporter checks that the graph records no size.
  const sizes = tokens
    ? [
        { T: 3, B: 2, lengths: [3, 2] },
        { T: 7, B: 5, lengths: [7, 2, 6, 1, 4] },
      ]
    : [
        { T: options.time!, B: 2, lengths: [options.time!, options.time!] },
        { T: options.time!, B: 5, lengths: new Array<number>(5).fill(options.time!) },
      ];
  const examples = sizes.map(({ T, B, lengths }) => {
    const len = zeros([B], "int32");
    len.data.set(lengths);
    if (tokens) {
      const ids = zeros([T, B], "int32");
      for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) if (t < lengths[b]!) ids.data[t * B + b] = 1 + ((t * 7 + b * 3) % (vocabSize - 1));
      return [ids, len];
    }
    const x = zeros([T, B, inputSize!]);
    for (let i = 0; i < x.size; i++) x.data[i] = Math.sin(i);
    return [x, len];
  });
  const probe = model.forward(params, examples[0]![0]!, examples[0]![1]!);
  const classifier = !(probe instanceof Tensor);
  const withAttention = !(probe instanceof Tensor) && probe.attention !== null;
  const f = (inputs: Tensor, lengths: Tensor): Tensor[] => {
    const out = model.forward(params, inputs, lengths);
    if (out instanceof Tensor) return [out];
    return out.attention ? [out.logits, out.attention] : [out.logits];
  };
  const outputNames = classifier ? (withAttention ? ["logits", "attention"] : ["logits"]) : [options.outputName ?? "predictions"];
  const names = new Map<Tensor, string>(treeEntries(params as never).map(([path, t]) => [t, path]));
  const kind = classifier ? "sequence-classifier" : "sequence-forecaster";
  return traceToOnnx((i, l) => f(i!, l!), examples, {
    inputNames: ["inputs", "lengths"],
    outputNames,
    dynamicAxes: tokens ? { inputs: { 0: "time", 1: "batch" }, lengths: { 0: "batch" } } : { inputs: { 1: "batch" }, lengths: { 0: "batch" } },
    names,
    lowering: "operators",
    ...(options.opset !== undefined ? { opset: options.opset } : {}),
    graphName: kind,
    docString: `${model.config.cell} ${kind.replace("sequence-", "sequence ")} (hidden ${model.config.hiddenSize})`,
    metadata: { ...formatMetadata(kind, model.config), ...options.metadata },
  });
}

/** `sequenceModelToOnnx` as the bytes of an .onnx file. */
export function exportSequenceModel<P>(model: SequenceModelLike<P>, params: P, options: ExportSequenceModelOptions = {}): Uint8Array {
  return encodeModel(sequenceModelToOnnx(model, params, options));
}
