import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bpttWindows } from "./bptt.js";

describe("truncated BPTT windows", () => {
  it("k1 = k2: consecutive windows, the state carried from each end", () => {
    expect(bpttWindows(10, 4)).toEqual([
      { start: 0, end: 4, lossFrom: 0, carryAt: 4 },
      { start: 4, end: 8, lossFrom: 4, carryAt: 8 },
      { start: 8, end: 10, lossFrom: 8, carryAt: 10 },
    ]);
  });

  it("k2 > k1: overlapping windows, gradients reach k2 steps back", () => {
    expect(bpttWindows(7, 2, 5)).toEqual([
      { start: 0, end: 2, lossFrom: 0, carryAt: 0 },
      { start: 0, end: 4, lossFrom: 2, carryAt: 1 },
      { start: 1, end: 6, lossFrom: 4, carryAt: 3 },
      { start: 3, end: 7, lossFrom: 6, carryAt: 4 },
    ]);
  });

  it("every step's loss is counted exactly once, windows never exceed k2, and each starts where the previous saved its state", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 20 }), (length, k1, extra) => {
        const k2 = k1 + extra;
        const windows = bpttWindows(length, k1, k2);
        const counted = new Array<number>(length).fill(0);
        windows.forEach((w, i) => {
          for (let t = w.lossFrom; t < w.end; t++) counted[t]!++;
          expect(w.end - w.start).toBeLessThanOrEqual(k2);
          expect(w.carryAt >= w.start && w.carryAt <= w.end).toBe(true);
          if (i > 0) expect(w.start).toBe(windows[i - 1]!.carryAt);
        });
        expect(counted.every((c) => c === 1)).toBe(true);
      }),
    );
  });

  it("refuses k2 < k1 and bad sizes", () => {
    expect(() => bpttWindows(10, 4, 2)).toThrow(/k2 \(2\) < k1 \(4\)/);
    expect(() => bpttWindows(10, 0)).toThrow(/k1 must be a positive integer/);
    expect(() => bpttWindows(-1, 2)).toThrow(/length must be a non-negative integer/);
  });
});
