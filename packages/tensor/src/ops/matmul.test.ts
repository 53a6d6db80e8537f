import { describe, expect, it } from "vitest";
import { DTypeError, grad, matmul, mul, ShapeError, sum, type Tensor, zeros } from "../index.js";
import { dense, expectClose, expectError, expectGradOk, f64, i32, naiveMatmul, randomTensor } from "../test-utils.js";

const flags = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
] as const;

/** Stored shape of an operand whose op() is `rows x cols`. */
function stored(batch: number[], rows: number, cols: number, trans: boolean): number[] {
  return [...batch, ...(trans ? [cols, rows] : [rows, cols])];
}

describe("matmul forward", () => {
  for (const [transA, transB] of flags) {
    it(`matches the triple loop with batch broadcasting (transA=${transA}, transB=${transB})`, () => {
      const batches: [number[], number[]][] = [[[], []], [[3], []], [[], [2]], [[2, 1], [3]], [[1, 2], [4, 1]], [[2, 3], [2, 3]]];
      batches.forEach(([ba, bb], k) => {
        const [M, K, N] = [2 + k, 3, 5 - (k % 3)];
        for (const dtype of ["float32", "float64"] as const) {
          const a = randomTensor(stored(ba, M, K, transA), 10 + k, { dtype });
          const b = randomTensor(stored(bb, K, N, transB), 20 + k, { dtype });
          const c = matmul(a, b, { transA, transB });
          expect(c.dtype).toBe(dtype);
          const tol = dtype === "float32" ? 1e-6 : 1e-14;
          expectClose(c, naiveMatmul(dense(a), dense(b), transA, transB), tol, tol);
        }
      });
    });
  }

  it("a small product by hand", () => {
    const a = f64([1, 2, 3, 4, 5, 6], [2, 3]);
    const b = f64([7, 8, 9, 10, 11, 12], [3, 2]);
    expect(Array.from(matmul(a, b).data)).toEqual([58, 64, 139, 154]);
    expect(Array.from(matmul(a, a, { transB: true }).data)).toEqual([14, 32, 32, 77]);
    expect(Array.from(matmul(a, a, { transA: true }).data)).toEqual([17, 22, 27, 22, 29, 36, 27, 36, 45]);
  });

  it("empty operands: K = 0 gives zeros, M = 0 or an empty batch gives an empty result", () => {
    const z = matmul(zeros([3, 0]), zeros([0, 4]));
    expect(z.shape).toEqual([3, 4]);
    expect(Array.from(z.data)).toEqual(new Array(12).fill(0));
    const zt = matmul(zeros([0, 3]), zeros([4, 0]), { transA: true, transB: true });
    expect(zt.shape).toEqual([3, 4]);
    expect(Array.from(zt.data)).toEqual(new Array(12).fill(0));
    expect(matmul(zeros([0, 3]), zeros([3, 2])).shape).toEqual([0, 2]);
    expect(matmul(zeros([0, 2, 3]), zeros([3, 2])).shape).toEqual([0, 2, 2]);
  });
});

describe("matmul gradients", () => {
  for (const [transA, transB] of flags) {
    it(`gradcheck, plain and with broadcast batch dims (transA=${transA}, transB=${transB})`, () => {
      const f = (a: Tensor, b: Tensor): Tensor => matmul(a, b, { transA, transB });
      expectGradOk(f, [randomTensor(stored([], 3, 4, transA), 1), randomTensor(stored([], 4, 2, transB), 2)]);
      expectGradOk(f, [randomTensor(stored([2, 1], 2, 3, transA), 3), randomTensor(stored([3], 3, 2, transB), 4)]);
      expectGradOk(f, [randomTensor(stored([2], 1, 3, transA), 5), randomTensor(stored([], 3, 1, transB), 6)]);
    });
  }

  it("gradcheck with the same tensor on both sides (x xᵀ)", () => {
    expectGradOk((x) => matmul(x, x, { transB: true }), [randomTensor([3, 2], 7)]);
    expectGradOk((x) => matmul(x, x), [randomTensor([2, 3, 3], 8)]);
  });

  it("K = 0: the gradients are empty and the other side gets zeros", () => {
    const [ga, gb] = grad((p: Tensor[]) => sum(matmul(p[0]!, p[1]!)))([zeros([2, 0], "float64"), zeros([0, 3], "float64")]);
    expect(ga!.shape).toEqual([2, 0]);
    expect(gb!.shape).toEqual([0, 3]);
    const g = grad((p: Tensor) => sum(mul(matmul(p, zeros([2, 3], "float64")), 1)))(f64([1, 2, 3, 4], [2, 2]));
    expect(Array.from(g.data)).toEqual([0, 0, 0, 0]);
  });
});

describe("matmul errors", () => {
  it("inner sizes differ: names the op and both shapes", () => {
    expectError(() => matmul(zeros([2, 3]), zeros([4, 5])), ShapeError, ["MatMul", "[2,3]", "[4,5]", "3", "4"]);
    expectError(() => matmul(zeros([2, 3]), zeros([2, 3]), { transB: false }), ShapeError, ["MatMul", "[2,3]"]);
  });

  it("rank-1 operands are refused with a hint", () => {
    expectError(() => matmul(zeros([3]), zeros([3, 2])), ShapeError, ["MatMul", "[3]", "[3,2]", "rank"]);
    expectError(() => matmul(zeros([2, 3]), zeros([3])), ShapeError, ["MatMul", "[2,3]", "[3]"]);
  });

  it("batch dims that do not broadcast", () => {
    expectError(() => matmul(zeros([2, 2, 3]), zeros([3, 3, 4])), ShapeError, ["MatMul", "[2]", "[3]"]);
  });

  it("dtypes: int32 and mixed precisions are refused", () => {
    expectError(() => matmul(i32([1, 2, 3, 4], [2, 2]), i32([1, 2, 3, 4], [2, 2])), DTypeError, ["MatMul", "int32"]);
    expectError(() => matmul(zeros([2, 2]), zeros([2, 2], "float64")), DTypeError, ["MatMul", "float32", "float64"]);
  });
});
