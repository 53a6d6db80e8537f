// The WebAssembly SIMD backend: the reference table with its hot kernels (matrix products,
// recurrent scans, elementwise ops and clamp, reductions, softmax and its cross-entropy, convolutions and
// their gradients, global average pooling, batched transposes) replaced by the ones in
// packages/tensor/assembly (built into kernels.wasm.generated.ts). Float32 runs in WebAssembly;
// float64 and everything not overridden stay on the reference kernels, which remain the oracle.

import { ShapeError, ValueRangeError } from "../../errors.js";
import type { Kernels, KernelTensor } from "../kernels.js";
import { planBroadcast } from "../reference/broadcast-plan.js";
import { referenceKernels } from "../reference/index.js";
import { kernelsInstance, kernelsInstanceSync, type KernelsExports, MAX_WASM_THREADS, threadedKernelsInstanceSync, workersReady } from "./module.js";
import {
  wasmAdamUpdate,
  wasmBinary,
  wasmClamp,
  wasmReduce,
  wasmSoftmax,
  wasmSoftmaxCrossEntropy,
  wasmSoftmaxCrossEntropyBackward,
  wasmUnary,
} from "./elementwise.js";
import { wasmRecurrentBackward, wasmRecurrentForward } from "./recurrent.js";
import { wasmAttentionDecoderBackward, wasmAttentionDecoderForward } from "./attention-decoder.js";
import { paddedBytes as padded, Residency } from "./resident.js";
import { wasmConv2d, wasmConv2dBackwardInput, wasmConv2dBackwardWeight } from "./conv.js";
import { wasmAvgPool2d } from "./pool.js";
import { wasmTranspose } from "./transpose.js";

export { defaultWasmThreads, MAX_WASM_THREADS, wasmSupported, wasmThreadsSupported } from "./module.js";

/** Copies `src` into the module's memory at byte address `at`. */
function copyIn(wasm: KernelsExports, at: number, src: Float32Array): void {
  new Float32Array(wasm.memory.buffer, at, src.length).set(src);
}

