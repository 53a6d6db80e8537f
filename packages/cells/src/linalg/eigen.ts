import { ConvergenceError } from "./errors.js";
import { assertFinite, assertSquare, type Matrix } from "./matrix.js";

export interface EigenvalueOptions {
  /**
   * Francis QR steps allowed in all before a ConvergenceError (default 30 n, EISPACK's budget).
   * Typically two steps per eigenvalue suffice.
   */
  readonly maxIterations?: number;
}

/** Eigenvalues as parallel real and imaginary parts. Complex ones come in conjugate pairs. */
export interface Eigenvalues {
  readonly real: Float64Array;
  readonly imag: Float64Array;
}

/**
 * All eigenvalues of a real square matrix, by the classic EISPACK scheme (as Numerical Recipes
 * §11.5-11.6 present it: `balanc`, `elmhes`, `hqr`):
 *
 * 1. balancing: a diagonal similarity by powers of 2 (exact in floating point) that makes row and
 *    column norms comparable, so that errors of order eps·||A|| do not swamp small eigenvalues;
 * 2. reduction to upper Hessenberg form by stabilised elementary similarity transformations
 *    (Gaussian elimination with pivoting), which keeps every later QR step O(n²);
 * 3. Francis implicit double-shift QR on the Hessenberg matrix, deflating 1x1 and 2x2 blocks off
 *    the bottom as subdiagonal entries become negligible; a 2x2 block gives a real pair or a complex
 *    conjugate pair. Exceptional shifts every 10 steps without deflation break the cycles that pure
 *    Wilkinson-type shifts can fall into (permutation matrices, for example).
 *
 * Sorted by decreasing modulus, then decreasing real part, then decreasing imaginary part. Throws a
 * ConvergenceError when `maxIterations` QR steps do not deflate every eigenvalue.
 */
export function generalEigenvalues(a: Matrix, options: EigenvalueOptions = {}): Eigenvalues {
  assertSquare("generalEigenvalues", a);
  assertFinite("generalEigenvalues", a);
  const n = a.rows;
  const maxIterations = options.maxIterations ?? 30 * n;
  const h = a.data.slice();
  balance(h, n);
  toHessenberg(h, n);
  const real = new Float64Array(n);
  const imag = new Float64Array(n);
  hessenbergQr(h, n, real, imag, maxIterations);
  return sortEigenvalues(real, imag);
}

const RADIX = 2;

/**
 * Balances `a` in place (NR `balanc`): repeatedly scales row i by 1/f and column i by f, f a power
 * of the radix, until no scaling reduces a row + column 1-norm by 5%. A similarity transformation,
 * so the eigenvalues are unchanged, and exactly so because scaling by powers of 2 does not round.
 */
function balance(a: Float64Array, n: number): void {
  const sqrdx = RADIX * RADIX;
  let done = false;
  while (!done) {
    done = true;
    for (let i = 0; i < n; i++) {
      let r = 0;
      let c = 0;
      for (let j = 0; j < n; j++) {
        if (j === i) continue;
        c += Math.abs(a[j * n + i]!);
        r += Math.abs(a[i * n + j]!);
      }
      if (c === 0 || r === 0) continue;
      const s = c + r;
      let f = 1;
      let g = r / RADIX;
      while (c < g) {
        f *= RADIX;
        c *= sqrdx;
      }
      g = r * RADIX;
      while (c > g) {
        f /= RADIX;
        c /= sqrdx;
      }
      if ((c + r) / f < 0.95 * s) {
        done = false;
        const inv = 1 / f;
        for (let j = 0; j < n; j++) a[i * n + j]! *= inv;
        for (let j = 0; j < n; j++) a[j * n + i]! *= f;
      }
    }
  }
}

/**
 * Reduces `a` in place to upper Hessenberg form (NR `elmhes`): for each column m-1, swap the row
 * with the largest entry below the diagonal into position m (and the matching column, to keep a
 * similarity), then eliminate the entries below it. Entries below the subdiagonal are set to zero
 * afterwards (elmhes leaves its multipliers there), so the QR stage never reads them.
 */
