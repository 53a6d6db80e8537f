import { describe, expect, it } from "vitest";
import { noGrad, Rng } from "@unroll/tensor";
import { init } from "@unroll/cells";
import {
  addingTask,
  buildModel,
  clippingTable,
  longRangeTable,
  runClippingDemo,
  runLongRange,
  streamSeed,
  taskTestSet,
} from "./index.js";

describe("runLongRange (smoke, small T)", () => {
  it("trains an LSTM well below the adding baseline at T = 10", async () => {
    const rows = await runLongRange({
      task: "adding", length: 10, hiddenSize: 16, steps: 400, batchSize: 32, models: ["lstm"], lr: 1e-2, testSize: 500, seed: 0,
    });
    expect(rows).toHaveLength(1);
    const [lstm] = rows;
    expect(lstm!.steps).toBe(400);
    expect(lstm!.diverged).toBe(false);
    expect(lstm!.baseline.loss).toBeCloseTo(1 / 6, 10);
    // "Clearly": under a third of the constant predictor's MSE (seeds 0-4 all end below 0.005).
    expect(lstm!.test.loss).toBeLessThan(0.05);
    expect(longRangeTable(rows)).toMatch(/^\| model \| T \| H \| lr \| test MSE \|/);
  });

  it("gives every model the same budget and is reproducible from the seed", async () => {
    const options = { task: "adding", length: 6, hiddenSize: 4, steps: 15, batchSize: 8, testSize: 50, models: ["tanh", "irnn"], seed: 3 } as const;
    const a = await runLongRange(options);
    const b = await runLongRange(options);
    const c = await runLongRange({ ...options, seed: 4 });
    expect(a.map((r) => [r.model, r.steps, r.batchSize, r.clip, r.lr])).toEqual([["tanh", 15, 8, 1, 1e-3], ["irnn", 15, 8, 1, 1e-4]]);
    for (let i = 0; i < a.length; i++) {
      expect(b[i]!.test.loss).toBe(a[i]!.test.loss);
      expect(b[i]!.finalTrainLoss).toBe(a[i]!.finalTrainLoss);
      expect(b[i]!.maxGradNorm).toBe(a[i]!.maxGradNorm);
      expect(c[i]!.test.loss).not.toBe(a[i]!.test.loss);
    }
  });

  it("runs copy memory and reports accuracy on the recalled symbols", async () => {
    const rows = await runLongRange({
      task: "copy", length: 3, hiddenSize: 8, steps: 5, batchSize: 4, models: ["lstm"], testSize: 20, evalEvery: 5,
    });
    const [r] = rows;
    expect(r!.baseline.loss).toBeCloseTo((10 * Math.log(8)) / 23, 10);
    expect(r!.baseline.accuracy).toBe(1 / 8);
    expect(r!.test.accuracy).toBeGreaterThanOrEqual(0);
    expect(r!.test.accuracy).toBeLessThanOrEqual(1);
    expect(r!.curve).toEqual([{ step: 5, ...r!.test }]);
    expect(longRangeTable(rows)).toMatch(/\| test CE \| accuracy \|/);
  });
});

describe("runClippingDemo", () => {
  it("a tanh RNN with a large recurrent init diverges under SGD without clipping and stays finite with maxNorm 1", async () => {
    const options = { length: 20, hiddenSize: 16, steps: 300, lr: 0.1, gain: 2.5, seed: 0, testSize: 500 };
    const [free, clipped] = await runClippingDemo(options);
    expect(free!.clip).toBeNull();
    expect(clipped!.clip).toBe(1);
    expect(free!.spectralRadius).toBeGreaterThan(2);

    // Without clipping: a NaN/infinite loss or gradient within the budget, and the run stops.
    expect(free!.diverged).toBe(true);
    expect(free!.firstNonFiniteStep).not.toBeNull();
    expect(free!.steps).toBeLessThan(300);
    expect(Number.isFinite(free!.maxGradNorm)).toBe(false);

    // With clipping: every step applied, gradients that needed clipping, finite and lower losses.
    expect(clipped!.diverged).toBe(false);
    expect(clipped!.steps).toBe(300);
    expect(clipped!.skippedSteps).toBe(0);
    expect(clipped!.clippedFraction).toBeGreaterThan(0);
    expect(clipped!.maxGradNorm).toBeGreaterThan(1);
    expect(Number.isFinite(clipped!.finalTrainLoss)).toBe(true);
    // It learnt: the test MSE fell below that of the same network before training.
    const task = addingTask(20);
    const testSet = taskTestSet(task, { size: 500, seed: streamSeed(0, 2) });
    const untrained = buildModel("tanh", {
      inputSize: 2, hiddenSize: 16, outputSize: 1, rng: new Rng(streamSeed(0, 0)), scheme: { weightHH: init.normalScaledByHidden({ gain: 2.5 }) },
    });
    const before = noGrad(() => task.metrics(untrained.forward(untrained.params, testSet.x, "last"), testSet)).loss;
    expect(clipped!.test.loss).toBeLessThan(before);
    expect(clipped!.test.loss).toBeLessThan(0.25);

    const table = clippingTable([free!, clipped!]);
    expect(table).toMatch(/\| no clipping \|.*\| yes: not finite at step \d+ \|/);
    expect(table).toMatch(/\| clip maxNorm 1 \|.*\| no \|/);
  });
});
