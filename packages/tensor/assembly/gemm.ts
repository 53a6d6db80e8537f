// Single-precision GEMM with WebAssembly SIMD128: C = op(A) · op(B) (+ C), row-major, any of the
// four transpose combinations, any M, N, K >= 0.
//
// The structure is the Goto/BLIS one: B is packed a KC x NC panel at a time into NR-wide column
// strips, A an MC x KC block at a time into MR-high row strips, and a register-blocked micro-kernel
// multiplies one A strip by one B strip into an MR x NR tile of C held in f32x4 accumulators. The
// transposes only change how the packing routines read their operand; the micro-kernel always sees
// the same contiguous layout, so Aᵀ·B and A·Bᵀ (the products of backpropagation) run as fast as
// A·B. Edges are handled by zero-padding the packed strips and computing partial tiles into a
// scratch tile, so the micro-kernel has a single shape.
//
// Plain SIMD128 only (no relaxed-simd FMA, which Node 20 does not enable): each step is an
// f32x4.mul followed by an f32x4.add.

import { MC, KC, NC, MR, NR } from "./gemm-params";
import { PACK_A, PACK_B, TILE } from "./scratch";

@inline function min(a: i32, b: i32): i32 {
  return a < b ? a : b;
}

/** Byte address of element `i` of an f32 array at `base`. */
@inline function at(base: usize, i: i32): usize {
  return base + (<usize>i << 2);
}

