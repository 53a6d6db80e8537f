import { apply, definePrimitive } from "../autodiff/primitive.js";
import { assertDType } from "../dtype.js";
import { ShapeError, ValueRangeError } from "../errors.js";
import { formatShape, shapesEqual } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { div, mul, sub } from "./arithmetic.js";
import { notEqual } from "./compare.js";
import { oneHot } from "./indexing.js";
import { reshape } from "./layout.js";
import { requireFloat } from "./operand.js";
import { sum } from "./reduce.js";
import { logSoftmax, softmax } from "./softmax.js";
import { neg } from "./unary.js";

interface CrossEntropyAttrs {
  readonly ignoreIndex: number;
}

/**
 * Fused per-row softmax cross-entropy: logits `[N, C]`, int32 targets `[N]` -> losses `[N]`,
 * 0 where the target is `ignoreIndex`. One pass instead of four primitives; `decompose` gives the
 * composed form it is tested against.
 */
export const SoftmaxCrossEntropy = definePrimitive<readonly [Tensor, Tensor], readonly [Tensor], CrossEntropyAttrs>({
  name: "SoftmaxCrossEntropy",
  infer: ([logits, targets], { ignoreIndex }) => {
    requireFloat("SoftmaxCrossEntropy", logits, "logits");
    assertDType("SoftmaxCrossEntropy", "targets", targets.dtype, ["int32"]);
    const [N, C] = logits.shape as [number, number];
    if (logits.rank !== 2 || targets.rank !== 1 || targets.shape[0] !== N) {
      throw new ShapeError(
        "SoftmaxCrossEntropy",
        `logits ${formatShape(logits.shape)} and targets ${formatShape(targets.shape)} do not match; expected [N,C] and [N]`,
      );
    }
    const t = targets.data;
    for (let i = 0; i < t.length; i++) {
      const v = t[i]!;
      if (v !== ignoreIndex && (v < 0 || v >= C)) {
        throw new ValueRangeError(
          "SoftmaxCrossEntropy",
          `target ${v} at position ${i} is not a class index in [0, ${C}) nor the ignore index ${ignoreIndex}`,
        );
      }
    }
    return [{ shape: [N], dtype: logits.dtype }];
  },
  kernel: (k, [logits, targets], [out], { ignoreIndex }) => k.softmaxCrossEntropy(logits, targets, ignoreIndex, out),
  // loss_i = logsumexp(x_i) - x_i[t_i]: d loss_i / d x_i = softmax(x_i) - onehot(t_i), zero if ignored.
  vjp: ({ inputs: [logits, targets], attrs }, [g]) => [apply(SoftmaxCrossEntropyGrad, [logits, targets, g!], attrs)[0], null],
  decompose: ([logits, targets], { ignoreIndex }) => {
    const [, C] = logits.shape as [number, number];
    const dtype = logits.dtype as "float32" | "float64";
    const picked = sum(mul(logSoftmax(logits, -1), oneHot(targets, C, dtype)), -1); // (N)
    return [neg(mul(picked, notEqual(targets, ignoreIndex, { dtype })))];
  },
});

/**
 * The gradient of `SoftmaxCrossEntropy` with respect to the logits, fused: logits `[N, C]`, targets
 * `[N]`, per-row cotangents `[N]` -> `(softmax(logits) - onehot(targets)) * g` `[N, C]`, zero rows
 * where the target is `ignoreIndex`. One pass instead of the five primitives of `decompose`.
 */
