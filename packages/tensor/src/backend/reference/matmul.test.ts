import { describe, expect, it } from "vitest";
import { fromArray, referenceKernels, type Tensor, zeros } from "../../index.js";
import { dense, expectClose, naiveMatmul, randomValues, seededRandom, sizeOfShape } from "../../test-utils.js";

function operand(shape: number[], seed: number, dtype: "float32" | "float64"): Tensor {
  return fromArray(randomValues(sizeOfShape(shape), seed), { shape, dtype });
}

/** Runs the kernel directly into a zero-filled output and checks it against the triple loop. */
function check(aShape: number[], bShape: number[], outShape: number[], transA: boolean, transB: boolean, dtype: "float32" | "float64", seed: number): void {
  const a = operand(aShape, seed, dtype);
  const b = operand(bShape, seed + 1, dtype);
  const out = zeros(outShape, dtype);
  referenceKernels.matmul(a, b, out, transA, transB);
  const expected = naiveMatmul(dense(a), dense(b), transA, transB);
  const K = transA ? aShape[aShape.length - 2]! : aShape[aShape.length - 1]!;
  // The kernel accumulates in double precision, then rounds once to the output dtype.
  const tol = dtype === "float32" ? 1e-7 * (1 + K) : 1e-14 * (1 + K);
  expectClose(out, expected, tol, tol);
}

function dims(trans: boolean, rows: number, cols: number): number[] {
  return trans ? [cols, rows] : [rows, cols];
}

describe("reference matmul kernel", () => {
  it("random sizes 1..70, all transpose combinations, float32 and float64", () => {
    const next = seededRandom(2024);
    const size = (): number => 1 + Math.floor(next() * 70);
    for (let trial = 0; trial < 24; trial++) {
      const [M, K, N] = [size(), size(), size()];
      const transA = (trial & 1) === 1;
      const transB = (trial & 2) === 2;
      const dtype = trial % 8 < 4 ? "float32" : "float64";
      check(dims(transA, M, K), dims(transB, K, N), [M, N], transA, transB, dtype, 100 + trial);
    }
  });

  it("sizes at the edges of the 4x4 register blocks and of the 64-column tile", () => {
    const edge = [1, 3, 4, 5, 63, 64, 65];
    let seed = 300;
    for (const M of edge) {
      for (const N of edge) {
        const K = 1 + (seed % 9);
        for (const [transA, transB] of [[false, false], [true, true]] as const) {
          check(dims(transA, M, K), dims(transB, K, N), [M, N], transA, transB, "float64", seed++);
        }
      }
    }
  });

  it("broadcast batch dims, all transpose combinations", () => {
    const batches: [number[], number[], number[]][] = [
      [[3], [], [3]],
      [[], [2], [2]],
      [[2, 1], [3], [2, 3]],
      [[1, 3], [2, 1], [2, 3]],
      [[2, 1, 2], [1, 3, 1], [2, 3, 2]],
      [[1], [1], [1]],
    ];
    const next = seededRandom(7);
    let seed = 500;
    for (const [ba, bb, bo] of batches) {
      for (let f = 0; f < 4; f++) {
        const transA = (f & 1) === 1;
        const transB = (f & 2) === 2;
        const [M, K, N] = [1 + Math.floor(next() * 9), 1 + Math.floor(next() * 9), 1 + Math.floor(next() * 9)];
        const dtype = f % 2 === 0 ? "float64" : "float32";
        check([...ba, ...dims(transA, M, K)], [...bb, ...dims(transB, K, N)], [...bo, M, N], transA, transB, dtype, seed++);
      }
    }
  });

  it("K = 0 writes zeros; empty batches and M = 0 write nothing", () => {
    for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]] as const) {
      const out = fromArray(new Array(6).fill(7), { shape: [2, 3], dtype: "float64" });
      referenceKernels.matmul(zeros(dims(transA, 2, 0), "float64"), zeros(dims(transB, 0, 3), "float64"), out, transA, transB);
      expect(Array.from(out.data)).toEqual(new Array(6).fill(0));
    }
    const empty = zeros([0, 2, 3]);
    referenceKernels.matmul(zeros([0, 2, 4]), zeros([4, 3]), empty, false, false);
    expect(empty.size).toBe(0);
  });
});
