import { describe, expect, it } from "vitest";
import { Rng } from "@unroll/tensor";
import { collect, generateText, generateTokens, LanguageModel, modelStep, sampleFromLogits, type StepFunction } from "../index.js";

describe("sampling", () => {
  const logits = [1, 3, 2, 0.5];

  it("greedy at temperature 0, and top-k 1 is greedy", () => {
    const rng = new Rng(0);
    expect(sampleFromLogits(logits, { temperature: 0 }, rng)).toBe(1);
    for (let i = 0; i < 20; i++) expect(sampleFromLogits(logits, { topK: 1 }, rng)).toBe(1);
    for (let i = 0; i < 20; i++) expect(sampleFromLogits(logits, { topP: 0.1 }, rng)).toBe(1);
  });

  it("samples from softmax(logits / T) (empirical frequencies)", () => {
    const rng = new Rng(1);
    const n = 40_000;
    for (const temperature of [1, 0.5]) {
      const counts = [0, 0, 0, 0];
      for (let i = 0; i < n; i++) counts[sampleFromLogits(logits, { temperature }, rng)]!++;
      const w = logits.map((l) => Math.exp(l / temperature));
      const z = w.reduce((a, b) => a + b, 0);
      w.forEach((wi, k) => {
        const p = wi / z;
        expect(Math.abs(counts[k]! / n - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n) + 1e-4);
      });
    }
  });

  it("top-k and top-p restrict the candidates", () => {
    const rng = new Rng(2);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) seen.add(sampleFromLogits(logits, { topK: 2 }, rng));
    expect([...seen].sort()).toEqual([1, 2]);
    // softmax([1,3,2,0.5]) ≈ [0.086, 0.636, 0.234, 0.043]: the 0.8 nucleus is {1, 2}.
    const nucleus = new Set<number>();
    for (let i = 0; i < 2000; i++) nucleus.add(sampleFromLogits(logits, { topP: 0.8 }, rng));
    expect([...nucleus].sort()).toEqual([1, 2]);
  });

  it("refuses bad settings", async () => {
    await expect(collect(generateText(cyclic, codec, { prime: "a", maxTokens: 1, topP: 2 }))).rejects.toThrow(/topP must be in \(0, 1\]/);
    await expect(collect(generateText(cyclic, codec, { prime: "a", maxTokens: 1, temperature: -1 }))).rejects.toThrow(/temperature must be >= 0/);
    await expect(collect(generateText(cyclic, codec, { prime: "", maxTokens: 1 }))).rejects.toThrow(/prime text is empty/);
  });
});

/** A fake model that always predicts the next symbol of "abcabc...", with a tokenizer of 3 symbols. */
const cyclic: StepFunction<null> = (tokens) => {
  const next = (tokens[0]! + 1) % 3;
  return { logits: [0, 1, 2].map((k) => (k === next ? 10 : 0)), state: null };
};
const codec = {
  encode: (s: string) => Int32Array.from([...s].map((c) => "abc".indexOf(c))),
  streamDecoder: () => ({ push: (id: number) => "abc"[id]!, flush: () => "" }),
};

describe("generation", () => {
  it("streams tokens after the prime, greedy", async () => {
    const out: number[] = [];
    for await (const id of generateTokens(cyclic, { prime: [0], maxTokens: 5, temperature: 0 })) out.push(id);
    expect(out).toEqual([1, 2, 0, 1, 2]);
  });

  it("stops before a stop string, withholding text that might start one", async () => {
    const pieces: string[] = [];
    for await (const p of generateText(cyclic, codec, { prime: "a", maxTokens: 20, temperature: 0, stop: ["cab"] })) pieces.push(p);
    expect(pieces.join("")).toBe("b"); // "b" then "cab" follows
    expect(await collect(generateText(cyclic, codec, { prime: "a", maxTokens: 4, temperature: 0, stop: ["bb"] }))).toBe("bcab");
  });

  it("a seeded model generates the same text twice, and another seed other text", async () => {
    const model = new LanguageModel({ vocabSize: 3, cell: "lstm", hiddenSize: 8, embeddingSize: 4 });
    const params = model.init(new Rng(4));
    const run = (seed: number) => collect(generateText(modelStep(model, params), codec, { prime: "ab", maxTokens: 60, seed }));
    const [a, b, c] = [await run(7), await run(7), await run(8)];
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(a.length).toBe(60);
  });
});

describe("excluded tokens", () => {
  it("are never sampled, and generateText never samples the tokenizer's unknown symbol", async () => {
    // A model that would always choose token 0 (greedy) and mostly 0 when sampling.
    const prefersZero: StepFunction<null> = () => ({ logits: [10, 0, 0], state: null });
    const ids: number[] = [];
    for await (const id of generateTokens(prefersZero, { prime: [1], maxTokens: 50, exclude: [0], seed: 3 })) ids.push(id);
    expect(ids.every((id) => id !== 0)).toBe(true);
    const withUnk = { ...codec, unkId: 0 };
    const text = await collect(generateText(prefersZero, withUnk, { prime: "b", maxTokens: 30, seed: 4 }));
    expect(text).not.toContain("a");
    expect(text.length).toBe(30);
  });
});
