import { Rng, ShapeError } from "@unroll/tensor";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Matrix, symmetricEigen } from "../linalg/index.js";
import {
  at,
  choleskySucceeds,
  distanceFromIdentity,
  gram,
  gramSchmidt,
  maxAbsDiff,
  transposed,
} from "../linalg/test-utils.js";
import { identity, type InitContext, npRnn, orthogonal } from "./index.js";

const context: InitContext = { hiddenSize: 8, gates: 1 };

function asMatrix(data: ArrayLike<number>, rows: number, cols: number): Matrix {
  return { rows, cols, data: Float64Array.from(data) };
}

function drawMatrix(init: ReturnType<typeof orthogonal>, rows: number, cols: number, seed = 0): Matrix {
  const t = init.init([rows, cols], new Rng(seed), context);
  expect(t.dtype).toBe("float32");
  expect(t.shape).toEqual([rows, cols]);
  return asMatrix(t.data, rows, cols);
}

describe("identity (IRNN)", () => {
  it("is the identity, scaled", () => {
    for (const scale of [1, 0.5, 0.01]) {
      const w = drawMatrix(identity({ scale }), 5, 5);
      for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) expect(at(w, i, j)).toBe(i === j ? Math.fround(scale) : 0);
    }
  });

  it("defaults to scale 1 and draws nothing from the generator", () => {
    const rng = new Rng(3);
    identity().init([3, 3], rng, context);
    expect(rng.state().counter).toBe(0);
    expect(distanceFromIdentity(drawMatrix(identity(), 4, 4))).toBe(0);
  });

  it("is square only, pointing stacked gates to perGate", () => {
    expect(() => identity().init([8, 4], new Rng(0), context)).toThrow(ShapeError);
    expect(() => identity().init([8, 4], new Rng(0), context)).toThrow(/identity: needs a square 2-D weight \[n, n\], got shape \[8,4\]; .*perGate\(identity\(\)\)/);
    expect(() => identity().init([4], new Rng(0), context)).toThrow(ShapeError);
  });
});

describe("orthogonal", () => {
  it("gives WᵀW = I for square and tall weights and WWᵀ = I for wide ones", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 24 }), fc.integer({ min: 1, max: 24 }), fc.nat(), (rows, cols, seed) => {
        const w = drawMatrix(orthogonal(), rows, cols, seed);
        const g = rows >= cols ? gram(w) : gram(transposed(w));
        expect(distanceFromIdentity(g)).toBeLessThan(1e-6);
        if (rows === cols) expect(distanceFromIdentity(gram(transposed(w)))).toBeLessThan(1e-6);
      }),
      { numRuns: 100 },
    );
  });

  it("multiplies by the gain", () => {
    expect(distanceFromIdentity(gram(drawMatrix(orthogonal({ gain: 2 }), 6, 6)), 4)).toBeLessThan(1e-5);
  });

  it("is PyTorch's construction: Q with sign(diag R) fixed is Gram-Schmidt of the drawn normal matrix", () => {
    // orthogonal_ draws a rows x cols standard normal matrix (transposed when rows < cols) and
    // returns the Q of its QR with a positive diagonal in R: the Gram-Schmidt orthonormalisation.
    for (const [rows, cols] of [[7, 4], [5, 5], [3, 8]] as const) {
      const w = drawMatrix(orthogonal(), rows, cols, 42);
      const drawn = asMatrix(new Rng(42).normal([rows, cols], 0, 1, "float64").data, rows, cols);
      const expected = rows >= cols ? gramSchmidt(drawn) : transposed(gramSchmidt(transposed(drawn)));
      expect(maxAbsDiff(w, expected)).toBeLessThan(1e-6);
    }
  });

  it("views higher-rank weights as [rows, product of the rest]", () => {
    const t = orthogonal().init([3, 2, 4], new Rng(1), context);
    expect(t.shape).toEqual([3, 2, 4]);
    expect(distanceFromIdentity(gram(transposed(asMatrix(t.data, 3, 8))))).toBeLessThan(1e-6);
  });

  it("rejects 1-D shapes", () => {
    expect(() => orthogonal().init([5], new Rng(0), context)).toThrow(/orthogonal: needs a weight of rank >= 2, got shape \[5\]/);
  });
});

describe("npRnn (Talathi & Vartak 2016)", () => {
  it("is symmetric positive definite with top eigenvalue 1 and the others in (0, 1]", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.nat(), (n, seed) => {
        const w = drawMatrix(npRnn(), n, n, seed);
        expect(maxAbsDiff(w, transposed(w))).toBe(0);
        const { values } = symmetricEigen(w, { vectors: false });
        expect(Math.abs(values[0]! - 1)).toBeLessThan(1e-5);
        for (const v of values) {
          expect(v).toBeGreaterThan(0);
          expect(v).toBeLessThanOrEqual(1 + 1e-5);
        }
      }),
      { numRuns: 40 },
    );
  });

  it("passes the same checks by Cholesky: W, (1 + 1e-5)I - W positive definite, (1 - 1e-5)I - W not", () => {
    for (const n of [1, 5, 32, 64]) {
      const w = drawMatrix(npRnn(), n, n, n);
      const shifted = (s: number): Matrix => {
        const data = Float64Array.from(w.data, (v) => -v);
        for (let i = 0; i < n; i++) data[i * n + i]! += s;
        return { rows: n, cols: n, data };
      };
      expect(choleskySucceeds(w)).toBe(true);
      expect(choleskySucceeds(shifted(1 + 1e-5))).toBe(true); // every eigenvalue < 1 + 1e-5
      expect(choleskySucceeds(shifted(1 - 1e-5))).toBe(false); // some eigenvalue > 1 - 1e-5
    }
  });

  it("is RᵀR/N + I for the drawn R, up to one positive factor", () => {
    const n = 12;
    const w = drawMatrix(npRnn(), n, n, 9);
    const r = asMatrix(new Rng(9).normal([n, n], 0, 1, "float64").data, n, n);
    const a = gram(r);
    const data = Float64Array.from(a.data, (v) => v / n);
    for (let i = 0; i < n; i++) data[i * n + i]! += 1;
    const ratio = at(w, 0, 0) / data[0]!;
    expect(ratio).toBeGreaterThan(0);
    expect(ratio).toBeLessThan(1); // λmax(A) > 1 since A - I is positive semidefinite and non-zero
    for (let k = 0; k < n * n; k++) expect(Math.abs(w.data[k]! - ratio * data[k]!)).toBeLessThan(1e-6);
  });

  it("is square only", () => {
    expect(() => npRnn().init([8, 4], new Rng(0), context)).toThrow(ShapeError);
  });
});
