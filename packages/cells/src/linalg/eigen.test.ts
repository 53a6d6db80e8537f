import { ShapeError, ValueRangeError } from "@unroll/tensor";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConvergenceError, type Eigenvalues, generalEigenvalues, type Matrix, matrixFromRows } from "./index.js";
import { companion, determinant, monicFromRoots, randomMatrix } from "./test-utils.js";

type Complex = readonly [number, number];

/** Greedily pairs computed eigenvalues with expected ones and returns the largest distance. */
function distanceToExpected(got: Eigenvalues, expected: readonly Complex[]): number {
  expect(got.real.length).toBe(expected.length);
  const left = [...expected];
  let worst = 0;
  for (let i = 0; i < got.real.length; i++) {
    let best = 0;
    for (let j = 1; j < left.length; j++) {
      const dj = Math.hypot(got.real[i]! - left[j]![0], got.imag[i]! - left[j]![1]);
      const db = Math.hypot(got.real[i]! - left[best]![0], got.imag[i]! - left[best]![1]);
      if (dj < db) best = j;
    }
    const [re, im] = left.splice(best, 1)[0]!;
    worst = Math.max(worst, Math.hypot(got.real[i]! - re, got.imag[i]! - im));
  }
  return worst;
}

function rotation(theta: number, scale = 1): Matrix {
  const c = scale * Math.cos(theta);
  const s = scale * Math.sin(theta);
  return matrixFromRows([[c, -s], [s, c]]);
}