export const SoftmaxCrossEntropyGrad = definePrimitive<readonly [Tensor, Tensor, Tensor], readonly [Tensor], CrossEntropyAttrs>({
  name: "SoftmaxCrossEntropyGrad",
  infer: ([logits, targets, g]) => {
    requireFloat("SoftmaxCrossEntropyGrad", logits, "logits");
    assertDType("SoftmaxCrossEntropyGrad", "targets", targets.dtype, ["int32"]);
    const [N] = logits.shape as [number, number];
    if (logits.rank !== 2 || targets.rank !== 1 || targets.shape[0] !== N || !shapesEqual(g.shape, [N]) || g.dtype !== logits.dtype) {
      throw new ShapeError(
        "SoftmaxCrossEntropyGrad",
        `logits ${formatShape(logits.shape)}, targets ${formatShape(targets.shape)} and cotangents ${formatShape(g.shape)} (${g.dtype}) do not match; expected [N,C], [N] and [N] of the logits' dtype`,
      );
    }
    return [{ shape: logits.shape, dtype: logits.dtype }];
  },
  kernel: (k, [logits, targets, g], [out], { ignoreIndex }) => k.softmaxCrossEntropyBackward(logits, targets, g, ignoreIndex, out),
  // y = (p - onehot)·g with p = softmax(x): dg_i = Σ_c (p - onehot)_ic dy_ic;
  // dx_i = g_i (p ⊙ dy_i - p_i Σ_c p_ic dy_ic), zero on ignored rows (their g term is masked).
  vjp: ({ inputs: [logits, targets, g], attrs: { ignoreIndex } }, [dy], needed) => {
    const [N, C] = logits.shape as [number, number];
    const dtype = logits.dtype as "float32" | "float64";
    const valid = reshape(notEqual(targets, ignoreIndex, { dtype }), [N, 1]);
    const p = softmax(logits, -1);
    const dyValid = mul(dy!, valid);
    const pdy = mul(p, dyValid);
    const dx = needed[0] ? mul(sub(pdy, mul(p, sum(pdy, -1, true))), reshape(g, [N, 1])) : null;
    const dg = needed[2] ? sum(mul(sub(p, oneHot(targets, C, dtype)), dyValid), -1) : null;
    return [dx, null, dg];
  },
  decompose: ([logits, targets, g], { ignoreIndex }) => {
    const [N, C] = logits.shape as [number, number];
    const dtype = logits.dtype as "float32" | "float64";
    const scale = reshape(mul(g, notEqual(targets, ignoreIndex, { dtype })), [N, 1]);
    return [mul(sub(softmax(logits, -1), oneHot(targets, C, dtype)), scale)];
  },
});

export interface CrossEntropyOptions {
  /** Targets equal to this are padding: no loss, no gradient, not counted by 'mean'. Default -100. */
  ignoreIndex?: number;
  /** 'mean' over non-ignored targets (default), 'sum', or 'none' (one loss per target). */
  reduction?: "mean" | "sum" | "none";
}

/**
 * Cross-entropy of softmax(logits) against int32 class targets, PyTorch's `cross_entropy`:
 * logits `[..., C]` and targets `[...]`. With 'mean' and every target ignored the result is NaN,
 * as in PyTorch.
 */
export function softmaxCrossEntropy(logits: Tensor, targets: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const ignoreIndex = options.ignoreIndex ?? -100;
  const reduction = options.reduction ?? "mean";
  requireFloat("SoftmaxCrossEntropy", logits, "logits");
  assertDType("SoftmaxCrossEntropy", "targets", targets.dtype, ["int32"]);
  if (logits.rank < 1 || !shapesEqual(logits.shape.slice(0, -1), targets.shape)) {
    throw new ShapeError(
      "SoftmaxCrossEntropy",
      `logits ${formatShape(logits.shape)} need targets of shape ${formatShape(logits.shape.slice(0, -1))}, got ${formatShape(targets.shape)}`,
    );
  }
  const C = logits.shape[logits.rank - 1]!;
  const flatLogits = reshape(logits, [-1, C]);
  const flatTargets = reshape(targets, [targets.size]);
  const losses = apply(SoftmaxCrossEntropy, [flatLogits, flatTargets], { ignoreIndex })[0];
  if (reduction === "none") return reshape(losses, targets.shape);
  const total = sum(losses);
  if (reduction === "sum") return total;
  // The count as a tensor, not a number read from the targets: a traced graph (a compiled training
  // step) then divides by each batch's own count.
  const count = sum(notEqual(flatTargets, ignoreIndex, { dtype: logits.dtype as "float32" | "float64" }));
  return div(total, count);
}
