import { allocate, type DataArray, type DType, dtypeOf, isFloat } from "./dtype.js";
import { DTypeError, ShapeError, TensorError, ValueRangeError } from "./errors.js";
import { formatTensor } from "./format.js";
import { assertValidShape, formatShape, type Shape, sizeOf } from "./shape.js";
import { RELEASE_LINE, releaseLine, TENSOR_BRAND } from "./shared.js";
import { VERSION } from "./version.js";

/** Nested JavaScript arrays of numbers, as `toArray()` returns and `fromArray` accepts. */
export type NestedArray = number | readonly NestedArray[];

/**
 * An n-dimensional array: a contiguous row-major typed array, a shape and a dtype.
 *
 * Every operation returns a new tensor that owns a fresh buffer, even when it changes nothing (a
 * full slice, a cast to the same dtype): no tensor is a view of another's data, so mutating one (as
 * optimisers do to parameters, in place) never changes another behind your back.
 */
export class Tensor {
  readonly data: DataArray;
  readonly shape: Shape;
  readonly dtype: DType;
  readonly size: number;

  /** Wraps `data` without copying; use `fromArray` to build a tensor from user values. */
  constructor(data: DataArray, shape: Shape) {
    assertValidShape("Tensor", shape);
    const size = sizeOf(shape);
    if (data.length !== size) {
      throw new ShapeError("Tensor", `data has ${data.length} elements but shape ${formatShape(shape)} needs ${size}`);
    }
    this.data = data;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtypeOf(data);
    this.size = size;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** The single value of a tensor with one element. */
  item(): number {
    if (this.size !== 1) {
      throw new ShapeError("item", `tensor of shape ${formatShape(this.shape)} has ${this.size} elements, not 1`);
    }
    return this.data[0]!;
  }

  /** Values as nested JavaScript arrays (a number for a scalar). */
  toArray(): NestedArray {
    const build = (dim: number, offset: number): NestedArray => {
      if (dim === this.shape.length) return this.data[offset]!;
      const n = this.shape[dim]!;
      const step = sizeOf(this.shape.slice(dim + 1));
      const out: NestedArray[] = [];
      for (let i = 0; i < n; i++) out.push(build(dim + 1, offset + i * step));
      return out;
    };
    return build(0, 0);
  }

  toString(): string {
    return `Tensor(${this.dtype}, ${formatShape(this.shape)})`;
  }

  /** What Node's `util.inspect` (and so `console.log`) shows: dtype, shape and the values, abridged like PyTorch's. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return formatTensor(this.data, this.shape, this.dtype);
  }

  /**
   * `x instanceof Tensor` checks a brand, not this class's identity: a tensor made by another copy
   * of this package of the same release line (two patch versions in one install) is a Tensor here
   * too. A tensor of an incompatible copy (another minor line of 0.x, another major) is a
   * `TensorError` naming both versions. Subclasses keep the ordinary prototype check.
   */
  static [Symbol.hasInstance](value: unknown): value is Tensor {
    if (this !== Tensor) return Function.prototype[Symbol.hasInstance].call(this, value);
    if (typeof value !== "object" || value === null) return false;
    const version = (value as { [TENSOR_BRAND]?: unknown })[TENSOR_BRAND];
    if (typeof version !== "string") return false;
    if (version === VERSION || releaseLine(version) === RELEASE_LINE) return true;
    throw new TensorError(
      "Tensor",
      `a tensor made by @unroll/tensor ${version} reached @unroll/tensor ${VERSION}: two incompatible copies are installed. ` +
        "Install one version (`npm ls @unroll/tensor` shows which package brings each; the @unroll packages take it as a peer dependency)",
    );
  }
}

Object.defineProperty(Tensor.prototype, TENSOR_BRAND, { value: VERSION });

/**
 * `x instanceof Tensor` with a fast path for this copy's own tensors (a prototype comparison, where
 * the brand check is a function call): for the checks every operation makes on its operands.
 */
export function isTensor(value: unknown): value is Tensor {
  return (typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Tensor.prototype) || value instanceof Tensor;
}

function flattenNested(values: NestedArray, shape: number[], out: number[], depth: number): void {
  if (typeof values === "number") {
    if (depth !== shape.length) throw new ShapeError("fromArray", `ragged nested array: a number at depth ${depth}`);
    out.push(values);
    return;
  }
  if (depth === shape.length) {
    if (out.length > 0) throw new ShapeError("fromArray", `ragged nested array: an array at depth ${depth}`);
    shape.push(values.length);
  } else if (shape[depth] !== values.length) {
    throw new ShapeError(
      "fromArray",
      `ragged nested array: length ${values.length} at depth ${depth}, expected ${shape[depth]}`,
    );
  }
  for (const v of values) flattenNested(v, shape, out, depth + 1);
}

export interface FromArrayOptions {
  /** Shape for flat input; inferred from nesting when omitted. */
  shape?: Shape;
  /** Defaults to the typed array's dtype, else float32. */
  dtype?: DType;
}

function checkInteger(op: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
      throw new ValueRangeError(op, `value ${v} at index ${i} is not a 32-bit integer; int32 tensors hold indices`);
    }
  }
}

