import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { add, gradcheck, noGrad, Rng, Tensor, treeLeaves, treeMap } from "@unroll/tensor";
import {
  forecastBatch,
  forecasterGradientFlow,
  forecastNext,
  forecastWindows,
  loadForecaster,
  parseNumericCsv,
  seasonalForecast,
  SequenceForecaster,
  type SequenceForecasterParams,
  seriesOf,
  Standardizer,
  trainForecaster,
  trainWindowClassifier,
} from "../index.js";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe("numeric CSV tables", () => {
  it("reads a header and rows of numbers, and splits them into series by a grouping column", () => {
    const t = parseNumericCsv("id,temp,hum\n1,20.5,40\n2,21,41\n\n1,20.7,39\n");
    expect(t.columns).toEqual(["id", "temp", "hum"]);
    expect(t.rows).toBe(3);
    const series = seriesOf(t, ["temp", "hum"], "id");
    expect(series.map((s) => [s.group, Array.from(s.values)])).toEqual([
      [1, [20.5, 40, 20.7, 39]],
      [2, [21, 41]],
    ]);
  });

  it("names the line and column of a missing or non-numeric cell, a short row, an unknown column", () => {
    expect(() => parseNumericCsv("a,b\n1,2\n3,\n", "s.csv")).toThrow(/s\.csv line 3, column "b": the value is missing/);
    expect(() => parseNumericCsv("a,b\n1,x2\n", "s.csv")).toThrow(/s\.csv line 2, column "b": "x2" is not a number/);
    expect(() => parseNumericCsv("a,b\n1\n", "s.csv")).toThrow(/s\.csv line 2 has 1 cells but the header names 2 columns \(a, b\)/);
    expect(() => parseNumericCsv("a,a\n1,2\n", "s.csv")).toThrow(/the column name "a" appears twice/);
    expect(() => seriesOf(parseNumericCsv("a,b\n1,2\n"), ["c"])).toThrow(/no feature column "c"; the columns are a, b/);
  });
});

describe("Standardizer", () => {
  it("fits mean and deviation per feature and refuses a constant column by name", () => {
    const s = Standardizer.fit(["x", "y"], [{ values: Float64Array.of(1, 10, 3, 10, 5, 30), length: 3 }]);
    expect(Array.from(s.mean)).toEqual([3, 50 / 3]);
    expect(s.std[0]).toBeCloseTo(Math.sqrt(8 / 3), 12);
    expect(Array.from(s.transform(Float64Array.of(3, 50 / 3)))).toEqual([0, 0]);
    expect(s.unscale(0, 1)).toBeCloseTo(3 + Math.sqrt(8 / 3), 12);
    expect(() => Standardizer.fit(["x", "c"], [{ values: Float64Array.of(1, 7, 2, 7), length: 2 }])).toThrow(/feature column "c" is constant in the training part \(every value 7\)/);
  });
});

describe("windows and baselines", () => {
  it("reads window steps and predicts the next horizon; a series shorter than a window is an error naming the lengths", () => {
    const s = { values: Float64Array.from({ length: 10 }, (_, i) => i), length: 10 };
    const ws = forecastWindows([s], { window: 3, horizon: 2 }, () => ({ from: 0, to: 10 }));
    expect(ws.map((w) => w.end)).toEqual([3, 4, 5, 6, 7, 8]);
    const b = forecastBatch([Float32Array.from(s.values)], 1, 0, { window: 3, horizon: 2 }, ws.slice(0, 2));
    expect(b.inputs.shape).toEqual([3, 2, 1]);
    expect(Array.from(b.inputs.data)).toEqual([0, 1, 1, 2, 2, 3]); // (t, b) time-first
    expect(Array.from(b.targets.data)).toEqual([3, 4, 4, 5]);
    expect(() => forecastWindows([{ values: new Float64Array(4), length: 4 }], { window: 3, horizon: 2 }, () => ({ from: 0, to: 4 }))).toThrow(/series 1 has 4 steps, fewer than one window needs \(3 read \+ 2 predicted = 5\)/);
    // Seasonal naive with period 4: the value 4 steps before each predicted step.
    expect(Array.from(seasonalForecast(s, 1, 0, { series: 0, end: 6 }, 2, 4))).toEqual([2, 3]);
  });
});

