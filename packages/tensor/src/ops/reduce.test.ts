import { describe, expect, it } from "vitest";
import {
  argmax, DTypeError, fromArray, grad, max, mean, mul, ShapeError, sum, sumTo, type Tensor, zeros,
} from "../index.js";
import { dense, expectClose, expectError, expectGradOk, f64, naiveReduce, randomTensor } from "../test-utils.js";

type AxesArg = number | number[] | undefined;

/** The sorted, non-negative axes NumPy would reduce for `axes` on a tensor of rank `rank`. */
function resolve(axes: AxesArg, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === "number" ? [axes] : axes;
  return list.map((a) => (a < 0 ? a + rank : a));
}

const axesCases: AxesArg[] = [undefined, 0, 1, -1, -3, [0, 2], [2, 0], [-1, 0], [0, 1, 2], []];

describe("sum, max and mean forward", () => {
  const x = randomTensor([3, 4, 2], 1);
  for (const keepdims of [false, true]) {
    it(`sum over axes lists, negative axes (keepdims=${keepdims})`, () => {
      for (const axes of axesCases) {
        expectClose(sum(x, axes, keepdims), naiveReduce(dense(x), resolve(axes, 3), keepdims, (s, v) => s + v, 0), 1e-14, 1e-14);
      }
    });

    it(`max over axes lists, negative axes (keepdims=${keepdims})`, () => {
      for (const axes of axesCases) {
        expectClose(max(x, axes, keepdims), naiveReduce(dense(x), resolve(axes, 3), keepdims, (m, v) => (v > m ? v : m), -Infinity), 0, 0);
      }
    });

    it(`mean over axes lists, negative axes (keepdims=${keepdims})`, () => {
      for (const axes of axesCases) {
        const axesList = resolve(axes, 3);
        const count = axesList.reduce((p, a) => p * x.shape[a]!, 1);
        const s = naiveReduce(dense(x), axesList, keepdims, (acc, v) => acc + v, 0);
        expectClose(mean(x, axes, keepdims), { shape: s.shape, data: s.data.map((v) => v / count) }, 1e-14, 1e-14);
      }
    });
  }

  it("float32 sums keep float32", () => {
    const x32 = randomTensor([5, 7], 2, { dtype: "float32" });
    const s = sum(x32, 1);
    expect(s.dtype).toBe("float32");
    expectClose(s, naiveReduce(dense(x32), [1], false, (a, v) => a + v, 0), 1e-6, 1e-6);
  });

  it("scalars and size-1 axes", () => {
    expect(sum(f64([2.5], [])).item()).toBe(2.5);
    expect(max(f64([-2.5], [])).item()).toBe(-2.5);
    const y = f64([1, 2, 3], [1, 3, 1]);
    expect(sum(y, [0, 2]).shape).toEqual([3]);
    expect(Array.from(sum(y, [0, 2]).data)).toEqual([1, 2, 3]);
    expect(sum(y, 1, true).shape).toEqual([1, 1, 1]);
    expect(sum(y, 1, true).item()).toBe(6);
  });

  it("int32 sums stay int32", () => {
    const s = sum(fromArray([1, 2, 3, 4], { shape: [2, 2], dtype: "int32" }), 0);
    expect(s.dtype).toBe("int32");
    expect(Array.from(s.data)).toEqual([4, 6]);
  });

  it("empty tensors: sums are 0, the mean is NaN, max over a non-empty axis is empty", () => {
    const e = zeros([0, 3]);
    expect(sum(e, 0).shape).toEqual([3]);
    expect(Array.from(sum(e, 0).data)).toEqual([0, 0, 0]);
    expect(sum(e).item()).toBe(0);
    expect(sum(e, 1).shape).toEqual([0]);
    expect(mean(e).item()).toBeNaN();
    expect(max(e, 1).shape).toEqual([0]);
  });

  it("max propagates NaN", () => {
    const x = f64([1, NaN, 3, 4, 5, 6], [2, 3]);
    const m = max(x, 1);
    expect(m.data[0]).toBeNaN();
    expect(m.data[1]).toBe(6);
    expect(max(x).item()).toBeNaN();
  });
});

describe("argmax", () => {
  it("index of the first maximum along an axis, keepdims, negative axis", () => {
    const x = f64([3, 1, 3, 0, 5, 5, 2, 2, -1, -1, -1, 7], [2, 2, 3]);
    const last = argmax(x);
    expect(last.dtype).toBe("int32");
    expect(last.shape).toEqual([2, 2]);
    expect(Array.from(last.data)).toEqual([0, 1, 0, 2]);
    expect(Array.from(argmax(x, 1).data)).toEqual([0, 1, 1, 0, 0, 1]);
    expect(argmax(x, 0, true).shape).toEqual([1, 2, 3]);
    expect(Array.from(argmax(x, -3, true).data)).toEqual([0, 1, 0, 0, 0, 1]);
  });

  it("NaN counts as the maximum", () => {
    expect(Array.from(argmax(f64([1, NaN, 5, NaN], [4])).data)).toEqual([1]);
  });

  it("refuses an empty axis", () => {
    expectError(() => argmax(zeros([2, 0])), ShapeError, ["ArgMax", "[2,0]"]);
  });
});

