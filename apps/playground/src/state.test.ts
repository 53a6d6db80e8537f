import { describe, expect, it } from "vitest";
import type { RunSettings, StepPoint } from "./protocol.js";
import { addFlow, addSteps, flowChart, gradChart, lossChart, MAX_FLOW_COLUMNS, newRun, runLabel, smooth } from "./state.js";
import { formatLogTick, logSplits } from "./ui/format.js";
import { checkSettings } from "./settings.js";

const settings: RunSettings = {
  cell: "lstm", init: "orthogonal", hiddenSize: 64, numLayers: 2, embeddingSize: 32, optimizer: "adam", lr: 0.003, clip: 1, window: 32, batchSize: 16, seed: 0,
};
const point = (step: number, loss: number, gradNorm = 1): StepPoint => ({ step, loss, gradNorm, clipped: gradNorm > 1, maxNorm: 1, lr: 0.003, tokensPerSecond: 100 });

describe("run records and chart data", () => {
  it("labels runs by what distinguishes them", () => {
    expect(runLabel(settings)).toBe("LSTM 2x64, orthogonal, adam 0.003, clip 1, window 32");
    expect(runLabel({ ...settings, cell: "rnn_relu", init: "irnn", numLayers: 1, clip: null })).toBe("RNN ReLU 64, IRNN, adam 0.003, no clipping, window 32");
  });

  it("smooths with bias correction: a constant stays constant from the first value", () => {
    expect(smooth([2, 2, 2])).toEqual([2, 2, 2]);
    const s = smooth([0, 10], 0.5);
    expect(s[0]).toBe(0);
    expect(s[1]).toBeCloseTo(10 * 0.5 / 0.75, 12);
    expect(smooth([1, Number.NaN, 1])[1]).toBeNaN();
  });

  it("aligns runs of different lengths on one step axis; validation points sit at their steps", () => {
    const a = newRun(1, settings);
    addSteps(a, [point(1, 4), point(2, 3), point(3, 2)], 0);
    const b = newRun(2, settings);
    addSteps(b, [point(1, 4.5), point(2, 3.5)], 0.5);
    b.evals.push({ step: 2, loss: 3.7 });
    const { series, data } = lossChart(b, [a]);
    expect(data[0]).toEqual([1, 2, 3]);
    expect(series.map((s) => s.label)).toEqual(["#2 loss", "#2 smoothed", "#2 validation", "#1 smoothed"]);
    expect(data[1]).toEqual([4.5, 3.5, null]);
    expect(data[3]).toEqual([null, 3.7, null]);
    expect(data[4]!.every((v) => v !== null)).toBe(true);
    // The y axis fits the smoothed curves and validation (here the first loss, 4.5), not single spikes.
    expect(lossChart(b, [a]).yRange).toEqual([0, 1.15 * 4.5]);
    const grad = gradChart(b, []);
    expect(grad.data[2]).toEqual([1, 1]); // the threshold at each step
    expect(b.clipFraction).toBe(0.5);
  });

  it("thins gradient-flow columns past the cap, keeping the first and the latest", () => {
    const run = newRun(1, settings);
    for (let step = 0; step <= MAX_FLOW_COLUMNS + 10; step++) addFlow(run, { step, norms: Float64Array.of(step + 1, 1) });
    expect(run.flows.length).toBeLessThanOrEqual(MAX_FLOW_COLUMNS);
    expect(run.flows[0]!.step).toBe(0);
    expect(run.flows.at(-1)!.step).toBe(MAX_FLOW_COLUMNS + 10);
    expect(run.firstFlow!.step).toBe(0);
    // The same step measured twice replaces the column.
    addFlow(run, { step: MAX_FLOW_COLUMNS + 10, norms: Float64Array.of(5, 5) });
    expect(run.flows.at(-1)!.norms[0]).toBe(5);
  });

  it("draws gradient flow against the number of steps back from the loss", () => {
    const run = newRun(1, settings);
    addFlow(run, { step: 0, norms: Float64Array.of(0.01, 0.1, 1) });
    addFlow(run, { step: 50, norms: Float64Array.of(0, 0.5, 2) });
    const { series, data } = flowChart(run, []);
    expect(series.map((s) => s.label)).toEqual(["#1 now", "#1 step 0"]);
    expect(data[0]).toEqual([0, 1, 2]);
    expect(data[1]).toEqual([2, 0.5, null]); // a zero norm has no place on a log axis
    expect(data[2]).toEqual([1, 0.1, 0.01]);
  });

  it("formats log-axis ticks readably", () => {
    expect([1, 0.5, 0.01, 250].map(formatLogTick)).toEqual(["1", "0.5", "0.01", "250"]);
    expect([1e-4, 1e-12, 1e6].map(formatLogTick)).toEqual(["1e-4", "1e-12", "1e6"]);
    expect(formatLogTick(3e-5)).toBe("3e-5");
    expect(formatLogTick(0)).toBe("");
    expect(logSplits(1e-8, 2)).toEqual([1e-8, 1e-6, 1e-4, 1e-2, 1]);
    expect(logSplits(0.15, 3)).toEqual([0.2, 0.5, 1, 2]);
    expect(logSplits(0, 1)).toEqual([]);
  });

  it("checks settings before a run is built", () => {
    const text = "x".repeat(400);
    expect(checkSettings(settings, text)).toBeNull();
    expect(checkSettings(settings, "short")).toMatch(/at least 400/);
    expect(checkSettings({ ...settings, init: "np-rnn" }, text)).toMatch(/ReLU RNN/);
    expect(checkSettings({ ...settings, cell: "rnn_relu", init: "np-rnn" }, text)).toBeNull();
    expect(checkSettings({ ...settings, window: 0 }, text)).toMatch(/BPTT window/);
    expect(checkSettings({ ...settings, lr: Number.NaN }, text)).toMatch(/learning rate/);
    expect(checkSettings({ ...settings, clip: 0 }, text)).toMatch(/clipping threshold/);
  });
});