/** Transposes four f32x4 rows held in r0..r3 and stores the columns at dst, dst+step, ... */
@inline function transpose4x4Store(r0: v128, r1: v128, r2: v128, r3: v128, dst: usize, step: usize): void {
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5); // a0 b0 a1 b1
  const t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5); // c0 d0 c1 d1
  const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7); // a2 b2 a3 b3
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7); // c2 d2 c3 d3
  v128.store(dst, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
  v128.store(dst + step, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
  v128.store(dst + 2 * step, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
  v128.store(dst + 3 * step, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
}

/**
 * Packs rows [i0, i0 + mc) and columns [p0, p0 + kc) of op(A) into MR-high strips: strip s holds
 * element (i0 + s*MR + r, p0 + p) at `dst[s*MR*kc + p*MR + r]`; rows past the end are zero.
 */
export function packA(transA: bool, a: usize, lda: i32, i0: i32, p0: i32, mc: i32, kc: i32, dst: usize): void {
  for (let ir = 0; ir < mc; ir += MR) {
    const mr = min(MR, mc - ir);
    const i = i0 + ir;
    if (transA) {
      // op(A)[i, p] = A[p, i]: each k gives MR contiguous values.
      let src = at(a, p0 * lda + i);
      const stride = <usize>lda << 2;
      if (mr == MR) {
        for (let p = 0; p < kc; p++) {
          v128.store(dst + (<usize>p << 4), v128.load(src));
          src += stride;
        }
      } else {
        for (let p = 0; p < kc; p++) {
          const d = dst + (<usize>(p * MR) << 2);
          for (let r = 0; r < MR; r++) store<f32>(at(d, r), r < mr ? load<f32>(at(src, r)) : 0);
          src += stride;
        }
      }
    } else {
      // op(A)[i, p] = A[i, p]: MR rows read 4 k at a time and transposed in registers.
      const row = at(a, i * lda + p0);
      const stride = <usize>lda << 2;
      if (mr == MR) {
        let p = 0;
        for (; p + 4 <= kc; p += 4) {
          const s = row + (<usize>p << 2);
          transpose4x4Store(v128.load(s), v128.load(s + stride), v128.load(s + 2 * stride), v128.load(s + 3 * stride), dst + (<usize>p << 4), 16);
        }
        for (; p < kc; p++) {
          const s = row + (<usize>p << 2);
          const d = dst + (<usize>p << 4);
          for (let r = 0; r < MR; r++) store<f32>(at(d, r), load<f32>(s + <usize>r * stride));
        }
      } else {
        for (let p = 0; p < kc; p++) {
          const s = row + (<usize>p << 2);
          const d = dst + (<usize>(p * MR) << 2);
          for (let r = 0; r < MR; r++) store<f32>(at(d, r), r < mr ? load<f32>(s + <usize>r * stride) : 0);
        }
      }
    }
    dst += <usize>(MR * kc) << 2;
  }
}

/**
 * Packs rows [p0, p0 + kc) and columns [j0, j0 + nc) of op(B) into NR-wide strips: strip s holds
 * element (p0 + p, j0 + s*NR + c) at `dst[s*NR*kc + p*NR + c]`; columns past the end are zero.
 */
function packB(transB: bool, b: usize, ldb: i32, p0: i32, j0: i32, kc: i32, nc: i32, dst: usize): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = min(NR, nc - jr);
    const j = j0 + jr;
    if (!transB) {
      // op(B)[p, j] = B[p, j]: each k gives NR contiguous values.
      let src = at(b, p0 * ldb + j);
      const stride = <usize>ldb << 2;
      if (nr == NR) {
        for (let p = 0; p < kc; p++) {
          const d = dst + (<usize>(p * NR) << 2);
          for (let c = 0; c < NR; c += 4) v128.store(at(d, c), v128.load(at(src, c)));
          src += stride;
        }
      } else {
        for (let p = 0; p < kc; p++) {
          const d = dst + (<usize>(p * NR) << 2);
          for (let c = 0; c < NR; c++) store<f32>(at(d, c), c < nr ? load<f32>(at(src, c)) : 0);
          src += stride;
        }
      }
    } else {
      // op(B)[p, j] = B[j, p]: NR rows of B read 4 k at a time, transposed 4x4 in registers.
      const row = at(b, j * ldb + p0);
      const stride = <usize>ldb << 2;
      if (nr == NR) {
        let p = 0;
        for (; p + 4 <= kc; p += 4) {
          for (let c = 0; c < NR; c += 4) {
            const s = row + (<usize>c * stride) + (<usize>p << 2);
            transpose4x4Store(
              v128.load(s), v128.load(s + stride), v128.load(s + 2 * stride), v128.load(s + 3 * stride),
              dst + (<usize>(p * NR + c) << 2), <usize>NR << 2,
            );
          }
        }
        for (; p < kc; p++) {
          const d = dst + (<usize>(p * NR) << 2);
          for (let c = 0; c < NR; c++) store<f32>(at(d, c), load<f32>(row + <usize>c * stride + (<usize>p << 2)));
        }
      } else {
        for (let p = 0; p < kc; p++) {
          const d = dst + (<usize>(p * NR) << 2);
          for (let c = 0; c < NR; c++) {
            store<f32>(at(d, c), c < nr ? load<f32>(row + <usize>c * stride + (<usize>p << 2)) : 0);
          }
        }
      }
    }
    dst += <usize>(NR * kc) << 2;
  }
}

/**
 * The micro-kernel: the MR x NR tile at `c` (row stride `ldc` bytes) becomes the product of the
 * packed A strip `a` (kc x MR) and the packed B strip `b` (kc x NR), plus its old value when
 * `accumulate`. Kept a separate function so the engine optimises it on its own.
 */
export function micro(kc: i32, a: usize, b: usize, c: usize, ldc: usize, accumulate: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(b);
    const b1 = v128.load(b, 16);
    let x = v128.load32_splat(a);
    c00 = f32x4.add(c00, f32x4.mul(x, b0));
    c01 = f32x4.add(c01, f32x4.mul(x, b1));
    x = v128.load32_splat(a, 4);
    c10 = f32x4.add(c10, f32x4.mul(x, b0));
    c11 = f32x4.add(c11, f32x4.mul(x, b1));
    x = v128.load32_splat(a, 8);
    c20 = f32x4.add(c20, f32x4.mul(x, b0));
    c21 = f32x4.add(c21, f32x4.mul(x, b1));
    x = v128.load32_splat(a, 12);
    c30 = f32x4.add(c30, f32x4.mul(x, b0));
    c31 = f32x4.add(c31, f32x4.mul(x, b1));
    a += 16;
    b += 32;
  }
  if (accumulate) {
    c00 = f32x4.add(c00, v128.load(c));
    c01 = f32x4.add(c01, v128.load(c, 16));
    c10 = f32x4.add(c10, v128.load(c + ldc));
    c11 = f32x4.add(c11, v128.load(c + ldc, 16));
    c20 = f32x4.add(c20, v128.load(c + 2 * ldc));
    c21 = f32x4.add(c21, v128.load(c + 2 * ldc, 16));
    c30 = f32x4.add(c30, v128.load(c + 3 * ldc));
    c31 = f32x4.add(c31, v128.load(c + 3 * ldc, 16));
  }
  v128.store(c, c00);
  v128.store(c, c01, 16);
  v128.store(c + ldc, c10);
  v128.store(c + ldc, c11, 16);
  v128.store(c + 2 * ldc, c20);
  v128.store(c + 2 * ldc, c21, 16);
  v128.store(c + 3 * ldc, c30);
  v128.store(c + 3 * ldc, c31, 16);
}

