import { describe, expect, it } from "vitest";
import {
  arange,
  clone,
  DTypeError,
  fromArray,
  full,
  ones,
  onesLike,
  scalar,
  ShapeError,
  Tensor,
  ValueRangeError,
  zeros,
  zerosLike,
} from "./index.js";

describe("fromArray", () => {
  it("infers the shape of nested arrays", () => {
    const t = fromArray([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe("float32");
    expect(t.rank).toBe(2);
    expect(t.size).toBe(6);
    expect([...t.data]).toEqual([1, 2, 3, 4, 5, 6]);
    const deep = fromArray([[[1], [2]], [[3], [4]], [[5], [6]]]);
    expect(deep.shape).toEqual([3, 2, 1]);
    expect([...deep.data]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("takes flat values with a shape", () => {
    const t = fromArray([1, 2, 3, 4, 5, 6], { shape: [3, 2] });
    expect(t.shape).toEqual([3, 2]);
    expect(t.toArray()).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    // Nested values may be given a new shape of the same size too.
    expect(fromArray([[1, 2], [3, 4]], { shape: [4] }).toArray()).toEqual([1, 2, 3, 4]);
    expect(() => fromArray([1, 2, 3], { shape: [2, 2] })).toThrow(ShapeError);
    expect(() => fromArray([[1, 2], [3, 4]], { shape: [3] })).toThrow(ShapeError);
    expect(() => fromArray([1, 2], { shape: [-1, -2] })).toThrow(ShapeError);
  });

  it("takes typed arrays, keeping their dtype unless told otherwise", () => {
    const f64 = fromArray(new Float64Array([0.1, 0.2]));
    expect(f64.dtype).toBe("float64");
    expect([...f64.data]).toEqual([0.1, 0.2]);
    const i32 = fromArray(new Int32Array([1, -2, 3, 4]), { shape: [2, 2] });
    expect(i32.dtype).toBe("int32");
    expect(i32.shape).toEqual([2, 2]);
    expect(fromArray(new Float32Array([1.5])).dtype).toBe("float32");
    const converted = fromArray(new Float64Array([0.1, 2]), { dtype: "float32" });
    expect(converted.dtype).toBe("float32");
    expect(converted.data[0]).toBe(Math.fround(0.1));
    expect(fromArray([1, 2], { dtype: "float64" }).data).toBeInstanceOf(Float64Array);
  });

  it("copies its input and never aliases the caller's array", () => {
    const typed = new Float32Array([1, 2, 3]);
    const a = fromArray(typed);
    expect(a.data).not.toBe(typed);
    typed[0] = 100;
    expect(a.data[0]).toBe(1);
    a.data[1] = -5;
    expect(typed[1]).toBe(2);

    const i32 = new Int32Array([7, 8]);
    const b = fromArray(i32);
    expect(b.data).not.toBe(i32);
    expect(b.data.buffer).not.toBe(i32.buffer);
    i32[0] = 0;
    expect(b.data[0]).toBe(7);

    const plain = [[1, 2], [3, 4]];
    const c = fromArray(plain);
    plain[0]![0] = 9;
    expect(c.data[0]).toBe(1);
    const flat = [1, 2, 3, 4];
    const d = fromArray(flat, { shape: [2, 2] });
    flat[3] = 0;
    expect(d.data[3]).toBe(4);
  });

  it("rejects ragged nested arrays", () => {
    const ragged: unknown[] = [
      [[1, 2], [3]],
      [[1, 2], 3],
      [1, [2, 3]],
      [[[1]], [2]],
      [[], [1]],
      [[1], []],
      [[[1, 2], [3, 4]], [[5, 6], [7]]],
    ];
    for (const values of ragged) {
      expect(() => fromArray(values as number[][]), JSON.stringify(values)).toThrow(ShapeError);
    }
  });

  it("accepts empty arrays with their shape", () => {
    expect(fromArray([]).shape).toEqual([0]);
    const e = fromArray([[], [], []]);
    expect(e.shape).toEqual([3, 0]);
    expect(e.size).toBe(0);
    expect(e.toArray()).toEqual([[], [], []]);
  });

  it("checks int32 values: integers within range only", () => {
    expect([...fromArray([1, -2, 2147483647, -2147483648], { dtype: "int32" }).data]).toEqual([1, -2, 2147483647, -2147483648]);
    for (const bad of [1.5, NaN, Infinity, -Infinity, 2147483648, -2147483649]) {
      expect(() => fromArray([0, bad], { dtype: "int32" }), String(bad)).toThrow(ValueRangeError);
    }
    expect(() => fromArray(new Float32Array([0.5]), { dtype: "int32" })).toThrow(ValueRangeError);
    expect(() => fromArray(NaN, { dtype: "int32" })).toThrow(ValueRangeError);
    expect(() => full([2], 0.5, "int32")).toThrow(ValueRangeError);
    expect(() => full([2], NaN, "int32")).toThrow(ValueRangeError);
  });
});

describe("scalars", () => {
  it("have shape [] and one element", () => {
    const s = scalar(2.5);
    expect(s.shape).toEqual([]);
    expect(s.rank).toBe(0);
    expect(s.size).toBe(1);
    expect(s.item()).toBe(2.5);
    expect(s.toArray()).toBe(2.5);
    expect(fromArray(3).shape).toEqual([]);
    expect(scalar(4, "int32").dtype).toBe("int32");
    expect(scalar(0.1, "float64").item()).toBe(0.1);
    expect(scalar(0.1).item()).toBe(Math.fround(0.1));
  });

  it("item() works for any one-element tensor and throws a ShapeError otherwise", () => {
    expect(fromArray([[7]]).item()).toBe(7);
    expect(() => fromArray([1, 2]).item()).toThrow(ShapeError);
    expect(() => zeros([0]).item()).toThrow(ShapeError);
    expect(() => zeros([2, 3]).item()).toThrow(/item: .*\[2,3\].*6 elements/);
  });
});

describe("toArray", () => {
  it("round-trips nested arrays of every rank", () => {
    const cases = [
      5,
      [1, 2, 3],
      [
        [1, 2],
        [3, 4],
        [5, 6],
      ],
      [
        [[1, 2, 3], [4, 5, 6]],
        [[7, 8, 9], [10, 11, 12]],
      ],
      [],
      [[], []],
    ];
    for (const values of cases) {
      expect(fromArray(values).toArray()).toEqual(values);
      expect(fromArray(values, { dtype: "int32" }).toArray()).toEqual(values);
    }
    const x = [[0.1, -0.2], [1e-30, 3e30]];
    expect(fromArray(x, { dtype: "float64" }).toArray()).toEqual(x);
  });
});

describe("constructors", () => {
  it("zeros, ones and full fill a fresh buffer of the given shape and dtype", () => {
    const z = zeros([2, 3]);
    expect(z.shape).toEqual([2, 3]);
    expect(z.dtype).toBe("float32");
    expect([...z.data]).toEqual([0, 0, 0, 0, 0, 0]);
    const o = ones([4], "int32");
    expect(o.dtype).toBe("int32");
    expect([...o.data]).toEqual([1, 1, 1, 1]);
    const f = full([2, 2], -0.5, "float64");
    expect(f.dtype).toBe("float64");
    expect(f.toArray()).toEqual([
      [-0.5, -0.5],
      [-0.5, -0.5],
    ]);
    expect(full([], 3).toArray()).toBe(3);
    expect(zeros([0, 5]).size).toBe(0);
    expect(ones([2]).data).not.toBe(ones([2]).data);
    expect(() => zeros([2, -1])).toThrow(ShapeError);
    expect(() => ones([1.5])).toThrow(ShapeError);
  });

  it("zerosLike, onesLike and clone keep shape and dtype, in new buffers", () => {
    const x = fromArray([[1, 2, 3]], { dtype: "float64" });
    const z = zerosLike(x);
    expect([z.shape, z.dtype, [...z.data]]).toEqual([[1, 3], "float64", [0, 0, 0]]);
    const o = onesLike(fromArray([5, 6], { dtype: "int32" }));
    expect([o.shape, o.dtype, [...o.data]]).toEqual([[2], "int32", [1, 1]]);
    const c = clone(x);
    expect(c.toArray()).toEqual(x.toArray());
    expect(c.dtype).toBe("float64");
    expect(c.data).not.toBe(x.data);
    c.data[0] = 42;
    expect(x.data[0]).toBe(1);
  });

  it("arange counts like NumPy's, including negative steps and empty ranges", () => {
    expect([...arange(5).data]).toEqual([0, 1, 2, 3, 4]);
    expect([...arange(2, 5).data]).toEqual([2, 3, 4]);
    expect([...arange(0, 10, 3).data]).toEqual([0, 3, 6, 9]);
    expect([...arange(5, 0, -1).data]).toEqual([5, 4, 3, 2, 1]);
    expect([...arange(1, -6, -2.5).data]).toEqual([1, -1.5, -4]);
    expect([...arange(0, 1, 0.25, "float64").data]).toEqual([0, 0.25, 0.5, 0.75]);
    for (const empty of [arange(0), arange(3, 3), arange(5, 2), arange(0, 5, -1), arange(-2)]) {
      expect(empty.shape).toEqual([0]);
      expect(empty.size).toBe(0);
    }
    const idx = arange(3, undefined, 1, "int32");
    expect(idx.dtype).toBe("int32");
    expect([...idx.data]).toEqual([0, 1, 2]);
    expect(() => arange(0, 5, 0)).toThrow(ValueRangeError);
    expect(() => arange(0, 5, NaN)).toThrow(ValueRangeError);
    expect(() => arange(0, 2, 0.5, "int32")).toThrow(ValueRangeError);
  });
});

describe("Tensor", () => {
  it("wraps data without copying and freezes its shape", () => {
    const data = new Float32Array([1, 2, 3, 4]);
    const t = new Tensor(data, [2, 2]);
    expect(t.data).toBe(data);
    expect(Object.isFrozen(t.shape)).toBe(true);
    const shape = [4];
    const u = new Tensor(new Float64Array(4), shape);
    shape[0] = 5;
    expect(u.shape).toEqual([4]);
    expect(u.toString()).toBe("Tensor(float64, [4])");
  });

  it("rejects data that does not fill the shape", () => {
    expect(() => new Tensor(new Float32Array(3), [2, 2])).toThrow(ShapeError);
    expect(() => new Tensor(new Float32Array(1), [])).not.toThrow();
    expect(() => new Tensor(new Int32Array(2), [2, 1, -1])).toThrow(ShapeError);
  });

  it("exports its error classes with the op name in the message", () => {
    const err = (() => {
      try {
        fromArray([[1], [2, 3]]);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ShapeError);
    expect((err as ShapeError).op).toBe("fromArray");
    expect((err as Error).message).toMatch(/^fromArray: ragged/);
    expect(new DTypeError("x", "y").name).toBe("DTypeError");
  });
});
