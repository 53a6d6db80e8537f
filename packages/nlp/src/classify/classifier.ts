import { add, div, formatShape, gather, mul, type Rng, ShapeError, softmaxCrossEntropy, sum, Tensor, ValueRangeError, valueAndGrad, zeros } from "@unroll/tensor";
import { Linear } from "@unroll/cells";
import { checkStateDict, type LossFunction } from "@unroll/train";
import {
  type AttentionPoolParams,
  type EncodeOptions,
  lengthsTensor,
  pool,
  type Pooling,
  POOLINGS,
  type ResolvedEncoderConfig,
  resolveEncoderConfig,
  SequenceEncoder,
  type SequenceEncoderConfig,
  type SequenceEncoderParams,
  l2Norm,
} from "./encoder.js";

export interface SequenceClassifierConfig extends SequenceEncoderConfig {
  /** Classes to tell apart (2 or more). */
  readonly numClasses: number;
  /** Default "mean": robust on long texts, where the last state alone has to carry everything. */
  readonly pooling?: Pooling;
  /** Width of attention pooling's scoring layer. Default hiddenSize. */
  readonly attentionSize?: number;
}

export interface ResolvedClassifierConfig extends ResolvedEncoderConfig {
  readonly numClasses: number;
  readonly pooling: Pooling;
  readonly attentionSize: number;
}

/** Parameters: `embedding.weight`, `rnn.*`, `attention.{weight,bias,v}` (attention pooling), `head.{weight,bias}`. */
export interface SequenceClassifierParams extends SequenceEncoderParams {
  readonly attention?: AttentionPoolParams;
  readonly head: { readonly weight: Tensor; readonly bias: Tensor };
}

/**
 * A padded, time-first batch of labelled sequences: `inputs` int32 ids `[T, B]` (0 pads) or
 * float features `[T, B, F]`, `lengths` int32 `[B]`, `labels` int32 `[B]`.
 */
export interface ClassificationBatch {
  readonly inputs: Tensor;
  readonly lengths: Tensor;
  readonly labels: Tensor;
}

export interface ClassifierLossOptions {
  /**
   * A weight per class, PyTorch's `cross_entropy(weight=...)`: each example's loss is scaled by
   * its class's weight and the mean divides by the sum of the weights, so rare classes count more.
   */
  readonly classWeights?: readonly number[];
}

/**
 * Many-to-one: one label for a whole sequence ("the concert was boring for the first 15 minutes
 * ... but then was terribly exciting" -> positive). Embedding (or numeric features) -> stacked
 * (bi)RNN/LSTM/GRU over padded variable-length batches -> pooling -> linear -> softmax.
 */
export class SequenceClassifier {
  readonly config: ResolvedClassifierConfig;
  readonly encoder: SequenceEncoder;
  private readonly head: Linear;
  private readonly attention: Linear | null;

  constructor(config: SequenceClassifierConfig) {
    const op = "SequenceClassifier";
    const base = resolveEncoderConfig(op, config, { bidirectional: true });
    const c: ResolvedClassifierConfig = { ...base, numClasses: config.numClasses, pooling: config.pooling ?? "mean", attentionSize: config.attentionSize ?? base.hiddenSize };
    if (!Number.isInteger(c.numClasses) || c.numClasses < 2) throw new ValueRangeError(op, `numClasses must be an integer of at least 2, got ${String(c.numClasses)}`);
    if (!POOLINGS.includes(c.pooling)) throw new ValueRangeError(op, `pooling must be one of ${POOLINGS.join(", ")}; got ${String(c.pooling)}`);
    if (!Number.isInteger(c.attentionSize) || c.attentionSize < 1) throw new ValueRangeError(op, `attentionSize must be a positive integer, got ${String(c.attentionSize)}`);
    this.config = c;
    this.encoder = new SequenceEncoder(op, base);
    const width = this.encoder.outputWidth;
    this.attention = c.pooling === "attention" ? new Linear(width, c.attentionSize) : null;
    this.head = new Linear(width, c.numClasses);
  }

  parameterShapes(): Record<string, number[]> {
    const shapes = this.encoder.parameterShapes();
    if (this.attention) {
      shapes["attention.weight"] = [this.config.attentionSize, this.encoder.outputWidth];
      shapes["attention.bias"] = [this.config.attentionSize];
      shapes["attention.v"] = [this.config.attentionSize];
    }
    shapes["head.weight"] = [this.config.numClasses, this.encoder.outputWidth];
    shapes["head.bias"] = [this.config.numClasses];
    return shapes;
  }

  init(rng: Rng): SequenceClassifierParams {
    const encoder = this.encoder.init(rng);
    let attention: AttentionPoolParams | undefined;
    if (this.attention) {
      const { weight, bias } = this.attention.init(rng);
      const bound = 1 / Math.sqrt(this.config.attentionSize);
      attention = { weight, bias: bias!, v: rng.uniform([this.config.attentionSize], -bound, bound) };
    }
    const head = this.head.init(rng);
    return { ...encoder, ...(attention ? { attention } : {}), head: { weight: head.weight, bias: head.bias! } };
  }

