import { describe, expect, it } from "vitest";
import { constant, cosineWithWarmup, exponential, reduceOnPlateau, stepDecay } from "./index.js";

describe("stateless schedules", () => {
  it("constant gives its rate at every step", () => {
    const s = constant(0.03);
    expect(s.name).toBe("constant");
    expect([0, 1, 17, 1e6].map((k) => s.lr(k))).toEqual([0.03, 0.03, 0.03, 0.03]);
  });

  it("stepDecay and exponential follow their closed forms at hand-checked points", () => {
    const s = stepDecay({ lr: 1, stepSize: 3, gamma: 0.5 });
    expect([0, 2, 3, 5, 6, 9].map((k) => s.lr(k))).toEqual([1, 1, 0.5, 0.5, 0.25, 0.125]);
    const e = exponential({ lr: 2, gamma: 0.5 });
    expect([0, 1, 2, 3].map((k) => e.lr(k))).toEqual([2, 1, 0.5, 0.25]);
  });

  it("cosineWithWarmup rises linearly from 0, peaks at the end of warm-up and rests at minLr", () => {
    const s = cosineWithWarmup({ lr: 1, warmupSteps: 2, totalSteps: 6 });
    expect(s.lr(0)).toBe(0);
    expect(s.lr(1)).toBe(0.5);
    expect(s.lr(2)).toBe(1);
    expect(s.lr(3)).toBeCloseTo((1 + Math.SQRT1_2) / 2, 15);
    expect(s.lr(4)).toBeCloseTo(0.5, 15);
    expect(s.lr(6)).toBe(0);
    expect(s.lr(1000)).toBe(0);
    const m = cosineWithWarmup({ lr: 0.1, warmupSteps: 0, totalSteps: 10, minLr: 0.01 });
    expect(m.lr(0)).toBe(0.1);
    expect(m.lr(10)).toBe(0.01);
    expect(m.lr(11)).toBe(0.01);
  });

  it("reject invalid settings and steps", () => {
    expect(() => constant(-1)).toThrow(/constant: lr must be a finite number >= 0/);
    expect(() => stepDecay({ lr: 1, stepSize: 0, gamma: 0.5 })).toThrow(/stepSize must be an integer > 0/);
    expect(() => exponential({ lr: 1, gamma: Number.NaN })).toThrow(/gamma/);
    expect(() => cosineWithWarmup({ lr: 1, warmupSteps: 5, totalSteps: 5 })).toThrow(/totalSteps must be an integer > warmupSteps/);
    expect(() => cosineWithWarmup({ lr: 1, warmupSteps: 0, totalSteps: 5, minLr: 2 })).toThrow(/minLr \(2\) must not exceed lr/);
    expect(() => stepDecay({ lr: 1, stepSize: 2, gamma: 0.5 }).lr(-1)).toThrow(/step must be an integer >= 0/);
    expect(() => constant(1).lr(1.5)).toThrow(/step must be an integer >= 0/);
  });
});

describe("reduceOnPlateau", () => {
  it("reduces after more than `patience` bad evaluations, then cools down", () => {
    const s = reduceOnPlateau({ lr: 1, factor: 0.5, patience: 1, cooldown: 1 });
    // best 10; 10 (bad 1); 10 (bad 2 > 1: halve, cooldown 1); 10 (cooldown: bad reset);
    // 10 (bad 1); 10 (bad 2: halve).
    expect([10, 10, 10, 10, 10, 10].map((m) => s.observe(m))).toEqual([1, 1, 0.5, 0.5, 0.5, 0.25]);
  });

  it("counts an improvement smaller than the relative threshold as bad, and a NaN metric too", () => {
    const s = reduceOnPlateau({ lr: 1, patience: 0, threshold: 0.1 });
    expect(s.observe(1)).toBe(1); // first metric always improves on +inf
    expect(s.observe(0.95)).toBeCloseTo(0.1, 15); // not below 1 * 0.9: bad, patience 0: reduce
    const n = reduceOnPlateau({ lr: 1, patience: 0 });
    n.observe(1);
    expect(n.observe(Number.NaN)).toBeCloseTo(0.1, 15);
  });

  it("stops at minLr and skips reductions smaller than eps", () => {
    const s = reduceOnPlateau({ lr: 1, patience: 0, factor: 0.5, minLr: 0.3 });
    s.observe(1);
    expect([1, 1, 1, 1].map((m) => s.observe(m))).toEqual([0.5, 0.3, 0.3, 0.3]);
    const e = reduceOnPlateau({ lr: 1e-9, patience: 0, factor: 0.5 });
    e.observe(1);
    expect(e.observe(1)).toBe(1e-9);
  });

  it("round-trips its state through JSON, infinite best included", () => {
    const max = reduceOnPlateau({ lr: 0.1, mode: "max" });
    const text = JSON.stringify(max.state());
    expect(JSON.parse(text)).toMatchObject({ format: "reduceOnPlateau", version: 1, best: "-inf", evaluations: 0 });
    const other = reduceOnPlateau({ lr: 0.1, mode: "max" });
    other.observe(5);
    other.loadState(JSON.parse(text));
    expect(other.state()).toEqual(max.state());
    expect(other.observe(-1e300)).toBe(0.1);
    expect(other.state().best).toBe(-1e300);
  });

  it("rejects a state of another format, version or settings, and changes nothing", () => {
    const s = reduceOnPlateau({ lr: 0.1, patience: 2 });
    [3, 2, 2, 2].forEach((m) => s.observe(m));
    const good = s.state();
    const bad: [unknown, RegExp][] = [
      [null, /expected a state object/],
      [{ ...good, format: "stepDecay" }, /expected format 'reduceOnPlateau'/],
      [{ ...good, version: 2 }, /unsupported version 2/],
      [reduceOnPlateau({ lr: 0.1, patience: 3 }).state(), /settings differ \(patience: saved 3, here 2\)/],
      [{ ...good, badEvaluations: -1 }, /badEvaluations must be an integer >= 0/],
      [{ ...good, best: "nan" }, /best must be a number/],
      [{ ...good, lr: Number.NaN }, /lr must be a finite number >= 0/],
    ];
    for (const [state, message] of bad) {
      expect(() => s.loadState(state)).toThrow(message);
      expect(s.state()).toEqual(good);
    }
  });

  it("rejects invalid settings as PyTorch does", () => {
    expect(() => reduceOnPlateau({ lr: 0.1, factor: 1 })).toThrow(/factor must be in \[0, 1\)/);
    expect(() => reduceOnPlateau({ lr: 0.1, mode: "up" as never })).toThrow(/mode must be "min" or "max"/);
    expect(() => reduceOnPlateau({ lr: 0.1, thresholdMode: "pct" as never })).toThrow(/thresholdMode/);
    expect(() => reduceOnPlateau({ lr: 0.1, patience: 1.5 })).toThrow(/patience/);
  });
});
