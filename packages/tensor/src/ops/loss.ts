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
  vjp: ({ inputs: [logits, targets], attrs: { ignoreIndex } }, [g]) => {
    const [N, C] = logits.shape as [number, number];
    const valid = notEqual(targets, ignoreIndex, { dtype: logits.dtype as "float32" | "float64" }); // (N)
    const scale = reshape(mul(g!, valid), [N, 1]); // (N, 1)
    const onehot = oneHot(targets, C, logits.dtype as "float32" | "float64"); // (N, C)
    return [mul(sub(softmax(logits, -1), onehot), scale), null];
  },
  decompose: ([logits, targets], { ignoreIndex }) => {
    const [, C] = logits.shape as [number, number];
    const dtype = logits.dtype as "float32" | "float64";
    const picked = sum(mul(logSoftmax(logits, -1), oneHot(targets, C, dtype)), -1); // (N)
    return [neg(mul(picked, notEqual(targets, ignoreIndex, { dtype })))];
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
  let count = 0;
  for (let i = 0; i < flatTargets.size; i++) if (flatTargets.data[i] !== ignoreIndex) count++;
  return div(total, count);
}