function sizeOfShape(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Float32 batched matmul in WebAssembly; see `Kernels.matmul`. */
function wasmMatmul(
  wasm: KernelsExports,
  residency: Residency,
  a: KernelTensor,
  b: KernelTensor,
  out: KernelTensor,
  transA: boolean,
  transB: boolean,
): void {
  if (!(a.data instanceof Float32Array && b.data instanceof Float32Array && out.data instanceof Float32Array)) {
    referenceKernels.matmul(a, b, out, transA, transB);
    return;
  }
  const ra = a.shape.length;
  const M = out.shape[out.shape.length - 2]!;
  const N = out.shape[out.shape.length - 1]!;
  const K = transA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const aSize = sizeOfShape(a.shape);
  const bSize = sizeOfShape(b.shape);
  const cSize = sizeOfShape(out.shape);
  if (cSize === 0) return;
  const pinnedA = residency.addressOf(a.data);
  const pinnedB = residency.addressOf(b.data);
  const single = aSize === M * K && bSize === K * N;
  if (single && pinnedA === null && padded(aSize) + padded(bSize) + padded(cSize) > matmulChunkBytes) {
    if (!transA && M > SMALL_ROWS) return chunkedRowsMatmul(wasm, residency, a.data, b.data, out.data, M, N, K, transB, pinnedB);
    if (transA && !transB && K > KC) return chunkedDepthMatmul(wasm, residency, a.data, b.data, out.data, M, N, K);
  }
  const base = residency.callRegion((pinnedA === null ? padded(aSize) : 0) + (pinnedB === null ? padded(bSize) : 0) + padded(cSize));
  if (base === 0) {
    // Beyond the 4 GiB of wasm32 memory: the reference kernel has no such limit.
    referenceKernels.matmul(a, b, out, transA, transB);
    return;
  }
  let next = base;
  const aAt = pinnedA ?? next;
  if (pinnedA === null) {
    next += padded(aSize);
    copyIn(wasm, aAt, a.data.subarray(0, aSize));
  }
  const bAt = pinnedB ?? next;
  if (pinnedB === null) {
    next += padded(bSize);
    copyIn(wasm, bAt, b.data.subarray(0, bSize));
  }
  const cAt = next;
  // Batch offsets come from the broadcast planner applied to the batch axes, in matrix units.
  const plan = planBroadcast(out.shape.slice(0, -2), [a.shape.slice(0, -2), b.shape.slice(0, -2)]);
  const lda = transA ? M : K;
  const ldb = transB ? K : N;
  let batch = 0;
  for (let r = 0; r < plan.rows; r++) {
    for (let t = 0; t < plan.length; t++, batch++) {
      const aIndex = plan.offsets[0]![r]! + t * plan.strides[0]!;
      const bIndex = plan.offsets[1]![r]! + t * plan.strides[1]!;
      wasm.gemm(transA, transB, M, N, K, aAt + aIndex * M * K * 4, lda, bAt + bIndex * K * N * 4, ldb, cAt + batch * M * N * 4, N, false);
    }
  }
  out.data.set(new Float32Array(wasm.memory.buffer, cAt, cSize));
}

/**
 * Bytes of operands above which a single product streams its large operand through the module
 * in chunks instead of copying it in whole: the module's memory never shrinks, so one call with
 * a training step's 8 MiB input-projection gradient would keep 8 MiB allocated for good.
 */
let matmulChunkBytes = 4 * 2 ** 20;

/** Sets the chunking threshold (tests make it small); returns the previous value. */
export function setMatmulChunkBytes(bytes: number): number {
  const previous = matmulChunkBytes;
  matmulChunkBytes = bytes;
  return previous;
}

/** gemm's row-block height and depth-block size (assembly/gemm-params.ts MC, KC), and its matrix-vector row limit. */
const MC = 128;
const KC = 256;
const SMALL_ROWS = 4;

/**
 * `out = a · op(b)` with rows of `a` and `out` in chunks of whole MC blocks (each row's sums are
 * the same as in one call, so the result is bitwise the same); a tail the matrix-vector path
 * would take is folded into the chunk before it.
 */
function chunkedRowsMatmul(
  wasm: KernelsExports, residency: Residency, a: Float32Array, b: Float32Array, out: Float32Array,
  M: number, N: number, K: number, transB: boolean, pinnedB: number | null,
): void {
  const rowBytes = 4 * (K + N);
  const budget = matmulChunkBytes - (pinnedB === null ? padded(K * N) : 0);
  const rowsPer = Math.max(MC, Math.floor(budget / rowBytes / MC) * MC);
  const maxRows = Math.min(M, rowsPer + SMALL_ROWS);
  const base = residency.callRegion((pinnedB === null ? padded(K * N) : 0) + padded(maxRows * K) + padded(maxRows * N));
  if (base === 0) throw new ValueRangeError("matmul", `operands of ${M}x${K} and ${K}x${N} do not fit in WebAssembly memory (4 GiB)`);
  const bAt = pinnedB ?? base;
  if (pinnedB === null) copyIn(wasm, bAt, b.subarray(0, K * N));
  const aAt = base + (pinnedB === null ? padded(K * N) : 0);
  const cAt = aAt + padded(maxRows * K);
  for (let m0 = 0; m0 < M; ) {
    let rows = Math.min(rowsPer, M - m0);
    if (M - m0 - rows <= SMALL_ROWS) rows = M - m0;
    copyIn(wasm, aAt, a.subarray(m0 * K, (m0 + rows) * K));
    wasm.gemm(false, transB, rows, N, K, aAt, K, bAt, transB ? K : N, cAt, N, false);
    out.set(new Float32Array(wasm.memory.buffer, cAt, rows * N), m0 * N);
    m0 += rows;
  }
}

/**
 * `out = aᵀ · b` (a stored K x M, b K x N) over chunks of the depth K in whole KC blocks,
 * accumulated in the module: gemm adds each KC block's sums to C in turn, so the result is
 * bitwise the same as one call's.
 */
function chunkedDepthMatmul(
  wasm: KernelsExports, residency: Residency, a: Float32Array, b: Float32Array, out: Float32Array,
  M: number, N: number, K: number,
): void {
  const depthPer = Math.max(KC, Math.floor((matmulChunkBytes - padded(M * N)) / (4 * (M + N)) / KC) * KC);
  const depth = Math.min(K, depthPer);
  const base = residency.callRegion(padded(M * N) + padded(depth * M) + padded(depth * N));
  if (base === 0) throw new ValueRangeError("matmul", `operands of ${M}x${K} and ${K}x${N} do not fit in WebAssembly memory (4 GiB)`);
  const cAt = base;
  const aAt = cAt + padded(M * N);
  const bAt = aAt + padded(depth * M);
  for (let k0 = 0; k0 < K; k0 += depth) {
    const d = Math.min(depth, K - k0);
    copyIn(wasm, aAt, a.subarray(k0 * M, (k0 + d) * M));
    copyIn(wasm, bAt, b.subarray(k0 * N, (k0 + d) * N));
    wasm.gemm(true, false, M, N, d, aAt, M, bAt, N, cAt, N, k0 > 0);
  }
  out.set(new Float32Array(wasm.memory.buffer, cAt, M * N));
}

const residencies = new WeakMap<KernelsExports, Residency>();

/** One residency per module instance: every kernel of that instance lays its calls out after the pins. */
function residencyOf(wasm: KernelsExports): Residency {
  let residency = residencies.get(wasm);
  if (!residency) {
    residency = new Residency(wasm);
    residencies.set(wasm, residency);
  }
  return residency;
}

function makeKernels(wasm: KernelsExports, threads: number): Kernels {
  const r = residencyOf(wasm);
  return Object.freeze<Kernels>({
    ...referenceKernels,
    name: threads === 1 ? "wasm-simd" : `wasm-simd (${threads} threads)`,
    matmul: (a: KernelTensor, b: KernelTensor, out: KernelTensor, transA: boolean, transB: boolean) =>
      wasmMatmul(wasm, r, a, b, out, transA, transB),
    unary: (op, x, out) => wasmUnary(wasm, r, op, x, out),
    binary: (op, a, b, out) => wasmBinary(wasm, r, op, a, b, out),
    clamp: (x, min, max, out) => wasmClamp(wasm, r, x, min, max, out),
    reduce: (op, x, axes, out) => wasmReduce(wasm, r, op, x, axes, out),
    softmax: (x, axis, out) => wasmSoftmax(wasm, r, x, axis, out, false),
    logSoftmax: (x, axis, out) => wasmSoftmax(wasm, r, x, axis, out, true),
    softmaxCrossEntropy: (logits, targets, ignoreIndex, out) => wasmSoftmaxCrossEntropy(wasm, r, logits, targets, ignoreIndex, out),
    softmaxCrossEntropyBackward: (logits, targets, grad, ignoreIndex, out) =>
      wasmSoftmaxCrossEntropyBackward(wasm, r, logits, targets, grad, ignoreIndex, out),
    recurrentForward: (args, out) => wasmRecurrentForward(wasm, r, args, out),
    recurrentBackward: (args, out) => wasmRecurrentBackward(wasm, r, args, out),
    attentionDecoderForward: (args, out) => wasmAttentionDecoderForward(wasm, r, args, out),
    attentionDecoderBackward: (args, out) => wasmAttentionDecoderBackward(wasm, r, args, out),
    transpose: (x, perm, out) => wasmTranspose(wasm, r, x, perm, out),
    conv2d: (x, weight, bias, params, out) => wasmConv2d(wasm, r, threads, x, weight, bias, params, out),
    conv2dBackwardInput: (dOut, weight, params, out) => wasmConv2dBackwardInput(wasm, r, threads, dOut, weight, params, out),
    conv2dBackwardWeight: (x, dOut, params, out) => wasmConv2dBackwardWeight(wasm, r, threads, x, dOut, params, out),
    avgPool2d: (x, params, countIncludePad, out) => wasmAvgPool2d(wasm, r, x, params, countIncludePad, out),
    adamUpdate: (param, grad, m, v, scalars) => wasmAdamUpdate(wasm, r, param, grad, m, v, scalars),
    pin: (tensors) => r.pin(tensors),
    memoryBytes: () => wasm.memory.buffer.byteLength,
  });
}

export interface WasmKernelsOptions {
  /**
   * Threads for matrix products (those inside the recurrent scans included) and convolutions: 1
   * (the default) runs on the calling thread; more starts `threads - 1` Node worker threads sharing
   * the module's memory (Node only, at most `MAX_WASM_THREADS`; `defaultWasmThreads()` suggests a
   * count). Results are bitwise identical to one thread's: each thread computes whole output
   * columns of a product, whole strips of a convolution's output or weight gradient, whole images
   * of its input gradient.
   */
  readonly threads?: number;
}

/**
 * The WebAssembly SIMD kernel table, compiled asynchronously (browsers' main threads refuse to
 * compile all but tiny modules synchronously): `setKernels(await loadWasmKernels())`. Float32
 * matmul, the recurrent scans, unary and binary elementwise ops (pow excepted), clamp (ReLU6), sum and max over
 * leading or trailing axes (or both, around a kept middle block: a convolution's bias gradient),
 * softmax and log-softmax over the last axis, softmax cross-entropy (with its backward), conv2d and
 * both its gradients (every stride, padding, dilation and grouping; depthwise by direct loops),
 * global average pooling and transposes that swap two blocks of axes run in WebAssembly, for
 * operands of at least 256 elements; everything else (other layout ops, indexing, other pooling,
 * small operands, float64) delegates to `referenceKernels`. Convolutions, like products, are split
 * over the threads, bitwise the same on any number of them. Rejects where
 * `wasmSupported()` is false. With `threads > 1` it resolves
 * once the workers take jobs (`loadWasmKernelsSync` returns at once; its products use the
 * workers as they become ready, within milliseconds once the event loop turns).
 */
export async function loadWasmKernels(options: WasmKernelsOptions = {}): Promise<Kernels> {
  const threads = options.threads ?? 1;
  if (threads === 1) return makeKernels(await kernelsInstance(), 1);
  const kernels = loadWasmKernelsSync(options); // Node only, where synchronous compilation is allowed
  await workersReady(threadedKernelsInstanceSync(threads), threads);
  return kernels;
}

/**
 * `loadWasmKernels` compiled synchronously, for Node and Web Workers. Throws where
 * `wasmSupported()` is false, or `threads > 1` where `wasmThreadsSupported()` is false.
 */
export function loadWasmKernelsSync(options: WasmKernelsOptions = {}): Kernels {
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WASM_THREADS) {
    throw new ValueRangeError("loadWasmKernels", `threads must be an integer from 1 to ${MAX_WASM_THREADS}, got ${threads}`);
  }
  if (threads === 1) return makeKernels(kernelsInstanceSync(), 1);
  return makeKernels(threadedKernelsInstanceSync(threads), threads);
}

