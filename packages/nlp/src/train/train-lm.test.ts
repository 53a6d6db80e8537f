import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Rng } from "@unroll/tensor";
import { saveCheckpoint } from "@unroll/train";
import { collect, generateText, loadLanguageModel, modelStep, trainLanguageModel, type TrainLmConfig } from "../index.js";

const text = "To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer. ".repeat(30);
const config: TrainLmConfig = {
  model: { cell: "gru", hiddenSize: 32, embeddingSize: 16 },
  batchSize: 4,
  window: 16,
  steps: 24,
  evalEvery: 8,
  optimizer: { lr: 0.01 },
  seed: 3,
};

describe("trainLanguageModel", () => {
  it("trains, evaluates and checkpoints; a resumed run follows the uninterrupted one exactly", async () => {
    const straight = await trainLanguageModel({ text, config });
    expect(straight.steps).toBe(24);
    expect(straight.validation!.loss).toBeLessThan(Math.log(straight.tokenizer.vocabSize));
    expect(straight.history.at(-1)!.loss).toBeLessThan(straight.history[0]!.loss);

    const dir = await mkdtemp(join(tmpdir(), "unroll-lm-"));
    const first = await trainLanguageModel({ text, config: { ...config, steps: 10 }, checkpointDir: dir, checkpointEvery: 5 });
    expect(first.steps).toBe(10);
    const second = await trainLanguageModel({ text, config: { ...config, steps: 24 }, checkpointDir: dir, resume: true });
    expect(second.resumedFrom).toBe(10);
    expect([...first.history, ...second.history].map((h) => h.loss)).toEqual(straight.history.map((h) => h.loss));

    const loaded = await loadLanguageModel(dir);
    expect(loaded.step).toBe(24);
    const sample = await collect(generateText(modelStep(loaded.model, loaded.params), loaded.tokenizer, { prime: "To be", maxTokens: 40, seed: 1 }));
    expect(sample.length).toBe(40);
    const again = await collect(generateText(modelStep(loaded.model, loaded.params), loaded.tokenizer, { prime: "To be", maxTokens: 40, seed: 1 }));
    expect(again).toBe(sample);
  });

  it("refuses to load a checkpoint that is not a language model's", async () => {
    const dir = await mkdtemp(join(tmpdir(), "unroll-other-"));
    await saveCheckpoint(dir, { step: 1, config: { kind: "seq2seq" }, params: { w: new Rng(0).normal([2]) } });
    await expect(loadLanguageModel(dir)).rejects.toThrow(/holds a checkpoint of another kind \("seq2seq"\), not a language model/);
  });
});
