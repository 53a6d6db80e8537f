import { assertFinite, type Matrix } from "./matrix.js";

/** A thin QR factorisation of an m x n matrix, k = min(m, n): `q` is m x k, `r` is k x n. */
export interface QR {
  /** Orthonormal columns: qᵀq = I (k x k). */
  readonly q: Matrix;
  /** Upper triangular (upper trapezoidal when n > m). */
  readonly r: Matrix;
}

/**
 * Thin QR by Householder reflections (Golub & Van Loan, Algorithm 5.2.1), A = QR.
 *
 * Householder rather than Gram-Schmidt because Q comes out orthonormal to working precision
 * whatever the conditioning of A, which is what orthogonal initialisation needs. Each reflector
 * `H = I - 2vvᵀ` picks the sign of `v` that avoids cancellation, so the diagonal of R may be
 * negative; callers that want a unique factorisation (as PyTorch's `orthogonal_` does) multiply Q's
 * columns by sign(diag(R)). A column that is already zero below the diagonal gets no reflection.
 */
export function qr(a: Matrix): QR {
  assertFinite("qr", a);
  const { rows: m, cols: n } = a;
  const k = Math.min(m, n);
  const w = a.data.slice(); // reduced in place to R
  const reflectors: Float64Array[] = []; // reflectors[j] acts on rows j..m-1; empty = identity

  for (let j = 0; j < k; j++) {
    // Scale before squaring so that huge or tiny columns neither overflow nor underflow.
    let scale = 0;
    for (let i = j; i < m; i++) scale = Math.max(scale, Math.abs(w[i * n + j]!));
    const v = new Float64Array(m - j);
    if (scale === 0) {
      reflectors.push(new Float64Array(0));
      continue;
    }
    let norm2 = 0;
    for (let i = j; i < m; i++) {
      v[i - j] = w[i * n + j]! / scale;
      norm2 += v[i - j]! ** 2;
    }
    const alpha = (v[0]! >= 0 ? -1 : 1) * Math.sqrt(norm2); // H x = alpha e1, sign against x0
    v[0]! -= alpha;
    let vnorm2 = 0;
    for (let i = 0; i < v.length; i++) vnorm2 += v[i]! ** 2;
    if (vnorm2 === 0) {
      reflectors.push(new Float64Array(0));
      continue;
    }
    const inv = 1 / Math.sqrt(vnorm2);
    for (let i = 0; i < v.length; i++) v[i]! *= inv;
    applyReflector(v, w, j, m, n, j);
    // The column is now alpha*scale on the diagonal and zero below it, exactly.
    w[j * n + j] = alpha * scale;
    for (let i = j + 1; i < m; i++) w[i * n + j] = 0;
    reflectors.push(v);
  }

  const r = new Float64Array(k * n);
  for (let i = 0; i < k; i++) {
    for (let j = i; j < n; j++) r[i * n + j] = w[i * n + j]!;
  }
  // Q = H0 H1 ... H(k-1) applied to the first k columns of I, building from the last reflector.
  const q = new Float64Array(m * k);
  for (let i = 0; i < k; i++) q[i * k + i] = 1;
  for (let j = k - 1; j >= 0; j--) {
    const v = reflectors[j]!;
    if (v.length > 0) applyReflector(v, q, j, m, k, 0);
  }
  return { q: { rows: m, cols: k, data: q }, r: { rows: k, cols: n, data: r } };
}

/**
 * x <- (I - 2vvᵀ) x on rows `from..m-1` of the row-major m x `cols` array `x`, columns `c0..`.
 * Row by row (w = vᵀX, then X -= 2v wᵀ) so that the inner loops run along contiguous memory.
 */
function applyReflector(v: Float64Array, x: Float64Array, from: number, m: number, cols: number, c0: number): void {
  const w = new Float64Array(cols);
  for (let i = from; i < m; i++) {
    const vi = v[i - from]!;
    if (vi === 0) continue;
    const row = i * cols;
    for (let c = c0; c < cols; c++) w[c]! += vi * x[row + c]!;
  }
  for (let i = from; i < m; i++) {
    const vi = 2 * v[i - from]!;
    if (vi === 0) continue;
    const row = i * cols;
    for (let c = c0; c < cols; c++) x[row + c]! -= vi * w[c]!;
  }
}
