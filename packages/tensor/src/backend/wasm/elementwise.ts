// Host side of the elementwise, reduction and softmax kernels in WebAssembly
// (assembly/elementwise.ts): float32 only, large enough operands only (below `MIN_ELEMENTS` the
// copies and the call cost more than the reference loop saves), everything else on the reference
// kernels. Long operands stream through the module in chunks of rows, so a call never needs more
// than about `CHUNK_ELEMENTS` floats per operand there (the module's memory never shrinks).

import type { AdamScalars, BinaryOp, KernelTensor, ReduceOp, UnaryOp } from "../kernels.js";
import { planBroadcast } from "../reference/broadcast-plan.js";
import { referenceKernels } from "../reference/index.js";
import { mergeAxes } from "../reference/reduce.js";
import type { KernelsExports } from "./module.js";
import { paddedBytes as padded, type Residency } from "./resident.js";

/** Below this many output elements the reference kernel runs (copy-in, call and copy-out cost ~1 µs). */
export const MIN_ELEMENTS = 256;
/** Elements of a streamed operand per call. */
const CHUNK_ELEMENTS = 1 << 18;

const UNARY_CODE: Record<UnaryOp, number> = { neg: 0, exp: 1, log: 2, sqrt: 3, tanh: 4, sigmoid: 5, relu: 6, abs: 7, sign: 8 };
// pow stays on the reference kernel (Math.pow's special cases).
const BINARY_CODE: Partial<Record<BinaryOp, number>> = {
  add: 0,
  sub: 1,
  mul: 2,
  div: 3,
  greater: 4,
  greaterEqual: 5,
  less: 6,
  lessEqual: 7,
  equal: 8,
  notEqual: 9,
};
const REDUCE_CODE: Record<ReduceOp, number> = { sum: 0, max: 1 };

type F32Tensor = KernelTensor & { readonly data: Float32Array };

function isF32(t: KernelTensor): t is F32Tensor {
  return t.data instanceof Float32Array;
}

/** Hands out consecutive padded byte ranges of one call region. */
class Regions {
  private next: number;
  constructor(base: number) {
    this.next = base;
  }
  take(elements: number): number {
    const at = this.next;
    this.next += padded(elements);
    return at;
  }
}

function f32View(wasm: KernelsExports, at: number, n: number): Float32Array {
  return new Float32Array(wasm.memory.buffer, at, n);
}

function i32View(wasm: KernelsExports, at: number, n: number): Int32Array {
  return new Int32Array(wasm.memory.buffer, at, n);
}

export function wasmUnary(wasm: KernelsExports, residency: Residency, op: UnaryOp, x: KernelTensor, out: KernelTensor): void {
  const n = out.data.length;
  if (!isF32(x) || !isF32(out) || n < MIN_ELEMENTS) {
    referenceKernels.unary(op, x, out);
    return;
  }
  const chunk = Math.min(n, CHUNK_ELEMENTS);
  const base = residency.callRegion(2 * padded(chunk));
  if (base === 0) return referenceKernels.unary(op, x, out);
  const xAt = base;
  const outAt = base + padded(chunk);
  for (let start = 0; start < n; start += chunk) {
    const len = Math.min(chunk, n - start);
    f32View(wasm, xAt, len).set(x.data.subarray(start, start + len));
    wasm.unaryF32(UNARY_CODE[op], xAt, outAt, len);
    out.data.set(f32View(wasm, outAt, len), start);
  }
}

/** `clamp` in WebAssembly, bit for bit the reference's (see assembly/elementwise.ts `clampF32`). */
export function wasmClamp(wasm: KernelsExports, residency: Residency, x: KernelTensor, min: number, max: number, out: KernelTensor): void {
  const n = out.data.length;
  if (!isF32(x) || !isF32(out) || n < MIN_ELEMENTS) {
    referenceKernels.clamp(x, min, max, out);
    return;
  }
  const chunk = Math.min(n, CHUNK_ELEMENTS);
  const base = residency.callRegion(2 * padded(chunk));
  if (base === 0) return referenceKernels.clamp(x, min, max, out);
  const xAt = base;
  const outAt = base + padded(chunk);
  for (let start = 0; start < n; start += chunk) {
    const len = Math.min(chunk, n - start);
    f32View(wasm, xAt, len).set(x.data.subarray(start, start + len));
    wasm.clampF32(xAt, outAt, len, Math.fround(min), Math.fround(max));
    out.data.set(f32View(wasm, outAt, len), start);
  }
}

