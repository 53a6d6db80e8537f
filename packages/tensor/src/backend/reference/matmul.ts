import { allocate, type DataArray, type DType } from "../../dtype.js";
import type { KernelTensor } from "../kernels.js";
import { planBroadcast } from "./broadcast-plan.js";

/** Rows of B^T held at once: 64 rows of K floats stay in L2 while all of A streams past them. */
const J_TILE = 64;

/** Copies the `rows x cols` matrix at `src[off..]` transposed into `dst` (`cols x rows`). */
export function transposeInto(src: DataArray, off: number, rows: number, cols: number, dst: DataArray): void {
  const B = 32;
  for (let i0 = 0; i0 < rows; i0 += B) {
    const iEnd = Math.min(i0 + B, rows);
    for (let j0 = 0; j0 < cols; j0 += B) {
      const jEnd = Math.min(j0 + B, cols);
      for (let i = i0; i < iEnd; i++) {
        for (let j = j0; j < jEnd; j++) dst[j * rows + i] = src[off + i * cols + j]!;
      }
    }
  }
}

/**
 * `C (M x N) = A (M x K) · Bt^T` with A and Bt both row-major over K: every output is a dot
 * product of two contiguous rows, accumulated in double precision, in 4x4 register blocks.
 */
export function gemmRowsByRows(
  A: DataArray,
  ao: number,
  Bt: DataArray,
  bo: number,
  C: DataArray,
  co: number,
  M: number,
  N: number,
  K: number,
): void {
  for (let jt = 0; jt < N; jt += J_TILE) {
    const jtEnd = Math.min(jt + J_TILE, N);
    let i = 0;
    for (; i + 4 <= M; i += 4) {
      const a0 = ao + i * K;
      const a1 = a0 + K;
      const a2 = a1 + K;
      const a3 = a2 + K;
      let j = jt;
      for (; j + 4 <= jtEnd; j += 4) {
        const b0 = bo + j * K;
        const b1 = b0 + K;
        const b2 = b1 + K;
        const b3 = b2 + K;
        let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
        let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
        let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (let p = 0; p < K; p++) {
          const x0 = A[a0 + p]!, x1 = A[a1 + p]!, x2 = A[a2 + p]!, x3 = A[a3 + p]!;
          const y0 = Bt[b0 + p]!, y1 = Bt[b1 + p]!, y2 = Bt[b2 + p]!, y3 = Bt[b3 + p]!;
          c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3;
          c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3;
          c20 += x2 * y0; c21 += x2 * y1; c22 += x2 * y2; c23 += x2 * y3;
          c30 += x3 * y0; c31 += x3 * y1; c32 += x3 * y2; c33 += x3 * y3;
        }
        const r0 = co + i * N + j;
        const r1 = r0 + N;
        const r2 = r1 + N;
        const r3 = r2 + N;
        C[r0] = c00; C[r0 + 1] = c01; C[r0 + 2] = c02; C[r0 + 3] = c03;
        C[r1] = c10; C[r1 + 1] = c11; C[r1 + 2] = c12; C[r1 + 3] = c13;
        C[r2] = c20; C[r2 + 1] = c21; C[r2 + 2] = c22; C[r2 + 3] = c23;
        C[r3] = c30; C[r3 + 1] = c31; C[r3 + 2] = c32; C[r3 + 3] = c33;
      }
      for (; j < jtEnd; j++) {
        for (let r = 0; r < 4; r++) C[co + (i + r) * N + j] = dot(A, ao + (i + r) * K, Bt, bo + j * K, K);
      }
    }
    for (; i < M; i++) {
      for (let j = jt; j < jtEnd; j++) C[co + i * N + j] = dot(A, ao + i * K, Bt, bo + j * K, K);
    }
  }
}

function dot(A: DataArray, ao: number, B: DataArray, bo: number, K: number): number {
  let s = 0;
  for (let p = 0; p < K; p++) s += A[ao + p]! * B[bo + p]!;
  return s;
}

export function matmul(a: KernelTensor, b: KernelTensor, out: KernelTensor, transA: boolean, transB: boolean): void {
  const ra = a.shape.length;
  const M = out.shape[out.shape.length - 2]!;
  const N = out.shape[out.shape.length - 1]!;
  const K = transA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const batchOut = out.shape.slice(0, -2);
  // Batch offsets come from the broadcast planner applied to the batch axes, in matrix units.
  const plan = planBroadcast(batchOut, [a.shape.slice(0, -2), b.shape.slice(0, -2)]);
  const dtype: DType = out.data instanceof Float64Array ? "float64" : "float32";
  const packedA = transA ? allocate(dtype, M * K) : null;
  const packedB = transB ? null : allocate(dtype, N * K);
  let bi = 0;
  for (let r = 0; r < plan.rows; r++) {
    for (let t = 0; t < plan.length; t++, bi++) {
      const aIndex = plan.offsets[0]![r]! + t * plan.strides[0]!;
      const bIndex = plan.offsets[1]![r]! + t * plan.strides[1]!;
      let A = a.data;
      let ao = aIndex * M * K;
      if (packedA) {
        transposeInto(a.data, ao, K, M, packedA); // stored (K x M) -> (M x K)
        A = packedA;
        ao = 0;
      }
      let Bt = b.data;
      let bo = bIndex * K * N;
      if (packedB) {
        transposeInto(b.data, bo, K, N, packedB); // stored (K x N) -> (N x K)
        Bt = packedB;
        bo = 0;
      }
      gemmRowsByRows(A, ao, Bt, bo, out.data, bi * M * N, M, N, K);
    }
  }
}
