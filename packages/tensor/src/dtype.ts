import { DTypeError } from "./errors.js";

/**
 * Element types. float32 is the working precision; float64 exists so that `gradcheck` can evaluate
 * finite differences without float32 round-off; int32 holds indices (tokens, class targets).
 */
export type DType = "float32" | "float64" | "int32";
export type FloatDType = "float32" | "float64";

export type FloatArray = Float32Array | Float64Array;
export type DataArray = Float32Array | Float64Array | Int32Array;

export function isFloat(dtype: DType): dtype is FloatDType {
  return dtype !== "int32";
}

export function allocate(dtype: DType, size: number): DataArray {
  switch (dtype) {
    case "float32":
      return new Float32Array(size);
    case "float64":
      return new Float64Array(size);
    case "int32":
      return new Int32Array(size);
  }
}

export function dtypeOf(data: DataArray): DType {
  if (data instanceof Float32Array) return "float32";
  if (data instanceof Float64Array) return "float64";
  return "int32";
}

export function assertDType(op: string, what: string, actual: DType, allowed: readonly DType[]): void {
  if (!allowed.includes(actual)) {
    const hint = allowed.includes("int32")
      ? "pass integer indices as an int32 tensor (fromArray(values, { dtype: 'int32' }))"
      : "convert it with cast(x, 'float32')";
    throw new DTypeError(op, `${what} must be ${allowed.join(" or ")}, got ${actual}; ${hint}`);
  }
}
