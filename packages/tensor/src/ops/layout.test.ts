import { describe, expect, it } from "vitest";
import {
  broadcastTo, concat, DTypeError, expandDims, fromArray, pad, reshape, ShapeError, slice, split, squeeze, stack, trace, type Tensor,
  transpose, zeros,
} from "../index.js";
import {
  broadcastSource, dense, expectClose, expectError, expectGradOk, f64, naiveConcat, naivePad, naiveSlice, naiveTranspose, randomTensor,
  sizeOfShape, unravel,
} from "../test-utils.js";

describe("reshape", () => {
  it("keeps the row-major order, infers one -1, and copies", () => {
    const x = randomTensor([2, 3, 4], 1);
    const y = reshape(x, [4, -1]);
    expect(y.shape).toEqual([4, 6]);
    expect(Array.from(y.data)).toEqual(Array.from(x.data));
    expect(y.data).not.toBe(x.data);
    expect(reshape(x, [24]).shape).toEqual([24]);
    expect(reshape(f64([5], [1, 1]), []).shape).toEqual([]);
    expect(reshape(zeros([0, 3]), [3, 0]).shape).toEqual([3, 0]);
  });

  it("gradcheck", () => {
    expectGradOk((a) => reshape(a, [3, -1]), [randomTensor([2, 3], 2)]);
  });

  it("errors name the op and the shapes", () => {
    expectError(() => reshape(zeros([2, 3]), [4, 2]), ShapeError, ["Reshape", "[2,3]", "[4,2]"]);
    expectError(() => reshape(zeros([2, 3]), [4, -1]), ShapeError, ["Reshape", "[2,3]", "[4,-1]"]);
    expectError(() => reshape(zeros([2, 3]), [-1, -1]), ShapeError, ["Reshape", "-1"]);
    expectError(() => reshape(zeros([2, 3]), [-2, -3]), ShapeError, ["Reshape", "[-2,-3]"]);
  });
});

describe("broadcastTo", () => {
  it("repeats size-1 and missing leading axes", () => {
    const cases: [number[], number[]][] = [[[3, 1], [2, 3, 4]], [[], [2, 2]], [[1, 4], [3, 4]], [[2, 1, 3], [2, 5, 3]], [[1], [0]]];
    cases.forEach(([from, to], k) => {
      const x = randomTensor(from, 10 + k);
      const expected = { shape: to, data: Array.from({ length: sizeOfShape(to) }, (_, i) => x.data[broadcastSource(unravel(i, to), from)]!) };
      expectClose(broadcastTo(x, to), expected, 0, 0);
    });
  });

  it("gradcheck (the adjoint sums over the broadcast axes)", () => {
    expectGradOk((a) => broadcastTo(a, [2, 3, 4]), [randomTensor([3, 1], 3)]);
    expectGradOk((a) => broadcastTo(a, [2, 2]), [randomTensor([], 4)]);
  });

  it("errors name the shapes", () => {
    expectError(() => broadcastTo(zeros([3]), [4]), ShapeError, ["BroadcastTo", "[3]", "[4]"]);
    expectError(() => broadcastTo(zeros([2, 3]), [3]), ShapeError, ["BroadcastTo", "[2,3]", "[3]"]);
  });
});

describe("transpose", () => {
  it("matches a naive permutation for every perm of ranks 1 to 4", () => {
    const permutations = (n: number): number[][] =>
      n === 0 ? [[]] : permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));
    const shapes = [[5], [3, 4], [2, 3, 4], [2, 3, 1, 4]];
    shapes.forEach((shape, k) => {
      const x = randomTensor(shape, 20 + k);
      for (const perm of permutations(shape.length)) expectClose(transpose(x, perm), naiveTranspose(dense(x), perm), 0, 0);
    });
  });

  it("large rank-2 (tiled path) and rank-5", () => {
    const x = randomTensor([37, 70], 5, { dtype: "float32" });
    expectClose(transpose(x), naiveTranspose(dense(x), [1, 0]), 0, 0);
    const y = randomTensor([2, 3, 2, 1, 3], 6);
    expectClose(transpose(y, [4, 2, 0, 3, 1]), naiveTranspose(dense(y), [4, 2, 0, 3, 1]), 0, 0);
  });

  it("reverses the axes by default, accepts negative axes, and handles scalars and empty tensors", () => {
    const x = randomTensor([2, 3, 4], 7);
    expectClose(transpose(x), naiveTranspose(dense(x), [2, 1, 0]), 0, 0);
    expectClose(transpose(x, [-1, 0, -2]), naiveTranspose(dense(x), [2, 0, 1]), 0, 0);
    expect(transpose(zeros([0, 3])).shape).toEqual([3, 0]);
    expect(transpose(f64([4.5], [])).item()).toBe(4.5);
  });

  it("gradcheck, rank 3 and rank 4", () => {
    expectGradOk((a) => transpose(a, [2, 0, 1]), [randomTensor([2, 3, 2], 8)]);
    expectGradOk((a) => transpose(a, [1, 3, 0, 2]), [randomTensor([2, 1, 3, 2], 9)]);
  });

  it("refuses a non-permutation", () => {
    expectError(() => transpose(zeros([2, 3]), [0, 0]), ShapeError, ["Transpose", "[0,0]", "[2,3]"]);
    expectError(() => transpose(zeros([2, 3]), [0]), ShapeError, ["Transpose", "[0]"]);
    expectError(() => transpose(zeros([2, 3]), [0, 2]), ShapeError, ["Transpose", "axis 2"]);
  });
});

