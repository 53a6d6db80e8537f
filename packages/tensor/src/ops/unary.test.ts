import { describe, expect, it } from "vitest";
import {
  abs, clamp, DTypeError, exp, fromArray, grad, log, mul, neg, relu, sigmoid, sign, sqrt, sum, tanh, type Tensor,
  ValueRangeError, zeros,
} from "../index.js";
import {
  dense, expectClose, expectError, expectGradOk, f64, i32, naiveElementwise, randomTensor, valuesAwayFromZero,
} from "../test-utils.js";

type UnaryCase = [name: string, fn: (x: Tensor) => Tensor, ref: (x: number) => number, low: number, high: number];

const cases: UnaryCase[] = [
  ["neg", neg, (x) => 0 - x, -3, 3],
  ["exp", exp, (x) => Math.E ** x, -3, 3],
  ["log", log, (x) => Math.log2(x) * Math.LN2, 0.1, 5],
  ["sqrt", sqrt, (x) => x ** 0.5, 0.1, 5],
  ["tanh", tanh, (x) => (Math.E ** (2 * x) - 1) / (Math.E ** (2 * x) + 1), -3, 3],
  ["sigmoid", sigmoid, (x) => 1 / (1 + Math.E ** -x), -6, 6],
  ["relu", relu, (x) => (x > 0 ? x : 0), -3, 3],
  ["abs", abs, (x) => (x < 0 ? -x : x), -3, 3],
  ["sign", sign, (x) => (x > 0 ? 1 : x < 0 ? -1 : 0), -3, 3],
];

describe("unary forward", () => {
  for (const [name, fn, ref, low, high] of cases) {
    for (const dtype of ["float32", "float64"] as const) {
      it(`${name} matches a naive formula (${dtype})`, () => {
        for (const shape of [[], [7], [2, 3, 4], [0, 3]]) {
          const x = randomTensor(shape, 3, { low, high, dtype });
          const y = fn(x);
          expect(y.dtype).toBe(dtype);
          const tol = dtype === "float32" ? 2e-7 : 1e-13;
          expectClose(y, naiveElementwise([dense(x)], ref), tol, tol);
        }
      });
    }
  }

  it("sigmoid and tanh saturate without overflow", () => {
    const x = f64([-800, -40, 0, 40, 800], [5]);
    expectClose(sigmoid(x), { shape: [5], data: [0, 1 / (1 + Math.E ** 40), 0.5, 1 / (1 + Math.E ** -40), 1] }, 0, 1e-14);
    expect(Array.from(sigmoid(x).data).every(Number.isFinite)).toBe(true);
    expect(Array.from(tanh(x).data)).toEqual([-1, -1, 0, 1, 1]);
  });

  it("special values: relu and sign keep NaN, sign(0) is 0, log(0) is -Infinity", () => {
    const x = f64([NaN, 0, -0.5, 2], [4]);
    const r = relu(x);
    expect(r.data[0]).toBeNaN();
    expect(Array.from(r.data.subarray(1))).toEqual([0, 0, 2]);
    const s = sign(x);
    expect(s.data[0]).toBeNaN();
    expect(Array.from(s.data.subarray(1))).toEqual([0, -1, 1]);
    expect(log(f64([0], [1])).data[0]).toBe(-Infinity);
    expect(sqrt(f64([-1], [1])).data[0]).toBeNaN();
  });

  it("neg, abs and sign accept int32", () => {
    const x = i32([-3, 0, 5]);
    expect(neg(x).dtype).toBe("int32");
    expect(Array.from(neg(x).data)).toEqual([3, 0, -5]);
    expect(Array.from(abs(x).data)).toEqual([3, 0, 5]);
    expect(Array.from(sign(x).data)).toEqual([-1, 0, 1]);
  });

  it("clamp limits to [min, max] with either bound optional", () => {
    const values = [-2, -0.5, 0, 0.25, 1, 3];
    const x = fromArray(values);
    expect(Array.from(clamp(x, { min: -0.5, max: 0.5 }).data)).toEqual([-0.5, -0.5, 0, 0.25, 0.5, 0.5]);
    expect(Array.from(clamp(x, { min: 0 }).data)).toEqual([0, 0, 0, 0.25, 1, 3]);
    expect(Array.from(clamp(x, { max: 0 }).data)).toEqual([-2, -0.5, 0, 0, 0, 0]);
    expect(Array.from(clamp(x, {}).data)).toEqual(values);
    const c = clamp(f64([NaN], [1]), { min: 0, max: 1 });
    expect(c.data[0]).toBeNaN();
  });
});

describe("unary gradients", () => {
  for (const [name, fn, , low, high] of cases) {
    if (name === "sign") continue;
    it(`${name}: gradcheck`, () => {
      const needsGap = name === "relu" || name === "abs";
      const x = needsGap ? f64(valuesAwayFromZero(12, 21, 0.1, 3), [3, 4]) : randomTensor([3, 4], 21, { low, high });
      expectGradOk(fn, [x]);
      expectGradOk(fn, [randomTensor([], 22, { low: Math.max(low, 0.2), high })]);
    });
  }

  it("compositions: gradcheck of tanh(exp(x)) * sigmoid(x) and log(sqrt(x))", () => {
    const x = randomTensor([2, 3], 31, { low: 0.2, high: 1.5 });
    expectGradOk((a) => mul(tanh(exp(a)), sigmoid(a)), [x]);
    expectGradOk((a) => log(sqrt(a)), [x]);
  });

  it("relu's derivative at 0 is 0; sign has zero gradient", () => {
    const x = f64([-1, 0, 2], [3]);
    expect(Array.from(grad((p: Tensor) => sum(relu(p)))(x).data)).toEqual([0, 0, 1]);
    expect(Array.from(grad((p: Tensor) => sum(mul(sign(p), p)))(x).data)).toEqual([-1, 0, 1]);
  });

  it("clamp: gradcheck with both bounds and with one bound, away from the bounds", () => {
    const x = f64([-2, -0.7, -0.3, 0.2, 0.45, 1.5], [2, 3]);
    expectGradOk((a) => clamp(a, { min: -0.5, max: 0.5 }), [x]);
    expectGradOk((a) => clamp(a, { min: 0 }), [x]);
    expectGradOk((a) => clamp(a, { max: 0 }), [x]);
  });

  it("clamp passes the gradient inside the closed interval, bounds included", () => {
    const x = f64([-2, -0.5, 0, 0.5, 3], [5]);
    const g = grad((p: Tensor) => sum(mul(clamp(p, { min: -0.5, max: 0.5 }), f64([1, 2, 3, 4, 5], [5]))))(x);
    expect(Array.from(g.data)).toEqual([0, 2, 3, 4, 0]);
    const gMin = grad((p: Tensor) => sum(clamp(p, { min: 0 })))(x);
    expect(Array.from(gMin.data)).toEqual([0, 0, 1, 1, 1]);
  });
});

describe("unary errors", () => {
  it("float-only ops refuse int32, naming the op", () => {
    for (const [name, fn] of [["Tanh", tanh], ["Exp", exp], ["Log", log], ["Sqrt", sqrt], ["Sigmoid", sigmoid], ["Relu", relu]] as const) {
      expectError(() => fn(i32([1, 2])), DTypeError, [name, "int32"]);
    }
    expectError(() => clamp(i32([1, 2]), { min: 0 }), DTypeError, ["Clamp", "int32"]);
  });

  it("clamp refuses min > max", () => {
    expectError(() => clamp(zeros([2]), { min: 1, max: 0 }), ValueRangeError, ["Clamp", "min (1)", "max (0)"]);
  });
});
