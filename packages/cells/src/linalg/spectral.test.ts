import { DTypeError, fromArray, ShapeError, type Tensor, ValueRangeError } from "@unroll/tensor";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { eigenvalues, type Matrix, powerIteration, qr, spectralRadius, symmetricEigenvalues } from "./index.js";
import { diagonalMatrix, gram, product, randomMatrix, transposed } from "./test-utils.js";

function tensor(a: Matrix, dtype: "float32" | "float64" = "float64"): Tensor {
  return fromArray(a.data, { shape: [a.rows, a.cols], dtype });
}

function rotation(theta: number, scale = 1): Tensor {
  const c = scale * Math.cos(theta);
  const s = scale * Math.sin(theta);
  return fromArray([[c, -s], [s, c]], { dtype: "float64" });
}

/** Q diag(λ) Qᵀ with Q orthogonal: a symmetric matrix whose eigenvalues are exactly λ. */
function withSpectrum(lambdas: readonly number[], seed: number): Matrix {
  const { q } = qr(randomMatrix(lambdas.length, lambdas.length, seed));
  return product(product(q, diagonalMatrix(lambdas)), transposed(q));
}

describe("spectralRadius and eigenvalues", () => {
  it("gives s for a rotation scaled by s, whose eigenvalues s·e^(±iθ) are complex", () => {
    fc.assert(
      fc.property(fc.double({ min: 0.05, max: 3, noNaN: true }), fc.double({ min: 0.1, max: 3, noNaN: true }), (theta, s) => {
        expect(Math.abs(spectralRadius(rotation(theta, s)) - s)).toBeLessThan(1e-14 * Math.max(1, s));
      }),
    );
    const { real, imag } = eigenvalues(rotation(Math.PI / 3, 2));
    expect(real[0]).toBeCloseTo(1, 14);
    expect(Math.abs(imag[0]!)).toBeCloseTo(Math.sqrt(3), 14);
  });

  it("takes the modulus of a negative dominant eigenvalue", () => {
    expect(spectralRadius(tensor(diagonalMatrix([-3, 2, 1])))).toBe(3);
  });

  it("accepts float32 tensors", () => {
    expect(spectralRadius(fromArray([[0, 2], [0.5, 0]]))).toBeCloseTo(1, 7); // eigenvalues ±1
  });
});

describe("symmetricEigenvalues", () => {
  it("gives the eigenvalues of a symmetric tensor, largest first", () => {
    expect([...symmetricEigenvalues(fromArray([[2, 1], [1, 2]], { dtype: "float64" }))].map((v) => +v.toFixed(12))).toEqual([3, 1]);
    const lambdas = [5, -1, 0.25, 2];
    const got = symmetricEigenvalues(tensor(withSpectrum(lambdas, 4)));
    [5, 2, 0.25, -1].forEach((v, i) => expect(Math.abs(got[i]! - v)).toBeLessThan(1e-13));
  });

  it("tolerates asymmetry up to 1e-6 of the largest entry and rejects more", () => {
    expect(() => symmetricEigenvalues(fromArray([[4, 1 + 3e-6], [1, 2]], { dtype: "float64" }))).not.toThrow();
    expect(() => symmetricEigenvalues(fromArray([[4, 1 + 5e-6], [1, 2]], { dtype: "float64" }))).toThrow(ValueRangeError);
    expect(() => symmetricEigenvalues(fromArray([[1, 2], [0, 1]]))).toThrow(/symmetricEigenvalues: tensor is not symmetric: w\[0\]\[1\] = 2/);
  });
});

