import type { KernelTensor } from "../kernels.js";

function split(shape: readonly number[], axis: number): { outer: number; n: number; inner: number } {
  let outer = 1;
  for (let d = 0; d < axis; d++) outer *= shape[d]!;
  let inner = 1;
  for (let d = axis + 1; d < shape.length; d++) inner *= shape[d]!;
  return { outer, n: shape[axis]!, inner };
}

/** Shared body: per line along `axis`, subtract the max, then exp-normalise or log-normalise. */
function normalise(x: KernelTensor, axis: number, out: KernelTensor, log: boolean): void {
  const { outer, n, inner } = split(x.shape, axis);
  const xd = x.data;
  const o = out.data;
  for (let a = 0; a < outer; a++) {
    for (let c = 0; c < inner; c++) {
      const base = a * n * inner + c;
      let max = -Infinity;
      for (let k = 0; k < n; k++) {
        const v = xd[base + k * inner]!;
        if (v > max || v !== v) max = v;
      }
      if (max === -Infinity) max = 0; // all -inf: keep exp finite, result is NaN as in PyTorch
      let sum = 0;
      for (let k = 0; k < n; k++) sum += Math.exp(xd[base + k * inner]! - max);
      if (log) {
        const lse = Math.log(sum);
        for (let k = 0; k < n; k++) o[base + k * inner] = xd[base + k * inner]! - max - lse;
      } else {
        const inv = 1 / sum;
        for (let k = 0; k < n; k++) o[base + k * inner] = Math.exp(xd[base + k * inner]! - max) * inv;
      }
    }
  }
}

export function softmax(x: KernelTensor, axis: number, out: KernelTensor): void {
  normalise(x, axis, out, false);
}

export function logSoftmax(x: KernelTensor, axis: number, out: KernelTensor): void {
  normalise(x, axis, out, true);
}

/** The largest of `C` values from `base` (NaN wins); 0 when all are -inf, so that exp stays finite. */
function rowMax(x: KernelTensor["data"], base: number, C: number): number {
  let max = -Infinity;
  for (let k = 0; k < C; k++) {
    const v = x[base + k]!;
    if (v > max || v !== v) max = v;
  }
  return max === -Infinity ? 0 : max;
}

/** Σ exp(x - max) over the row, in float64. */
function rowExpSum(x: KernelTensor["data"], base: number, C: number, max: number): number {
  let sum = 0;
  for (let k = 0; k < C; k++) sum += Math.exp(x[base + k]! - max);
  return sum;
}

export function softmaxCrossEntropy(
  logits: KernelTensor,
  targets: KernelTensor,
  ignoreIndex: number,
  out: KernelTensor,
): void {
  const C = logits.shape[1]!;
  const x = logits.data;
  const t = targets.data;
  const o = out.data;
  for (let i = 0; i < o.length; i++) {
    const target = t[i]!;
    if (target === ignoreIndex) {
      o[i] = 0;
      continue;
    }
    const base = i * C;
    const max = rowMax(x, base, C);
    o[i] = max + Math.log(rowExpSum(x, base, C, max)) - x[base + target]!;
  }
}

export function softmaxCrossEntropyBackward(
  logits: KernelTensor,
  targets: KernelTensor,
  grad: KernelTensor,
  ignoreIndex: number,
  out: KernelTensor,
): void {
  const C = logits.shape[1]!;
  const x = logits.data;
  const t = targets.data;
  const g = grad.data;
  const o = out.data;
  for (let i = 0; i < t.length; i++) {
    const target = t[i]!;
    if (target === ignoreIndex) continue; // out arrives zero-filled
    const base = i * C;
    const max = rowMax(x, base, C);
    const sum = rowExpSum(x, base, C, max);
    const gi = g[i]!;
    for (let k = 0; k < C; k++) o[base + k] = (Math.exp(x[base + k]! - max) / sum - (k === target ? 1 : 0)) * gi;
  }
}
