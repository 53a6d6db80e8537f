import { ValueRangeError } from "@unroll/tensor";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Matrix, matrixFromRows, qr } from "./index.js";
import { at, distanceFromIdentity, gram, maxAbsDiff, product, randomMatrix } from "./test-utils.js";

function checkFactorisation(a: Matrix): void {
  const { q, r } = qr(a);
  const k = Math.min(a.rows, a.cols);
  expect([q.rows, q.cols, r.rows, r.cols]).toEqual([a.rows, k, k, a.cols]);
  let scale = 0;
  for (const v of a.data) scale = Math.max(scale, Math.abs(v));
  expect(maxAbsDiff(product(q, r), a)).toBeLessThanOrEqual(1e-13 * Math.max(1, scale) * a.rows);
  expect(distanceFromIdentity(gram(q))).toBeLessThan(1e-13 * a.rows);
  for (let i = 0; i < r.rows; i++) for (let j = 0; j < Math.min(i, r.cols); j++) expect(at(r, i, j)).toBe(0);
}

describe("qr (Householder, thin)", () => {
  it("factors a 2x1 column by hand: |r| = 5 and q = (3, 4)/5 up to the sign of r", () => {
    const { q, r } = qr(matrixFromRows([[3], [4]]));
    const s = Math.sign(at(r, 0, 0));
    expect(Math.abs(at(r, 0, 0))).toBeCloseTo(5, 14);
    expect(at(q, 0, 0) * s).toBeCloseTo(0.6, 14);
    expect(at(q, 1, 0) * s).toBeCloseTo(0.8, 14);
  });

  it("reconstructs A = QR with orthonormal Q and triangular R, tall, square and wide", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 }), fc.nat(), (m, n, seed) => {
        checkFactorisation(randomMatrix(m, n, seed));
      }),
      { numRuns: 200 },
    );
  });

  it("handles rank-deficient input: zero and repeated columns", () => {
    checkFactorisation(matrixFromRows([[0, 1, 1], [0, 2, 2], [0, 3, 3], [0, 4, 4]]));
    checkFactorisation(matrixFromRows([[0, 0], [0, 0]]));
    // A column already zero below the diagonal gets no reflection.
    checkFactorisation(matrixFromRows([[2, 1], [0, 3]]));
  });

  it("keeps its accuracy on badly scaled columns", () => {
    const a = randomMatrix(6, 4, 11);
    for (let i = 0; i < 6; i++) {
      a.data[i * 4] = a.data[i * 4]! * 1e150;
      a.data[i * 4 + 3] = a.data[i * 4 + 3]! * 1e-150;
    }
    const { q } = qr(a);
    expect(distanceFromIdentity(gram(q))).toBeLessThan(1e-13);
  });

  it("rejects non-finite input", () => {
    expect(() => qr(matrixFromRows([[1, NaN]]))).toThrow(ValueRangeError);
  });
});
