import { apply, definePrimitive } from "../autodiff/primitive.js";
import { ShapeError, TensorError, ValueRangeError } from "../errors.js";
import { formatShape } from "../shape.js";
import { full, type Tensor } from "../tensor.js";
import { add, mul, pow, sub } from "./arithmetic.js";
import { detach } from "./cast.js";
import { broadcastTo, reshape } from "./layout.js";
import { requireFloat } from "./operand.js";
import { mean as meanOf, sum } from "./reduce.js";
import { neg } from "./unary.js";
import { requireSameDType } from "./window.js";

interface EpsAttrs {
  readonly eps: number;
}

/** `[1, C, 1, ...]`: a per-channel vector shaped to broadcast against `x`. */
function channelShape(x: Tensor): number[] {
  return x.shape.map((d, i) => (i === 1 ? d : 1));
}

/** Every axis but the channel axis 1. */
function otherAxes(x: Tensor): number[] {
  return x.shape.flatMap((_, i) => (i === 1 ? [] : [i]));
}

function checkInput(op: string, x: Tensor): number {
  requireFloat(op, x);
  if (x.rank < 2) {
    throw new ShapeError(op, `input must be [N, C, ...] (rank >= 2, channels on axis 1), got ${formatShape(x.shape)}`);
  }
  return x.shape[1]!;
}

function checkChannelVector(op: string, x: Tensor, t: Tensor, what: string): void {
  requireFloat(op, t, what);
  requireSameDType(op, x, t, what);
  const C = x.shape[1]!;
  if (t.rank !== 1 || t.shape[0] !== C) {
    throw new ShapeError(op, `${what} must be [${C}] (one value per channel of input ${formatShape(x.shape)}), got ${formatShape(t.shape)}`);
  }
}

function checkEps(op: string, eps: number): void {
  if (!(eps >= 0 && Number.isFinite(eps))) throw new ValueRangeError(op, `eps must be a finite number >= 0, got ${eps}`);
}

/**
 * Batch normalisation with given statistics (inference mode), PyTorch's `F.batch_norm(...,
 * training=False)` and ONNX's BatchNormalization: inputs `[x, mean, variance, weight, bias]`,
 * `x` `[N, C, ...]`, the others `[C]`; `y = (x - mean) / sqrt(variance + eps) · weight + bias`
 * per channel. Differentiable in all five (composed vjp); PyTorch treats the statistics as
 * constants, and so does anything that passes them as arguments rather than parameters.
 */
export const BatchNorm = definePrimitive<readonly [Tensor, Tensor, Tensor, Tensor, Tensor], readonly [Tensor], EpsAttrs>({
  name: "BatchNorm",
  infer: ([x, mean, variance, weight, bias], { eps }) => {
    checkInput("BatchNorm", x);
    checkEps("BatchNorm", eps);
    checkChannelVector("BatchNorm", x, mean, "running mean");
    checkChannelVector("BatchNorm", x, variance, "running variance");
    checkChannelVector("BatchNorm", x, weight, "weight");
    checkChannelVector("BatchNorm", x, bias, "bias");
    return [{ shape: x.shape, dtype: x.dtype }];
  },
  kernel: (k, [x, mean, variance, weight, bias], [out], { eps }) => k.batchNorm({ x, mean, variance, weight, bias, eps }, out),
  vjp: ({ inputs: [x, mean, variance, weight], attrs: { eps } }, [g], needed) => {
    // y = (x - m) · s · w + b with s = (v + eps)^(-1/2)
    const dy = g!; // (N, C, ...)
    const shape = channelShape(x);
    const axes = otherAxes(x);
    const invstd = pow(add(variance, eps), -0.5); // (C)
    const scale = mul(weight, invstd); // (C)
    const sumG = needed[1] || needed[4] ? sum(dy, axes) : null; // (C)
    const sumGx = needed[2] || needed[3] ? sum(mul(dy, sub(x, reshape(mean, shape))), axes) : null; // Σ dy (x - m), (C)
    return [
      needed[0] ? mul(dy, reshape(scale, shape)) : null,
      needed[1] ? neg(mul(sumG!, scale)) : null,
      needed[2] ? mul(sumGx!, mul(weight, mul(pow(invstd, 3), -0.5))) : null,
      needed[3] ? mul(sumGx!, invstd) : null,
      needed[4] ? sumG : null,
    ];
  },
});

