import { describe, expect, it } from "vitest";
import {
  DTypeError, equal, fromArray, grad, greater, greaterEqual, less, lessEqual, mul, notEqual, ShapeError, sum, type Tensor, zeros,
} from "../index.js";
import { dense, expectClose, expectError, f64, i32, naiveElementwise, randomTensor } from "../test-utils.js";

type CompareFn = typeof greater;

const comparisons: [string, CompareFn, (a: number, b: number) => boolean][] = [
  ["Greater", greater, (a, b) => a > b],
  ["GreaterEqual", greaterEqual, (a, b) => a >= b],
  ["Less", less, (a, b) => a < b],
  ["LessEqual", lessEqual, (a, b) => a <= b],
  ["Equal", equal, (a, b) => a === b],
  ["NotEqual", notEqual, (a, b) => a !== b],
];

/** Values on a coarse grid so that ties (equal elements) are frequent. */
function gridTensor(shape: number[], seed: number, dtype: "float32" | "float64" | "int32" = "float64"): Tensor {
  const t = randomTensor(shape, seed, { low: -2, high: 2, dtype: "float64" });
  return fromArray(Array.from(t.data, (v) => Math.round(v)), { shape, dtype });
}

describe("comparisons", () => {
  for (const [name, fn, ref] of comparisons) {
    it(`${name}: 0/1 masks with NumPy broadcasting and ties`, () => {
      const pairs: [number[], number[]][] = [[[3, 4], [3, 4]], [[3, 4], [4]], [[2, 1, 3], [4, 1]], [[], [5]], [[0, 2], [2]]];
      pairs.forEach(([sa, sb], k) => {
        const a = gridTensor(sa, 1 + k);
        const b = gridTensor(sb, 40 + k);
        const m = fn(a, b);
        expect(m.dtype).toBe("float64");
        expectClose(m, naiveElementwise([dense(a), dense(b)], (x, y) => (ref(x, y) ? 1 : 0)), 0, 0);
      });
    });
  }

  it("mask dtype: the operands' float dtype, float32 for int32 operands, or the requested one", () => {
    const a = gridTensor([6], 5, "int32");
    const b = gridTensor([6], 6, "int32");
    const m = less(a, b);
    expect(m.dtype).toBe("float32");
    expectClose(m, naiveElementwise([dense(a), dense(b)], (x, y) => (x < y ? 1 : 0)), 0, 0);
    expect(greater(fromArray([1, 2]), 1.5).dtype).toBe("float32");
    expect(greater(fromArray([1, 2]), 1.5, { dtype: "float64" }).dtype).toBe("float64");
    expect(Array.from(greaterEqual(2, fromArray([1, 2, 3])).data)).toEqual([1, 1, 0]);
  });

  it("NaN compares unequal to everything", () => {
    const a = f64([NaN, NaN, 1], [3]);
    const b = f64([NaN, 1, 1], [3]);
    expect(Array.from(equal(a, b).data)).toEqual([0, 0, 1]);
    expect(Array.from(notEqual(a, b).data)).toEqual([1, 1, 0]);
    expect(Array.from(greater(a, b).data)).toEqual([0, 0, 0]);
    expect(Array.from(lessEqual(a, b).data)).toEqual([0, 0, 1]);
  });

  it("masks carry no gradient: d/dx sum(mask(x) * x) is the mask", () => {
    const x = f64([-1, 0.5, 2, -3], [4]);
    const g = grad((p: Tensor) => sum(mul(greater(p, 0), p)))(x);
    expect(Array.from(g.data)).toEqual([0, 1, 1, 0]);
  });

  it("errors name the op and the shapes", () => {
    expectError(() => greater(zeros([2, 3]), zeros([4])), ShapeError, ["Greater", "[2,3]", "[4]"]);
    expectError(() => equal(zeros([2]), zeros([2], "float64")), DTypeError, ["Equal", "float32", "float64"]);
    expectError(() => less(i32([1]), zeros([1])), DTypeError, ["Less", "int32", "float32"]);
  });
});
