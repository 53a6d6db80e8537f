import { Rng, ShapeError } from "@unroll/tensor";
import { describe, expect, it } from "vitest";
import { distanceFromIdentity, gram, maxAbs } from "../linalg/test-utils.js";
import { constant, identity, normal, orthogonal, perGate, xavierUniform, zeros } from "./index.js";

describe("perGate", () => {
  it("gives each gate block its own initialiser: an LSTM forget-gate bias of 1", () => {
    const t = perGate([zeros(), constant(1), zeros(), zeros()]).init([12], new Rng(0), { hiddenSize: 3, gates: 4 });
    expect(t.dtype).toBe("float32");
    expect([...t.data]).toEqual([0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
  });

  it("applies a single initialiser to every block: perGate(identity()) stacks identities", () => {
    const t = perGate(identity({ scale: 0.5 })).init([9, 3], new Rng(0), { hiddenSize: 3, gates: 3 });
    const expected = [0.5, 0, 0, 0, 0.5, 0, 0, 0, 0.5];
    expect([...t.data]).toEqual([...expected, ...expected, ...expected]);
  });

  it("makes every block of a [4H, H] weight orthogonal", () => {
    const h = 6;
    const t = perGate(orthogonal()).init([4 * h, h], new Rng(2), { hiddenSize: h, gates: 4 });
    for (let k = 0; k < 4; k++) {
      const block = { rows: h, cols: h, data: Float64Array.from(t.data.subarray(k * h * h, (k + 1) * h * h)) };
      expect(distanceFromIdentity(gram(block))).toBeLessThan(1e-6);
    }
  });

  it("computes fans per block", () => {
    // Blocks [50, 30]: bound √(6/80); the whole [200, 30] would give √(6/230), about 0.59 of it.
    const t = perGate(xavierUniform()).init([200, 30], new Rng(1), { hiddenSize: 50, gates: 4 });
    const bound = Math.sqrt(6 / 80);
    for (let k = 0; k < 4; k++) {
      const block = t.data.subarray(k * 1500, (k + 1) * 1500);
      expect(maxAbs(block)).toBeLessThanOrEqual(bound);
      expect(maxAbs(block)).toBeGreaterThan(0.99 * bound);
    }
  });

  it("draws the blocks in order from the same generator", () => {
    const t = perGate([normal(0, 1), normal(5, 2)]).init([4, 3], new Rng(7), { hiddenSize: 2, gates: 2 });
    const rng = new Rng(7);
    const first = rng.normal([2, 3], 0, 1, "float32");
    const second = rng.normal([2, 3], 5, 2, "float32");
    expect([...t.data]).toEqual([...first.data, ...second.data]);
  });

  it("rejects a list of the wrong length and shapes that do not split", () => {
    const lstmBias = perGate([zeros(), constant(1), zeros(), zeros()]);
    expect(() => lstmBias.init([9], new Rng(0), { hiddenSize: 3, gates: 3 })).toThrow(/perGate: 4 initialisers for 3 gate blocks/);
    expect(() => perGate(zeros()).init([10, 2], new Rng(0), { hiddenSize: 3, gates: 4 })).toThrow(ShapeError);
    expect(() => perGate(zeros()).init([], new Rng(0), { hiddenSize: 3, gates: 1 })).toThrow(ShapeError);
  });
});
