import { ShapeError } from "@unroll/tensor";
import { describe, expect, it } from "vitest";
import { matrix, matrixFromRows } from "./index.js";

describe("matrix constructors", () => {
  it("lay rows out row-major", () => {
    expect([...matrixFromRows([[1, 2, 3], [4, 5, 6]]).data]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(matrix(2, 1, new Float64Array([7, 8]))).toMatchObject({ rows: 2, cols: 1 });
  });

  it("reject ragged rows and data that does not fill the shape", () => {
    expect(() => matrixFromRows([[1, 2], [3]])).toThrow(/matrixFromRows: row 1 has 1 values, row 0 has 2/);
    expect(() => matrix(2, 2, new Float64Array(3))).toThrow(ShapeError);
    expect(() => matrix(-1, 2)).toThrow(ShapeError);
  });
});
