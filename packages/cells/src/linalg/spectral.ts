// Spectral checks on weight tensors: the eigenvalues of a recurrent matrix W_hh decide whether a
// linear(ised) recurrence h <- W h explodes (spectral radius > 1) or forgets (< 1). The work is
// done in float64 on a copy, whatever the tensor's precision.
import { DTypeError, formatShape, Rng, ShapeError, type Tensor, ValueRangeError } from "@unroll/tensor";
import { generalEigenvalues } from "./eigen.js";
import { assertFinite, type Matrix } from "./matrix.js";
import { symmetricEigen } from "./symmetric-eigen.js";

/** A float64 copy of a square 2-D float tensor; throws naming `op` and the shape otherwise. */
function squareMatrix(op: string, w: Tensor): Matrix {
  if (w.rank !== 2 || w.shape[0] !== w.shape[1] || w.shape[0] === 0) {
    throw new ShapeError(op, `needs a non-empty square 2-D tensor, got shape ${formatShape(w.shape)}`);
  }
  if (w.dtype === "int32") {
    throw new DTypeError(op, `needs a float32 or float64 tensor, got int32; convert it with cast(w, 'float32')`);
  }
  const n = w.shape[0]!;
  const m = { rows: n, cols: n, data: Float64Array.from(w.data) };
  assertFinite(op, m);
  return m;
}

/** All eigenvalues of a square float tensor, largest modulus first (see `generalEigenvalues`). */
export function eigenvalues(w: Tensor): { real: Float64Array; imag: Float64Array } {
  return generalEigenvalues(squareMatrix("eigenvalues", w));
}

/** The largest eigenvalue modulus, max |λ|, from the full eigenvalue computation. */
export function spectralRadius(w: Tensor): number {
  const { real, imag } = generalEigenvalues(squareMatrix("spectralRadius", w));
  let radius = 0;
  for (let i = 0; i < real.length; i++) radius = Math.max(radius, Math.hypot(real[i]!, imag[i]!));
  return radius;
}

/** Entries may differ from their mirror image by this fraction of the largest |entry|. */
const SYMMETRY_TOLERANCE = 1e-6;

/**
 * Eigenvalues of a symmetric tensor, largest first (Jacobi; see `symmetricEigen`). Throws a
 * ValueRangeError when some |w[i][j] - w[j][i]| exceeds 1e-6 of the largest |entry|: the symmetric
 * solver would silently return the eigenvalues of (W + Wᵀ)/2 instead.
 */
export function symmetricEigenvalues(w: Tensor): Float64Array {
  const a = squareMatrix("symmetricEigenvalues", w);
  const n = a.rows;
  let largest = 0;
  for (let i = 0; i < a.data.length; i++) largest = Math.max(largest, Math.abs(a.data[i]!));
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const gap = Math.abs(a.data[i * n + j]! - a.data[j * n + i]!);
      if (gap > SYMMETRY_TOLERANCE * largest) {
        throw new ValueRangeError(
          "symmetricEigenvalues",
          `tensor is not symmetric: w[${i}][${j}] = ${a.data[i * n + j]} but w[${j}][${i}] = ${a.data[j * n + i]} ` +
            `(allowed difference ${SYMMETRY_TOLERANCE} of the largest entry); use eigenvalues() for general matrices`,
        );
      }
    }
  }
  return symmetricEigen(a, { vectors: false }).values;
}

export interface PowerIterationOptions {
  /** Matrix-vector products allowed (default 1000). */
  readonly maxIterations?: number;
  /** Converged when ||Wv - μv|| <= tolerance · |μ| for the unit iterate v (default 1e-10). */
  readonly tolerance?: number;
  /** Seed of the random start vector (default 0). */
  readonly seed?: number;
}

export interface PowerIterationResult {
  /** |μ|, μ = vᵀWv the Rayleigh quotient of the last unit iterate: the dominant eigenvalue modulus when converged. */
  readonly value: number;
  /** Matrix-vector products performed. */
  readonly iterations: number;
  /** Whether the residual met the tolerance; when false, `value` is only the last estimate. */
  readonly converged: boolean;
  /** ||Wv - μv|| for the last unit iterate v. */
  readonly residual: number;
}

