import { apply, definePrimitive, type Primitive } from "../autodiff/primitive.js";
import type { ComparisonOp } from "../backend/kernels.js";
import { type FloatDType, isFloat } from "../dtype.js";
import { broadcastShapes } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { operands, type TensorLike } from "./operand.js";

interface CompareAttrs {
  readonly dtype: FloatDType;
}

type Comparison = Primitive<readonly [Tensor, Tensor], readonly [Tensor], CompareAttrs>;

function comparison(name: string, op: ComparisonOp): Comparison {
  // No vjp: a mask is piecewise constant, its derivative is zero wherever it exists.
  return definePrimitive<readonly [Tensor, Tensor], readonly [Tensor], CompareAttrs>({
    name,
    infer: ([a, b], { dtype }) => [{ shape: broadcastShapes(name, a.shape, b.shape), dtype }],
    kernel: (k, [a, b], [out]) => k.binary(op, a, b, out),
  });
}

export const Greater = comparison("Greater", "greater");
export const GreaterEqual = comparison("GreaterEqual", "greaterEqual");
export const Less = comparison("Less", "less");
export const LessEqual = comparison("LessEqual", "lessEqual");
export const Equal = comparison("Equal", "equal");
export const NotEqual = comparison("NotEqual", "notEqual");

export interface MaskOptions {
  /** dtype of the 0/1 mask; defaults to the operands' float dtype, or float32 for int32 operands. */
  dtype?: FloatDType;
}

function compare(p: Comparison, a: TensorLike, b: TensorLike, options: MaskOptions): Tensor {
  const [x, y] = operands(p.name, a, b);
  const dtype = options.dtype ?? (isFloat(x.dtype) ? x.dtype : "float32");
  return apply(p, [x, y], { dtype })[0];
}

/** Mask of `a > b` (1 where true, 0 elsewhere), so that masks multiply directly with values. */
export function greater(a: TensorLike, b: TensorLike, options: MaskOptions = {}): Tensor {
  return compare(Greater, a, b, options);
}

/** Mask of `a >= b`. */
export function greaterEqual(a: TensorLike, b: TensorLike, options: MaskOptions = {}): Tensor {
  return compare(GreaterEqual, a, b, options);
}

/** Mask of `a < b`. */
export function less(a: TensorLike, b: TensorLike, options: MaskOptions = {}): Tensor {
  return compare(Less, a, b, options);
}

/** Mask of `a <= b`. */
export function lessEqual(a: TensorLike, b: TensorLike, options: MaskOptions = {}): Tensor {
  return compare(LessEqual, a, b, options);
}

/** Mask of `a == b`. */
export function equal(a: TensorLike, b: TensorLike, options: MaskOptions = {}): Tensor {
  return compare(Equal, a, b, options);
}

/** Mask of `a != b`. */
export function notEqual(a: TensorLike, b: TensorLike, options: MaskOptions = {}): Tensor {
  return compare(NotEqual, a, b, options);
}