export interface WasmGemmOptions {
  /** `a` is stored K x M and used transposed. */
  readonly transA?: boolean;
  /** `b` is stored N x K and used transposed. */
  readonly transB?: boolean;
  /** Add the product to `out` instead of overwriting it. */
  readonly accumulate?: boolean;
}

/**
 * Single-precision matrix product in WebAssembly SIMD on plain arrays: `out (M x N) = op(a)·op(b)`
 * (or `out += op(a)·op(b)` with `accumulate`), all row-major, `op(a)` M x K and `op(b)` K x N.
 * Accumulates in float32 (the reference kernel accumulates in float64). Copies the operands into
 * the module's memory and the result back; instantiates the module synchronously on first use
 * unless `loadWasmKernels()` already did. Inside the module the same product is `gemm()` in
 * assembly/gemm.ts, which other WebAssembly kernels call directly on their own buffers.
 */
export function wasmGemm(
  M: number, N: number, K: number,
  a: Float32Array, b: Float32Array, out: Float32Array,
  options: WasmGemmOptions = {},
): void {
  for (const [name, v] of [["M", M], ["N", N], ["K", K]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new ValueRangeError("wasmGemm", `${name} must be a non-negative integer, got ${v}`);
  }
  for (const [name, arr, need] of [["a", a, M * K], ["b", b, K * N], ["out", out, M * N]] as const) {
    if (arr.length < need) throw new ShapeError("wasmGemm", `${name} has ${arr.length} elements, needs ${need}`);
  }
  const { transA = false, transB = false, accumulate = false } = options;
  if (M === 0 || N === 0) return;
  const wasm = kernelsInstanceSync();
  const base = residencyOf(wasm).callRegion(padded(M * K) + padded(K * N) + padded(M * N));
  if (base === 0) throw new ValueRangeError("wasmGemm", `operands of ${M}x${K} and ${K}x${N} do not fit in WebAssembly memory (4 GiB)`);
  const aAt = base;
  const bAt = aAt + padded(M * K);
  const cAt = bAt + padded(K * N);
  copyIn(wasm, aAt, a.subarray(0, M * K));
  copyIn(wasm, bAt, b.subarray(0, K * N));
  if (accumulate) copyIn(wasm, cAt, out.subarray(0, M * N));
  wasm.gemm(transA, transB, M, N, K, aAt, transA ? M : K, bAt, transB ? K : N, cAt, N, accumulate);
  out.set(new Float32Array(wasm.memory.buffer, cAt, M * N));
}