function toHessenberg(a: Float64Array, n: number): void {
  for (let m = 1; m < n - 1; m++) {
    let x = 0;
    let pivot = m;
    for (let j = m; j < n; j++) {
      if (Math.abs(a[j * n + m - 1]!) > Math.abs(x)) {
        x = a[j * n + m - 1]!;
        pivot = j;
      }
    }
    if (pivot !== m) {
      for (let j = m - 1; j < n; j++) swap(a, pivot * n + j, m * n + j);
      for (let j = 0; j < n; j++) swap(a, j * n + pivot, j * n + m);
    }
    if (x === 0) continue;
    for (let i = m + 1; i < n; i++) {
      let y = a[i * n + m - 1]!;
      if (y === 0) continue;
      y /= x;
      a[i * n + m - 1] = y;
      for (let j = m; j < n; j++) a[i * n + j]! -= y * a[m * n + j]!;
      for (let j = 0; j < n; j++) a[j * n + m]! += y * a[j * n + i]!;
    }
  }
  for (let i = 2; i < n; i++) for (let j = 0; j < i - 1; j++) a[i * n + j] = 0;
}

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i]!;
  a[i] = a[j]!;
  a[j] = t;
}

/** `|x|` with the sign of `y` (Fortran's SIGN). */
function withSign(x: number, y: number): number {
  return y >= 0 ? Math.abs(x) : -Math.abs(x);
}

/**
 * Eigenvalues of the upper Hessenberg matrix `a` (destroyed) by Francis double-shift QR, NR `hqr`
 * translated to 0-based indices with its tests written against machine epsilon. `nn` is the last
 * row of the active block, `l` its first; `t` accumulates exceptional shifts already subtracted.
 */
