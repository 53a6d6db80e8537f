import { type DType, isFloat } from "../dtype.js";
import { DTypeError } from "../errors.js";
import { isTensor, scalar, type Tensor } from "../tensor.js";

/** A tensor, or a plain number that becomes a scalar of the other operand's dtype. */
export type TensorLike = Tensor | number;

export function toTensor(x: TensorLike, dtype: DType): Tensor {
  return isTensor(x) ? x : scalar(x, dtype);
}

/** Turns two operands into tensors of one dtype; numbers follow the tensor's dtype. */
export function operands(op: string, a: TensorLike, b: TensorLike): [Tensor, Tensor] {
  const dtype = isTensor(a) ? a.dtype : isTensor(b) ? b.dtype : "float32";
  const x = toTensor(a, dtype);
  const y = toTensor(b, dtype);
  if (x.dtype !== y.dtype) {
    throw new DTypeError(op, `operands have different dtypes (${x.dtype} and ${y.dtype}); convert one with cast()`);
  }
  return [x, y];
}

export function requireFloat(op: string, x: Tensor, what = "input"): void {
  if (!isFloat(x.dtype)) {
    throw new DTypeError(op, `${what} must be float32 or float64, got ${x.dtype}; convert it with cast(x, 'float32')`);
  }
}
