// Helpers for the linalg and init tests: an input generator independent of the library's Rng, and
// reference computations written out naively (Gram-Schmidt, LU, Cholesky), none of which use the
// code under test. Excluded from the build (tsconfig.build.json).
import type { Matrix } from "./matrix.js";

/** mulberry32: a tiny seeded generator, independent of the library's Philox `Rng`. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A rows x cols matrix with entries uniform in [-1, 1). */
export function randomMatrix(rows: number, cols: number, seed: number): Matrix {
  const next = seededRandom(seed);
  return { rows, cols, data: Float64Array.from({ length: rows * cols }, () => 2 * next() - 1) };
}

export function at(a: Matrix, i: number, j: number): number {
  return a.data[i * a.cols + j]!;
}

/** aᵀb, written out. */
export function gram(a: Matrix, b: Matrix = a): Matrix {
  const out = new Float64Array(a.cols * b.cols);
  for (let i = 0; i < a.cols; i++) {
    for (let j = 0; j < b.cols; j++) {
      let s = 0;
      for (let k = 0; k < a.rows; k++) s += at(a, k, i) * at(b, k, j);
      out[i * b.cols + j] = s;
    }
  }
  return { rows: a.cols, cols: b.cols, data: out };
}

/** a·b, written out. */
export function product(a: Matrix, b: Matrix): Matrix {
  const out = new Float64Array(a.rows * b.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < b.cols; j++) {
      let s = 0;
      for (let k = 0; k < a.cols; k++) s += at(a, i, k) * at(b, k, j);
      out[i * b.cols + j] = s;
    }
  }
  return { rows: a.rows, cols: b.cols, data: out };
}

export function transposed(a: Matrix): Matrix {
  const out = new Float64Array(a.data.length);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) out[j * a.rows + i] = at(a, i, j);
  return { rows: a.cols, cols: a.rows, data: out };
}

/** max |a - b| elementwise (shapes must agree). */
export function maxAbsDiff(a: Matrix, b: Matrix): number {
  if (a.rows !== b.rows || a.cols !== b.cols) throw new Error(`shapes differ: ${a.rows}x${a.cols} vs ${b.rows}x${b.cols}`);
  let d = 0;
  for (let i = 0; i < a.data.length; i++) d = Math.max(d, Math.abs(a.data[i]! - b.data[i]!));
  return d;
}

/** max |a - I|. */
export function distanceFromIdentity(a: Matrix, scale = 1): number {
  let d = 0;
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < a.cols; j++) d = Math.max(d, Math.abs(at(a, i, j) - (i === j ? scale : 0)));
  }
  return d;
}

export function diagonalMatrix(values: readonly number[]): Matrix {
  const n = values.length;
  const data = new Float64Array(n * n);
  values.forEach((v, i) => (data[i * n + i] = v));
  return { rows: n, cols: n, data };
}

/**
 * Modified Gram-Schmidt on the columns of a full-column-rank `a`: the Q of the unique QR with a
 * positive diagonal in R.
 */
export function gramSchmidt(a: Matrix): Matrix {
  const { rows: m, cols: n } = a;
  const q = Float64Array.from(a.data);
  for (let j = 0; j < n; j++) {
    for (let k = 0; k < j; k++) {
      let dot = 0;
      for (let i = 0; i < m; i++) dot += q[i * n + k]! * q[i * n + j]!;
      for (let i = 0; i < m; i++) q[i * n + j]! -= dot * q[i * n + k]!;
    }
    let norm = 0;
    for (let i = 0; i < m; i++) norm += q[i * n + j]! ** 2;
    norm = Math.sqrt(norm);
    for (let i = 0; i < m; i++) q[i * n + j]! /= norm;
  }
  return { rows: m, cols: n, data: q };
}

/** Determinant by LU with partial pivoting. */
export function determinant(a: Matrix): number {
  const n = a.rows;
  const w = Float64Array.from(a.data);
  let det = 1;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(w[i * n + k]!) > Math.abs(w[p * n + k]!)) p = i;
    if (w[p * n + k] === 0) return 0;
    if (p !== k) {
      for (let j = 0; j < n; j++) {
        const t = w[k * n + j]!;
        w[k * n + j] = w[p * n + j]!;
        w[p * n + j] = t;
      }
      det = -det;
    }
    const pivot = w[k * n + k]!;
    det *= pivot;
    for (let i = k + 1; i < n; i++) {
      const f = w[i * n + k]! / pivot;
      for (let j = k; j < n; j++) w[i * n + j]! -= f * w[k * n + j]!;
    }
  }
  return det;
}

/** Whether the Cholesky factorisation of symmetric `a` succeeds, i.e. `a` is positive definite. */
export function choleskySucceeds(a: Matrix): boolean {
  const n = a.rows;
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = at(a, j, j);
    for (let k = 0; k < j; k++) d -= l[j * n + k]! ** 2;
    if (!(d > 0)) return false;
    const ljj = Math.sqrt(d);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = at(a, i, j);
      for (let k = 0; k < j; k++) s -= l[i * n + k]! * l[j * n + k]!;
      l[i * n + j] = s / ljj;
    }
  }
  return true;
}

/** Coefficients c0..cn-1 of the monic polynomial with the given real roots and complex pairs a ± bi. */
export function monicFromRoots(real: readonly number[], pairs: readonly [number, number][] = []): number[] {
  let poly = [1]; // highest degree first
  const times = (factor: readonly number[]): void => {
    const out = new Array<number>(poly.length + factor.length - 1).fill(0);
    poly.forEach((p, i) => factor.forEach((f, j) => (out[i + j]! += p * f)));
    poly = out;
  };
  for (const r of real) times([1, -r]);
  for (const [re, im] of pairs) times([1, -2 * re, re * re + im * im]);
  return poly;
}

/**
 * The companion matrix of the monic polynomial `poly` (highest degree first): ones on the
 * subdiagonal, the negated coefficients in the first row. Its eigenvalues are the polynomial's roots.
 */
export function companion(poly: readonly number[]): Matrix {
  const n = poly.length - 1;
  const data = new Float64Array(n * n);
  for (let j = 0; j < n; j++) data[j] = -poly[j + 1]!;
  for (let i = 1; i < n; i++) data[i * n + i - 1] = 1;
  return { rows: n, cols: n, data };
}

/** Mean and (population) standard deviation. */
export function meanStd(values: ArrayLike<number>): { mean: number; std: number } {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  const mean = s / values.length;
  let ss = 0;
  for (let i = 0; i < values.length; i++) ss += (values[i]! - mean) ** 2;
  return { mean, std: Math.sqrt(ss / values.length) };
}

/** max |x| over the values. */
export function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]!));
  return m;
}