/**
 * Binary ops on the reference's broadcast plan (`rows` runs of `length`). An operand with as many
 * elements as the output has its layout and streams through in chunks of rows; a broadcast one
 * (smaller) is copied in whole, once.
 */
export function wasmBinary(wasm: KernelsExports, residency: Residency, op: BinaryOp, a: KernelTensor, b: KernelTensor, out: KernelTensor): void {
  const code = BINARY_CODE[op];
  const n = out.data.length;
  if (code === undefined || !isF32(a) || !isF32(b) || !isF32(out) || n < MIN_ELEMENTS) {
    referenceKernels.binary(op, a, b, out);
    return;
  }
  const plan = planBroadcast(out.shape, [a.shape, b.shape]);
  const { rows, length } = plan;
  const operands = [a, b] as const;
  const streamed = operands.map((t) => t.data.length === n);
  const rowsPer = Math.max(1, Math.min(rows, Math.floor(CHUNK_ELEMENTS / length)));
  let bytes = padded(rowsPer * length) + 2 * padded(rowsPer);
  operands.forEach((t, k) => (bytes += padded(streamed[k] ? rowsPer * length : t.data.length)));
  const base = residency.callRegion(bytes);
  if (base === 0) return referenceKernels.binary(op, a, b, out);
  const regions = new Regions(base);
  const at = operands.map((t, k) => regions.take(streamed[k] ? rowsPer * length : t.data.length));
  const offAt = operands.map(() => regions.take(rowsPer));
  const outAt = regions.take(rowsPer * length);
  operands.forEach((t, k) => {
    if (!streamed[k]) f32View(wasm, at[k]!, t.data.length).set(t.data);
  });
  for (let r0 = 0; r0 < rows; r0 += rowsPer) {
    const count = Math.min(rowsPer, rows - r0);
    operands.forEach((t, k) => {
      const offsets = i32View(wasm, offAt[k]!, count);
      if (streamed[k]) {
        f32View(wasm, at[k]!, count * length).set(t.data.subarray(r0 * length, (r0 + count) * length));
        for (let r = 0; r < count; r++) offsets[r] = r * length;
      } else {
        offsets.set(plan.offsets[k]!.subarray(r0, r0 + count));
      }
    });
    wasm.binaryF32(code, count, length, at[0]!, offAt[0]!, plan.strides[0]!, at[1]!, offAt[1]!, plan.strides[1]!, outAt);
    out.data.set(f32View(wasm, outAt, count * length), r0 * length);
  }
}

/** Rows of `length` per call so that a chunk holds about `CHUNK_ELEMENTS` (at least one row). */
function rowsPerChunk(rows: number, length: number): number {
  return Math.max(1, Math.min(rows, Math.floor(CHUNK_ELEMENTS / Math.max(length, 1))));
}

/**
 * Sum and max over the four layouts that cover the training steps: everything, the last block of
 * axes (rows), the first block (columns: bias gradients), the first and last blocks around a kept
 * middle one (a convolution's bias gradient, over [N, ., H, W]). Others stay on the reference kernel.
 */
export function wasmReduce(wasm: KernelsExports, residency: Residency, op: ReduceOp, x: KernelTensor, axes: readonly number[], out: KernelTensor): void {
  const n = x.data.length;
  if (!isF32(x) || !isF32(out) || n < MIN_ELEMENTS) {
    referenceKernels.reduce(op, x, axes, out);
    return;
  }
  const { sizes, reduced } = mergeAxes(x.shape, axes);
  const code = REDUCE_CODE[op];
  if (sizes.length === 1 && reduced[0]) {
    const chunk = Math.min(n, CHUNK_ELEMENTS);
    const xAt = residency.callRegion(padded(chunk));
    if (xAt === 0) return referenceKernels.reduce(op, x, axes, out);
    let acc = op === "sum" ? 0 : -Infinity;
    for (let start = 0; start < n; start += chunk) {
      const len = Math.min(chunk, n - start);
      f32View(wasm, xAt, len).set(x.data.subarray(start, start + len));
      const part = wasm.reduceAllF32(code, xAt, len);
      acc = op === "sum" ? acc + part : acc !== acc || part !== part ? NaN : Math.max(acc, part);
    }
    out.data[0] = acc;
    return;
  }
  if (sizes.length === 3 && reduced[0] && !reduced[1] && reduced[2]) return reduceOuterInner(wasm, residency, op, x, axes, sizes as [number, number, number], out);
  if (sizes.length !== 2) {
    referenceKernels.reduce(op, x, axes, out);
    return;
  }
  const [rows, length] = sizes as [number, number];
  const rowsPer = rowsPerChunk(rows, length);
  const columns = reduced[0]!;
  const outElements = columns ? length : rowsPer;
  const base = residency.callRegion(padded(rowsPer * length) + padded(outElements));
  if (base === 0) return referenceKernels.reduce(op, x, axes, out);
  const xAt = base;
  const outAt = base + padded(rowsPer * length);
  for (let r0 = 0; r0 < rows; r0 += rowsPer) {
    const count = Math.min(rowsPer, rows - r0);
    f32View(wasm, xAt, count * length).set(x.data.subarray(r0 * length, (r0 + count) * length));
    if (columns) wasm.reduceColumnsF32(code, count, length, xAt, outAt, r0 > 0);
    else {
      wasm.reduceRowsF32(code, count, length, xAt, outAt);
      out.data.set(f32View(wasm, outAt, count), r0);
    }
  }
  if (columns) out.data.set(f32View(wasm, outAt, length));
}

