import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { cosineWithWarmup, exponential, reduceOnPlateau, type Schedule, stepDecay } from "./index.js";

// Learning rates from PyTorch 1.13's schedulers (scripts/generate_fixtures.py): StepLR,
// ExponentialLR, CosineAnnealingLR, LambdaLR (warm-up + cosine) before each of ~30 steps, and
// ReduceLROnPlateau after each metric of a fixed sequence.
interface ScheduleCase {
  name: string;
  schedule: "stepDecay" | "exponential" | "cosineWithWarmup" | "reduceOnPlateau";
  options: Record<string, unknown>;
  metrics?: number[];
  lrs: number[];
}

const fixtures = JSON.parse(readFileSync(new URL("../../fixtures/torch-optim.json", import.meta.url), "utf8")) as {
  format: string;
  version: number;
  schedules: ScheduleCase[];
};

// PyTorch's StepLR, ExponentialLR and CosineAnnealingLR update the rate recursively (multiplying
// by gamma, or by a ratio of cosines); ours are closed forms, equal up to rounding.
const close = (ours: number, torch: number): boolean => Math.abs(ours - torch) <= 1e-12 * Math.abs(torch) + 1e-15;

function make(c: ScheduleCase): Schedule {
  const o = c.options as never;
  switch (c.schedule) {
    case "stepDecay":
      return stepDecay(o);
    case "exponential":
      return exponential(o);
    case "cosineWithWarmup":
      return cosineWithWarmup(o);
    case "reduceOnPlateau":
      throw new Error("stateful");
  }
}

describe("schedules against PyTorch 1.13", () => {
  it("reads a fixture file of the expected format and version", () => {
    expect(fixtures.format).toBe("unroll-torch-optim");
    expect(fixtures.version).toBe(1);
    const kinds = new Set(fixtures.schedules.map((c) => c.schedule));
    expect([...kinds].sort()).toEqual(["cosineWithWarmup", "exponential", "reduceOnPlateau", "stepDecay"]);
  });

  for (const c of fixtures.schedules.filter((s) => s.schedule !== "reduceOnPlateau")) {
    it(`${c.name}: lr before each step`, () => {
      const s = make(c);
      expect(s.name).toBe(c.schedule);
      const ours = c.lrs.map((_, k) => s.lr(k));
      const bad = ours.findIndex((x, k) => !close(x, c.lrs[k]!));
      expect(bad, `step ${bad}: ours ${ours[bad]}, torch ${c.lrs[bad]}`).toBe(-1);
    });
  }

  for (const c of fixtures.schedules.filter((s) => s.schedule === "reduceOnPlateau")) {
    it(`${c.name}: lr after each evaluation, and resumed from a JSON state halfway`, () => {
      const metrics = c.metrics!;
      const s = reduceOnPlateau(c.options as never);
      expect(s.lr(0)).toBe(c.options.lr);
      // ReduceLROnPlateau multiplies the rate by the factor, as we do: the values are identical.
      expect(metrics.map((m) => s.observe(m))).toEqual(c.lrs);
      expect(s.lr(123)).toBe(c.lrs.at(-1));

      const half = Math.floor(metrics.length / 2);
      const first = reduceOnPlateau(c.options as never);
      metrics.slice(0, half).forEach((m) => first.observe(m));
      const resumed = reduceOnPlateau(c.options as never);
      resumed.loadState(JSON.parse(JSON.stringify(first.state())));
      expect(metrics.slice(half).map((m) => resumed.observe(m))).toEqual(c.lrs.slice(half));
      expect(resumed.state()).toEqual(s.state());
    });
  }
});