/**
 * Training-mode batch normalisation: inputs `[x, weight, bias]` -> `[y, mean, variance]`, the
 * batch's own per-channel mean and biased variance over every axis but 1, and
 * `y = (x - mean) / sqrt(variance + eps) · weight + bias`. Backward is one fused pass
 * (`BatchNormTrainingGrad`), the statistics' dependence on `x` included; `decompose` gives the
 * composed form it is tested against. ONNX export refuses it: export in inference mode.
 */
export const BatchNormTraining = definePrimitive<readonly [Tensor, Tensor, Tensor], readonly [Tensor, Tensor, Tensor], EpsAttrs>({
  name: "BatchNormTraining",
  infer: ([x, weight, bias], { eps }) => {
    const C = checkInput("BatchNormTraining", x);
    checkEps("BatchNormTraining", eps);
    checkChannelVector("BatchNormTraining", x, weight, "weight");
    checkChannelVector("BatchNormTraining", x, bias, "bias");
    if (x.size / Math.max(C, 1) < 2) {
      throw new ValueRangeError(
        "BatchNormTraining",
        `training needs more than one value per channel to estimate a variance, got input ${formatShape(x.shape)}; use a larger batch, or training: false`,
      );
    }
    const stats = { shape: [C], dtype: x.dtype };
    return [{ shape: x.shape, dtype: x.dtype }, stats, stats];
  },
  kernel: (k, [x, weight, bias], [out, mean, variance], { eps }) => {
    k.channelMoments(x, mean, variance);
    k.batchNorm({ x, mean, variance, weight, bias, eps }, out);
  },
  vjp: ({ inputs: [x, weight], outputs: [, mean, variance], attrs }, [g, gMean, gVar], needed) => {
    let dx: Tensor | null = null;
    let dWeight: Tensor | null = null;
    let dBias: Tensor | null = null;
    if (g !== null) [dx, dWeight, dBias] = apply(BatchNormTrainingGrad, [x, weight, mean, variance, g], attrs);
    if (needed[0] && (gMean !== null || gVar !== null)) {
      // mean = Σx / n and variance = Σ(x - mean)² / n: d x += g_mean / n + g_var · 2 (x - mean) / n
      // (the variance's dependence through the mean vanishes: Σ(x - mean) = 0).
      const shape = channelShape(x);
      const n = x.size / x.shape[1]!;
      let extra: Tensor | null = null;
      if (gMean !== null) extra = broadcastTo(reshape(mul(gMean, 1 / n), shape), x.shape);
      if (gVar !== null) {
        const v = mul(sub(x, reshape(mean, shape)), reshape(mul(gVar, 2 / n), shape));
        extra = extra === null ? v : add(extra, v);
      }
      dx = dx === null ? extra : add(dx, extra!);
    }
    return [needed[0] ? dx : null, needed[1] ? dWeight : null, needed[2] ? dBias : null];
  },
  decompose: ([x, weight, bias], { eps }) => {
    const shape = channelShape(x);
    const axes = otherAxes(x);
    const mean = meanOf(x, axes); // (C)
    const centered = sub(x, reshape(mean, shape));
    const variance = meanOf(mul(centered, centered), axes); // biased, (C)
    const y = add(mul(mul(centered, reshape(pow(add(variance, eps), -0.5), shape)), reshape(weight, shape)), reshape(bias, shape));
    return [y, mean, variance];
  },
});

/**
 * The gradient of `BatchNormTraining` for a cotangent `g` of `y`: inputs `[x, weight, mean,
 * variance, g]` -> `[dx, dWeight, dBias]`, in one pass per channel. Second derivatives through it
 * are not implemented (its vjp says so rather than giving zeros).
 */
export const BatchNormTrainingGrad = definePrimitive<
  readonly [Tensor, Tensor, Tensor, Tensor, Tensor],
  readonly [Tensor, Tensor, Tensor],
  EpsAttrs
