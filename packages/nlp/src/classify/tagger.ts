import { add, gather, matmul, reshape, type Rng, ShapeError, slice, softmaxCrossEntropy, sum, mul, div, Tensor, ValueRangeError, formatShape, valueAndGrad, zeros } from "@unroll/tensor";
import { Linear } from "@unroll/cells";
import { checkStateDict, type LossFunction } from "@unroll/train";
import { checkClassWeights } from "./classifier.js";
import { type EncodeOptions, lengthsTensor, type ResolvedEncoderConfig, resolveEncoderConfig, SequenceEncoder, type SequenceEncoderConfig, type SequenceEncoderParams, l2Norm } from "./encoder.js";

export interface SequenceTaggerConfig extends SequenceEncoderConfig {
  /** Tags (labels per step), 2 or more. */
  readonly numTags: number;
}

export interface ResolvedTaggerConfig extends ResolvedEncoderConfig {
  readonly numTags: number;
}

export interface SequenceTaggerParams extends SequenceEncoderParams {
  readonly head: { readonly weight: Tensor; readonly bias: Tensor };
}

/** A padded, time-first batch of tagged sequences: `inputs` `[T, B]` ids or `[T, B, F]`, `lengths [B]`, `tags` int32 `[T, B]` (-100 on padding). */
export interface TaggingBatch {
  readonly inputs: Tensor;
  readonly lengths: Tensor;
  readonly tags: Tensor;
}

/**
 * Synced many-to-many: one label per step (part-of-speech tags, named entities, an anomaly flag
 * per sensor reading). Bidirectional by default, so each step's label sees the whole sequence.
 */
export class SequenceTagger {
  readonly config: ResolvedTaggerConfig;
  readonly encoder: SequenceEncoder;
  private readonly head: Linear;

  constructor(config: SequenceTaggerConfig) {
    const op = "SequenceTagger";
    const base = resolveEncoderConfig(op, config, { bidirectional: true });
    if (!Number.isInteger(config.numTags) || config.numTags < 2) throw new ValueRangeError(op, `numTags must be an integer of at least 2, got ${String(config.numTags)}`);
    this.config = { ...base, numTags: config.numTags };
    this.encoder = new SequenceEncoder(op, base);
    this.head = new Linear(this.encoder.outputWidth, config.numTags);
  }

  parameterShapes(): Record<string, number[]> {
    return { ...this.encoder.parameterShapes(), "head.weight": [this.config.numTags, this.encoder.outputWidth], "head.bias": [this.config.numTags] };
  }

  init(rng: Rng): SequenceTaggerParams {
    const encoder = this.encoder.init(rng);
    const head = this.head.init(rng);
    return { ...encoder, head: { weight: head.weight, bias: head.bias! } };
  }

  paramsFromStateDict(tensors: Readonly<Record<string, Tensor>>): SequenceTaggerParams {
    const expected = new Map(Object.entries(this.parameterShapes()).map(([name, shape]) => [name, { shape, dtype: "float32" as const }]));
    const problems = checkStateDict(expected, tensors, { finite: true });
    if (problems.length > 0) throw new ShapeError("SequenceTagger", `the weights do not fit this model: ${problems.join("; ")}`);
    const byName = new Map(Object.entries(tensors));
    const get = (name: string): Tensor => byName.get(name)!;
    const prefixed = (prefix: string): Record<string, Tensor> =>
      Object.fromEntries([...byName].filter(([n]) => n.startsWith(prefix)).map(([n, t]) => [n.slice(prefix.length), t]));
    return { ...this.encoder.fromStateDict(get, prefixed), head: { weight: get("head.weight"), bias: get("head.bias") } };
  }

  /** Logits per step `[T, B, numTags]` (rows at padding are computed but mean nothing). */
  forward(params: SequenceTaggerParams, inputs: Tensor, lengths: Tensor | readonly number[], options: EncodeOptions = {}): Tensor {
    const encoded = this.encoder.encode(params, inputs, lengthsTensor(lengths), options);
    // A batched product over (T, B): a traced graph records no size, so the export keeps dynamic axes.
    return add(matmul(encoded.outputs, params.head.weight, { transB: true }), params.head.bias); // (T, B, D) · (D, C) -> (T, B, C)
  }

