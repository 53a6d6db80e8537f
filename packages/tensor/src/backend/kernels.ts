import type { DataArray } from "../dtype.js";
import type { Shape } from "../shape.js";

/**
 * A tensor as kernels see it: a contiguous row-major typed array and its shape. `Tensor`
 * satisfies this structurally, so kernels can be called with tensors directly.
 */
export interface KernelTensor {
  readonly data: DataArray;
  readonly shape: Shape;
}

export type UnaryOp = "neg" | "exp" | "log" | "sqrt" | "tanh" | "sigmoid" | "relu" | "abs" | "sign";
export type ArithmeticOp = "add" | "sub" | "mul" | "div" | "pow";
export type ComparisonOp = "greater" | "greaterEqual" | "less" | "lessEqual" | "equal" | "notEqual";
export type BinaryOp = ArithmeticOp | ComparisonOp;
export type ReduceOp = "sum" | "max";

/**
 * The backend table: every computation of the tensor package goes through one of these
 * functions. Kernels write into `out`, which the caller allocated with the right shape and dtype
 * (zero-filled), so a backend never allocates results and buffer reuse can be added in one place.
 *
 * Inputs are validated before a kernel runs (shapes, dtypes, index ranges): kernels may assume
 * well-formed arguments. A backend that accelerates some kernels spreads the reference table and
 * overrides those (`{ ...referenceKernels, matmul: fastMatmul }`), so every kernel keeps its oracle.
 */
export interface Kernels {
  readonly name: string;
  unary(op: UnaryOp, x: KernelTensor, out: KernelTensor): void;
  /** NumPy broadcasting from `a.shape` and `b.shape` to `out.shape`; comparisons write 1 or 0. */
  binary(op: BinaryOp, a: KernelTensor, b: KernelTensor, out: KernelTensor): void;
  clamp(x: KernelTensor, min: number, max: number, out: KernelTensor): void;
  /** `out = cond != 0 ? a : b`, all three broadcast to `out.shape`. */
  where(cond: KernelTensor, a: KernelTensor, b: KernelTensor, out: KernelTensor): void;
  /** Converts element types (float to int truncates toward zero). */
  cast(x: KernelTensor, out: KernelTensor): void;
  /**
   * Batched matrix product `op(a) · op(b)` over the last two axes, batch axes broadcast;
   * `op` transposes when the flag is set.
   */
  matmul(a: KernelTensor, b: KernelTensor, out: KernelTensor, transA: boolean, transB: boolean): void;
  /** Reduces the sorted `axes`; `out` has the kept axes (size-1 or removed: same layout). */
  reduce(op: ReduceOp, x: KernelTensor, axes: readonly number[], out: KernelTensor): void;
  /** Index of the first maximum along `axis`, into an int32 `out` (the axis removed or kept as 1). */
  argmax(x: KernelTensor, axis: number, out: KernelTensor): void;
  broadcastTo(x: KernelTensor, out: KernelTensor): void;
  /** `out.shape[i] = x.shape[perm[i]]`. */
  transpose(x: KernelTensor, perm: readonly number[], out: KernelTensor): void;
  concat(xs: readonly KernelTensor[], axis: number, out: KernelTensor): void;
  /** Copies the block of `x` starting at `starts` with `out.shape`'s extent. */
  slice(x: KernelTensor, starts: readonly number[], out: KernelTensor): void;
  /** Places `x` at offset `before` inside `out`, filling the rest with `value`. */
  pad(x: KernelTensor, before: readonly number[], value: number, out: KernelTensor): void;
  /** `out[..., j, ...] = x[..., indices[j], ...]` along `axis` (indices flattened, in range). */
  gather(x: KernelTensor, indices: KernelTensor, axis: number, out: KernelTensor): void;
  /** `out[..., indices[j], ...] += updates[..., j, ...]` along `axis`; `out` starts zeroed. */
  scatterAdd(indices: KernelTensor, updates: KernelTensor, axis: number, out: KernelTensor): void;
  /** `out[i, indices[i]] = 1`; indices outside `[0, depth)` give a zero row. */
  oneHot(indices: KernelTensor, out: KernelTensor): void;
  softmax(x: KernelTensor, axis: number, out: KernelTensor): void;
  logSoftmax(x: KernelTensor, axis: number, out: KernelTensor): void;
  /**
   * Per-row loss `logsumexp(logits[i]) - logits[i, targets[i]]` for logits `[N, C]` and int32
   * targets `[N]`; rows whose target equals `ignoreIndex` get 0.
   */
  softmaxCrossEntropy(logits: KernelTensor, targets: KernelTensor, ignoreIndex: number, out: KernelTensor): void;
}
