// Batch normalisation over the channel axis (1) of `[N, C, ...]`: per-channel moments, the
// normalisation itself and its training-mode backward, each one pass per channel with double
// precision accumulators (PyTorch's CPU formulas).

import type { BatchNormArgs, BatchNormBackwardArgs, BatchNormBackwardOut, KernelTensor } from "../kernels.js";

/** `[N, C, S]` view of `[N, C, ...]`: S is the product of the axes after the channel. */
function layout(shape: readonly number[]): [number, number, number] {
  const N = shape[0]!;
  const C = shape[1]!;
  let S = 1;
  for (let i = 2; i < shape.length; i++) S *= shape[i]!;
  return [N, C, S];
}

export function channelMoments(x: KernelTensor, mean: KernelTensor, variance: KernelTensor): void {
  const [N, C, S] = layout(x.shape);
  const xs = x.data;
  const count = N * S;
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) for (let i = (n * C + c) * S, end = i + S; i < end; i++) s += xs[i]!;
    const m = s / count;
    // Two passes: the squared deviations from the mean, exact for large offsets.
    let q = 0;
    for (let n = 0; n < N; n++) {
      for (let i = (n * C + c) * S, end = i + S; i < end; i++) {
        const d = xs[i]! - m;
        q += d * d;
      }
    }
    mean.data[c] = m;
    variance.data[c] = q / count;
  }
}

export function batchNorm(args: BatchNormArgs, out: KernelTensor): void {
  const { x, mean, variance, weight, bias, eps } = args;
  const [N, C, S] = layout(x.shape);
  const xs = x.data;
  const ys = out.data;
  for (let c = 0; c < C; c++) {
    // y = (x - mean) · invstd · weight + bias = x · alpha + beta
    const alpha = weight.data[c]! / Math.sqrt(variance.data[c]! + eps);
    const beta = bias.data[c]! - mean.data[c]! * alpha;
    for (let n = 0; n < N; n++) for (let i = (n * C + c) * S, end = i + S; i < end; i++) ys[i] = xs[i]! * alpha + beta;
  }
}

export function batchNormBackward(args: BatchNormBackwardArgs, out: BatchNormBackwardOut): void {
  const { x, mean, variance, weight, eps, dOut } = args;
  const [N, C, S] = layout(x.shape);
  const xs = x.data;
  const gs = dOut.data;
  const dx = out.dx.data;
  const count = N * S;
  for (let c = 0; c < C; c++) {
    const m = mean.data[c]!;
    const invstd = 1 / Math.sqrt(variance.data[c]! + eps);
    // Σ g and Σ g (x - mean) over the channel: (N, S)
    let sumG = 0;
    let dot = 0;
    for (let n = 0; n < N; n++) {
      for (let i = (n * C + c) * S, end = i + S; i < end; i++) {
        sumG += gs[i]!;
        dot += gs[i]! * (xs[i]! - m);
      }
    }
    out.dBias.data[c] = sumG;
    out.dWeight.data[c] = dot * invstd;
    // xhat = (x - mean) invstd with mean and invstd functions of x:
    // dx = weight · invstd · (g - mean(g) - xhat · mean(g · xhat))
    const meanG = sumG / count;
    const k = (dot * invstd * invstd) / count;
    const scale = weight.data[c]! * invstd;
    for (let n = 0; n < N; n++) {
      for (let i = (n * C + c) * S, end = i + S; i < end; i++) dx[i] = (gs[i]! - meanG - (xs[i]! - m) * k) * scale;
    }
  }
}
