import { describe, expect, it } from "vitest";
import { fromArray, mul, sub, sum } from "@unroll/tensor";
import { arraySource, formatDuration, reportProgress, sgd, Trainer } from "./index.js";

describe("reportProgress", () => {
  it("prints step, the mean loss since the last line, tokens/s, |g|, lr and the ETA, validations and why it stopped; unsubscribes", async () => {
    const lines: string[] = [];
    const stream = { write: (t: string) => lines.push(t) };
    const trainer = new Trainer({
      params: { w: fromArray([0, 0]) },
      data: arraySource([fromArray([1, 2]), fromArray([3, -1])], { loop: true }),
      loss: (p, target) => ({ loss: sum(mul(sub(p.w, target), sub(p.w, target))), tokens: 2 }),
      optimizer: sgd({ lr: 0.1 }),
      evaluate: { every: 4, run: (p) => sum(mul(p.w, p.w)).item() },
    });
    const losses: number[] = [];
    trainer.events.on("step", (e) => losses.push(e.loss));
    const stop = reportProgress(trainer, { every: 4, total: 8, stream });
    await trainer.run({ steps: 8 });
    const steps = lines.filter((l) => /^step \d+\/8 {2}/.test(l));
    expect(steps.map((l) => Number(/^step (\d+)/.exec(l)![1]))).toEqual([1, 4, 8]);
    expect(steps[1]).toMatch(/^step 4\/8 {2}loss \d+\.\d{4} {2}[\d,]+ tok\/s {2}\|g\| \d+\.\d\d {2}lr 1\.0e-1 {2}ETA \d+m\d\ds\n$/);
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(Number(/loss ([\d.]+)/.exec(steps[1]!)![1])).toBeCloseTo(mean(losses.slice(1, 4)), 4); // steps 2-4
    expect(Number(/loss ([\d.]+)/.exec(steps[2]!)![1])).toBeCloseTo(mean(losses.slice(4, 8)), 4);
    expect(lines.filter((l) => l.includes("validation")).map((l) => l.replace(/[\d.]+ \(/, "X ("))).toEqual(["step 4: validation loss X (best)\n", expect.stringMatching(/^step 8: validation loss [\d.]+( \(best\))?\n$/)]);
    expect(lines.at(-1)).toBe("stopped at step 8: reached its step target\n");
    stop();
    const before = lines.length;
    await trainer.run({ steps: 12 });
    expect(lines.length).toBe(before); // unsubscribed
    expect(() => reportProgress(trainer, { every: 0 })).toThrow(/every must be a positive integer/);
    const printed: string[] = [];
    reportProgress(trainer, { every: 100, print: (line) => printed.push(line) });
    await trainer.run({ steps: 13 });
    expect(printed).toEqual([expect.stringMatching(/^step 13 {2}loss [\d.]+ {2}/), "stopped at step 13: reached its step target"]);
  });

  it("formats durations with their unit", () => {
    expect([formatDuration(null), formatDuration(62_000), formatDuration(7_500_000), formatDuration(Infinity)]).toEqual(["?", "1m02s", "2h05m", "?"]);
  });
});