describe("SequenceForecaster", () => {
  it("the MSE and MAE losses' gradients match finite differences", () => {
    for (const loss of ["mse", "mae"] as const) {
      const model = new SequenceForecaster({ inputSize: 2, outputSize: 3, hiddenSize: 3, numLayers: 2, cell: "gru", loss });
      const params = model.init(new Rng(1));
      const s = { values: Float64Array.from({ length: 24 }, (_, i) => Math.sin(i) + 0.1 * i), length: 12 };
      const batch = forecastBatch([Float32Array.from(s.values)], 2, 1, { window: 4, horizon: 3 }, [{ series: 0, end: 5 }, { series: 0, end: 8 }]);
      // With respect to the inputs and the targets too.
      const f = (inputs: Tensor, targets: Tensor, ...leaves: Tensor[]): Tensor =>
        model.loss(model.forward(treeMap(params, (_, i) => leaves[i]!) as SequenceForecasterParams, inputs, batch.lengths), targets);
      const report = gradcheck(f, [batch.inputs, batch.targets, ...treeLeaves(params)], { atol: 1e-5, rtol: 1e-4 });
      expect(report.ok, `${loss}: ${report.message}`).toBe(true);
    }
  });

  it("learns to forecast a noisy sine wave 3 steps ahead far better than the last value, and a loaded checkpoint forecasts the same", { timeout: 120_000 }, async () => {
    const rng = new Rng(4);
    const series = [0, 1].map((phase) => {
      const n = 600;
      return { values: Float64Array.from({ length: n }, (_, t) => 10 + 2 * Math.sin((2 * Math.PI * t) / 25 + phase) + 0.05 * rng.normal([1]).item()), length: n };
    });
    const dir = await mkdtemp(join(tmpdir(), "unroll-forecast-"));
    dirs.push(dir);
    const result = await trainForecaster({
      series,
      config: { features: ["y"], target: "y", window: 25, horizon: 3, season: 25, model: { hiddenSize: 32, cell: "gru" }, optimizer: { lr: 1e-2 }, batchSize: 32, steps: 300, evalEvery: 100, kernels: "reference" },
      checkpointDir: dir,
      keepBest: true,
    });
    const t = result.test!;
    expect(t.model.windows).toBeGreaterThan(50);
    // The last value is off by about a step's change (amplitude 2, period 25: mean |Δ| over 1-3 steps ≈ 0.6).
    expect(t.lastValue.mae).toBeGreaterThan(0.4);
    expect(t.model.mae).toBeLessThan(0.15);
    expect(t.model.mae).toBeLessThan(t.lastValue.mae / 3);
    expect(t.seasonal!.mae).toBeLessThan(0.15); // a clean season: the seasonal baseline is strong here too
    const loaded = await loadForecaster(dir);
    const recent = series[0]!.values.subarray(575, 600);
    const a = forecastNext(result, recent, 25);
    expect(Array.from(forecastNext(loaded, recent, 25))).toEqual(Array.from(a));
    // The forecast continues the wave: the next three true values (noise-free) are within 0.2.
    const truth = [600, 601, 602].map((t) => 10 + 2 * Math.sin((2 * Math.PI * t) / 25));
    a.forEach((v, k) => expect(Math.abs(v - truth[k]!)).toBeLessThan(0.2));
    expect(() => forecastNext(loaded, recent.subarray(0, 10), 10)).toThrow(/reads 25 steps, but only 10 rows were given/);
  });
});

describe("trainWindowClassifier", () => {
  it("detects rare spikes in a noisy series from the window that ends at them (event F1 on the held-out end)", { timeout: 120_000 }, async () => {
    const rng = new Rng(8);
    const n = 3000;
    const labels = new Int32Array(n);
    const values = Float64Array.from({ length: n }, (_, t) => {
      const spike = t > 10 && rng.random() < 0.03;
      labels[t] = spike ? 1 : 0;
      return Math.sin(t / 30) + 0.1 * rng.normal([1]).item() + (spike ? 1.5 : 0);
    });
    const result = await trainWindowClassifier({
      series: [{ values, length: n }],
      labels: [labels],
      classes: ["normal", "spike"],
      config: { features: ["x"], window: 10, steps: 300, optimizer: { lr: 1e-2 }, kernels: "reference" },
    });
    const spike = result.test!.perClass[1]!;
    expect(spike.support).toBeGreaterThan(5);
    expect(spike.f1).toBeGreaterThan(0.9);
  });
});

describe("trainForecaster checkpoints", () => {
  it("a run stopped and resumed ends with the same weights as one that ran straight through", { timeout: 120_000 }, async () => {
    const series = [{ values: Float64Array.from({ length: 300 }, (_, t) => Math.sin(t / 5) + t / 100), length: 300 }];
    const config = { features: ["y"], target: "y", window: 10, horizon: 2, model: { hiddenSize: 8 }, batchSize: 16, evalEvery: 10, kernels: "reference" as const };
    const straight = await trainForecaster({ series, config: { ...config, steps: 25 } });
    const dir = await mkdtemp(join(tmpdir(), "unroll-forecast-resume-"));
    dirs.push(dir);
    await trainForecaster({ series, config: { ...config, steps: 12 }, checkpointDir: dir });
    const resumed = await trainForecaster({ series, config: { ...config, steps: 25 }, checkpointDir: dir, resume: true });
    expect(resumed.resumedFrom).toBe(12);
    const a = treeLeaves(straight.params);
    treeLeaves(resumed.params).forEach((t, i) => expect(Array.from(t.data)).toEqual(Array.from(a[i]!.data)));
  });
});

