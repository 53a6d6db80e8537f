import { apply, definePrimitive, type Primitive } from "../autodiff/primitive.js";
import type { ReduceOp } from "../backend/kernels.js";
import { ShapeError } from "../errors.js";
import { broadcastsTo, formatShape, normalizeAxes, normalizeAxis, type Shape, shapesEqual, sizeOf } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { div, mul } from "./arithmetic.js";
import { equal } from "./compare.js";
import { broadcastTo, reshape } from "./layout.js";

interface ReduceAttrs {
  /** Sorted, non-negative axes. */
  readonly axes: readonly number[];
  readonly keepdims: boolean;
}

function keptShape(shape: Shape, axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function reducedShape(shape: Shape, { axes, keepdims }: ReduceAttrs): number[] {
  return keepdims ? keptShape(shape, axes) : shape.filter((_, i) => !axes.includes(i));
}

type Reduction = Primitive<readonly [Tensor], readonly [Tensor], ReduceAttrs>;

function reduction(name: string, op: ReduceOp, vjp: Reduction["vjp"]): Reduction {
  return definePrimitive({
    name,
    infer: ([x], attrs) => {
      if (op === "max" && attrs.axes.some((a) => x.shape[a] === 0)) {
        throw new ShapeError(name, `cannot take the maximum over an empty axis (shape ${formatShape(x.shape)}, axes [${attrs.axes.join(",")}])`);
      }
      return [{ shape: reducedShape(x.shape, attrs), dtype: x.dtype }];
    },
    kernel: (k, [x], [out], { axes }) => k.reduce(op, x, axes, out),
    vjp,
  });
}

// Each input element receives the cotangent of the sum it contributed to.
export const Sum = reduction("Sum", "sum", ({ inputs: [x], attrs: { axes } }, [g]) => [
  broadcastTo(reshape(g!, keptShape(x.shape, axes)), x.shape),
]);

// The cotangent is shared equally among the elements that attain the maximum.
export const Max = reduction("Max", "max", ({ inputs: [x], outputs: [y], attrs: { axes } }, [g]) => {
  const kept = keptShape(x.shape, axes);
  const mask = equal(x, reshape(y, kept));
  const count = sum(mask, axes, true);
  return [div(mul(mask, reshape(g!, kept)), count)];
});

/** Sum over `axes` (all when omitted); `keepdims` keeps reduced axes with size 1. */
export function sum(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  return apply(Sum, [x], { axes: normalizeAxes("Sum", axes, x.rank), keepdims })[0];
}

/** Maximum over `axes` (all when omitted). */
export function max(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  return apply(Max, [x], { axes: normalizeAxes("Max", axes, x.rank), keepdims })[0];
}

/** Mean over `axes` (all when omitted): a sum scaled by 1/count. */
export function mean(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  const list = normalizeAxes("Mean", axes, x.rank);
  const count = sizeOf(list.map((a) => x.shape[a]!));
  return mul(sum(x, list, keepdims), 1 / count);
}

export const ArgMax = definePrimitive<readonly [Tensor], readonly [Tensor], { readonly axis: number; readonly keepdims: boolean }>({
  name: "ArgMax",
  infer: ([x], { axis, keepdims }) => {
    if (x.shape[axis] === 0) throw new ShapeError("ArgMax", `axis ${axis} of shape ${formatShape(x.shape)} is empty`);
    return [{ shape: reducedShape(x.shape, { axes: [axis], keepdims }), dtype: "int32" }];
  },
  kernel: (k, [x], [out], { axis }) => k.argmax(x, axis, out),
});

/** Index of the first maximum along `axis`, as int32. */
export function argmax(x: Tensor, axis = -1, keepdims = false): Tensor {
  return apply(ArgMax, [x], { axis: normalizeAxis("ArgMax", axis, x.rank), keepdims })[0];
}

/**
 * Sums a broadcast result back to `shape`: the adjoint of broadcasting, used by every vjp of an
 * operation that broadcasts its inputs.
 */
export function sumTo(x: Tensor, shape: Shape): Tensor {
  if (shapesEqual(x.shape, shape)) return x;
  if (!broadcastsTo(shape, x.shape)) {
    throw new ShapeError("sumTo", `shape ${formatShape(shape)} does not broadcast to ${formatShape(x.shape)}`);
  }
  const lead = x.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < x.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && x.shape[i] !== 1)) axes.push(i);
  }
  const summed = axes.length > 0 ? sum(x, axes, true) : x;
  return reshape(summed, shape);
}