  /** Mean cross-entropy over the real steps (tags of -100 are padding), optionally weighted per tag. */
  loss(logits: Tensor, tags: Tensor, classWeights?: readonly number[]): Tensor {
    const [T, B, C] = logits.shape as [number, number, number];
    if (tags.dtype !== "int32" || tags.rank !== 2 || tags.shape[0] !== T || tags.shape[1] !== B) {
      throw new ShapeError("SequenceTagger", `tags must be int32 [${T}, ${B}] (time, batch), got ${tags.dtype} ${formatShape(tags.shape)}`);
    }
    for (let i = 0; i < tags.size; i++) {
      const y = tags.data[i]!;
      if (y !== -100 && (y < 0 || y >= C)) throw new ValueRangeError("SequenceTagger", `tag ${y} at step ${Math.floor(i / B)} of example ${i % B} is not a tag (0..${C - 1}, or -100 for padding)`);
    }
    const flatLogits = reshape(logits, [T * B, C]);
    const flatTags = reshape(tags, [T * B]);
    if (!classWeights) return softmaxCrossEntropy(flatLogits, flatTags);
    checkClassWeights(classWeights, C);
    // Padding (-100) picks weight 0 from a table with a zero in front: ids shift by one.
    const table = new Tensor((logits.dtype === "float64" ? Float64Array : Float32Array).from([0, ...classWeights]), [C + 1]);
    const shifted = new Int32Array(T * B);
    for (let i = 0; i < shifted.length; i++) shifted[i] = tags.data[i] === -100 ? 0 : tags.data[i]! + 1;
    const w = gather(table, new Tensor(shifted, [T * B]));
    return div(sum(mul(softmaxCrossEntropy(flatLogits, flatTags, { reduction: "none" }), w)), sum(w));
  }

  lossFunction(options: { readonly classWeights?: readonly number[] } = {}): LossFunction<SequenceTaggerParams, TaggingBatch, never> {
    if (options.classWeights) checkClassWeights(options.classWeights, this.config.numTags);
    return (params, batch, _carry, context) => {
      const logits = this.forward(params, batch.inputs, batch.lengths, { training: true, rng: context.rng });
      let tokens = 0;
      for (let i = 0; i < batch.tags.size; i++) if (batch.tags.data[i] !== -100) tokens++;
      return { loss: this.loss(logits, batch.tags, options.classWeights), tokens };
    };
  }
}

/**
 * Gradient flow through time in a tagger: ‖dL/dh_t‖ at every step t of the top layer's forward
 * direction, where L is the tag loss of the last step alone: how far back one tag's loss reaches
 * through the recurrence (the backward direction and the output layer reach step T-1 directly).
 * The batch should have no padding (every example T steps), so every step has all B examples.
 */
export function taggerGradientFlow(model: SequenceTagger, params: SequenceTaggerParams, batch: TaggingBatch): number[] {
  const [T, B] = batch.inputs.shape as [number, number];
  const top = model.config.numLayers - 1;
  const probes = Array.from({ length: T }, () => zeros([B, model.config.hiddenSize]));
  const { grads } = valueAndGrad((p: Tensor[]) => {
    const logits = model.forward(params, batch.inputs, batch.lengths, { onHidden: (h, at) => (at.layer === top && at.direction === 0 ? add(h, p[at.t]!) : h) });
    const last = reshape(slice(logits, [T - 1, 0, 0], [T, B, model.config.numTags]), [B, model.config.numTags]);
    return softmaxCrossEntropy(last, new Tensor(Int32Array.from(batch.tags.data.subarray((T - 1) * B, T * B)), [B]));
  })(probes);
  return grads.map(l2Norm);
}