/**
 * out[b] = reduce over a and c of x viewed as (A, B, C), accumulated in float64 over chunks of a
 * and rounded once (the reference adds into the float32 output one element at a time, so sums
 * agree to that rounding, maxima exactly).
 */
function reduceOuterInner(
  wasm: KernelsExports, residency: Residency, op: ReduceOp, x: F32Tensor, axes: readonly number[], [A, B, C]: [number, number, number], out: KernelTensor,
): void {
  const per = rowsPerChunk(A, B * C);
  const base = residency.callRegion(padded(per * B * C) + padded(2 * B));
  if (base === 0) return referenceKernels.reduce(op, x, axes, out);
  const xAt = base;
  const accAt = base + padded(per * B * C);
  for (let a0 = 0; a0 < A; a0 += per) {
    const count = Math.min(per, A - a0);
    f32View(wasm, xAt, count * B * C).set(x.data.subarray(a0 * B * C, (a0 + count) * B * C));
    wasm.reduceOuterInnerF32(REDUCE_CODE[op], count, B, C, xAt, accAt, a0 > 0);
  }
  out.data.set(new Float64Array(wasm.memory.buffer, accAt, B));
}

/** Softmax or log-softmax along the last axis; other axes stay on the reference kernel. */
export function wasmSoftmax(wasm: KernelsExports, residency: Residency, x: KernelTensor, axis: number, out: KernelTensor, log: boolean): void {
  const n = x.data.length;
  const fallback = () => (log ? referenceKernels.logSoftmax(x, axis, out) : referenceKernels.softmax(x, axis, out));
  if (!isF32(x) || !isF32(out) || n < MIN_ELEMENTS || axis !== x.shape.length - 1) return fallback();
  const C = x.shape[axis]!;
  const rows = n / C;
  const rowsPer = rowsPerChunk(rows, C);
  const base = residency.callRegion(2 * padded(rowsPer * C));
  if (base === 0) return fallback();
  const xAt = base;
  const outAt = base + padded(rowsPer * C);
  for (let r0 = 0; r0 < rows; r0 += rowsPer) {
    const count = Math.min(rowsPer, rows - r0);
    f32View(wasm, xAt, count * C).set(x.data.subarray(r0 * C, (r0 + count) * C));
    wasm.softmaxRowsF32(count, C, xAt, outAt, log);
    out.data.set(f32View(wasm, outAt, count * C), r0 * C);
  }
}

