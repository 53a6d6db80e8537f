import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Rng, treeLeaves } from "@unroll/tensor";
import { saveCheckpoint } from "@unroll/train";
import { loadTranslationModel, type SentencePair, trainTranslationModel, translate } from "../index.js";

// A toy language pair: numbers word by word, German to English, in random orders.
const de = ["eins", "zwei", "drei", "vier", "fünf", "sechs"];
const en = ["one", "two", "three", "four", "five", "six"];
function pairs(n: number, seed: number): SentencePair[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, line) => {
    const k = 2 + Math.floor(rng.random() * 3);
    const ids = Array.from({ length: k }, () => Math.floor(rng.random() * de.length));
    return { source: ids.map((i) => de[i]).join(" ") + ".", target: ids.map((i) => en[i]).join(" ") + ".", line: line + 1 };
  });
}
const train = pairs(400, 1);
const dev = pairs(40, 2);
const config = {
  model: { embeddingSize: 16, encoderHiddenSize: 24, decoderHiddenSize: 24, attention: "bahdanau" as const },
  batchSize: 16,
  evalEvery: 3,
  bleuSentences: 20,
  optimizer: { lr: 3e-3 },
  kernels: "reference" as const,
};

describe("trainTranslationModel", () => {
  it("trains with dev loss, BLEU and chrF at intervals, and resumes exactly where it stopped", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unroll-mt-"));
    const straightLosses: number[] = [];
    const straight = await trainTranslationModel({ train, dev, config: { ...config, steps: 6 }, onTrainer: (t) => void t.events.on("step", (e) => straightLosses.push(e.loss)) });
    expect(straight.steps).toBe(6);
    expect(straight.evaluations.map((e) => e.step)).toEqual([3, 6]);
    for (const { result } of straight.evaluations) {
      expect(Number.isFinite(result.loss)).toBe(true);
      expect(result.bleu).toBeGreaterThanOrEqual(0);
      expect(result.chrf).toBeGreaterThanOrEqual(0);
    }
    const losses: number[] = [];
    const first = await trainTranslationModel({ train, dev, config: { ...config, steps: 3 }, checkpointDir: dir, checkpointEvery: 3, onTrainer: (t) => void t.events.on("step", (e) => losses.push(e.loss)) });
    expect(first.steps).toBe(3);
    const resumed = await trainTranslationModel({ train, dev, config: { steps: 6 }, checkpointDir: dir, resume: true, onTrainer: (t) => void t.events.on("step", (e) => losses.push(e.loss)) });
    expect(resumed.resumedFrom).toBe(3);
    expect(losses).toEqual(straightLosses);
    expect(treeLeaves(resumed.params).map((t) => Array.from(t.data))).toEqual(treeLeaves(straight.params).map((t) => Array.from(t.data)));
    const latest = JSON.parse(readFileSync(join(dir, "latest.json"), "utf8")) as { step: number };
    expect(latest.step).toBe(6);

    const loaded = await loadTranslationModel(dir);
    expect(loaded.step).toBe(6);
    const [a] = await translate(loaded.model, loaded.params, loaded, ["zwei drei."]);
    const [b] = await translate(resumed.model, resumed.params, resumed, ["zwei drei."]);
    expect(a!.text).toBe(b!.text);
  });

  it("learns the toy pair: dev BLEU above 90 after a few hundred steps", { timeout: 240_000 }, async () => {
    const result = await trainTranslationModel({ train, dev, config: { ...config, kernels: "auto", steps: 300, evalEvery: 300, bleuSentences: 40 } });
    expect(result.evaluation!.bleu).toBeGreaterThan(90);
    const [t] = await translate(result.model, result.params, result, ["fünf vier eins."], { beamSize: 3 });
    expect(t!.text).toBe("five four one.");
  });

  it("stops early after `patience` dev losses without improvement and keeps the best checkpoint in <dir>/best", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unroll-mt-best-"));
    // lr 0.2 overshoots: dev losses improve up to step 8, then rise at 10 and 12.
    const r = await trainTranslationModel({ train, dev, config: { ...config, evalEvery: 2, bleuSentences: 5, optimizer: { lr: 0.2 }, steps: 30, patience: 2 }, checkpointDir: dir, checkpointEvery: 100, keepBest: true });
    expect([r.stopReason, r.steps]).toEqual(["early-stopping", 12]);
    const losses = r.evaluations.map((e) => e.result.loss);
    expect(r.best).toEqual({ step: 8, loss: losses[3], dir: join(dir, "best") });
    expect(Math.min(...losses)).toBe(losses[3]);
    const best = await loadTranslationModel(join(dir, "best"));
    expect(best.step).toBe(8);
  });

  it("refuses to resume on other training pairs", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unroll-mt-changed-"));
    await trainTranslationModel({ train, dev, config: { ...config, steps: 1 }, checkpointDir: dir });
    const other = train.map((p, i) => (i === 7 ? { ...p, target: `${p.target} too` } : p));
    await expect(trainTranslationModel({ train: other, dev, config: { steps: 2 }, checkpointDir: dir, resume: true })).rejects.toThrow(
      /these training pairs are not the ones the run in .* was trained on/,
    );
  });

  it("refuses a checkpoint of another kind with a clear message", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unroll-mt-lm-"));
    await saveCheckpoint(dir, { step: 1, params: { w: new Rng(0).normal([2]) }, config: { kind: "language-model" } });
    await expect(loadTranslationModel(dir)).rejects.toThrow(/holds a checkpoint of another kind \("language-model"\), not a translation model: it is a language model/);
  });
});