function hessenbergQr(a: Float64Array, n: number, wr: Float64Array, wi: Float64Array, maxIterations: number): void {
  const EPS = Number.EPSILON;
  const at = (i: number, j: number): number => a[i * n + j]!;
  let anorm = 0;
  for (let i = 0; i < n; i++) for (let j = Math.max(i - 1, 0); j < n; j++) anorm += Math.abs(at(i, j));

  let nn = n - 1;
  let t = 0;
  let total = 0;
  while (nn >= 0) {
    let its = 0;
    let l: number;
    do {
      // Look for a negligible subdiagonal element that splits the matrix.
      for (l = nn; l >= 1; l--) {
        let s = Math.abs(at(l - 1, l - 1)) + Math.abs(at(l, l));
        if (s === 0) s = anorm;
        if (Math.abs(at(l, l - 1)) <= EPS * s) {
          a[l * n + l - 1] = 0;
          break;
        }
      }
      let x = at(nn, nn);
      if (l === nn) {
        // One root found.
        wr[nn] = x + t;
        wi[nn] = 0;
        nn--;
      } else {
        let y = at(nn - 1, nn - 1);
        let w = at(nn, nn - 1) * at(nn - 1, nn);
        if (l === nn - 1) {
          // Two roots found: those of the trailing 2x2 block.
          const p = 0.5 * (y - x);
          const q = p * p + w;
          let z = Math.sqrt(Math.abs(q));
          x += t;
          if (q >= 0) {
            z = p + withSign(z, p);
            wr[nn - 1] = x + z;
            wr[nn] = z !== 0 ? x - w / z : x + z;
            wi[nn - 1] = 0;
            wi[nn] = 0;
          } else {
            wr[nn - 1] = x + p;
            wr[nn] = x + p;
            wi[nn - 1] = z;
            wi[nn] = -z;
          }
          nn -= 2;
        } else {
          // No roots yet: one more double-shift QR step on rows and columns l..nn.
          if (total >= maxIterations) {
            throw new ConvergenceError(
              "generalEigenvalues",
              `Hessenberg QR did not converge within ${maxIterations} iterations ` +
                `(${nn + 1} of ${n} eigenvalues still undeflated); the matrix may be too badly scaled`,
            );
          }
          if (its > 0 && its % 10 === 0) {
            // Exceptional shift (EISPACK's ad hoc values).
            t += x;
            for (let i = 0; i <= nn; i++) a[i * n + i]! -= x;
            const s = Math.abs(at(nn, nn - 1)) + Math.abs(at(nn - 1, nn - 2));
            x = 0.75 * s;
            y = x;
            w = -0.4375 * s * s;
          }
          its++;
          total++;
          // Form the shift and look for two consecutive small subdiagonal elements.
          let m: number;
          let p = 0;
          let q = 0;
          let r = 0;
          let z: number;
          for (m = nn - 2; m >= l; m--) {
            z = at(m, m);
            r = x - z;
            const s0 = y - z;
            p = (r * s0 - w) / at(m + 1, m) + at(m, m + 1);
            q = at(m + 1, m + 1) - z - r - s0;
            r = at(m + 2, m + 1);
            const s = Math.abs(p) + Math.abs(q) + Math.abs(r); // scale to prevent overflow
            p /= s;
            q /= s;
            r /= s;
            if (m === l) break;
            const u = Math.abs(at(m, m - 1)) * (Math.abs(q) + Math.abs(r));
            const v = Math.abs(p) * (Math.abs(at(m - 1, m - 1)) + Math.abs(z) + Math.abs(at(m + 1, m + 1)));
            if (u <= EPS * v) break;
          }
          for (let i = m + 2; i <= nn; i++) {
            a[i * n + i - 2] = 0;
            if (i !== m + 2) a[i * n + i - 3] = 0;
          }
          // Double QR step on rows l..nn and columns m..nn, chasing the bulge down.
          for (let k = m; k <= nn - 1; k++) {
            if (k !== m) {
              p = at(k, k - 1);
              q = at(k + 1, k - 1);
              r = k !== nn - 1 ? at(k + 2, k - 1) : 0;
              x = Math.abs(p) + Math.abs(q) + Math.abs(r);
              if (x !== 0) {
                p /= x;
                q /= x;
                r /= x;
              }
            }
            const s = withSign(Math.sqrt(p * p + q * q + r * r), p);
            if (s === 0) continue;
            if (k === m) {
              if (l !== m) a[k * n + k - 1] = -at(k, k - 1);
            } else {
              a[k * n + k - 1] = -s * x;
            }
            p += s;
            x = p / s;
            y = q / s;
            z = r / s;
            q /= p;
            r /= p;
            for (let j = k; j <= nn; j++) {
              // Row modification.
              let pp = at(k, j) + q * at(k + 1, j);
              if (k !== nn - 1) {
                pp += r * at(k + 2, j);
                a[(k + 2) * n + j]! -= pp * z;
              }
              a[(k + 1) * n + j]! -= pp * y;
              a[k * n + j]! -= pp * x;
            }
            const mmin = Math.min(nn, k + 3);
            for (let i = l; i <= mmin; i++) {
              // Column modification.
              let pp = x * at(i, k) + y * at(i, k + 1);
              if (k !== nn - 1) {
                pp += z * at(i, k + 2);
                a[i * n + k + 2]! -= pp * r;
              }
              a[i * n + k + 1]! -= pp * q;
              a[i * n + k]! -= pp;
            }
          }
        }
      }
    } while (l < nn - 1);
  }
}

function sortEigenvalues(real: Float64Array, imag: Float64Array): Eigenvalues {
  const order = Array.from({ length: real.length }, (_, i) => i);
  const mod = (i: number): number => Math.hypot(real[i]!, imag[i]!);
  order.sort((i, j) => mod(j) - mod(i) || real[j]! - real[i]! || imag[j]! - imag[i]!);
  return { real: Float64Array.from(order, (i) => real[i]!), imag: Float64Array.from(order, (i) => imag[i]!) };
}
