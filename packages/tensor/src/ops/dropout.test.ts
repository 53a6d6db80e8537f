import { describe, expect, it } from "vitest";
import { DTypeError, dropout, fromArray, mul, ones, Rng, sum, type Tensor, ValueRangeError, valueAndGrad } from "../index.js";
import { expectError, randomTensor } from "../test-utils.js";

describe("dropout", () => {
  it("a seeded mask is reproducible, and another seed gives another mask", () => {
    const x = randomTensor([50, 40], 1, { dtype: "float32" });
    const a = dropout(x, 0.5, new Rng(7));
    const b = dropout(x, 0.5, new Rng(7));
    const c = dropout(x, 0.5, new Rng(8));
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(Array.from(a.data)).not.toEqual(Array.from(c.data));
    // Successive draws from one generator differ too.
    const rng = new Rng(7);
    expect(Array.from(dropout(x, 0.5, rng).data)).not.toEqual(Array.from(dropout(x, 0.5, rng).data));
  });

  for (const p of [0.1, 0.3, 0.5, 0.9]) {
    it(`p=${p}: keeps about 1-p of a large tensor, scaled by 1/(1-p)`, () => {
      const n = 100_000;
      const y = dropout(ones([n], "float64"), p, new Rng(123));
      let kept = 0;
      let other = 0;
      for (let i = 0; i < n; i++) {
        const v = y.data[i]!;
        if (v === 0) continue;
        if (Math.abs(v - 1 / (1 - p)) < 1e-12) kept++;
        else other++;
      }
      expect(other, "values other than 0 and 1/(1-p)").toBe(0);
      // The kept count is Binomial(n, 1-p): its standard deviation is at most 0.0016 n.
      expect(Math.abs(kept / n - (1 - p))).toBeLessThan(0.01);
      // The expectation is preserved: mean(y) ~ 1.
      expect(Math.abs(sum(y).item() / n - 1)).toBeLessThan(0.05);
    });
  }

  it("scales the kept values of the input (not just of ones)", () => {
    const x = randomTensor([200], 3);
    const y = dropout(x, 0.25, new Rng(4));
    let zeros = 0;
    for (let i = 0; i < x.size; i++) {
      if (y.data[i] === 0) zeros++;
      else expect(y.data[i]).toBeCloseTo(x.data[i]! / 0.75, 14);
    }
    expect(zeros).toBeGreaterThan(0);
    expect(zeros).toBeLessThan(200);
  });

  it("p=0 is the identity and p=1 gives zeros", () => {
    const x = randomTensor([3, 4], 5, { dtype: "float32" });
    expect(Array.from(dropout(x, 0, new Rng(1)).data)).toEqual(Array.from(x.data));
    const z = dropout(x, 1, new Rng(1));
    expect(z.shape).toEqual([3, 4]);
    expect(z.dtype).toBe("float32");
    expect(Array.from(z.data).every((v) => v === 0)).toBe(true); // -0 for negative inputs
  });

  it("the gradient is the scaled mask", () => {
    const x = randomTensor([6, 7], 6, { low: 0.5, high: 2 });
    const w = randomTensor([6, 7], 7);
    const p = 0.4;
    const { grads, aux } = valueAndGrad(
      (params: Tensor) => {
        const y = dropout(params, p, new Rng(99));
        return [sum(mul(y, w)), y] as const;
      },
      { hasAux: true },
    )(x);
    let dropped = 0;
    for (let i = 0; i < x.size; i++) {
      const mask = aux.data[i]! / x.data[i]!; // 0 or 1/(1-p)
      expect([0, 1 / (1 - p)].some((m) => Math.abs(m - mask) < 1e-12)).toBe(true);
      expect(grads.data[i]).toBeCloseTo(w.data[i]! * mask, 12);
      if (mask === 0) dropped++;
    }
    expect(dropped).toBeGreaterThan(0);
  });

  it("refuses probabilities outside [0, 1] and int32 input", () => {
    expectError(() => dropout(ones([2]), 1.5, new Rng(0)), ValueRangeError, ["Dropout", "1.5"]);
    expectError(() => dropout(ones([2]), -0.1, new Rng(0)), ValueRangeError, ["Dropout", "-0.1"]);
    expectError(() => dropout(ones([2]), NaN, new Rng(0)), ValueRangeError, ["Dropout", "NaN"]);
    expectError(() => dropout(fromArray([1, 2], { dtype: "int32" }), 0.5, new Rng(0)), DTypeError, ["Dropout", "int32"]);
  });
});
