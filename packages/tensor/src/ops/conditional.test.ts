import { describe, expect, it } from "vitest";
import { DTypeError, fromArray, grad, greater, mul, ShapeError, sum, type Tensor, where, zeros } from "../index.js";
import { dense, expectClose, expectError, expectGradOk, f64, i32, naiveElementwise, randomTensor } from "../test-utils.js";

function mask(values: number[], shape: number[]): Tensor {
  return f64(values, shape);
}

describe("where", () => {
  it("selects a where cond != 0, else b, all three broadcast", () => {
    const cases: [number[], number[], number[]][] = [
      [[2, 3], [2, 3], [2, 3]],
      [[2, 1], [1, 3], []],
      [[3], [2, 3], [2, 1]],
      [[4, 1, 1], [3, 1], [2]],
      [[], [2, 2], [2, 2]],
      [[0, 3], [3], []],
    ];
    cases.forEach(([sc, sa, sb], k) => {
      const c = fromArray(Array.from(randomTensor(sc, 70 + k).data, (v) => (v > 0 ? 1 : 0)), { shape: sc, dtype: "float64" });
      const a = randomTensor(sa, 80 + k);
      const b = randomTensor(sb, 90 + k);
      expectClose(where(c, a, b), naiveElementwise([dense(c), dense(a), dense(b)], (m, x, y) => (m !== 0 ? x : y)), 0, 0);
    });
  });

  it("accepts masks of any dtype and numbers as branches", () => {
    const c = i32([0, 2, -1, 0]);
    expect(Array.from(where(c, fromArray([1, 2, 3, 4]), 0).data)).toEqual([0, 2, 3, 0]);
    expect(Array.from(where(fromArray([0.5, 0]), 7, fromArray([1, 2])).data)).toEqual([7, 2]);
    // NaN is not 0: it selects a.
    expect(Array.from(where(f64([NaN], [1]), 1, 2).data)).toEqual([1]);
  });

  it("gradcheck with a broadcast mask and broadcast branches", () => {
    const c = mask([1, 0, 1, 0, 0, 1], [2, 1, 3]);
    expectGradOk((a, b) => where(c, a, b), [randomTensor([2, 4, 3], 1), randomTensor([2, 4, 3], 2)]);
    expectGradOk((a, b) => where(c, a, b), [randomTensor([4, 1], 3), randomTensor([], 4)]);
    expectGradOk((a, b) => where(c, a, b), [randomTensor([3], 5), randomTensor([2, 1, 1], 6)]);
  });

  it("sends the cotangent to a where cond holds and to b elsewhere, summed over broadcast axes", () => {
    const c = mask([1, 0, 0, 1, 1, 1], [2, 3]);
    const [ga, gb] = grad((p: Tensor[]) => sum(mul(where(c, p[0]!, p[1]!), f64([1, 2, 3, 4, 5, 6], [2, 3]))))([
      f64([0, 0, 0], [3]),
      f64([0], []),
    ]);
    expect(Array.from(ga!.data)).toEqual([1 + 4, 5, 6]);
    expect(Array.from(gb!.data)).toEqual([2 + 3]);
  });

  it("a mask computed from the input does not receive a gradient", () => {
    const x = f64([-1, 2, -3, 4], [4]);
    const g = grad((p: Tensor) => sum(where(greater(p, 0), mul(p, p), mul(p, -1))))(x);
    expect(Array.from(g.data)).toEqual([-1, 4, -1, 8]);
  });

  it("errors name the op and the shapes", () => {
    expectError(() => where(zeros([2, 3]), zeros([4]), 0), ShapeError, ["Where", "[4]"]);
    expectError(() => where(zeros([5]), zeros([2, 3]), zeros([2, 3])), ShapeError, ["Where", "[5]", "[2,3]"]);
    expectError(() => where(zeros([2]), zeros([2]), zeros([2], "float64")), DTypeError, ["Where", "float32", "float64"]);
    expect(() => where(1 as unknown as Tensor, 1, 2)).toThrow(TypeError);
  });
});
