import { describe, expect, it } from "vitest";
import { broadcastSource, naiveBroadcastShape, seededRandom, sizeOfShape, unravel } from "../../test-utils.js";
import { planBroadcast } from "./broadcast-plan.js";

/** Checks that the plan visits, for every output element in order, the input elements NumPy reads. */
function checkPlan(outShape: number[], inShapes: number[][]): void {
  const plan = planBroadcast(outShape, inShapes);
  const size = sizeOfShape(outShape);
  expect(plan.rows * plan.length, `rows x length for [${outShape.join(",")}]`).toBe(size);
  expect(plan.offsets).toHaveLength(inShapes.length);
  expect(plan.strides).toHaveLength(inShapes.length);
  for (let r = 0; r < plan.rows; r++) {
    for (let t = 0; t < plan.length; t++) {
      const idx = unravel(r * plan.length + t, outShape);
      inShapes.forEach((shape, k) => {
        const planned = plan.offsets[k]![r]! + t * plan.strides[k]!;
        const expected = broadcastSource(idx, shape);
        if (planned !== expected) {
          expect.fail(`out [${outShape.join(",")}] input ${k} [${shape.join(",")}] element ${r * plan.length + t}: plan reads ${planned}, NumPy reads ${expected}`);
        }
      });
    }
  }
}

describe("planBroadcast", () => {
  it("hand-picked cases: equal shapes, bias add, size-1 axes, scalars, rank differences, empty", () => {
    const cases: number[][][] = [
      [[2, 3], [3]],
      [[2, 3], [2, 3]],
      [[2, 1], [1, 3]],
      [[4, 1, 3], [2, 1]],
      [[], [2, 3]],
      [[], []],
      [[1, 1], [1]],
      [[3, 1, 1], [1, 4, 1], [1, 1, 5]],
      [[2, 3, 4], [2, 1, 4], [4]],
      [[0, 3], [3]],
      [[2, 0], [2, 1]],
      [[5, 1, 1, 2], [1, 3, 1, 2]],
      [[2, 3, 1], [3, 1]],
    ];
    for (const ins of cases) {
      const out = naiveBroadcastShape(...ins)!;
      checkPlan(out, ins);
    }
  });

  it("merges contiguous axes: same shapes are one run, [B,H] + [H] is B runs of H", () => {
    const same = planBroadcast([2, 3, 4], [[2, 3, 4], [2, 3, 4]]);
    expect([same.rows, same.length]).toEqual([1, 24]);
    expect(same.strides).toEqual([1, 1]);
    const bias = planBroadcast([5, 7], [[5, 7], [7]]);
    expect([bias.rows, bias.length]).toEqual([5, 7]);
    expect(Array.from(bias.offsets[1]!)).toEqual([0, 0, 0, 0, 0]);
    expect(Array.from(bias.offsets[0]!)).toEqual([0, 7, 14, 21, 28]);
  });

  it("random shapes of rank 0 to 5 with random size-1 axes, 1 to 3 inputs", () => {
    const next = seededRandom(11);
    for (let trial = 0; trial < 300; trial++) {
      const rank = Math.floor(next() * 6);
      const out = Array.from({ length: rank }, () => 1 + Math.floor(next() * 4));
      const count = 1 + Math.floor(next() * 3);
      const ins = Array.from({ length: count }, () => {
        const r = Math.floor(next() * (rank + 1));
        return out.slice(rank - r).map((d) => (next() < 0.4 ? 1 : d));
      });
      checkPlan(out, ins);
    }
  });
});