  /** Parameters from a flat state dict (a checkpoint's model.safetensors); a mismatch names the tensor. */
  paramsFromStateDict(tensors: Readonly<Record<string, Tensor>>): SequenceClassifierParams {
    const expected = new Map(Object.entries(this.parameterShapes()).map(([name, shape]) => [name, { shape, dtype: "float32" as const }]));
    const problems = checkStateDict(expected, tensors, { finite: true });
    if (problems.length > 0) throw new ShapeError("SequenceClassifier", `the weights do not fit this model: ${problems.join("; ")}`);
    const byName = new Map(Object.entries(tensors));
    const get = (name: string): Tensor => byName.get(name)!;
    const prefixed = (prefix: string): Record<string, Tensor> =>
      Object.fromEntries([...byName].filter(([n]) => n.startsWith(prefix)).map(([n, t]) => [n.slice(prefix.length), t]));
    return {
      ...this.encoder.fromStateDict(get, prefixed),
      ...(this.attention ? { attention: { weight: get("attention.weight"), bias: get("attention.bias"), v: get("attention.v") } } : {}),
      head: { weight: get("head.weight"), bias: get("head.bias") },
    };
  }

  /** Logits `[B, numClasses]` and, with attention pooling, the weights over the steps `[B, T]`. */
  forward(params: SequenceClassifierParams, inputs: Tensor, lengths: Tensor | readonly number[], options: EncodeOptions = {}): { logits: Tensor; attention: Tensor | null } {
    const encoded = this.encoder.encode(params, inputs, lengthsTensor(lengths), options);
    const { pooled, weights } = pool(this.config.pooling, encoded, params.attention);
    return { logits: this.head.forward(params.head, pooled), attention: weights };
  }

  /** Mean (class-weighted) cross-entropy of logits `[B, C]` against labels `[B]`. */
  loss(logits: Tensor, labels: Tensor, options: ClassifierLossOptions = {}): Tensor {
    return weightedCrossEntropy(logits, labels, options.classWeights, "SequenceClassifier");
  }

  /** The loss function for `Trainer`: mean (class-weighted) cross-entropy per sequence. */
  lossFunction(options: ClassifierLossOptions = {}): LossFunction<SequenceClassifierParams, ClassificationBatch, never> {
    if (options.classWeights) checkClassWeights(options.classWeights, this.config.numClasses);
    return (params, batch, _carry, context) => {
      const { logits } = this.forward(params, batch.inputs, batch.lengths, { training: true, rng: context.rng });
      return { loss: this.loss(logits, batch.labels, options), tokens: batch.labels.size };
    };
  }
}

/**
 * The lecture's picture of how far back the loss reaches: ||dL/dh_t|| of the top layer's forward
 * direction at every step t (L2 over the batch and the units), for one batch. With last-state
 * pooling the loss sees the sequence through its final state only, and a tanh RNN's curve decays
 * backwards from there; mean or attention pooling hands every step a direct path.
 */
export function classifierGradientFlow(model: SequenceClassifier, params: SequenceClassifierParams, batch: ClassificationBatch, options: ClassifierLossOptions = {}): number[] {
  const [T, B] = batch.inputs.shape as [number, number];
  const top = model.config.numLayers - 1;
  const H = model.config.hiddenSize;
  const probes = Array.from({ length: T }, () => zeros([B, H]));
  const { grads } = valueAndGrad((p: Tensor[]) => {
    const { logits } = model.forward(params, batch.inputs, batch.lengths, { onHidden: (h, at) => (at.layer === top && at.direction === 0 ? add(h, p[at.t]!) : h) });
    return model.loss(logits, batch.labels, options);
  })(probes);
  return grads.map(l2Norm);
}

export function checkClassWeights(weights: readonly number[], numClasses: number): void {
  if (weights.length !== numClasses) throw new ValueRangeError("classWeights", `there are ${numClasses} classes but ${weights.length} class weights`);
  for (const [i, w] of weights.entries()) {
    // Above zero: a batch of zero-weight examples only would divide 0 by 0.
    if (!(Number.isFinite(w) && w > 0)) throw new ValueRangeError("classWeights", `the weight of class ${i} must be a finite number above 0, got ${w}`);
  }
}

/**
 * PyTorch's `cross_entropy(logits, labels, weight)` with mean reduction: `Σ_b w[y_b]·(-log p_b[y_b]) / Σ_b w[y_b]`;
 * without weights, the plain mean. Labels stay a tensor operand throughout, so a traced step reads them as input.
 */
export function weightedCrossEntropy(logits: Tensor, labels: Tensor, classWeights: readonly number[] | undefined, op = "crossEntropy"): Tensor {
  if (logits.rank !== 2 || labels.rank !== 1 || labels.shape[0] !== logits.shape[0] || labels.dtype !== "int32") {
    throw new ShapeError(op, `logits [B, C] need int32 labels [B], got logits ${formatShape(logits.shape)} and labels ${labels.dtype} ${formatShape(labels.shape)}`);
  }
  const [B, C] = logits.shape as [number, number];
  for (let b = 0; b < B; b++) {
    const y = labels.data[b]!;
    if (y < 0 || y >= C) throw new ValueRangeError(op, `label ${y} of example ${b} is not a class (0..${C - 1})`);
  }
  if (!classWeights) return softmaxCrossEntropy(logits, labels);
  const table = logits.dtype === "float64" ? Float64Array.from(classWeights) : Float32Array.from(classWeights);
  const w = gather(new Tensor(table, [C]), labels); // (B)
  return div(sum(mul(softmaxCrossEntropy(logits, labels, { reduction: "none" }), w)), sum(w));
}

/** The index of the largest logit per row: the predicted class `[B]`. */
export function predictedClasses(logits: Tensor): Int32Array {
  const [B, C] = logits.shape as [number, number];
  const out = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    let best = 0;
    for (let k = 1; k < C; k++) if (logits.data[b * C + k]! > logits.data[b * C + best]!) best = k;
    out[b] = best;
  }
  return out;
}
