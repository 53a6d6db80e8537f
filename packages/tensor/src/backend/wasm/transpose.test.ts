import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { allocate } from "../../dtype.js";
import { Rng } from "../../random/rng.js";
import { Tensor } from "../../tensor.js";
import { referenceKernels } from "../reference/index.js";
import { loadWasmKernelsSync } from "./index.js";
import { batchedTransposePlan } from "./transpose.js";

const wasm = loadWasmKernelsSync();

function transposeBoth(x: Tensor, perm: number[]): [Tensor, Tensor] {
  const shape = perm.map((p) => x.shape[p]!);
  const size = shape.reduce((a, b) => a * b, 1);
  const got = new Tensor(allocate(x.dtype, size), shape);
  const want = new Tensor(allocate(x.dtype, size), shape);
  got.data.fill(Number.NaN);
  wasm.transpose(x, perm, got);
  referenceKernels.transpose(x, perm, want);
  return [got, want];
}

describe("the WebAssembly batched transpose", () => {
  it("recognises a batch prefix followed by two swapped blocks of axes, and nothing else", () => {
    expect(batchedTransposePlan([4, 5, 6], [0, 2, 1])).toEqual({ batch: 4, rows: 5, columns: 6 });
    expect(batchedTransposePlan([4, 5, 6], [1, 2, 0])).toEqual({ batch: 1, rows: 4, columns: 30 });
    expect(batchedTransposePlan([2, 3, 4, 5], [0, 3, 1, 2])).toEqual({ batch: 2, rows: 12, columns: 5 });
    expect(batchedTransposePlan([7, 9], [1, 0])).toEqual({ batch: 1, rows: 7, columns: 9 });
    for (const perm of [[0, 1, 2], [2, 1, 0], [1, 0, 2], [0, 3, 2, 1]]) expect(batchedTransposePlan([2, 3, 4, 5].slice(0, perm.length), perm), String(perm)).toBeNull();
  });

  it("gives the reference's bits on random shapes, float32 and int32 (a CNN's grid to its regions among them)", () => {
    const [got, want] = transposeBoth(new Rng(1).normal([32, 128, 144]), [0, 2, 1]);
    expect(Object.is(got.data[12345], want.data[12345]) && got.data.every((v, i) => Object.is(v, want.data[i]))).toBe(true);
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 70 }), { minLength: 2, maxLength: 4 }).filter((s) => s.reduce((a, b) => a * b, 1) <= 50_000),
        fc.nat(),
        fc.boolean(),
        (shape, cut, int) => {
        const rank = shape.length;
        const k = cut % (rank - 1); // batch axes [0, k), then blocks [k, m) and [m, rank)
        const m = k + 1 + (cut % (rank - k - 1));
        const perm = [...Array.from({ length: k }, (_, i) => i), ...Array.from({ length: rank - m }, (_, i) => m + i), ...Array.from({ length: m - k }, (_, i) => k + i)];
        const n = shape.reduce((a, b) => a * b, 1);
        const x = int ? new Tensor(Int32Array.from({ length: n }, (_, i) => i * 7 - 3), shape) : new Rng(cut).normal(shape);
        const [g, w] = transposeBoth(x, perm);
        expect(g.shape).toEqual(w.shape);
        expect(g.data.every((v, i) => Object.is(v, w.data[i])), `${shape} by ${perm}`).toBe(true);
        },
      ),
      { numRuns: 80, seed: 7 },
    );
  });

  it("leaves other permutations and float64 to the reference kernel", () => {
    for (const [shape, perm] of [[[6, 7, 8], [2, 1, 0]], [[3, 40, 50], [1, 0, 2]]] as const) {
      const [g, w] = transposeBoth(new Rng(2).normal([...shape]), [...perm]);
      expect(g.data.every((v, i) => Object.is(v, w.data[i]))).toBe(true);
    }
    const x64 = new Tensor(Float64Array.from({ length: 600 }, (_, i) => i / 3), [20, 30]);
    const [g, w] = transposeBoth(x64, [1, 0]);
    expect(g.data.every((v, i) => Object.is(v, w.data[i]))).toBe(true);
  });
});
