// Host side of the batched 2-D transpose in WebAssembly (assembly/transpose.ts): permutations that
// keep a batch prefix of axes and swap the two blocks after it (`[N, C, h·w]` -> `[N, h·w, C]`, a
// matrix's transpose), for 32-bit data (float32 or int32: the kernel moves bits). The rest, and
// operands under `MIN_ELEMENTS`, stay on the reference kernel.

import type { KernelTensor } from "../kernels.js";
import { referenceKernels } from "../reference/index.js";
import { MIN_ELEMENTS } from "./elementwise.js";
import type { KernelsExports } from "./module.js";
import { paddedBytes as padded, type Residency } from "./resident.js";

/** Elements per call: larger batches stream through the module in chunks of whole matrices. */
const CHUNK_ELEMENTS = 1 << 20;

/**
 * `perm` as a batch of 2-D transposes of `shape`: axes [0, k) kept in place, then the blocks
 * [k, m) and [m, rank) swapped (perm = [0 .. k-1, m .. rank-1, k .. m-1]); null for any other.
 */
export function batchedTransposePlan(shape: readonly number[], perm: readonly number[]): { batch: number; rows: number; columns: number } | null {
  const rank = perm.length;
  let k = 0;
  while (k < rank && perm[k] === k) k++;
  if (k === rank) return null;
  const m = perm[k]!;
  if (m <= k) return null;
  for (let t = 0; t < rank - m; t++) if (perm[k + t] !== m + t) return null;
  for (let t = 0; t < m - k; t++) if (perm[k + rank - m + t] !== k + t) return null;
  const size = (from: number, to: number): number => shape.slice(from, to).reduce((a, b) => a * b, 1);
  return { batch: size(0, k), rows: size(k, m), columns: size(m, rank) };
}

export function wasmTranspose(wasm: KernelsExports, residency: Residency, x: KernelTensor, perm: readonly number[], out: KernelTensor): void {
  const n = x.data.length;
  const bits32 = (x.data instanceof Float32Array || x.data instanceof Int32Array) && out.data.constructor === x.data.constructor;
  const plan = bits32 && n >= MIN_ELEMENTS ? batchedTransposePlan(x.shape, perm) : null;
  if (plan === null) return referenceKernels.transpose(x, perm, out);
  const { batch, rows, columns } = plan;
  const matrix = rows * columns;
  const per = Math.max(1, Math.min(batch, Math.floor(CHUNK_ELEMENTS / matrix)));
  const base = residency.callRegion(2 * padded(per * matrix));
  if (base === 0) return referenceKernels.transpose(x, perm, out);
  const xAt = base;
  const outAt = base + padded(per * matrix);
  const view = (at: number, length: number): Float32Array | Int32Array =>
    x.data instanceof Float32Array ? new Float32Array(wasm.memory.buffer, at, length) : new Int32Array(wasm.memory.buffer, at, length);
  for (let b0 = 0; b0 < batch; b0 += per) {
    const count = Math.min(per, batch - b0);
    view(xAt, count * matrix).set(x.data.subarray(b0 * matrix, (b0 + count) * matrix));
    wasm.transposeF32(count, rows, columns, xAt, outAt);
    out.data.set(view(outAt, count * matrix), b0 * matrix);
  }
}