describe("powerIteration", () => {
  it("agrees with spectralRadius for a symmetric matrix, within the Bauer-Fike bound", () => {
    const a = tensor(withSpectrum([5, -3, 2, 1, 0.5, -0.1], 9));
    const result = powerIteration(a);
    expect(result.converged).toBe(true);
    expect(Math.abs(result.value - 5)).toBeLessThan(1e-10);
    expect(Math.abs(result.value - spectralRadius(a))).toBeLessThan(1e-10);
    // Bauer-Fike for a symmetric matrix: |μ - λ| <= ||Av - μv||.
    expect(Math.abs(result.value - 5)).toBeLessThanOrEqual(result.residual + 1e-14);
    expect(result.residual).toBeLessThanOrEqual(1e-10 * result.value);
    // |λ2/λ1| = 0.6 per step: far fewer than the default 1000 iterations.
    expect(result.iterations).toBeLessThan(100);
  });

  it("agrees with spectralRadius on random positive definite matrices", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 }), fc.nat(), (n, seed) => {
        const b = randomMatrix(n, n, seed);
        const a = tensor(gram(b));
        const result = powerIteration(a, { maxIterations: 100000 });
        expect(result.converged).toBe(true);
        expect(Math.abs(result.value - spectralRadius(a))).toBeLessThan(1e-8 * spectralRadius(a));
      }),
      { numRuns: 50 },
    );
  });

  it("finds a negative dominant eigenvalue's modulus", () => {
    const result = powerIteration(tensor(withSpectrum([-4, 3, 1], 2)));
    expect(result.converged).toBe(true);
    expect(result.value).toBeCloseTo(4, 9);
  });

  it("reports converged: false for a rotation, whose dominant eigenvalues are a complex pair", () => {
    const result = powerIteration(rotation(0.7, 1.5));
    expect(result.converged).toBe(false);
    expect(result.iterations).toBe(1000);
    expect(result.residual).toBeGreaterThan(0.1);
  });

  it("reports converged: false for dominant eigenvalues λ and -λ, and when the iterations run out", () => {
    expect(powerIteration(tensor(withSpectrum([2, -2, 1], 1))).converged).toBe(false);
    const slow = powerIteration(tensor(withSpectrum([1, 0.9999, 0.5], 1)), { maxIterations: 20 });
    expect(slow.converged).toBe(false);
    expect(slow.iterations).toBe(20);
  });

  it("gives 0 for a nilpotent matrix", () => {
    const result = powerIteration(fromArray([[0, 1, 0], [0, 0, 1], [0, 0, 0]], { dtype: "float64" }));
    expect(result).toMatchObject({ value: 0, converged: true });
  });

  it("is reproducible for a seed", () => {
    const a = tensor(withSpectrum([1, 0.999, 0.5], 3));
    expect(powerIteration(a, { seed: 5, maxIterations: 7 })).toEqual(powerIteration(a, { seed: 5, maxIterations: 7 }));
    expect(powerIteration(a, { seed: 5, maxIterations: 7 }).residual).not.toBe(powerIteration(a, { seed: 6, maxIterations: 7 }).residual);
  });

  it("validates its options", () => {
    const a = fromArray([[1]]);
    expect(() => powerIteration(a, { maxIterations: 0 })).toThrow(ValueRangeError);
    expect(() => powerIteration(a, { tolerance: -1 })).toThrow(ValueRangeError);
  });
});

describe("input checks", () => {
  const functions = { spectralRadius, eigenvalues, symmetricEigenvalues, powerIteration } as const;
  for (const [name, f] of Object.entries(functions)) {
    it(`${name} throws a ShapeError naming itself and the shape for non-square or non-2-D tensors`, () => {
      for (const shape of [[2, 3], [4], [2, 2, 2], [0, 0]]) {
        const w = fromArray(new Float32Array(shape.reduce((p, d) => p * d, 1)), { shape });
        expect(() => f(w)).toThrow(ShapeError);
        expect(() => f(w)).toThrow(`${name}: needs a non-empty square 2-D tensor, got shape [${shape.join(",")}]`);
      }
    });

    it(`${name} rejects int32 tensors and non-finite values`, () => {
      expect(() => f(fromArray([[1, 0], [0, 1]], { dtype: "int32" }))).toThrow(DTypeError);
      expect(() => f(fromArray([[1, NaN], [NaN, 1]]))).toThrow(ValueRangeError);
    });
  }
});
