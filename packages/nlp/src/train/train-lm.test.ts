import { cp, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fromArray, Rng, type Tensor } from "@unroll/tensor";
import { loadCheckpoint, saveCheckpoint } from "@unroll/train";
import { collect, DataError, generateText, loadLanguageModel, modelStep, trainLanguageModel, type TrainLmConfig } from "../index.js";

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

const tiny: TrainLmConfig = { model: { cell: "lstm", hiddenSize: 8, embeddingSize: 4 }, batchSize: 2, window: 8, steps: 4, evalEvery: 2, seed: 1 };

/** A finished tiny run (checkpoints at steps 2 and 4) in a fresh directory; returns the directory. */
async function tinyRun(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "unroll-lm-file-"));
  await trainLanguageModel({ text, config: tiny, checkpointDir: dir, checkpointEvery: 2 });
  return dir;
}

/** A copy of the run whose latest checkpoint is re-saved (valid sizes and sha256) with `change` applied. */
async function resaved(dir: string, change: (params: Record<string, Tensor>, config: Record<string, unknown>) => void): Promise<string> {
  const copy = await mkdtemp(join(tmpdir(), "unroll-lm-edited-"));
  const c = await loadCheckpoint(dir);
  const params = { ...c.params };
  const config = structuredClone(c.config) as Record<string, unknown>;
  change(params, config);
  await saveCheckpoint(copy, { ...c, step: c.step + 1, params, config });
  return copy;
}

/** checkpoint.json, as the tests edit it. */
interface Manifest {
  config: { training: Record<string, unknown>; model: Record<string, unknown>; tokenizer?: Record<string, unknown>; corpus?: unknown };
  data: unknown;
  trainer: Record<string, unknown>;
}

/** A copy of the run with its latest checkpoint.json edited as text would be. */
async function edited(dir: string, change: (manifest: Manifest) => void): Promise<string> {
  const copy = await mkdtemp(join(tmpdir(), "unroll-lm-edited-"));
  await cp(dir, copy, { recursive: true });
  const path = join(copy, "step-00000004", "checkpoint.json");
  const manifest = JSON.parse(await readFile(path, "utf8")) as Manifest;
  change(manifest);
  await writeFile(path, JSON.stringify(manifest));
  return copy;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
}

describe("loading a language model checks everything read from files", () => {
  it("refuses weights of another dtype, extra tensors named like Object.prototype's members, and non-finite weights, naming the tensor", async () => {
    const dir = await tinyRun();
    const asInt = await resaved(dir, (p) => {
      const w = p["embedding.weight"]!;
      p["embedding.weight"] = fromArray(Array.from(w.data, (x) => Math.round(x * 1000)), { shape: [...w.shape], dtype: "int32" });
    });
    for (const attempt of [() => loadLanguageModel(asInt), () => trainLanguageModel({ text, config: { steps: 8 }, checkpointDir: asInt, resume: true })]) {
      const e = await rejection(attempt());
      expect(e.name).toBe("CheckpointError");
      expect(e.message).toMatch(/model\.safetensors: the weights cannot be used: .*embedding\.weight is int32, expected float32/);
    }
    for (const name of ["toString", "hasOwnProperty", "__proto__"]) {
      const extra = await resaved(dir, (p) => Object.defineProperty(p, name, { value: fromArray([1]), enumerable: true }));
      expect((await rejection(loadLanguageModel(extra))).message).toMatch(new RegExp(`unexpected ${name}`));
    }
    const nan = await resaved(dir, (p) => {
      for (const [k, t] of Object.entries(p)) p[k] = fromArray(Array.from(t.data, () => NaN), { shape: [...t.shape] });
    });
    expect((await rejection(loadLanguageModel(nan))).message).toMatch(/embedding\.weight holds NaN \(at index 0\)/);
    const inf = await resaved(dir, (p) => {
      const b = p["head.bias"]!;
      p["head.bias"] = fromArray(Array.from(b.data, (x, i) => (i === 3 ? -Infinity : x)), { shape: [...b.shape] });
    });
    expect((await rejection(loadLanguageModel(inf))).message).toMatch(/head\.bias holds -Infinity \(at index 3\)/);
  });

  it("refuses a tokenizer whose vocabulary is not the embedding's and the output layer's", async () => {
    const dir = await tinyRun();
    const shorter = await resaved(dir, (_p, config) => {
      const tokenizer = config["tokenizer"] as { tokens: string[] };
      tokenizer.tokens = tokenizer.tokens.slice(0, -1);
    });
    const vocab = (await loadLanguageModel(dir)).tokenizer.vocabSize;
    for (const attempt of [() => loadLanguageModel(shorter), () => trainLanguageModel({ text, config: { steps: 8 }, checkpointDir: shorter, resume: true })]) {
      expect((await rejection(attempt())).message).toContain(
        `the tokenizer has ${vocab - 1} tokens, but the model's embedding and output layer are for ${vocab} (config.model.vocabSize)`,
      );
    }
  });

  it("refuses bad settings in checkpoint.json, naming the file and the key", async () => {
    const dir = await tinyRun();
    const cases: [(m: Manifest) => void, RegExp][] = [
      [(m) => (m.config.training.optimizer = { lr: "fast" }), /checkpoint\.json: config\.training\.optimizer\.lr must be a positive number, got "fast"/],
      [(m) => delete m.config.tokenizer, /config\.tokenizer is missing: the checkpoint carries no tokenizer/],
      [(m) => (m.config.model.hiddenSize = true), /config\.model\.hiddenSize must be a positive integer, got true/],
      [(m) => (m.config.training.batchSize = [2]), /config\.training\.batchSize must be a positive integer, got an array/],
      [(m) => (m.config.training = JSON.parse('{"__proto__": {"x": 1}}')), /config\.training\.__proto__ is not a setting/],
      [(m) => (m.config.tokenizer!.format = "other"), /config\.tokenizer cannot be read: .*not a serialised tokenizer/],
      [(m) => (m.config.corpus = { sha256: "abc", bytes: 3 }), /config\.corpus\.sha256 must be 64 hex digits/],
      [(m) => (m.config.model.embeddingSize = 9), /model\.safetensors: the weights cannot be used: .*embedding\.weight has shape/],
    ];
    for (const [change, message] of cases) {
      const bad = await edited(dir, change);
      const e = await rejection(loadLanguageModel(bad));
      expect(e.name, String(change)).toBe("CheckpointError");
      expect(e.message).toMatch(message);
      expect((await rejection(trainLanguageModel({ text, config: { steps: 8 }, checkpointDir: bad, resume: true }))).message).toMatch(message);
    }
  });

  it("a resume refuses a training state that does not fit (a data position of another text), naming checkpoint.json", async () => {
    const dir = await tinyRun();
    const bad = await edited(dir, (m) => (m.data = { epoch: 0, window: 999999 }));
    const e = await rejection(trainLanguageModel({ text, config: { steps: 8 }, checkpointDir: bad, resume: true }));
    expect(e.name).toBe("CheckpointError");
    expect(e.message).toMatch(/step-00000004\/checkpoint\.json: this run cannot continue from it: streamBatches\.seek: not a position of this source/);
    const lr = await edited(dir, (m) => (m.trainer.lrFactor = "fast"));
    expect((await rejection(trainLanguageModel({ text, config: { steps: 8 }, checkpointDir: lr, resume: true }))).message).toMatch(/trainer\.lrFactor must be a positive number, got "fast"/);
  });
});