/**
 * The dominant eigenvalue modulus by power iteration: v <- Wv / ||Wv|| from a seeded random start,
 * O(n²) per step instead of the O(n³) of `spectralRadius`.
 *
 * Convergence: when one real eigenvalue λ1 dominates, the error in v's direction shrinks by
 * |λ2/λ1| per iteration (λ2 the next largest in modulus), so about log(tol)/log|λ2/λ1| iterations
 * are needed; for symmetric W the Rayleigh quotient's error shrinks twice as fast, |λ2/λ1|² per
 * step. For symmetric (more generally normal) W the residual is also an error bound: by
 * Bauer-Fike, some eigenvalue λ satisfies |μ - λ| <= ||Wv - μv||. (That λ is the dominant one once
 * the iteration has settled on the dominant direction, which a random start reaches unless it is
 * exactly orthogonal to it.) For non-normal W the residual only says that μ is an eigenvalue of a
 * nearby matrix W - rvᵀ.
 *
 * When the dominant eigenvalues are a complex conjugate pair, or λ and -λ, v never settles: it
 * keeps turning in a 2-D invariant subspace and the residual stays of the order of |λ|. The result
 * then says `converged: false` instead of offering a number; the same when `maxIterations` runs
 * out (|λ2/λ1| close to 1, or a defective dominant eigenvalue, whose convergence is only 1/k). Use
 * `spectralRadius` for an answer in every case.
 */
export function powerIteration(w: Tensor, options: PowerIterationOptions = {}): PowerIterationResult {
  const { maxIterations = 1000, tolerance = 1e-10, seed = 0 } = options;
  const a = squareMatrix("powerIteration", w);
  if (!Number.isInteger(maxIterations) || maxIterations < 1) {
    throw new ValueRangeError("powerIteration", `maxIterations must be a positive integer, got ${maxIterations}`);
  }
  if (!(tolerance > 0)) throw new ValueRangeError("powerIteration", `tolerance must be positive, got ${tolerance}`);
  const n = a.rows;
  const v = Float64Array.from(new Rng(seed).normal([n], 0, 1, "float64").data);
  normalise(v);
  const y = new Float64Array(n);
  let mu = 0;
  let residual = Infinity;
  for (let k = 1; k <= maxIterations; k++) {
    multiplyVector(a, v, y);
    mu = 0;
    for (let i = 0; i < n; i++) mu += v[i]! * y[i]!;
    let r2 = 0;
    for (let i = 0; i < n; i++) r2 += (y[i]! - mu * v[i]!) ** 2;
    residual = Math.sqrt(r2);
    if (residual <= tolerance * Math.abs(mu)) {
      return { value: Math.abs(mu), iterations: k, converged: true, residual };
    }
    // W v = 0 from a random start means the start lay in the generalised null space, which
    // happens only when W is nilpotent (for a start in general position): every eigenvalue is 0.
    if (!normalise(y)) return { value: 0, iterations: k, converged: true, residual: 0 };
    v.set(y);
  }
  return { value: Math.abs(mu), iterations: maxIterations, converged: false, residual };
}

function multiplyVector(a: Matrix, v: Float64Array, out: Float64Array): void {
  const n = a.cols;
  for (let i = 0; i < a.rows; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += a.data[i * n + j]! * v[j]!;
    out[i] = s;
  }
}

/** Scales `v` to unit length; false when it is zero. */
function normalise(v: Float64Array): boolean {
  let scale = 0;
  for (let i = 0; i < v.length; i++) scale = Math.max(scale, Math.abs(v[i]!));
  if (scale === 0) return false;
  let s = 0;
  for (let i = 0; i < v.length; i++) s += (v[i]! / scale) ** 2;
  const inv = 1 / (scale * Math.sqrt(s));
  for (let i = 0; i < v.length; i++) v[i]! *= inv;
  return true;
}