/**
 * `C = op(A) · op(B)`, or `C += op(A) · op(B)` when `accumulate`, for row-major f32 matrices in
 * this module's memory: op(A) is M x K, op(B) is K x N, C is M x N; `lda`, `ldb`, `ldc` are row
 * strides in elements of the matrices as stored (A is K x M when `transA`, B is N x K when
 * `transB`). Callable from other kernels of this module; uses the PACK_A, PACK_B and TILE scratch
 * regions, which must not overlap the operands.
 */
export function gemmSerial(
  transA: bool, transB: bool, M: i32, N: i32, K: i32,
  a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, accumulate: bool,
): void {
  if (M <= 0 || N <= 0) return;
  if (M <= SMALL_M && !transA && K > 0) {
    // A few rows (a decoder step, batch-1 generation): packing B would cost as much as the product.
    if (transB) gemvRows(M, N, K, a, lda, b, ldb, c, ldc, accumulate);
    else gemvColumns(M, N, K, a, lda, b, ldb, c, ldc, accumulate);
    return;
  }
  const ldcBytes = <usize>ldc << 2;
  if (K <= 0) {
    if (!accumulate) for (let i = 0; i < M; i++) memory.fill(c + <usize>i * ldcBytes, 0, <usize>N << 2);
    return;
  }
  for (let jc = 0; jc < N; jc += NC) {
    const nc = min(NC, N - jc);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = min(KC, K - pc);
      const acc = accumulate || pc > 0;
      packB(transB, b, ldb, pc, jc, kc, nc, PACK_B);
      for (let ic = 0; ic < M; ic += MC) {
        const mc = min(MC, M - ic);
        packA(transA, a, lda, ic, pc, mc, kc, PACK_A);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = min(NR, nc - jr);
          const pb = PACK_B + (<usize>(jr * kc) << 2);
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = min(MR, mc - ir);
            const pa = PACK_A + (<usize>(ir * kc) << 2);
            const ct = c + <usize>(ic + ir) * ldcBytes + (<usize>(jc + jr) << 2);
            if (mr == MR && nr == NR) {
              micro(kc, pa, pb, ct, ldcBytes, acc);
            } else {
              micro(kc, pa, pb, TILE, <usize>NR << 2, false);
              for (let r = 0; r < mr; r++) {
                const crow = ct + <usize>r * ldcBytes;
                const trow = TILE + (<usize>(r * NR) << 2);
                for (let q = 0; q < nr; q++) {
                  const v = load<f32>(at(trow, q));
                  store<f32>(at(crow, q), acc ? load<f32>(at(crow, q)) + v : v);
                }
              }
            }
          }
        }
      }
    }
  }
}

/** Up to this many rows of A, products skip packing and stream B once per row (matrix-vector). */
const SMALL_M: i32 = 4;

