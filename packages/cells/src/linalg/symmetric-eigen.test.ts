import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConvergenceError, type Matrix, matrixFromRows, qr, symmetricEigen } from "./index.js";
import { at, diagonalMatrix, distanceFromIdentity, gram, maxAbsDiff, product, randomMatrix, transposed } from "./test-utils.js";

function randomSymmetric(n: number, seed: number): Matrix {
  const b = randomMatrix(n, n, seed);
  const data = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) data[i * n + j] = at(b, i, j) + at(b, j, i);
  return { rows: n, cols: n, data };
}

describe("symmetricEigen (cyclic Jacobi)", () => {
  it("finds 3 and 1 for [[2, 1], [1, 2]], with eigenvectors (1, 1)/√2 and (1, -1)/√2", () => {
    const { values, vectors } = symmetricEigen(matrixFromRows([[2, 1], [1, 2]]));
    expect(values[0]).toBeCloseTo(3, 14);
    expect(values[1]).toBeCloseTo(1, 14);
    const v = vectors!;
    expect(Math.abs(at(v, 0, 0))).toBeCloseTo(Math.SQRT1_2, 14);
    expect(at(v, 0, 0) * at(v, 1, 0)).toBeCloseTo(0.5, 14); // same signs
    expect(at(v, 0, 1) * at(v, 1, 1)).toBeCloseTo(-0.5, 14); // opposite signs
  });

  it("sorts a diagonal matrix's entries, largest first, without rotating", () => {
    const { values, sweeps } = symmetricEigen(diagonalMatrix([1, -5, 3, 0]));
    expect([...values]).toEqual([3, 1, 0, -5]);
    expect(sweeps).toBe(0);
  });

  it("recovers a chosen spectrum from Q diag(λ) Qᵀ", () => {
    const lambdas = [4, -2.5, 1, 1, 1e-9, 0.3];
    const { q } = qr(randomMatrix(6, 6, 3));
    const a = product(product(q, diagonalMatrix(lambdas)), transposed(q));
    const { values } = symmetricEigen(a);
    const expected = [...lambdas].sort((x, y) => y - x);
    values.forEach((v, i) => expect(Math.abs(v - expected[i]!)).toBeLessThan(1e-13));
  });

  it("reconstructs A = VΛVᵀ with orthonormal V and descending values", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.nat(), (n, seed) => {
        const a = randomSymmetric(n, seed);
        const { values, vectors } = symmetricEigen(a);
        const v = vectors!;
        expect(distanceFromIdentity(gram(v))).toBeLessThan(1e-13 * n);
        const rebuilt = product(product(v, diagonalMatrix([...values])), transposed(v));
        expect(maxAbsDiff(rebuilt, a)).toBeLessThan(1e-13 * n);
        for (let i = 1; i < n; i++) expect(values[i]!).toBeLessThanOrEqual(values[i - 1]!);
      }),
      { numRuns: 100 },
    );
  });

  it("drives the off-diagonal norm below 1e-14 of ||A|| on a larger matrix", () => {
    const a = randomSymmetric(40, 5);
    const { values, vectors } = symmetricEigen(a);
    const v = vectors!;
    // Vᵀ A V is diagonal up to the tolerance: its off-diagonal Frobenius norm, relative.
    const d = product(product(transposed(v), a), v);
    let off = 0;
    let total = 0;
    for (let i = 0; i < 40; i++) {
      for (let j = 0; j < 40; j++) {
        total += at(a, i, j) ** 2;
        if (i !== j) off += at(d, i, j) ** 2;
      }
    }
    expect(Math.sqrt(off / total)).toBeLessThan(1e-13);
    for (let i = 0; i < 40; i++) expect(Math.abs(at(d, i, i) - values[i]!)).toBeLessThan(1e-12);
  });

  it("uses only the symmetric part and can skip the eigenvectors", () => {
    const { values, vectors } = symmetricEigen(matrixFromRows([[2, 0], [2, 2]]), { vectors: false });
    expect(vectors).toBeUndefined();
    expect(values[0]).toBeCloseTo(3, 14);
    expect(values[1]).toBeCloseTo(1, 14);
  });

  it("throws a ConvergenceError when the sweeps run out", () => {
    expect(() => symmetricEigen(randomSymmetric(5, 1), { maxSweeps: 1 })).toThrow(ConvergenceError);
    expect(() => symmetricEigen(randomSymmetric(5, 1), { maxSweeps: 1 })).toThrow(/symmetricEigen: .*1 Jacobi sweeps/);
  });

  it("rejects non-square matrices", () => {
    expect(() => symmetricEigen(matrixFromRows([[1, 2, 3]]))).toThrow(/symmetricEigen: needs a square matrix, got 1x3/);
  });
});
