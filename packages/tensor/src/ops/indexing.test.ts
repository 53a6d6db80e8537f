import { describe, expect, it } from "vitest";
import {
  DTypeError, gather, grad, mul, oneHot, scatterAdd, ShapeError, sum, type Tensor, ValueRangeError, zeros,
} from "../index.js";
import { dense, type Dense, expectClose, expectError, expectGradOk, f64, i32, randomTensor, ravel, sizeOfShape, unravel } from "../test-utils.js";

/** out[a..., j..., b...] = x[a..., idx[j...], b...] by index arithmetic. */
function naiveGather(x: Dense, indices: Dense, axis: number): Dense {
  const shape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
  const data: number[] = [];
  for (let i = 0; i < sizeOfShape(shape); i++) {
    const o = unravel(i, shape);
    const j = o.slice(axis, axis + indices.shape.length);
    const src = [...o.slice(0, axis), indices.data[ravel(j, indices.shape)]!, ...o.slice(axis + indices.shape.length)];
    data.push(x.data[ravel(src, x.shape)]!);
  }
  return { shape, data };
}

function naiveScatterAdd(indices: Dense, updates: Dense, axis: number, shape: number[]): Dense {
  const data = new Array<number>(sizeOfShape(shape)).fill(0);
  const k = indices.shape.length;
  for (let i = 0; i < updates.data.length; i++) {
    const u = unravel(i, updates.shape);
    const j = u.slice(axis, axis + k);
    const dst = [...u.slice(0, axis), indices.data[ravel(j, indices.shape)]!, ...u.slice(axis + k)];
    data[ravel(dst, shape)]! += updates.data[i]!;
  }
  return { shape, data };
}

describe("gather", () => {
  it("embedding lookup: [V,E] by [B,T] gives [B,T,E]", () => {
    const table = randomTensor([5, 3], 1);
    const tokens = i32([0, 4, 4, 2, 1, 0], [2, 3]);
    const e = gather(table, tokens);
    expect(e.shape).toEqual([2, 3, 3]);
    expectClose(e, naiveGather(dense(table), dense(tokens), 0), 0, 0);
  });

  it("along every axis, negative axes, repeated, scalar and empty indices", () => {
    const x = randomTensor([3, 4, 2], 2);
    const cases: [Tensor, number][] = [
      [i32([2, 0, 2, 2]), 0],
      [i32([3, 3, 1], [3, 1]), 1],
      [i32([1, 0, 1, 1, 0, 0], [2, 3]), -1],
      [i32([2], []), 1],
      [i32([], [0]), 0],
    ];
    for (const [indices, axis] of cases) {
      const a = axis < 0 ? axis + 3 : axis;
      expectClose(gather(x, indices, axis), naiveGather(dense(x), dense(indices), a), 0, 0);
    }
  });

  it("gradcheck with repeated indices (rows read several times sum their cotangents)", () => {
    expectGradOk((t) => gather(t, i32([1, 1, 3, 1, 0], [5]), 0), [randomTensor([4, 2], 3)]);
    expectGradOk((t) => gather(t, i32([2, 0, 2, 2], [2, 2]), 1), [randomTensor([2, 3, 2], 4)]);
    const g = grad((t: Tensor) => sum(gather(t, i32([1, 1, 1, 0]))))(f64([0, 0, 0, 0, 0, 0], [3, 2]));
    expect(Array.from(g.data)).toEqual([1, 1, 3, 3, 0, 0]);
  });

  it("an out-of-range index names the index, the axis and its size", () => {
    expectError(() => gather(zeros([4, 2]), i32([0, 5, 1])), ValueRangeError, ["Gather", "index 5", "axis 0", "size 4", "[4,2]"]);
    expectError(() => gather(zeros([4, 2]), i32([-1]), 1), ValueRangeError, ["Gather", "index -1", "axis 1", "size 2"]);
    expectError(() => gather(zeros([4, 2]), zeros([2])), DTypeError, ["Gather", "indices", "float32", "int32"]);
    expectError(() => gather(zeros([4, 2]), i32([0]), 2), ShapeError, ["Gather", "axis 2"]);
  });
});

describe("scatterAdd", () => {
  it("adds updates at repeated indices", () => {
    const cases: [Tensor, number, number[]][] = [
      [i32([1, 1, 3, 0, 1]), 0, [4, 2]],
      [i32([2, 0, 2, 2], [2, 2]), 1, [2, 3, 2]],
      [i32([0, 0]), -1, [3, 2]],
    ];
    cases.forEach(([indices, axis, shape], k) => {
      const a = axis < 0 ? axis + shape.length : axis;
      const updShape = [...shape.slice(0, a), ...indices.shape, ...shape.slice(a + 1)];
      const updates = randomTensor(updShape, 10 + k);
      expectClose(scatterAdd(indices, updates, axis, shape), naiveScatterAdd(dense(indices), dense(updates), a, shape), 1e-15, 0);
    });
  });

  it("gradcheck (the gradient of updates is a gather)", () => {
    expectGradOk((u) => scatterAdd(i32([1, 1, 3, 0, 1]), u, 0, [4, 2]), [randomTensor([5, 2], 20)]);
    expectGradOk((u) => scatterAdd(i32([2, 0, 2], [3]), u, 1, [2, 3]), [randomTensor([2, 3], 21)]);
  });

  it("updates of the wrong shape are refused with every shape named", () => {
    expectError(() => scatterAdd(i32([0, 1]), zeros([3, 2]), 0, [4, 2]), ShapeError, ["ScatterAdd", "[3,2]", "[2]", "[4,2]", "[2,2]"]);
    expectError(() => scatterAdd(i32([0, 4]), zeros([2, 2]), 0, [4, 2]), ValueRangeError, ["ScatterAdd", "index 4", "size 4"]);
  });
});

describe("oneHot", () => {
  it("one row per index; out-of-range indices give zero rows", () => {
    const h = oneHot(i32([2, 0, -1, 3, 1], [5]), 3);
    expect(h.shape).toEqual([5, 3]);
    expect(h.dtype).toBe("float32");
    expect(Array.from(h.data)).toEqual([0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    const h2 = oneHot(i32([1, 0], [2, 1]), 2, "float64");
    expect(h2.shape).toEqual([2, 1, 2]);
    expect(h2.dtype).toBe("float64");
    expect(Array.from(h2.data)).toEqual([0, 1, 1, 0]);
    expect(oneHot(i32([0, 1]), 0).shape).toEqual([2, 0]);
  });

  it("is not differentiable and refuses bad input", () => {
    expectError(() => oneHot(zeros([2]), 3), DTypeError, ["OneHot", "float32"]);
    expectError(() => oneHot(i32([0]), -1), ValueRangeError, ["OneHot", "-1"]);
    expectError(() => oneHot(i32([0]), 2.5), ValueRangeError, ["OneHot", "2.5"]);
    // A one-hot of constant indices times a parameter: only the parameter gets a gradient.
    const g = grad((w: Tensor) => sum(mul(oneHot(i32([1, 0]), 2, "float64"), w)))(f64([3, 4], [2]));
    expect(Array.from(g.data)).toEqual([1, 1]);
  });
});