/** `C[i, n] (+)= dot(A[i, :], B[n, :])`: B stored N x K (transB), both rows contiguous over K. */
function gemvRows(M: i32, N: i32, K: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, accumulate: bool): void {
  const K4 = K & ~3;
  for (let i = 0; i < M; i++) {
    const arow = a + (<usize>(i * lda) << 2);
    const crow = c + (<usize>(i * ldc) << 2);
    let n = 0;
    // Four outputs at a time: four rows of B against one row of A.
    for (; n + 4 <= N; n += 4) {
      const b0 = b + (<usize>(n * ldb) << 2);
      const b1 = b0 + (<usize>ldb << 2);
      const b2 = b1 + (<usize>ldb << 2);
      const b3 = b2 + (<usize>ldb << 2);
      let s0 = f32x4.splat(0);
      let s1 = f32x4.splat(0);
      let s2 = f32x4.splat(0);
      let s3 = f32x4.splat(0);
      for (let k = 0; k < K4; k += 4) {
        const x = v128.load(at(arow, k));
        s0 = f32x4.add(s0, f32x4.mul(x, v128.load(at(b0, k))));
        s1 = f32x4.add(s1, f32x4.mul(x, v128.load(at(b1, k))));
        s2 = f32x4.add(s2, f32x4.mul(x, v128.load(at(b2, k))));
        s3 = f32x4.add(s3, f32x4.mul(x, v128.load(at(b3, k))));
      }
      let r0 = f32x4.extract_lane(s0, 0) + f32x4.extract_lane(s0, 1) + f32x4.extract_lane(s0, 2) + f32x4.extract_lane(s0, 3);
      let r1 = f32x4.extract_lane(s1, 0) + f32x4.extract_lane(s1, 1) + f32x4.extract_lane(s1, 2) + f32x4.extract_lane(s1, 3);
      let r2 = f32x4.extract_lane(s2, 0) + f32x4.extract_lane(s2, 1) + f32x4.extract_lane(s2, 2) + f32x4.extract_lane(s2, 3);
      let r3 = f32x4.extract_lane(s3, 0) + f32x4.extract_lane(s3, 1) + f32x4.extract_lane(s3, 2) + f32x4.extract_lane(s3, 3);
      for (let k = K4; k < K; k++) {
        const x = load<f32>(at(arow, k));
        r0 += x * load<f32>(at(b0, k));
        r1 += x * load<f32>(at(b1, k));
        r2 += x * load<f32>(at(b2, k));
        r3 += x * load<f32>(at(b3, k));
      }
      if (accumulate) {
        r0 += load<f32>(at(crow, n));
        r1 += load<f32>(at(crow, n + 1));
        r2 += load<f32>(at(crow, n + 2));
        r3 += load<f32>(at(crow, n + 3));
      }
      store<f32>(at(crow, n), r0);
      store<f32>(at(crow, n + 1), r1);
      store<f32>(at(crow, n + 2), r2);
      store<f32>(at(crow, n + 3), r3);
    }
    for (; n < N; n++) {
      const brow = b + (<usize>(n * ldb) << 2);
      let s = f32x4.splat(0);
      for (let k = 0; k < K4; k += 4) s = f32x4.add(s, f32x4.mul(v128.load(at(arow, k)), v128.load(at(brow, k))));
      let r = f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
      for (let k = K4; k < K; k++) r += load<f32>(at(arow, k)) * load<f32>(at(brow, k));
      store<f32>(at(crow, n), accumulate ? load<f32>(at(crow, n)) + r : r);
    }
  }
}

/** `C[i, :] (+)= Σ_k A[i, k] B[k, :]`: B stored K x N, rows of B scaled and added (axpy). */
function gemvColumns(M: i32, N: i32, K: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, accumulate: bool): void {
  const N4 = N & ~3;
  for (let i = 0; i < M; i++) {
    const arow = a + (<usize>(i * lda) << 2);
    const crow = c + (<usize>(i * ldc) << 2);
    if (!accumulate) memory.fill(crow, 0, <usize>N << 2);
    for (let k = 0; k < K; k++) {
      const x = load<f32>(at(arow, k));
      const xv = f32x4.splat(x);
      const brow = b + (<usize>(k * ldb) << 2);
      let n = 0;
      for (; n < N4; n += 4) v128.store(at(crow, n), f32x4.add(v128.load(at(crow, n)), f32x4.mul(xv, v128.load(at(brow, n)))));
      for (; n < N; n++) store<f32>(at(crow, n), load<f32>(at(crow, n)) + x * load<f32>(at(brow, n)));
    }
  }
}