describe("concat and stack", () => {
  it("joins along every axis, negative axes and empty parts included", () => {
    for (let axis = 0; axis < 3; axis++) {
      const shapes = [2, 1, 3].map((n) => [2, 3, 4].map((d, i) => (i === axis ? n : d)));
      const parts = shapes.map((s, k) => randomTensor(s, 30 + k));
      expectClose(concat(parts, axis), naiveConcat(parts.map(dense), axis), 0, 0);
      expectClose(concat(parts, axis - 3), naiveConcat(parts.map(dense), axis), 0, 0);
    }
    const e = concat([zeros([0, 3], "float64"), f64([1, 2, 3, 4, 5, 6], [2, 3]), zeros([0, 3], "float64")], 0);
    expect(e.shape).toEqual([2, 3]);
    expect(Array.from(e.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(concat([zeros([0, 3]), zeros([0, 3])]).shape).toEqual([0, 3]);
  });

  it("gradcheck: three parts along a middle axis", () => {
    expectGradOk((a, b, c) => concat([a, b, c], 1), [randomTensor([2, 1, 2], 1), randomTensor([2, 3, 2], 2), randomTensor([2, 2, 2], 3)]);
    expectGradOk((a, b) => concat([a, b, a], -1), [randomTensor([2, 2], 4), randomTensor([2, 1], 5)]);
  });

  it("stack adds a new axis", () => {
    const a = f64([1, 2, 3, 4], [2, 2]);
    const b = f64([5, 6, 7, 8], [2, 2]);
    const s = stack([a, b], 1);
    expect(s.shape).toEqual([2, 2, 2]);
    expect(Array.from(s.data)).toEqual([1, 2, 5, 6, 3, 4, 7, 8]);
    expect(stack([a, b], -1).shape).toEqual([2, 2, 2]);
    expect(Array.from(stack([a, b], -1).data)).toEqual([1, 5, 2, 6, 3, 7, 4, 8]);
    expectGradOk((x, y) => stack([x, y], 0), [randomTensor([3], 6), randomTensor([3], 7)]);
  });

  it("errors name the op and the shapes", () => {
    expectError(() => concat([zeros([2, 3]), zeros([2, 4])], 0), ShapeError, ["Concat", "[2,4]", "[2,3]", "axis 0"]);
    expectError(() => concat([zeros([2, 3]), zeros([2, 3, 1])], 1), ShapeError, ["Concat", "[2,3,1]"]);
    expectError(() => concat([zeros([2]), zeros([2], "float64")]), DTypeError, ["Concat", "float64", "float32"]);
    expectError(() => concat([]), ShapeError, ["Concat"]);
    expectError(() => concat([zeros([2]), zeros([2])], 1), ShapeError, ["Concat", "axis 1"]);
    expectError(() => stack([zeros([2]), zeros([3])]), ShapeError, ["stack", "[2]", "[3]"]);
  });
});

describe("slice and split", () => {
  it("NumPy semantics: negative positions, clipping, given axes", () => {
    const x = randomTensor([4, 5, 3], 40);
    const d = dense(x);
    expectClose(slice(x, [1, -4], [3, -1]), naiveSlice(d, [1, 1, 0], [3, 4, 3]), 0, 0);
    expectClose(slice(x, [-2], [100], [2]), naiveSlice(d, [0, 0, 1], [4, 5, 3]), 0, 0);
    expectClose(slice(x, [-100, 2], [2, 2], [0, 1]), naiveSlice(d, [0, 2, 0], [2, 2, 3]), 0, 0);
    expectClose(slice(x, [3], [1]), naiveSlice(d, [3, 0, 0], [3, 5, 3]), 0, 0);
    expectClose(slice(x, [0, 0, 1], [4, 5, 2], [0, 1, -1]), naiveSlice(d, [0, 0, 1], [4, 5, 2]), 0, 0);
  });

  it("gradcheck with negative indices", () => {
    expectGradOk((a) => slice(a, [-3, 1], [-1, 100]), [randomTensor([4, 3], 41)]);
    expectGradOk((a) => slice(a, [-2], [-1], [1]), [randomTensor([2, 3, 2], 42)]);
  });

  it("split into equal parts or given sizes", () => {
    const x = randomTensor([2, 6], 43);
    const parts = split(x, 3, 1);
    expect(parts.map((p) => p.shape)).toEqual([[2, 2], [2, 2], [2, 2]]);
    parts.forEach((p, k) => expectClose(p, naiveSlice(dense(x), [0, 2 * k], [2, 2 * k + 2]), 0, 0));
    const uneven = split(x, [1, 0, 5], -1);
    expect(uneven.map((p) => p.shape)).toEqual([[2, 1], [2, 0], [2, 5]]);
    expectClose(uneven[2]!, naiveSlice(dense(x), [0, 1], [2, 6]), 0, 0);
  });

  it("errors", () => {
    expectError(() => slice(zeros([2, 3]), [0, 0], [1]), ShapeError, ["Slice"]);
    expectError(() => slice(zeros([2, 3]), [0], [1], [2]), ShapeError, ["Slice", "axis 2"]);
    expectError(() => split(zeros([2, 5]), 2, 1), ShapeError, ["split", "[2,5]"]);
    expectError(() => split(zeros([2, 5]), [2, 2], 1), ShapeError, ["split", "[2,2]", "[2,5]"]);
  });
});

describe("pad", () => {
  it("surrounds with a value", () => {
    const x = randomTensor([2, 3], 50);
    expectClose(pad(x, [1, 0], [2, 1]), naivePad(dense(x), [1, 0], [2, 1], 0), 0, 0);
    expectClose(pad(x, [0, 2], [0, 0], -7.5), naivePad(dense(x), [0, 2], [0, 0], -7.5), 0, 0);
    const y = randomTensor([2, 1, 2], 51);
    expectClose(pad(y, [0, 1, 1], [1, 1, 0], 3), naivePad(dense(y), [0, 1, 1], [1, 1, 0], 3), 0, 0);
    expectClose(pad(zeros([0, 2]), [1, 0], [0, 1], 2), { shape: [1, 3], data: [2, 2, 2] }, 0, 0);
  });

  it("gradcheck", () => {
    expectGradOk((a) => pad(a, [1, 0, 2], [0, 2, 1], 5), [randomTensor([2, 2, 1], 52)]);
  });

  it("refuses bad widths", () => {
    expectError(() => pad(zeros([2, 3]), [1], [1]), ShapeError, ["Pad", "[2,3]"]);
    expectError(() => pad(zeros([2, 3]), [1, -1], [0, 0]), ShapeError, ["Pad", "-1"]);
  });
});

describe("expandDims and squeeze", () => {
  it("insert and remove size-1 axes", () => {
    const x = randomTensor([2, 3], 60);
    expect(expandDims(x, 0).shape).toEqual([1, 2, 3]);
    expect(expandDims(x, -1).shape).toEqual([2, 3, 1]);
    expect(expandDims(x, 1).shape).toEqual([2, 1, 3]);
    const y = fromArray([1, 2, 3], { shape: [1, 3, 1] });
    expect(squeeze(y).shape).toEqual([3]);
    expect(squeeze(y, [-1]).shape).toEqual([1, 3]);
    expect(Array.from(squeeze(y).data)).toEqual([1, 2, 3]);
    expectError(() => squeeze(y, [1]), ShapeError, ["squeeze", "[1,3,1]", "size 3"]);
  });

  it("split is one Split node whose gradient is one Concat, parts unused or not", () => {
    expectGradOk((x) => { const [a, , c] = split(x, [1, 2, 1], 1); return concat([a!, c!], 1); }, [randomTensor([2, 4, 3], 64)]);
    const { graph } = trace((x: Tensor) => split(x, 3, 0), [randomTensor([6, 2], 65)]);
    expect(graph.nodes.map((n) => n.primitive.name)).toEqual(["Split"]);
    expect(graph.outputs.map((o) => o.shape)).toEqual([[2, 2], [2, 2], [2, 2]]);
  });

  it("are differentiable, and record axes rather than sizes (Unsqueeze/Squeeze)", () => {
    expectGradOk((x) => expandDims(x, 1), [randomTensor([2, 3], 61)]);
    expectGradOk((x) => squeeze(x, [0, 2]), [randomTensor([1, 3, 1], 62)]);
    const { graph } = trace((x: Tensor) => squeeze(expandDims(x, 0), [0]), [randomTensor([2, 3], 63)]);
    expect(graph.nodes.map((n) => [n.primitive.name, n.attrs])).toEqual([["Unsqueeze", { axis: 0 }], ["Squeeze", { axes: [0] }]]);
  });
});