describe("trainWindowClassifier evaluation", () => {
  it("evaluates on the dev part every evalEvery steps, keeps best/, stops early with patience and on a time budget", { timeout: 120_000 }, async () => {
    const n = 400;
    const labels = Int32Array.from({ length: n }, (_, t) => (t % 37 === 0 ? 1 : 0));
    const values = Float64Array.from({ length: n }, (_, t) => Math.sin(t / 7) + (labels[t] ? 2 : 0));
    const base = { series: [{ values, length: n }], labels: [labels], classes: ["no", "yes"] };
    // A learning rate far too high: the dev loss soon stops falling, and patience ends the run.
    const config = { features: ["x"], window: 8, model: { hiddenSize: 6 }, batchSize: 16, kernels: "reference" as const, evalEvery: 5, patience: 2, optimizer: { lr: 0.5 } };
    const dir = await mkdtemp(join(tmpdir(), "unroll-window-eval-"));
    dirs.push(dir);
    const seen: number[] = [];
    const result = await trainWindowClassifier({ ...base, config: { ...config, steps: 400 }, checkpointDir: dir, keepBest: true, onEvaluation: (step) => seen.push(step) });
    expect(result.stopReason).toBe("early-stopping");
    expect(result.steps).toBeLessThan(400);
    expect(seen.slice(0, 3)).toEqual([5, 10, 15]);
    expect(result.evaluations.map((e) => e.step)).toEqual(seen);
    const lowest = Math.min(...result.evaluations.map((e) => e.result.loss));
    expect(result.best).not.toBeNull();
    expect(result.best!.loss).toBe(lowest);
    expect(result.best!.dir).toBe(join(dir, "best"));
    for (const e of result.evaluations) expect(e.result.accuracy).toBeGreaterThanOrEqual(0);

    const timed = await trainWindowClassifier({ ...base, config: { ...config, patience: undefined, timeBudgetMinutes: 0.02 } });
    expect(timed.stopReason).toBe("time");
    expect(timed.steps).toBeGreaterThan(0);
  });
});

describe("trainWindowClassifier checkpoints", () => {
  it("a run stopped and resumed ends with the same weights as one that ran straight through, and other series are refused", { timeout: 120_000 }, async () => {
    const n = 400;
    const labels = Int32Array.from({ length: n }, (_, t) => (t % 37 === 0 ? 1 : 0));
    const values = Float64Array.from({ length: n }, (_, t) => Math.sin(t / 7) + (labels[t] ? 2 : 0));
    const base = { series: [{ values, length: n }], labels: [labels], classes: ["no", "yes"] };
    const config = { features: ["x"], window: 8, model: { hiddenSize: 6 }, batchSize: 16, kernels: "reference" as const };
    const straight = await trainWindowClassifier({ ...base, config: { ...config, steps: 20 } });
    const dir = await mkdtemp(join(tmpdir(), "unroll-window-resume-"));
    dirs.push(dir);
    await trainWindowClassifier({ ...base, config: { ...config, steps: 9 }, checkpointDir: dir });
    const resumed = await trainWindowClassifier({ ...base, config: { ...config, steps: 20 }, checkpointDir: dir, resume: true });
    expect(resumed.resumedFrom).toBe(9);
    const a = treeLeaves(straight.params);
    treeLeaves(resumed.params).forEach((t, i) => expect(Array.from(t.data)).toEqual(Array.from(a[i]!.data)));
    const other = { ...base, series: [{ values: values.map((v) => v * 2), length: n }] };
    await expect(trainWindowClassifier({ ...other, config: { ...config, steps: 25 }, checkpointDir: dir, resume: true })).rejects.toThrow(/not the ones the run in .* was trained on/);
  });
});

describe("forecasterGradientFlow", () => {
  it("gives ‖dL/dh_t‖ of the forecast loss at every step of the window: central differences agree", () => {
    const model = new SequenceForecaster({ inputSize: 2, outputSize: 2, cell: "gru", hiddenSize: 3 });
    const params = model.init(new Rng(3));
    const T = 5;
    const B = 2;
    const batch = {
      inputs: new Tensor(Float32Array.from({ length: T * B * 2 }, (_, i) => Math.sin(i)), [T, B, 2]),
      lengths: new Tensor(Int32Array.from([T, T]), [B]),
      targets: new Tensor(Float32Array.from([0.5, -0.2, 0.1, 0.3]), [B, 2]),
    };
    const norms = forecasterGradientFlow(model, params, batch);
    expect(norms).toHaveLength(T);
    const lossWith = (k: number, eps: number): number =>
      noGrad(() => {
        const predictions = model.forward(params, batch.inputs, batch.lengths, {
          onHidden: (h, at) => {
            if (at.t !== 1) return h;
            const d = new Float32Array(h.size);
            d[k] = eps;
            return add(h, new Tensor(d, h.shape));
          },
        });
        return model.loss(predictions, batch.targets).item();
      });
    let squares = 0;
    for (let k = 0; k < B * 3; k++) squares += ((lossWith(k, 1e-2) - lossWith(k, -1e-2)) / 2e-2) ** 2;
    expect(Math.abs(Math.sqrt(squares) - norms[1]!) / norms[1]!).toBeLessThan(2e-2);
  });
});
