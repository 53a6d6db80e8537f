import { describe, expect, it } from "vitest";
import { DTypeError, grad, logSoftmax, mul, ShapeError, softmax, sum, type Tensor } from "../index.js";
import { dense, type Dense, expectClose, expectError, expectGradOk, f64, i32, randomTensor, ravel, unravel } from "../test-utils.js";

/** Applies `fn` to every line of `x` along `axis` (gathered by index arithmetic). */
function perLine(x: Dense, axis: number, fn: (line: number[]) => number[]): Dense {
  const data = new Array<number>(x.data.length);
  for (let i = 0; i < x.data.length; i++) {
    const idx = unravel(i, x.shape);
    if (idx[axis] !== 0) continue;
    const positions = Array.from({ length: x.shape[axis]! }, (_, k) => ravel(idx.map((v, d) => (d === axis ? k : v)), x.shape));
    const out = fn(positions.map((p) => x.data[p]!));
    positions.forEach((p, k) => (data[p] = out[k]!));
  }
  return { shape: [...x.shape], data };
}

// Shifting by the largest element is what keeps these reference formulas finite.
const naiveSoftmax = (line: number[]): number[] => {
  const m = Math.max(...line);
  const e = line.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
const naiveLogSoftmax = (line: number[]): number[] => {
  const m = Math.max(...line);
  const lse = m + Math.log(line.reduce((a, v) => a + Math.exp(v - m), 0));
  return line.map((v) => v - lse);
};

describe("softmax and logSoftmax forward", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`match per-line formulas along every axis (${dtype})`, () => {
      const x = randomTensor([3, 4, 5], 1, { low: -3, high: 3, dtype });
      const tol = dtype === "float32" ? 1e-6 : 1e-14;
      for (const axis of [0, 1, 2, -1, -3]) {
        const a = axis < 0 ? axis + 3 : axis;
        expectClose(softmax(x, axis), perLine(dense(x), a, naiveSoftmax), tol, tol);
        expectClose(logSoftmax(x, axis), perLine(dense(x), a, naiveLogSoftmax), tol, tol);
      }
    });
  }

  it("softmax rows sum to 1, default axis is the last", () => {
    const s = softmax(randomTensor([4, 6], 2, { low: -5, high: 5 }));
    const d = dense(s);
    for (let r = 0; r < 4; r++) expect(d.data.slice(r * 6, r * 6 + 6).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
  });

  it("is stable for large logits and masks -Infinity entries", () => {
    const x = f64([1000, 1001, 1002, -Infinity, 0, -1000], [2, 3]);
    const e = Math.exp(1);
    const z = 1 + e + e * e;
    expectClose(softmax(x), { shape: [2, 3], data: [1 / z, e / z, (e * e) / z, 0, 1 / (1 + Math.exp(-1000)), 0] }, 1e-15, 1e-14);
    const ls = logSoftmax(x);
    expectClose(ls, { shape: [2, 3], data: [-Math.log(z), 1 - Math.log(z), 2 - Math.log(z), -Infinity, 0, -1000] }, 1e-12, 1e-14);
  });

  it("a size-1 axis gives 1 (softmax) and 0 (logSoftmax)", () => {
    const x = randomTensor([3, 1], 3);
    expect(Array.from(softmax(x, 1).data)).toEqual([1, 1, 1]);
    expect(Array.from(logSoftmax(x, 1).data)).toEqual([0, 0, 0]);
  });
});

describe("softmax and logSoftmax gradients", () => {
  it("gradcheck along every axis, including non-last ones", () => {
    const x = randomTensor([2, 3, 2], 4, { low: -2, high: 2 });
    for (const axis of [0, 1, 2, -2]) {
      expectGradOk((a) => softmax(a, axis), [x]);
      expectGradOk((a) => logSoftmax(a, axis), [x]);
    }
  });

  it("the gradient of sum(softmax) is zero", () => {
    const g = grad((p: Tensor) => sum(softmax(p, 0)))(randomTensor([3, 2], 5));
    expectClose(g, { shape: [3, 2], data: new Array(6).fill(0) }, 1e-15, 0);
    const gl = grad((p: Tensor) => sum(mul(logSoftmax(p), f64([1, 0, 0], [3]))))(f64([0, 0, 0], [3]));
    expectClose(gl, { shape: [3], data: [2 / 3, -1 / 3, -1 / 3] }, 1e-15, 0);
  });
});

describe("softmax errors", () => {
  it("refuse int32 and invalid axes", () => {
    expectError(() => softmax(i32([1, 2])), DTypeError, ["Softmax", "int32"]);
    expectError(() => logSoftmax(i32([1, 2])), DTypeError, ["LogSoftmax", "int32"]);
    expectError(() => softmax(randomTensor([2, 3], 6), 2), ShapeError, ["Softmax", "axis 2", "rank 2"]);
    expectError(() => logSoftmax(randomTensor([2, 3], 6), -3), ShapeError, ["LogSoftmax", "axis -3"]);
  });
});
