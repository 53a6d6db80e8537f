import { describe, expect, it } from "vitest";
import { fromArray, referenceKernels, type Tensor, zeros } from "../../index.js";
import { dense, expectClose, naiveReduce, randomValues, sizeOfShape } from "../../test-utils.js";

/** Every subset of `{0, ..., rank-1}`, as sorted lists. */
function subsets(rank: number): number[][] {
  const out: number[][] = [];
  for (let m = 0; m < 1 << rank; m++) out.push(Array.from({ length: rank }, (_, i) => i).filter((i) => (m >> i) & 1));
  return out;
}

function input(shape: number[], seed: number, dtype: "float32" | "float64"): Tensor {
  // Coarse values make ties (for max) and keep float32 sums exact enough to compare tightly.
  return fromArray(randomValues(sizeOfShape(shape), seed, -4, 4).map((v) => Math.round(v * 8) / 8), { shape, dtype });
}

describe("reference reduce kernel", () => {
  const shapes = [
    [2, 3, 4, 5],
    [3, 1, 4, 2],
    [1, 5, 1, 3],
    [4, 2, 1, 1],
    [1, 1, 1, 1],
  ];
  for (const shape of shapes) {
    it(`sum and max over every axis subset of [${shape.join(",")}]`, () => {
      let seed = 1;
      for (const axes of subsets(4)) {
        for (const dtype of ["float32", "float64"] as const) {
          const x = input(shape, seed++, dtype);
          const outShape = shape.filter((_, i) => !axes.includes(i));
          for (const op of ["sum", "max"] as const) {
            const out = zeros(outShape, dtype);
            referenceKernels.reduce(op, x, axes, out);
            const expected =
              op === "sum"
                ? naiveReduce(dense(x), axes, false, (s, v) => s + v, 0)
                : naiveReduce(dense(x), axes, false, (m, v) => (v > m ? v : m), -Infinity);
            expectClose(out, expected, 1e-12, 0);
            // Kept axes as size 1 share the layout.
            const kept = zeros(shape.map((d, i) => (axes.includes(i) ? 1 : d)), dtype);
            referenceKernels.reduce(op, x, axes, kept);
            expect(Array.from(kept.data)).toEqual(Array.from(out.data));
          }
        }
      }
    });
  }

  it("max: NaN wins in every code path", () => {
    for (const axes of subsets(3)) {
      const values = randomValues(24, 9);
      values[13] = NaN; // index [1, 0, 1] of [2, 3, 4]
      const x = fromArray(values, { shape: [2, 3, 4], dtype: "float64" });
      const out = zeros([2, 3, 4].filter((_, i) => !axes.includes(i)), "float64");
      referenceKernels.reduce("max", x, axes, out);
      const expected = naiveReduce(dense(x), axes, false, (m, v) => (Number.isNaN(m) || Number.isNaN(v) ? NaN : v > m ? v : m), -Infinity);
      expectClose(out, expected, 0, 0);
    }
  });

  it("empty inputs: sum writes zeros over reduced empty axes", () => {
    const out = fromArray([7, 7, 7], { dtype: "float64" });
    referenceKernels.reduce("sum", zeros([0, 3], "float64"), [0], out);
    expect(Array.from(out.data)).toEqual([0, 0, 0]);
  });

  it("argmax over every axis of a rank-4 tensor", () => {
    const shape = [2, 3, 4, 3];
    const x = input(shape, 42, "float64");
    for (let axis = 0; axis < 4; axis++) {
      const outShape = shape.filter((_, i) => i !== axis);
      const out = zeros(outShape, "int32");
      referenceKernels.argmax(x, axis, out);
      // Naive: scan along the axis for the first strict maximum.
      const best = naiveReduce(dense(x), [axis], false, (m, v) => (v > m ? v : m), -Infinity);
      const expected: number[] = [];
      for (let o = 0; o < best.data.length; o++) {
        let found = -1;
        for (let k = 0; k < shape[axis]! && found < 0; k++) {
          const idx: number[] = [];
          let rem = o;
          for (let d = outShape.length - 1; d >= 0; d--) {
            idx.unshift(rem % outShape[d]!);
            rem = Math.floor(rem / outShape[d]!);
          }
          idx.splice(axis, 0, k);
          const flat = idx.reduce((f, v, d) => f * shape[d]! + v, 0);
          if (x.data[flat] === best.data[o]) found = k;
        }
        expected.push(found);
      }
      expect(Array.from(out.data)).toEqual(expected);
    }
  });
});
