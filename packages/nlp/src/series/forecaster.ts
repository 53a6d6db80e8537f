import type { Tensor} from "@unroll/tensor";
import { abs, add, div, formatShape, mul, type Rng, ShapeError, sub, sum, ValueRangeError, valueAndGrad, zeros } from "@unroll/tensor";
import { Linear } from "@unroll/cells";
import { checkStateDict, type LossFunction } from "@unroll/train";
import { type EncodeOptions, lengthsTensor, pool, type Pooling, POOLINGS, type ResolvedEncoderConfig, resolveEncoderConfig, SequenceEncoder, type SequenceEncoderConfig, type SequenceEncoderParams, l2Norm } from "../classify/encoder.js";

export interface SequenceForecasterConfig extends Omit<SequenceEncoderConfig, "vocabSize" | "embeddingSize"> {
  /** Numeric features per step. */
  readonly inputSize: number;
  /** Values predicted per window: the next `horizon` steps of each target, flattened `[horizon · targets]`. */
  readonly outputSize: number;
  /** Default "last": the state after reading the window. */
  readonly pooling?: Pooling;
  /** "mse" (default) or "mae". */
  readonly loss?: "mse" | "mae";
}

export interface ResolvedForecasterConfig extends ResolvedEncoderConfig {
  readonly outputSize: number;
  readonly pooling: Pooling;
  readonly loss: "mse" | "mae";
}

export interface SequenceForecasterParams extends SequenceEncoderParams {
  readonly head: { readonly weight: Tensor; readonly bias: Tensor };
}

/** Windows of a series: `inputs [T, B, F]`, `lengths [B]` (T each), `targets [B, outputSize]` (scaled). */
export interface ForecastBatch {
  readonly inputs: Tensor;
  readonly lengths: Tensor;
  readonly targets: Tensor;
}

/**
 * Sequence regression: numeric features per step -> stacked RNN/LSTM/GRU -> pooling -> linear to
 * `outputSize` values (the next k values of the targets), trained with mean squared or absolute
 * error. Attention pooling is not offered here: forecasting reads the window's last state (or its
 * mean or maximum).
 */
export class SequenceForecaster {
  readonly config: ResolvedForecasterConfig;
  readonly encoder: SequenceEncoder;
  private readonly head: Linear;

  constructor(config: SequenceForecasterConfig) {
    const op = "SequenceForecaster";
    const base = resolveEncoderConfig(op, { ...config, vocabSize: null }, { bidirectional: false });
    const c: ResolvedForecasterConfig = { ...base, outputSize: config.outputSize, pooling: config.pooling ?? "last", loss: config.loss ?? "mse" };
    if (!Number.isInteger(c.outputSize) || c.outputSize < 1) throw new ValueRangeError(op, `outputSize must be a positive integer, got ${String(c.outputSize)}`);
    if (!POOLINGS.includes(c.pooling) || c.pooling === "attention") throw new ValueRangeError(op, `pooling must be one of last, mean, max; got ${String(c.pooling)}`);
    if (c.loss !== "mse" && c.loss !== "mae") throw new ValueRangeError(op, `loss must be "mse" or "mae", got ${String(c.loss)}`);
    this.config = c;
    this.encoder = new SequenceEncoder(op, base);
    this.head = new Linear(this.encoder.outputWidth, c.outputSize);
  }

  parameterShapes(): Record<string, number[]> {
    return { ...this.encoder.parameterShapes(), "head.weight": [this.config.outputSize, this.encoder.outputWidth], "head.bias": [this.config.outputSize] };
  }

  init(rng: Rng): SequenceForecasterParams {
    const encoder = this.encoder.init(rng);
    const head = this.head.init(rng);
    return { ...encoder, head: { weight: head.weight, bias: head.bias! } };
  }

  paramsFromStateDict(tensors: Readonly<Record<string, Tensor>>): SequenceForecasterParams {
    const expected = new Map(Object.entries(this.parameterShapes()).map(([name, shape]) => [name, { shape, dtype: "float32" as const }]));
    const problems = checkStateDict(expected, tensors, { finite: true });
    if (problems.length > 0) throw new ShapeError("SequenceForecaster", `the weights do not fit this model: ${problems.join("; ")}`);
    const byName = new Map(Object.entries(tensors));
    const get = (name: string): Tensor => byName.get(name)!;
    const prefixed = (prefix: string): Record<string, Tensor> =>
      Object.fromEntries([...byName].filter(([n]) => n.startsWith(prefix)).map(([n, t]) => [n.slice(prefix.length), t]));
    return { ...this.encoder.fromStateDict(get, prefixed), head: { weight: get("head.weight"), bias: get("head.bias") } };
  }

  /** Predictions `[B, outputSize]` for windows `[T, B, F]`. */
  forward(params: SequenceForecasterParams, inputs: Tensor, lengths: Tensor | readonly number[], options: EncodeOptions = {}): Tensor {
    const encoded = this.encoder.encode(params, inputs, lengthsTensor(lengths), options);
    return this.head.forward(params.head, pool(this.config.pooling, encoded).pooled);
  }

  /** Mean squared (or absolute) error over every predicted value. */
  loss(predictions: Tensor, targets: Tensor): Tensor {
    if (predictions.rank !== 2 || targets.rank !== 2 || predictions.shape[0] !== targets.shape[0] || predictions.shape[1] !== targets.shape[1]) {
      throw new ShapeError("SequenceForecaster", `predictions ${formatShape(predictions.shape)} and targets ${formatShape(targets.shape)} must have the same shape [B, ${this.config.outputSize}]`);
    }
    const d = sub(predictions, targets);
    return div(sum(this.config.loss === "mse" ? mul(d, d) : abs(d)), d.size);
  }

  lossFunction(): LossFunction<SequenceForecasterParams, ForecastBatch, never> {
    return (params, batch, _carry, context) => {
      const predictions = this.forward(params, batch.inputs, batch.lengths, { training: true, rng: context.rng });
      return { loss: this.loss(predictions, batch.targets), tokens: batch.targets.shape[0]! };
    };
  }
}

/**
 * Gradient flow through time in a forecaster: ‖dL/dh_t‖ at every step t of the top layer's forward
 * direction, L the forecast loss of the batch: how far back the forecast reaches into its window.
 */
export function forecasterGradientFlow(model: SequenceForecaster, params: SequenceForecasterParams, batch: ForecastBatch): number[] {
  const [T, B] = batch.inputs.shape as [number, number];
  const top = model.config.numLayers - 1;
  const probes = Array.from({ length: T }, () => zeros([B, model.config.hiddenSize]));
  const { grads } = valueAndGrad((p: Tensor[]) => {
    const predictions = model.forward(params, batch.inputs, batch.lengths, { onHidden: (h, at) => (at.layer === top && at.direction === 0 ? add(h, p[at.t]!) : h) });
    return model.loss(predictions, batch.targets);
  })(probes);
  return grads.map(l2Norm);
}
