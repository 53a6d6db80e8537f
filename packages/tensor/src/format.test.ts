import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { arange, fromArray, reshape, scalar, zeros } from "./index.js";

describe("printing a tensor", () => {
  it("shows dtype, shape and the values in aligned rows, as PyTorch does", () => {
    expect(inspect(fromArray([[1, 2.5, -3], [4, 5, 6.25]]))).toBe("Tensor(float32, [2,3])\n[[ 1.0000,  2.5000, -3.0000],\n [ 4.0000,  5.0000,  6.2500]]");
    expect(inspect(fromArray([[1, 2], [3, 4]]))).toBe("Tensor(float32, [2,2])\n[[1., 2.],\n [3., 4.]]");
    expect(inspect(fromArray([3, 1, 2], { dtype: "int32" }))).toBe("Tensor(int32, [3])\n[3, 1, 2]");
    expect(inspect(scalar(0.5))).toBe("Tensor(float32, []) 0.5000");
    expect(inspect(zeros([0, 3]))).toBe("Tensor(float32, [0,3]) []");
  });

  it("switches to scientific notation for a wide range (PyTorch's rule), and writes NaN and infinities as they are", () => {
    expect(inspect(fromArray([1e-5, 1]))).toBe("Tensor(float32, [2])\n[1.0000e-5, 1.0000e+0]");
    expect(inspect(fromArray([Number.NaN, 1.5, Infinity]))).toBe("Tensor(float32, [3])\n[     NaN,   1.5000, Infinity]");
  });

  it("abridges more than 1,000 elements with ... and keeps blank lines between the blocks of rank 3", () => {
    const big = inspect(reshape(arange(0, 2000), [2, 1000]));
    expect(big).toBe("Tensor(float32, [2,1000])\n[[   0.,    1.,    2., ...,  997.,  998.,  999.],\n [1000., 1001., 1002., ..., 1997., 1998., 1999.]]");
    const cube = inspect(reshape(arange(0, 8, 1, "int32"), [2, 2, 2]));
    expect(cube).toBe("Tensor(int32, [2,2,2])\n[[[0, 1],\n  [2, 3]],\n\n [[4, 5],\n  [6, 7]]]");
    expect(String(fromArray([1, 2]))).toBe("Tensor(float32, [2])");
  });
});