/**
 * Builds a tensor from nested arrays (`[[1, 2], [3, 4]]`) or from flat values and a shape. The
 * values are always copied.
 */
export function fromArray(values: NestedArray | ArrayLike<number>, options: FromArrayOptions = {}): Tensor {
  let flat: ArrayLike<number>;
  let shape: number[];
  if (typeof values === "number") {
    flat = [values];
    shape = [];
  } else if (ArrayBuffer.isView(values) || (options.shape !== undefined && isFlat(values))) {
    flat = values as ArrayLike<number>;
    shape = options.shape ? [...options.shape] : [flat.length];
  } else {
    const out: number[] = [];
    shape = [];
    flattenNested(values as NestedArray, shape, out, 0);
    flat = out;
    if (options.shape) {
      if (sizeOf(options.shape) !== out.length) {
        throw new ShapeError("fromArray", `${out.length} values do not fill shape ${formatShape(options.shape)}`);
      }
      shape = [...options.shape];
    }
  }
  assertValidShape("fromArray", shape);
  if (sizeOf(shape) !== flat.length) {
    throw new ShapeError("fromArray", `${flat.length} values do not fill shape ${formatShape(shape)}`);
  }
  const dtype = options.dtype ?? (values instanceof Float64Array ? "float64" : values instanceof Int32Array ? "int32" : "float32");
  if (dtype === "int32") checkInteger("fromArray", flat);
  const data = allocate(dtype, flat.length);
  data.set(flat as ArrayLike<number>);
  return new Tensor(data, shape);
}

function isFlat(values: unknown): boolean {
  return Array.isArray(values) && values.every((v) => typeof v === "number");
}

export function scalar(value: number, dtype: DType = "float32"): Tensor {
  return fromArray(value, { dtype });
}

export function full(shape: Shape, value: number, dtype: DType = "float32"): Tensor {
  assertValidShape("full", shape);
  if (dtype === "int32") checkInteger("full", [value]);
  const data = allocate(dtype, sizeOf(shape));
  if (value !== 0) data.fill(value);
  return new Tensor(data, shape);
}

export function zeros(shape: Shape, dtype: DType = "float32"): Tensor {
  return full(shape, 0, dtype);
}

export function ones(shape: Shape, dtype: DType = "float32"): Tensor {
  return full(shape, 1, dtype);
}

export function zerosLike(x: Tensor): Tensor {
  return full(x.shape, 0, x.dtype);
}

export function onesLike(x: Tensor): Tensor {
  return full(x.shape, 1, x.dtype);
}

/** `[start, start + step, ...)` below `stop`, as NumPy's arange; `arange(n)` is `0..n-1`. */
export function arange(start: number, stop?: number, step = 1, dtype: DType = "float32"): Tensor {
  if (stop === undefined) {
    stop = start;
    start = 0;
  }
  if (step === 0 || !Number.isFinite(step)) throw new ValueRangeError("arange", `step must be a finite non-zero number, got ${step}`);
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const data = allocate(dtype, n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  if (dtype === "int32") checkInteger("arange", [start, step]);
  return new Tensor(data, [n]);
}

/** A tensor's values copied into a new tensor of the same dtype and shape. */
export function clone(x: Tensor): Tensor {
  return new Tensor(x.data.slice(), x.shape);
}

/** Throws unless `x` is floating point; the message names the op. */
export function assertFloat(op: string, x: Tensor, what = "input"): void {
  if (!isFloat(x.dtype)) {
    throw new DTypeError(op, `${what} must be float32 or float64, got ${x.dtype}; convert with cast(x, 'float32')`);
  }
}
