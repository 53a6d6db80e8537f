import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeSafetensors, encodeSafetensors } from "@unroll/train";
import { collect, evaluate, generateText, loadLanguageModel, loadModel, modelStep, saveModel, trainLanguageModel, type TrainLmConfig } from "../index.js";

const text = "It was the best of times, it was the worst of times, it was the age of wisdom. ".repeat(30);
const config: TrainLmConfig = { model: { cell: "lstm", hiddenSize: 8, embeddingSize: 4, forgetBias: 1 }, batchSize: 2, window: 8, steps: 6, evalEvery: 3, seed: 2 };

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
}

describe("saveModel / loadModel: one file with the model, its tokenizer and its settings", () => {
  it("round-trips a trained model: the same weights, tokenizer, settings and samples; atomically written; a PyTorch state dict inside", async () => {
    const dir = await mkdtemp(join(tmpdir(), "unroll-model-file-"));
    const trained = await trainLanguageModel({ text, config, checkpointDir: join(dir, "run") });
    const path = join(dir, "lm.safetensors");
    const bytes = await saveModel(path, trained);
    expect((await readFile(path)).length).toBe(bytes);
    expect(await readdir(dir)).toEqual(["lm.safetensors", "run"]); // no temporary file left
    const loaded = await loadModel(path);
    expect(loaded.step).toBe(6);
    expect(loaded.model.config).toEqual(trained.model.config);
    expect(loaded.tokenizer.toJSON()).toEqual(trained.tokenizer.toJSON());
    const ids = trained.tokenizer.encode(text.slice(0, 200));
    expect(evaluate(loaded.model, loaded.params, ids).loss).toBe(evaluate(trained.model, trained.params, ids).loss);
    const sample = (m: { model: typeof loaded.model; params: typeof loaded.params; tokenizer: typeof loaded.tokenizer }): Promise<string> =>
      collect(generateText(modelStep(m.model, m.params), m.tokenizer, { prime: "It was", maxTokens: 30, seed: 4 }));
    expect(await sample(loaded)).toBe(await sample(trained));

    // A run's checkpoint saves the same way, with its training settings and corpus fingerprint.
    const fromRun = await loadLanguageModel(join(dir, "run"));
    await saveModel(path, fromRun); // over the old file
    const again = await loadModel(path);
    expect([again.config.training, again.config.corpus, again.config.tokenizer]).toEqual([fromRun.config.training, fromRun.config.corpus, fromRun.config.tokenizer]);
    expect(again.model.config).toEqual(fromRun.model.config); // stored in full, defaults included
    const { metadata, tensors } = decodeSafetensors(new Uint8Array(await readFile(path)));
    expect(metadata).toMatchObject({ format: "pt", "unroll.format": "unroll-model", "unroll.format_version": "1", "unroll.step": "6" });
    expect(Object.keys(tensors).sort()).toEqual(Object.keys(fromRun.model.parameterShapes()).sort()); // a plain state dict
  });

  it("says plainly what a wrong or damaged file is", async () => {
    const dir = await mkdtemp(join(tmpdir(), "unroll-model-file-"));
    const trained = await trainLanguageModel({ text, config: { ...config, steps: 2 }, checkpointDir: join(dir, "run") });
    const path = join(dir, "lm.safetensors");
    await saveModel(path, trained);
    const good = new Uint8Array(await readFile(path));
    const { tensors, metadata } = decodeSafetensors(good);
    const write = async (name: string, content: Uint8Array | string): Promise<string> => {
      await writeFile(join(dir, name), content);
      return join(dir, name);
    };
    const cases: [string, RegExp][] = [
      [join(dir, "missing.safetensors"), /loadModel: .*missing\.safetensors: no such file/],
      [join(dir, "run"), /run: is a directory, not a model file: a run or checkpoint directory is read by loadLanguageModel\(dir\)/],
      [await write("text.safetensors", "hello, world"), /text\.safetensors: is not a model file written by saveModel: it is not a valid safetensors file/],
      [await write("cut.safetensors", good.subarray(0, good.length - 10)), /cut\.safetensors: is not a model file written by saveModel: it is not a valid safetensors file/],
      [join(dir, "run", "step-00000002", "model.safetensors"), /model\.safetensors: is a safetensors file without unroll's model metadata \(a plain state dict/],
      [await write("other.safetensors", encodeSafetensors(tensors, { ...metadata, "unroll.format": "unroll-onnx" })), /is a "unroll-onnx" file, not an "unroll-model"/],
      [await write("v2.safetensors", encodeSafetensors(tensors, { ...metadata, "unroll.format_version": "2" })), /has format version "2"; this library reads version 1/],
      [await write("json.safetensors", encodeSafetensors(tensors, { ...metadata, "unroll.config": "{" })), /metadata "unroll\.config" is not JSON/],
      [await write("kind.safetensors", encodeSafetensors(tensors, { ...metadata, "unroll.config": '{"kind":"translation-model"}' })), /holds a checkpoint of another kind \("translation-model"\), not a language model/],
      [await write("less.safetensors", encodeSafetensors(Object.fromEntries(Object.entries(tensors).filter(([k]) => k !== "head.bias")), metadata)), /the weights cannot be used: .*missing head\.bias/],
    ];
    for (const [file, message] of cases) {
      const e = await rejection(loadModel(file));
      expect(e.name, file).toBe("CheckpointError");
      expect(e.message, file).toMatch(message);
    }
    // A model and a tokenizer that do not belong together are never written.
    const other = await trainLanguageModel({ text: "abc ".repeat(100), config: { ...config, steps: 1 } });
    expect((await rejection(saveModel(join(dir, "mixed.safetensors"), { ...trained, tokenizer: other.tokenizer }))).message).toMatch(/saveModel: the tokenizer has 5 tokens but the model's vocabulary is \d+/);
    expect(await readdir(dir)).not.toContain("mixed.safetensors");
  });
});