describe("sumTo", () => {
  it("sums a broadcast result back to the operand's shape", () => {
    const x = randomTensor([2, 3, 4], 5);
    const rows = naiveReduce(dense(x), [0, 2], false, (s, v) => s + v, 0);
    expectClose(sumTo(x, [3, 1]), { shape: [3, 1], data: rows.data }, 1e-14, 1e-14);
    expectClose(sumTo(x, [1, 1, 4]), naiveReduce(dense(x), [0, 1], true, (s, v) => s + v, 0), 1e-14, 1e-14);
    expectClose(sumTo(x, []), naiveReduce(dense(x), [0, 1, 2], false, (s, v) => s + v, 0), 1e-14, 1e-14);
    expect(Array.from(sumTo(x, [2, 3, 4]).data)).toEqual(Array.from(x.data));
  });

  it("refuses a shape that does not broadcast to the input", () => {
    expectError(() => sumTo(zeros([2, 3]), [2]), ShapeError, ["sumTo", "[2]", "[2,3]"]);
  });
});

describe("reduction gradients", () => {
  it("sum: gradcheck with axes, negative axes, keepdims, scalars and size-1 axes", () => {
    const x = randomTensor([2, 3, 2], 10);
    for (const axes of [undefined, 1, -1, [0, 2]] as AxesArg[]) {
      for (const keepdims of [false, true]) expectGradOk((a) => sum(a, axes, keepdims), [x]);
    }
    expectGradOk((a) => sum(a), [randomTensor([], 11)]);
    expectGradOk((a) => sum(a, [0, 2], true), [randomTensor([1, 3, 1], 12)]);
  });

  it("mean: gradcheck with axes lists and keepdims", () => {
    const x = randomTensor([2, 3, 2], 13);
    for (const axes of [undefined, 0, [-1, 1]] as AxesArg[]) {
      for (const keepdims of [false, true]) expectGradOk((a) => mean(a, axes, keepdims), [x]);
    }
  });

  it("max: gradcheck with distinct values, axes lists and keepdims", () => {
    // A permutation of well-separated values: no ties, no kinks within the finite-difference step.
    const values = [7, 2, 11, 5, 0, 9, 3, 10, 1, 6, 8, 4].map((v) => v / 4);
    const x = f64(values, [2, 3, 2]);
    for (const axes of [undefined, 0, -1, [0, 2], [1]] as AxesArg[]) {
      for (const keepdims of [false, true]) expectGradOk((a) => max(a, axes, keepdims), [x]);
    }
  });

  it("max with ties shares the cotangent equally among the maxima", () => {
    const x = f64([1, 3, 3, 2, 2, 2, 0, 5, 4], [3, 3]);
    const g = grad((p: Tensor) => sum(mul(max(p, 1), f64([1, 3, 6], [3]))))(x);
    expectClose(g, { shape: [3, 3], data: [0, 0.5, 0.5, 1, 1, 1, 0, 6, 0] }, 1e-15, 0);
    const gAll = grad((p: Tensor) => max(p))(f64([4, 1, 4, 4], [2, 2]));
    expectClose(gAll, { shape: [2, 2], data: [1 / 3, 0, 1 / 3, 1 / 3] }, 1e-15, 0);
    const gKeep = grad((p: Tensor) => sum(max(p, 0, true)))(f64([2, 1, 2, 1], [2, 2]));
    expectClose(gKeep, { shape: [2, 2], data: [0.5, 0.5, 0.5, 0.5] }, 1e-15, 0);
  });
});

describe("reduction errors", () => {
  it("max over an empty axis", () => {
    expectError(() => max(zeros([0, 3]), 0), ShapeError, ["Max", "[0,3]", "empty"]);
    expectError(() => max(zeros([2, 0])), ShapeError, ["Max", "[2,0]"]);
  });

  it("invalid and repeated axes", () => {
    expectError(() => sum(zeros([2, 3]), 2), ShapeError, ["Sum", "axis 2", "rank 2"]);
    expectError(() => sum(zeros([2, 3]), -3), ShapeError, ["Sum", "axis -3"]);
    expectError(() => max(zeros([2, 3]), [0, 5]), ShapeError, ["Max", "axis 5"]);
    expectError(() => mean(zeros([2, 3]), 1.5), ShapeError, ["Mean", "1.5"]);
    expectError(() => argmax(zeros([2, 3]), 2), ShapeError, ["ArgMax", "axis 2"]);
    expectError(() => sum(zeros([2, 3]), [1, -1]), ShapeError, ["Sum", "repeated"]);
  });

  it("gradients are only taken with respect to floats", () => {
    expectError(() => grad((p: Tensor) => sum(p))(fromArray([1], { dtype: "int32" })), DTypeError, ["int32"]);
  });
});
