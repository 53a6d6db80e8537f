import { clamp, mul, noGrad, type Tensor, treeEntries, treeMap, ValueRangeError } from "@unroll/tensor";

export interface NormClipResult<G> {
  /** The gradients after clipping: a new tree (scaled copies) when clipped, else the input tree. */
  readonly grads: G;
  /** The global L2 norm before clipping, over every element of every tensor. */
  readonly norm: number;
  /** False when the norm is NaN or infinite; then nothing was scaled and the caller decides (skip the step or stop). */
  readonly finite: boolean;
  readonly clipped: boolean;
  /** The factor applied (1 when not clipped). */
  readonly scale: number;
}

/** The global L2 norm of a tree of gradients, accumulated in double precision. */
export function globalNorm(grads: unknown): number {
  let sq = 0;
  for (const [, t] of treeEntries(grads)) {
    const d = t.data;
    for (let i = 0; i < d.length; i++) sq += d[i]! * d[i]!;
  }
  return Math.sqrt(sq);
}

/**
 * Clipping by global norm, as PyTorch's `clip_grad_norm_`: when the norm exceeds `maxNorm`, every
 * gradient is scaled by `maxNorm / (norm + 1e-6)`. A non-finite norm is reported, not applied:
 * scaling by NaN would poison every parameter, so the policy (skip the step, roll back, stop)
 * belongs to the caller.
 */
export function clipGradNorm<G>(grads: G, maxNorm: number): NormClipResult<G> {
  if (!(maxNorm > 0)) throw new ValueRangeError("clipGradNorm", `maxNorm must be positive, got ${maxNorm}`);
  const norm = globalNorm(grads);
  if (!Number.isFinite(norm)) return { grads, norm, finite: false, clipped: false, scale: 1 };
  const coef = maxNorm / (norm + 1e-6);
  if (coef >= 1) return { grads, norm, finite: true, clipped: false, scale: 1 };
  return { grads: noGrad(() => treeMap(grads, (g: Tensor) => mul(g, coef))), norm, finite: true, clipped: true, scale: coef };
}

/** Clipping by value: every gradient element limited to `[-clipValue, clipValue]` (PyTorch's `clip_grad_value_`). */
export function clipGradValue<G>(grads: G, clipValue: number): G {
  if (!(clipValue > 0)) throw new ValueRangeError("clipGradValue", `clipValue must be positive, got ${clipValue}`);
  return noGrad(() => treeMap(grads, (g: Tensor) => clamp(g, { min: -clipValue, max: clipValue })));
}
