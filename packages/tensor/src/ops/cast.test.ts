import { describe, expect, it } from "vitest";
import {
  cast, detach, fromArray, grad, mul, sum, type Tensor, trace, ValueRangeError, valueAndGrad,
} from "../index.js";
import { expectError, expectGradOk, f64, i32, randomTensor } from "../test-utils.js";

describe("cast", () => {
  it("float to int32 truncates toward zero", () => {
    const x = f64([-2.7, -1.5, -0.2, 0, 0.9, 1.5, 2147483647, -2147483647], [8]);
    const y = cast(x, "int32");
    expect(y.dtype).toBe("int32");
    expect(Array.from(y.data)).toEqual([-2, -1, 0, 0, 0, 1, 2147483647, -2147483647]);
  });

  it("int32 to float is exact; float64 to float32 rounds to nearest", () => {
    expect(Array.from(cast(i32([-5, 0, 16777216]), "float32").data)).toEqual([-5, 0, 16777216]);
    const x = f64([0.1, 1 / 3, 1e40, 16777217], [4]);
    const y = cast(x, "float32");
    expect(y.dtype).toBe("float32");
    expect(Array.from(y.data)).toEqual([Math.fround(0.1), Math.fround(1 / 3), Infinity, 16777216]);
    expect(Array.from(cast(y, "float64").data)).toEqual([Math.fround(0.1), Math.fround(1 / 3), Infinity, 16777216]);
  });

  it("keeps the shape, empty tensors included; the same dtype keeps the values", () => {
    const x = randomTensor([2, 0, 3], 1, { dtype: "float32" });
    expect(cast(x, "float64").shape).toEqual([2, 0, 3]);
    const y = randomTensor([2, 3], 1, { dtype: "float32" });
    expect(Array.from(cast(y, "float32").data)).toEqual(Array.from(y.data));
  });

  it("refuses values that do not fit int32", () => {
    expectError(() => cast(f64([1, NaN], [2]), "int32"), ValueRangeError, ["Cast", "NaN", "index 1"]);
    expectError(() => cast(f64([Infinity], [1]), "int32"), ValueRangeError, ["Cast", "Infinity"]);
    expectError(() => cast(f64([3e9], [1]), "int32"), ValueRangeError, ["Cast", "3000000000"]);
  });

  it("fromArray into int32 refuses what cast refuses: NaN, fractions, out-of-range values", () => {
    expectError(() => fromArray([1, NaN], { dtype: "int32" }), ValueRangeError, ["fromArray", "NaN", "index 1"]);
    expectError(() => fromArray([[0, 1.5]], { dtype: "int32" }), ValueRangeError, ["fromArray", "1.5"]);
    expectError(() => fromArray([2147483648], { dtype: "int32" }), ValueRangeError, ["fromArray", "2147483648"]);
    expect(Array.from(fromArray([-2147483648, 7], { dtype: "int32" }).data)).toEqual([-2147483648, 7]);
  });

  it("gradient: converted back to the input's dtype", () => {
    const x = fromArray([1, 2, 3], { dtype: "float32" });
    const w = f64([0.1, -2, 3.5], [3]);
    const g = grad((p: Tensor) => sum(mul(cast(p, "float64"), w)))(x);
    expect(g.dtype).toBe("float32");
    expect(Array.from(g.data)).toEqual([Math.fround(0.1), -2, 3.5]);
    // In gradcheck's float32 pass the cast below is a real float32 -> float64 conversion.
    expectGradOk((a) => mul(cast(a, "float64"), cast(a, "float64")), [randomTensor([2, 3], 2)]);
  });

  it("no gradient flows through int32", () => {
    const x = f64([1.5, 2.5], [2]);
    const g = grad((p: Tensor) => sum(mul(cast(cast(p, "int32"), "float64"), p)))(x);
    expect(Array.from(g.data)).toEqual([1, 2]);
  });
});

describe("detach", () => {
  it("copies the values, never aliasing them", () => {
    const x = f64([1, 2], [2]);
    const y = detach(x);
    expect(Array.from(y.data)).toEqual([1, 2]);
    expect(y.data).not.toBe(x.data);
    (x.data as Float64Array)[0] = 5;
    expect(y.data[0]).toBe(1);
  });

  it("stops the gradient but is still traced", () => {
    const x = f64([1, 2, 3], [3]);
    const { grads } = valueAndGrad((p: Tensor) => sum(mul(detach(p), p)))(x);
    expect(Array.from(grads.data)).toEqual([1, 2, 3]);
    const { graph } = trace((a: Tensor) => detach(a), [x]);
    expect(graph.nodes.map((n) => n.primitive.name)).toEqual(["StopGradient"]);
  });
});