export function wasmSoftmaxCrossEntropy(
  wasm: KernelsExports,
  residency: Residency,
  logits: KernelTensor,
  targets: KernelTensor,
  ignoreIndex: number,
  out: KernelTensor,
): void {
  const [N, C] = logits.shape as [number, number];
  if (!isF32(logits) || !isF32(out) || !(targets.data instanceof Int32Array) || N * C < MIN_ELEMENTS || (ignoreIndex | 0) !== ignoreIndex) {
    referenceKernels.softmaxCrossEntropy(logits, targets, ignoreIndex, out);
    return;
  }
  const rowsPer = rowsPerChunk(N, C);
  const base = residency.callRegion(padded(rowsPer * C) + 2 * padded(rowsPer) + padded(C));
  if (base === 0) return referenceKernels.softmaxCrossEntropy(logits, targets, ignoreIndex, out);
  const regions = new Regions(base);
  const xAt = regions.take(rowsPer * C);
  const tAt = regions.take(rowsPer);
  const outAt = regions.take(rowsPer);
  const scratchAt = regions.take(C);
  for (let r0 = 0; r0 < N; r0 += rowsPer) {
    const count = Math.min(rowsPer, N - r0);
    f32View(wasm, xAt, count * C).set(logits.data.subarray(r0 * C, (r0 + count) * C));
    i32View(wasm, tAt, count).set(targets.data.subarray(r0, r0 + count));
    wasm.softmaxCrossEntropyF32(count, C, xAt, tAt, ignoreIndex, outAt, scratchAt);
    out.data.set(f32View(wasm, outAt, count), r0);
  }
}

export function wasmSoftmaxCrossEntropyBackward(
  wasm: KernelsExports,
  residency: Residency,
  logits: KernelTensor,
  targets: KernelTensor,
  grad: KernelTensor,
  ignoreIndex: number,
  out: KernelTensor,
): void {
  const [N, C] = logits.shape as [number, number];
  if (
    !isF32(logits) || !isF32(grad) || !isF32(out) || !(targets.data instanceof Int32Array) ||
    N * C < MIN_ELEMENTS || (ignoreIndex | 0) !== ignoreIndex
  ) {
    referenceKernels.softmaxCrossEntropyBackward(logits, targets, grad, ignoreIndex, out);
    return;
  }
  const rowsPer = rowsPerChunk(N, C);
  const base = residency.callRegion(2 * padded(rowsPer * C) + 2 * padded(rowsPer));
  if (base === 0) return referenceKernels.softmaxCrossEntropyBackward(logits, targets, grad, ignoreIndex, out);
  const regions = new Regions(base);
  const xAt = regions.take(rowsPer * C);
  const tAt = regions.take(rowsPer);
  const gAt = regions.take(rowsPer);
  const outAt = regions.take(rowsPer * C);
  for (let r0 = 0; r0 < N; r0 += rowsPer) {
    const count = Math.min(rowsPer, N - r0);
    f32View(wasm, xAt, count * C).set(logits.data.subarray(r0 * C, (r0 + count) * C));
    i32View(wasm, tAt, count).set(targets.data.subarray(r0, r0 + count));
    f32View(wasm, gAt, count).set(grad.data.subarray(r0, r0 + count));
    wasm.softmaxCrossEntropyBackwardF32(count, C, xAt, tAt, gAt, ignoreIndex, outAt);
    out.data.set(f32View(wasm, outAt, count * C), r0 * C);
  }
}

/**
 * One fused Adam step (assembly/optim.ts) of float32 arrays, streamed through the module in
 * chunks: parameter, gradient and moments copied in, parameter and moments copied back.
 */
export function wasmAdamUpdate(
  wasm: KernelsExports,
  residency: Residency,
  param: Float32Array,
  grad: Float32Array,
  m: Float32Array,
  v: Float32Array,
  s: AdamScalars,
): void {
  const n = param.length;
  if (n === 0) return;
  const chunk = Math.min(n, CHUNK_ELEMENTS);
  const base = residency.callRegion(4 * padded(chunk));
  if (base === 0) throw new Error(`adamUpdate: ${4 * chunk} floats do not fit in the WebAssembly memory`);
  const [pAt, gAt, mAt, vAt] = [0, 1, 2, 3].map((k) => base + k * padded(chunk)) as [number, number, number, number];
  for (let start = 0; start < n; start += chunk) {
    const len = Math.min(chunk, n - start);
    const end = start + len;
    f32View(wasm, pAt, len).set(param.subarray(start, end));
    f32View(wasm, gAt, len).set(grad.subarray(start, end));
    f32View(wasm, mAt, len).set(m.subarray(start, end));
    f32View(wasm, vAt, len).set(v.subarray(start, end));
    wasm.adamF32(pAt, gAt, mAt, vAt, len, s.beta1, s.oneMinusBeta1, s.beta2, s.oneMinusBeta2, s.bias2Sqrt, s.negStepSize, s.eps, s.shrink);
    param.set(f32View(wasm, pAt, len), start);
    m.set(f32View(wasm, mAt, len), start);
    v.set(f32View(wasm, vAt, len), start);
  }
}