describe("generalEigenvalues (balance, Hessenberg, Francis double-shift QR)", () => {
  it("gives cos θ ± i sin θ for a rotation by θ", () => {
    fc.assert(
      fc.property(fc.double({ min: 0.01, max: Math.PI - 0.01, noNaN: true }), (theta) => {
        const e = generalEigenvalues(rotation(theta));
        expect(distanceToExpected(e, [[Math.cos(theta), Math.sin(theta)], [Math.cos(theta), -Math.sin(theta)]])).toBeLessThan(1e-14);
        // A conjugate pair: equal real parts and opposite imaginary parts, exactly.
        expect(e.real[0]).toBe(e.real[1]);
        expect(e.imag[0]).toBe(-e.imag[1]!);
      }),
    );
  });

  it("gives the diagonal of a triangular matrix, sorted by decreasing modulus", () => {
    const upper = matrixFromRows([
      [2, 7, -1, 3],
      [0, -5, 4, 8],
      [0, 0, 0.5, 6],
      [0, 0, 0, 3],
    ]);
    const e = generalEigenvalues(upper);
    expect([...e.real]).toEqual([-5, 3, 2, 0.5]);
    expect([...e.imag]).toEqual([0, 0, 0, 0]);
    const lower = matrixFromRows([
      [1, 0, 0],
      [9, -4, 0],
      [2, 3, 2],
    ]);
    expect(distanceToExpected(generalEigenvalues(lower), [[-4, 0], [2, 0], [1, 0]])).toBeLessThan(1e-14);
  });

  it("finds the roots of a polynomial from its companion matrix, real and complex", () => {
    // (x - 1)(x - 2)(x - 3)(x + 4)(x² + 1)(x² - 2x + 5): roots 1, 2, 3, -4, ±i, 1 ± 2i.
    const poly = monicFromRoots([1, 2, 3, -4], [[0, 1], [1, 2]]);
    const expected: Complex[] = [[1, 0], [2, 0], [3, 0], [-4, 0], [0, 1], [0, -1], [1, 2], [1, -2]];
    expect(distanceToExpected(generalEigenvalues(companion(poly)), expected)).toBeLessThan(1e-10);
  });

  it("needs balancing for a badly scaled similar matrix, and copes", () => {
    // D C D⁻¹ with D = diag(10^(2i)): the same roots, entries spread over 28 orders of magnitude.
    const c = companion(monicFromRoots([0.5, -1.5, 2.5], [[-1, 0.5]]));
    const n = c.rows;
    const scaled = Float64Array.from(c.data, (v, k) => v * 10 ** (2 * (Math.floor(k / n) - (k % n))));
    const e = generalEigenvalues({ rows: n, cols: n, data: scaled });
    expect(distanceToExpected(e, [[0.5, 0], [-1.5, 0], [2.5, 0], [-1, 0.5], [-1, -0.5]])).toBeLessThan(1e-10);
    const twoByTwo = generalEigenvalues(matrixFromRows([[2, 1e-6], [1e6, 2]])); // [[2,1],[1,2]] rescaled
    expect(distanceToExpected(twoByTwo, [[3, 0], [1, 0]])).toBeLessThan(1e-14);
  });

  it("finds the n-th roots of unity for a cyclic permutation (which needs the exceptional shifts)", () => {
    for (const n of [2, 3, 4, 5, 8]) {
      const data = new Float64Array(n * n);
      for (let i = 0; i < n; i++) data[((i + 1) % n) * n + i] = 1;
      const roots = Array.from({ length: n }, (_, k): Complex => [Math.cos((2 * Math.PI * k) / n), Math.sin((2 * Math.PI * k) / n)]);
      expect(distanceToExpected(generalEigenvalues({ rows: n, cols: n, data }), roots)).toBeLessThan(1e-12);
    }
  });

  it("matches trace and determinant (own LU) for random matrices", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 14 }), fc.nat(), (n, seed) => {
        const a = randomMatrix(n, n, seed);
        const { real, imag } = generalEigenvalues(a);
        let trace = 0;
        for (let i = 0; i < n; i++) trace += a.data[i * n + i]!;
        let sumRe = 0;
        let sumIm = 0;
        let prodRe = 1;
        let prodIm = 0;
        for (let i = 0; i < n; i++) {
          sumRe += real[i]!;
          sumIm += imag[i]!;
          [prodRe, prodIm] = [prodRe * real[i]! - prodIm * imag[i]!, prodRe * imag[i]! + prodIm * real[i]!];
        }
        expect(Math.abs(sumRe - trace)).toBeLessThan(1e-12 * n);
        expect(Math.abs(sumIm)).toBeLessThan(1e-12 * n);
        const det = determinant(a);
        expect(Math.abs(prodRe - det)).toBeLessThan(1e-11 * Math.max(1, Math.abs(det)));
        expect(Math.abs(prodIm)).toBeLessThan(1e-11 * Math.max(1, Math.abs(det)));
        // Complex eigenvalues come in conjugate pairs.
        for (let i = 0; i < n; i++) {
          if (imag[i] !== 0) expect(imag.some((v, j) => v === -imag[i]! && real[j] === real[i])).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });

  it("handles 1x1, zero and empty matrices", () => {
    expect([...generalEigenvalues(matrixFromRows([[-7]])).real]).toEqual([-7]);
    const zero = generalEigenvalues({ rows: 3, cols: 3, data: new Float64Array(9) });
    expect([...zero.real, ...zero.imag].every((v) => v === 0)).toBe(true);
    expect(generalEigenvalues({ rows: 0, cols: 0, data: new Float64Array(0) }).real.length).toBe(0);
  });

  it("throws a ConvergenceError, naming itself, when the iteration budget runs out", () => {
    const a = randomMatrix(6, 6, 2);
    expect(() => generalEigenvalues(a, { maxIterations: 1 })).toThrow(ConvergenceError);
    expect(() => generalEigenvalues(a, { maxIterations: 1 })).toThrow(/generalEigenvalues: Hessenberg QR did not converge within 1 iterations/);
    // A triangular matrix needs no QR step at all.
    expect(generalEigenvalues(matrixFromRows([[1, 2], [0, 3]]), { maxIterations: 0 }).real[0]).toBe(3);
  });

  it("rejects non-square and non-finite input", () => {
    expect(() => generalEigenvalues(matrixFromRows([[1, 2]]))).toThrow(ShapeError);
    expect(() => generalEigenvalues(matrixFromRows([[1, Infinity], [0, 1]]))).toThrow(ValueRangeError);
  });
});