describe("trainLanguageModel: the corpus and its length", () => {
  it("records the corpus's sha256 and refuses to resume on another text", async () => {
    const dir = await tinyRun();
    const { createHash } = await import("node:crypto");
    const loaded = await loadLanguageModel(dir);
    expect(loaded.config.corpus).toEqual({ sha256: createHash("sha256").update(text).digest("hex"), bytes: Buffer.byteLength(text) });
    const e = await rejection(trainLanguageModel({ text: text.replace("question", "answer!!"), config: { steps: 8 }, checkpointDir: dir, resume: true }));
    expect(e).toBeInstanceOf(DataError);
    expect((e as DataError).code).toBe("CHANGED");
    expect(e.message).toMatch(/is not the text this run was trained on: its sha256 is [0-9a-f]{64} .*the checkpoint records [0-9a-f]{64}/);
    const resumed = await trainLanguageModel({ text, config: { steps: 6 }, checkpointDir: dir, resume: true });
    expect(resumed.steps).toBe(6);
  });

  it("says what is too short, and what would do", async () => {
    const one = await rejection(trainLanguageModel({ text: "x", config: { ...tiny, batchSize: 4 } }));
    expect((one as DataError).code).toBe("TOO_SHORT");
    expect(one.message).toBe(
      "the text is too short to train on: its training part (the first 90%, 0 characters) is 0 tokens with the char tokenizer (vocabulary 2), " +
        "and 4 parallel streams (batchSize) need at least 5; use a longer text, or a smaller batchSize",
    );
    const shuffled = await rejection(trainLanguageModel({ text: "abcdefghij".repeat(3), config: { ...tiny, batching: "shuffled", window: 64, data: "short.txt" } }));
    expect(shuffled.message).toMatch(/^short\.txt is too short to train on: .* is 27 tokens .*windows of 64 tokens need at least 65; use a longer text, or a smaller window$/);
    const noValidation = await rejection(trainLanguageModel({ text: "abcdefghij".repeat(3), config: { ...tiny, trainFraction: 1 } }));
    expect(noValidation.message).toMatch(/too short to validate on: its validation part \(the last 0%, 0 characters\) is 0 tokens .* scoring needs at least 2/);
    // One long line of one word: the word tokenizer keeps nothing but the unknown symbol.
    const word = await rejection(trainLanguageModel({ text: "a".repeat(100_000), config: { ...tiny, tokenizer: "word" } }));
    expect(word.message).toMatch(/is 1 token with the word tokenizer \(vocabulary 1\).*this text has none, so it reads as one unknown token after another: use the char or bpe tokenizer/);
  });

  it("checks the settings a program passes, as strictly as the CLI does", async () => {
    const bad: [unknown, RegExp][] = [
      [{ model: { hiddenSize: true } }, /config\.model\.hiddenSize must be a positive integer, got true/],
      [{ optimizer: { weightDecay: -1 } }, /config\.optimizer\.weightDecay must be a number >= 0, got -1/],
      [{ seed: "" }, /config\.seed must be an integer, got ""/],
      [JSON.parse('{"__proto__": 1}'), /config\.__proto__ is not a setting/],
      [{ schedule: { name: "cosine", warmupSteps: 10 }, steps: 5 }, /the settings do not work together: cosineWithWarmup: totalSteps must be an integer > warmupSteps/],
    ];
    for (const [config, message] of bad) {
      await expect(trainLanguageModel({ text, config: { ...(config as TrainLmConfig), batchSize: 2, window: 8 } })).rejects.toThrow(message);
    }
  });

  it("calls beforeInit with the model and tokenizer before allocating the parameters", async () => {
    let seen: number | null = null;
    await expect(
      trainLanguageModel({
        text,
        config: { ...tiny, model: { cell: "lstm", hiddenSize: 1_000_000 } },
        beforeInit: (model, tokenizer) => {
          seen = Object.values(model.parameterShapes()).reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0) / tokenizer.vocabSize;
          throw new Error("too big");
        },
      }),
    ).rejects.toThrow("too big");
    expect(seen).toBeGreaterThan(4e12 / 100);
  });
});

