import { describe, expect, it } from "vitest";
import { fromArray, Rng, softmaxCrossEntropy, treeEntries } from "@unroll/tensor";
import { adam, arraySource, Trainer } from "@unroll/train";
import { evaluate, LanguageModel, type LanguageModelBatch } from "../index.js";

const text = "the cat sat on the mat. the dog sat on the log. ";
const chars = [...new Set(text)].sort();
const ids = Int32Array.from([...text].map((c) => chars.indexOf(c)));

/** Batches of the whole text as B=1 windows of T, next-token targets. */
function windows(T: number): LanguageModelBatch[] {
  const out: LanguageModelBatch[] = [];
  for (let s = 0; s + 1 < ids.length; s += T) {
    const n = Math.min(T, ids.length - 1 - s);
    out.push({
      inputs: fromArray(ids.slice(s, s + n), { shape: [n, 1], dtype: "int32" }),
      targets: fromArray(ids.slice(s + 1, s + n + 1), { shape: [n, 1], dtype: "int32" }),
      reset: s === 0,
    });
  }
  return out;
}

describe("LanguageModel", () => {
  it("a tiny LSTM LM overfits a short text to near-zero loss", async () => {
    const model = new LanguageModel({ vocabSize: chars.length, cell: "lstm", hiddenSize: 48, embeddingSize: 16 });
    const params = model.init(new Rng(0));
    const trainer = new Trainer({
      params,
      loss: model.lossFunction(),
      data: arraySource(windows(16), { loop: true }),
      optimizer: adam({ lr: 0.02 }),
      clip: { maxNorm: 5 },
    });
    await trainer.run({ steps: 300 });
    const result = evaluate(model, params, ids, { batchSize: 1, window: 16 });
    expect(result.loss).toBeLessThan(0.05);
    expect(result.tokens).toBe(ids.length - 1);
  });

  it("names parameters as a PyTorch state dict; weight tying shares the embedding", () => {
    const tied = new LanguageModel({ vocabSize: 10, cell: "gru", hiddenSize: 8, embeddingSize: 8, tieWeights: true, numLayers: 2 });
    const names = treeEntries(tied.init(new Rng(1))).map(([p]) => p);
    expect(names).toContain("embedding.weight");
    expect(names).toContain("rnn.weight_hh_l1");
    expect(names).toContain("head.bias");
    expect(names).not.toContain("head.weight");
    const untied = new LanguageModel({ vocabSize: 10, cell: "rnn_tanh", hiddenSize: 8 });
    expect(treeEntries(untied.init(new Rng(1))).map(([p]) => p)).toContain("head.weight");
  });

  it("evaluation does not depend on the window (the state carries across windows)", () => {
    const model = new LanguageModel({ vocabSize: chars.length, cell: "gru", hiddenSize: 12, embeddingSize: "one-hot" });
    const params = model.init(new Rng(2));
    const a = evaluate(model, params, ids, { batchSize: 1, window: 7 });
    const b = evaluate(model, params, ids, { batchSize: 1, window: 100 });
    expect(a.loss).toBeCloseTo(b.loss, 5);
    // Against one forward pass over the whole text.
    const { logits } = model.forward(params, fromArray(ids.slice(0, -1), { shape: [ids.length - 1, 1], dtype: "int32" }));
    const direct = softmaxCrossEntropy(logits, fromArray(ids.slice(1), { shape: [ids.length - 1, 1], dtype: "int32" })).item();
    expect(a.loss).toBeCloseTo(direct, 5);
    expect(a.bitsPerToken).toBeCloseTo(a.loss / Math.LN2, 12);
    expect(a.perplexity).toBeCloseTo(Math.exp(a.loss), 10);
  });

  it("a padded batch (lengths) gives each example its own logits and final state", () => {
    const model = new LanguageModel({ vocabSize: chars.length, cell: "lstm", hiddenSize: 6, embeddingSize: 4, numLayers: 2 });
    const params = model.init(new Rng(5));
    const long = ids.slice(0, 4);
    const short = ids.slice(4, 6);
    const batch = fromArray([long[0]!, short[0]!, long[1]!, short[1]!, long[2]!, 0, long[3]!, 0], { shape: [4, 2], dtype: "int32" });
    const padded = model.forward(params, batch, null, { lengths: [4, 2] });
    const alone = model.forward(params, fromArray(short, { shape: [2, 1], dtype: "int32" }));
    const V = chars.length;
    for (let t = 0; t < 2; t++) {
      for (let v = 0; v < V; v++) expect(padded.logits.data[(t * 2 + 1) * V + v]).toBeCloseTo(alone.logits.data[t * V + v]!, 5);
    }
    for (let l = 0; l < 2; l++) {
      for (let k = 0; k < 6; k++) {
        expect(padded.state.h.data[(l * 2 + 1) * 6 + k]).toBeCloseTo(alone.state.h.data[l * 6 + k]!, 5);
        expect(padded.state.c!.data[(l * 2 + 1) * 6 + k]).toBeCloseTo(alone.state.c!.data[l * 6 + k]!, 5);
      }
    }
  });

  it("refuses inconsistent configurations with the fix in the message", () => {
    expect(() => new LanguageModel({ vocabSize: 10, cell: "lstm", hiddenSize: 8, embeddingSize: 4, tieWeights: true })).toThrow(
      /tieWeights needs embeddingSize \(4\) equal to hiddenSize \(8\)/,
    );
    expect(() => new LanguageModel({ vocabSize: 10, cell: "lstm", hiddenSize: 8, init: "irnn" })).toThrow(/relu RNN/);
    expect(() => new LanguageModel({ vocabSize: 10, cell: "gru", hiddenSize: 8, forgetBias: 1 })).toThrow(/LSTM cells only/);
    const model = new LanguageModel({ vocabSize: 10, cell: "gru", hiddenSize: 8 });
    expect(() => model.forward(model.init(new Rng(0)), fromArray([[1.5]]))).toThrow(/inputs must be int32 token ids \[T, B\]/);
  });

  it("IRNN and np-RNN initialisations build relu RNN language models", () => {
    for (const init of ["irnn", "np-rnn"] as const) {
      const model = new LanguageModel({ vocabSize: 5, cell: "rnn_relu", hiddenSize: 6, init });
      const p = model.init(new Rng(3));
      expect(p.rnn.weight_hh_l0!.shape).toEqual([6, 6]);
    }
  });
});
