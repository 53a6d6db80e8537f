import { describe, expect, it } from "vitest";
import { fromArray } from "@unroll/tensor";
import { clipGradNorm, clipGradValue, globalNorm } from "./clip.js";

describe("clipping", () => {
  const grads = { a: fromArray([3, 0]), b: { c: fromArray([[0, 4]]) } }; // global norm 5

  it("global norm over every tensor", () => {
    expect(globalNorm(grads)).toBe(5);
  });

  it("scales by maxNorm / (norm + 1e-6) when the norm is larger, as PyTorch, and reports the norm before", () => {
    const r = clipGradNorm(grads, 1);
    expect(r.norm).toBe(5);
    expect(r.clipped).toBe(true);
    expect(r.scale).toBeCloseTo(1 / (5 + 1e-6), 12);
    expect(r.grads.a.data[0]).toBeCloseTo(3 / (5 + 1e-6), 6);
    expect(r.grads.b.c.data[1]).toBeCloseTo(4 / (5 + 1e-6), 6);
    expect(Array.from(grads.a.data)).toEqual([3, 0]); // the input is not modified
  });

  it("leaves gradients under the threshold alone", () => {
    const r = clipGradNorm(grads, 10);
    expect(r.clipped).toBe(false);
    expect(r.grads).toBe(grads);
  });

  it("reports a non-finite norm without scaling anything", () => {
    const bad = { a: fromArray([NaN, 1]), b: fromArray([Infinity]) };
    const r = clipGradNorm(bad, 1);
    expect(r.finite).toBe(false);
    expect(r.clipped).toBe(false);
    expect(r.grads).toBe(bad);
    expect(clipGradNorm({ x: fromArray([Infinity]) }, 1).norm).toBe(Infinity);
  });

  it("clips by value", () => {
    const r = clipGradValue({ x: fromArray([-3, 0.5, 2]) }, 1);
    expect(Array.from(r.x.data)).toEqual([-1, 0.5, 1]);
    expect(() => clipGradValue(grads, 0)).toThrow(/clipValue must be positive/);
    expect(() => clipGradNorm(grads, -1)).toThrow(/maxNorm must be positive/);
  });
});
