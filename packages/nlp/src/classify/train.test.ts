import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Rng, treeLeaves } from "@unroll/tensor";
import { classifyTexts, evaluateClassifier, type LabelledText, loadClassifier, trainClassifier } from "../index.js";

// Reviews made of filler words with one telling word somewhere: "good"/"great" or "bad"/"awful".
function reviews(n: number, seed: number): LabelledText[] {
  const rng = new Rng(seed);
  const filler = ["the", "film", "was", "a", "plot", "and", "actors", "music", "long", "story", "very", "quite"];
  return Array.from({ length: n }, () => {
    const words = Array.from({ length: 4 + Math.floor(rng.random() * 10) }, () => filler[Math.floor(rng.random() * filler.length)]!);
    // Unbalanced: a quarter are negative.
    const positive = rng.random() < 0.75;
    const cue = positive ? (rng.random() < 0.5 ? "good" : "great") : rng.random() < 0.5 ? "bad" : "awful";
    words.splice(Math.floor(rng.random() * (words.length + 1)), 0, cue);
    return { label: positive ? "pos" : "neg", text: words.join(" ") };
  });
}

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "unroll-classify-"));
  dirs.push(d);
  return d;
}

const config = {
  model: { embeddingSize: 16, hiddenSize: 16, cell: "gru" as const, pooling: "attention" as const },
  optimizer: { lr: 1e-2 },
  batchSize: 16,
  evalEvery: 20,
  classWeights: "balanced" as const,
  kernels: "reference" as const,
  minFrequency: 1,
};

describe("trainClassifier", () => {
  const train = reviews(400, 1);
  const dev = reviews(100, 2);

  it("learns a review's sentiment from one word among fillers, and a loaded checkpoint classifies new texts", { timeout: 120_000 }, async () => {
    const dir = await tempDir();
    const result = await trainClassifier({ train, dev, config: { ...config, steps: 120 }, checkpointDir: dir, keepBest: true });
    expect(result.labels.names).toEqual(["neg", "pos"]);
    expect(result.classWeights![0]).toBeGreaterThan(result.classWeights![1]!);
    expect(result.evaluations.map((e) => e.step)).toEqual([20, 40, 60, 80, 100, 120]);
    expect(result.evaluation!.accuracy).toBe(1);
    expect(result.best).not.toBeNull();
    const loaded = await loadClassifier(dir);
    const [a, b] = classifyTexts(loaded, ["the music was awful and long", "a great story"]);
    expect(a!.label).toBe("neg");
    expect(b!.label).toBe("pos");
    expect(a!.probabilities["neg"]! + a!.probabilities["pos"]!).toBeCloseTo(1, 5);
    // Attention pooling's weights: one per token of the text, summing to one.
    expect(a!.attention!.map((w) => w.token).join("")).toBe("the music was awful and long");
    expect(a!.attention!.reduce((s, w) => s + w.weight, 0)).toBeCloseTo(1, 5);
    const scored = evaluateClassifier(loaded, reviews(50, 3));
    expect(scored.report.accuracy).toBe(1);
    expect(() => evaluateClassifier(loaded, [{ label: "neutral", text: "the film" }])).toThrow(/example 1: the label "neutral" is not one the model was trained on \("neg", "pos"\)/);
  });

  it("a run stopped and resumed ends with the same weights as one that ran straight through", { timeout: 120_000 }, async () => {
    const straight = await trainClassifier({ train, dev, config: { ...config, steps: 30 } });
    const dir = await tempDir();
    await trainClassifier({ train, dev, config: { ...config, steps: 13 }, checkpointDir: dir });
    const resumed = await trainClassifier({ train, dev, config: { steps: 30 }, checkpointDir: dir, resume: true });
    expect(resumed.resumedFrom).toBe(13);
    const a = treeLeaves(straight.params);
    treeLeaves(resumed.params).forEach((t, i) => expect(Array.from(t.data)).toEqual(Array.from(a[i]!.data)));
    expect(await readdir(dir)).toContain("latest.json");
    // Other examples than the run's: refused, naming the run.
    await expect(trainClassifier({ train: reviews(400, 9), dev, config: { steps: 40 }, checkpointDir: dir, resume: true })).rejects.toThrow(/not the ones the run in .* was trained on/);
  });

  it("refuses class weights that do not match the classes, naming them in order", async () => {
    await expect(trainClassifier({ train, dev, config: { ...config, steps: 1, classWeights: [1, 2, 3] } })).rejects.toThrow(/3 numbers but there are 2 classes \(neg, pos, in this order\)/);
  });
});
