import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { LanguageModel } from "@unroll/nlp";
import type { RunSettings, StepPoint, TrainEvent } from "../protocol.js";
import { TrainingSession } from "./session.js";

const text = readFileSync(new URL("../samples/shakespeare.txt", import.meta.url), "utf8");

const small: RunSettings = {
  cell: "lstm", init: "pytorch", hiddenSize: 16, numLayers: 1, embeddingSize: 8, optimizer: "adam", lr: 0.01, clip: 1, window: 12, batchSize: 4, seed: 0,
};

/** A session whose events are collected, with helpers to read them by type. */
function session(options: Partial<ConstructorParameters<typeof TrainingSession>[1]> = {}) {
  const events: TrainEvent[] = [];
  const s = new TrainingSession((e) => events.push(e), { kernels: "reference", diagnosticsEveryMs: 50, evalEvery: 10, evalTokens: 200, ...options });
  const of = <T extends TrainEvent["type"]>(type: T) => events.filter((e): e is Extract<TrainEvent, { type: T }> => e.type === type);
  const points = (): StepPoint[] => of("steps").flatMap((e) => e.points);
  return { s, events, of, points };
}

/** Trains until `steps` steps are done (the trainer yields to the event loop), then pauses. */
async function trainFor(s: TrainingSession, steps: number): Promise<void> {
  const running = s.start();
  while (s.step < steps) await new Promise((resolve) => setTimeout(resolve, 5));
  s.pause();
  await running;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe("TrainingSession", () => {
  it("reports a new run at step 0: its size, gradient flow through the window and the spectrum of W_hh", async () => {
    const { s, events, of } = session();
    await s.configure(small, text);
    expect(events.map((e) => e.type)).toEqual(["ready", "flow", "spectrum", "state"]);
    const info = of("ready")[0]!.info;
    const model = new LanguageModel({ vocabSize: info.vocabSize, cell: "lstm", hiddenSize: 16, embeddingSize: 8 });
    const expected = Object.values(model.parameterShapes()).reduce((n, shape) => n + shape.reduce((a, b) => a * b, 1), 0);
    expect(info).toMatchObject({ parameters: expected, blocks: ["i", "f", "g", "o"], numLayers: 1, probeLength: 12, kernels: "reference" });
    expect(info.trainTokens + info.validationTokens).toBe([...text].length);
    const flow = of("flow")[0]!;
    expect(flow.step).toBe(0);
    expect(flow.gradNorms.length).toBe(12);
    expect(Array.from(flow.gradNorms).every((v) => Number.isFinite(v) && v > 0)).toBe(true);
    // The prediction at the last step depends most on the last hidden state (untrained LSTM).
    expect(flow.gradNorms[11]!).toBeGreaterThan(flow.gradNorms[0]!);
    const { spectrum } = of("spectrum")[0]!;
    expect(spectrum).toMatchObject({ step: 0, layer: 0, block: 2 }); // the candidate block g
    expect(spectrum.real.length).toBe(16);
    const moduli = Array.from(spectrum.real, (re, i) => Math.hypot(re, spectrum.imag[i]!));
    expect(spectrum.radius).toBeCloseTo(Math.max(...moduli), 12);
    expect(of("state")[0]).toMatchObject({ running: false, step: 0 });
  });

  it("trains until paused: consecutive steps, a falling loss, validation and diagnostics along the way", async () => {
    const { s, of, points } = session();
    await s.configure(small, text);
    await trainFor(s, 60);
    expect(s.isRunning).toBe(false);
    const steps = points();
    expect(steps.map((p) => p.step)).toEqual(Array.from({ length: s.step }, (_, i) => i + 1));
    expect(mean(steps.slice(-5).map((p) => p.loss))).toBeLessThan(mean(steps.slice(0, 5).map((p) => p.loss)) - 0.5);
    expect(of("eval").map((e) => e.step)).toEqual(Array.from({ length: Math.floor(s.step / 10) }, (_, i) => 10 * (i + 1)));
    expect(of("flow").length).toBeGreaterThan(1);
    expect(of("flow").at(-1)!.step).toBe(s.step); // measured again when training stops
    expect(of("state").map((e) => e.running)).toEqual([false, true, false]);
    // Clipping at 1: every step above the threshold says so, none below.
    for (const p of steps) expect(p.clipped).toBe(p.gradNorm > 1);
    expect(steps.every((p) => p.maxNorm === 1 && p.lr === 0.01)).toBe(true);
  });

  it("applies the learning rate and clipping threshold live, from the next step", async () => {
    const { s, points } = session();
    await s.configure({ ...small, clip: null }, text);
    await trainFor(s, 5);
    const a = s.step; // pausing lands between steps, at 5 or a little later
    s.live({ clip: 1e-3, lr: 0.005 });
    await trainFor(s, a + 5);
    const b = s.step;
    s.live({ clip: null });
    await trainFor(s, b + 5);
    const steps = points();
    expect(steps.length).toBe(s.step);
    const part = (from: number, to: number) => steps.filter((p) => p.step > from && p.step <= to);
    expect(part(0, a).every((p) => !p.clipped && p.maxNorm === null && p.lr === 0.01)).toBe(true);
    expect(part(a, b).every((p) => p.clipped && p.maxNorm === 1e-3 && p.lr === 0.005)).toBe(true);
    expect(part(b, s.step).every((p) => !p.clipped && p.maxNorm === null && p.lr === 0.005)).toBe(true);
  });

  it("starts every run with the same settings from the same weights; the initialiser shows in the spectrum", async () => {
    const spectrumAtStart = async (settings: RunSettings) => {
      const { s, of } = session();
      await s.configure(settings, text);
      return { spectrum: of("spectrum")[0]!.spectrum, flow: of("flow")[0]!.gradNorms };
    };
    const a = await spectrumAtStart(small);
    const b = await spectrumAtStart(small);
    expect(Array.from(b.flow)).toEqual(Array.from(a.flow));
    expect(Array.from(b.spectrum.real)).toEqual(Array.from(a.spectrum.real));
    // Orthogonal gate blocks: every eigenvalue on the unit circle.
    const orthogonal = (await spectrumAtStart({ ...small, init: "orthogonal" })).spectrum;
    for (let i = 0; i < 16; i++) expect(Math.hypot(orthogonal.real[i]!, orthogonal.imag[i]!)).toBeCloseTo(1, 4);
    // IRNN: W_hh = I, every eigenvalue exactly 1.
    const irnn = (await spectrumAtStart({ ...small, cell: "rnn_relu", init: "irnn" })).spectrum;
    expect(Array.from(irnn.real)).toEqual(new Array(16).fill(1));
    expect(irnn.block).toBe(0);
    // PyTorch's default U(-1/√H, 1/√H) starts well inside the circle.
    expect(a.spectrum.radius).toBeLessThan(1);
  });

  it("selects the spectrum's layer and gate block, and copies the weights in snapshots", async () => {
    const { s, of } = session();
    await s.configure({ ...small, cell: "gru", numLayers: 2 }, text);
    s.selectSpectrum(1, 0);
    expect(of("spectrum").at(-1)!.spectrum).toMatchObject({ layer: 1, block: 0 });
    s.selectSpectrum(2, 0); // no such layer: ignored
    expect(of("spectrum").length).toBe(2);
    const snapshot = s.snapshot()!;
    const model = new LanguageModel(snapshot.config);
    expect(Object.keys(snapshot.tensors).sort()).toEqual(Object.keys(model.parameterShapes()).sort());
    for (const [name, shape] of Object.entries(model.parameterShapes())) expect(snapshot.tensors[name]!.shape).toEqual(shape);
    snapshot.tensors["head.bias"]!.data.fill(123);
    expect(s.snapshot()!.tensors["head.bias"]!.data[0]).not.toBe(123);
  });

  it("refuses settings a model cannot have, with a message for the page", async () => {
    const { s, events } = session();
    await s.configure({ ...small, init: "irnn" }, text);
    expect(events).toEqual([{ type: "error", message: expect.stringContaining("ReLU RNN") as unknown as string }]);
    await s.configure(small, "too short");
    expect(events.at(-1)).toEqual({ type: "error", message: expect.stringContaining("at least 400 characters") as unknown as string });
    await s.start(); // nothing to train: returns at once
    expect(s.step).toBe(0);
  });
});