>({
  name: "BatchNormTrainingGrad",
  infer: ([x, weight, mean, variance, g]) => {
    const C = checkInput("BatchNormTrainingGrad", x);
    checkChannelVector("BatchNormTrainingGrad", x, weight, "weight");
    checkChannelVector("BatchNormTrainingGrad", x, mean, "mean");
    checkChannelVector("BatchNormTrainingGrad", x, variance, "variance");
    requireSameDType("BatchNormTrainingGrad", x, g, "cotangent");
    if (formatShape(g.shape) !== formatShape(x.shape)) {
      throw new ShapeError("BatchNormTrainingGrad", `cotangent ${formatShape(g.shape)} must have the input's shape ${formatShape(x.shape)}`);
    }
    const vec = { shape: [C], dtype: x.dtype };
    return [{ shape: x.shape, dtype: x.dtype }, vec, vec];
  },
  kernel: (k, [x, weight, mean, variance, g], [dx, dWeight, dBias], { eps }) =>
    k.batchNormBackward({ x, mean, variance, weight, eps, dOut: g }, { dx, dWeight, dBias }),
  vjp: () => {
    throw new TensorError(
      "BatchNormTrainingGrad",
      "second derivatives through training-mode batch normalisation are not implemented; differentiate once, or use training: false",
    );
  },
});

export interface BatchNormOptions {
  /** Batch statistics (and running averages updated) when true; the running statistics when false. Default false, as PyTorch's `F.batch_norm`. */
  readonly training?: boolean;
  /** Weight of the new batch statistic in the running averages. Default 0.1. */
  readonly momentum?: number;
  /** Added to the variance before the square root. Default 1e-5. */
  readonly eps?: number;
}

export interface BatchNormResult {
  /** The normalised input, `x`'s shape. */
  readonly output: Tensor;
  /**
   * The running mean after this call: `(1 - momentum) · runningMean + momentum · batchMean` in
   * training, the `runningMean` passed in (the same tensor) in inference; null when none was passed.
   */
  readonly runningMean: Tensor | null;
  /** Likewise, with the batch's unbiased variance (`n / (n - 1)` times the biased one used to normalise). */
  readonly runningVar: Tensor | null;
}

/**
 * Batch normalisation over `x` `[N, C, ...]` per channel (axis 1), PyTorch's `F.batch_norm(x,
 * running_mean, running_var, weight, bias, training, momentum, eps)`. `weight` and `bias` `[C]`
 * default to 1 and 0.
 * - training: normalises with the batch's mean and biased variance over every axis but 1, and
 *   returns the updated running averages (new tensors; nothing is mutated, no gradient flows into
 *   them). `runningMean`/`runningVar` may be null there (no running statistics kept).
 * - inference (the default): normalises with `runningMean` and `runningVar`, which are required.
 */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight?: Tensor | null,
  bias?: Tensor | null,
  options: BatchNormOptions = {},
): BatchNormResult {
  const op = "BatchNorm";
  const C = checkInput(op, x);
  const eps = options.eps ?? 1e-5;
  const momentum = options.momentum ?? 0.1;
  checkEps(op, eps);
  if (!(momentum >= 0 && momentum <= 1)) throw new ValueRangeError(op, `momentum must be in [0, 1], got ${momentum}`);
  if ((runningMean === null) !== (runningVar === null)) {
    throw new TensorError(op, "pass both runningMean and runningVar, or neither (training without running statistics)");
  }
  const w = weight ?? full([C], 1, x.dtype);
  const b = bias ?? full([C], 0, x.dtype);
  if (!options.training) {
    if (runningMean === null || runningVar === null) {
      throw new TensorError(op, "inference (training: false) normalises with the running statistics, but none were passed; pass runningMean and runningVar, or use training: true");
    }
    const output = apply(BatchNorm, [x, runningMean, runningVar, w, b], { eps })[0];
    return { output, runningMean, runningVar };
  }
  if (runningMean !== null) checkChannelVector(op, x, runningMean, "running mean");
  if (runningVar !== null) checkChannelVector(op, x, runningVar, "running variance");
  const [output, batchMean, batchVar] = apply(BatchNormTraining, [x, w, b], { eps });
  if (runningMean === null || runningVar === null) return { output, runningMean: null, runningVar: null };
  const n = x.size / C;
  const update = (running: Tensor, stat: Tensor): Tensor => add(mul(detach(stat), momentum), mul(detach(running), 1 - momentum));
  return {
    output,
    runningMean: update(runningMean, batchMean),
    runningVar: update(runningVar, mul(detach(batchVar), n / (n - 1))),
  };
}