describe("trainLanguageModel: early stopping, the best checkpoint, samples while training", () => {
  // lr 0.5 overshoots: validation at steps 2, 4 (the best), 6, 8 (both worse), so patience 2 stops at step 8.
  const bouncy: TrainLmConfig = { ...tiny, steps: 40, evalEvery: 2, optimizer: { lr: 0.5 }, patience: 2 };

  it("stops after `patience` validations without improvement and keeps the best one in <dir>/best, which loads like a run", async () => {
    const dir = await mkdtemp(join(tmpdir(), "unroll-lm-best-"));
    const evals: number[] = [];
    const r = await trainLanguageModel({ text, config: bouncy, checkpointDir: dir, checkpointEvery: 100, keepBest: true, onTrainer: (t) => void t.events.on("eval", (e) => evals.push(e.metrics.loss)) });
    expect([r.stopReason, r.steps]).toEqual(["early-stopping", 8]);
    expect(evals.indexOf(Math.min(...evals))).toBe(1); // step 4
    expect(r.best).toEqual({ step: 4, loss: evals[1], dir: join(dir, "best") });
    const best = await loadLanguageModel(join(dir, "best"));
    expect(best.step).toBe(4);
    expect((await loadCheckpoint(dir)).step).toBe(8); // the run's own latest checkpoint is where it stopped
    // Without patience the same run goes on.
    expect((await trainLanguageModel({ text, config: { ...bouncy, patience: undefined, steps: 12 } })).stopReason).toBe("steps");
  });

  it("a run stopped and resumed ends with the best checkpoint of the uninterrupted run, byte for byte", async () => {
    const straight = await mkdtemp(join(tmpdir(), "unroll-lm-best-"));
    await trainLanguageModel({ text, config: bouncy, checkpointDir: straight, checkpointEvery: 3, keepBest: true });
    const dir = await mkdtemp(join(tmpdir(), "unroll-lm-best-"));
    const stop = new AbortController();
    const first = await trainLanguageModel({
      text,
      config: bouncy,
      checkpointDir: dir,
      checkpointEvery: 3,
      keepBest: true,
      signal: stop.signal,
      onTrainer: (t) => void t.events.on("step", (e) => e.step === 5 && stop.abort()),
    });
    expect([first.stopReason, first.steps, first.best?.step]).toEqual(["stopped", 5, 4]);
    const second = await trainLanguageModel({ text, config: { steps: 40 }, checkpointDir: dir, resume: true, keepBest: true });
    expect([second.stopReason, second.steps, second.best?.step]).toEqual(["early-stopping", 8, 4]);
    const bytes = (root: string): Promise<Buffer> => readFile(join(root, "best", "step-00000004", "model.safetensors"));
    expect((await bytes(dir)).equals(await bytes(straight))).toBe(true);
  });

  it("samples every N steps with the run's seed: the same run prints the same samples, and sampling changes nothing in it", async () => {
    const run = async (samples: boolean): Promise<{ losses: number[]; texts: [number, string][] }> => {
      const texts: [number, string][] = [];
      const r = await trainLanguageModel({
        text,
        config: { ...tiny, steps: 8 },
        ...(samples ? { samples: { every: 4, length: 20 }, onSample: (s: { step: number; text: string }) => texts.push([s.step, s.text]) } : {}),
      });
      return { losses: r.history.map((h) => h.loss), texts };
    };
    const a = await run(true);
    const b = await run(true);
    expect(a.texts.map(([step, t]) => [step, t.length])).toEqual([[4, 20], [8, 20]]);
    expect(b.texts).toEqual(a.texts);
    expect((await run(false)).losses).toEqual(a.losses);
    await expect(trainLanguageModel({ text, config: tiny, samples: { every: 0, length: 5 } })).rejects.toThrow(/samples\.every and samples\.length must be positive integers/);
  });
});
