import { describe, expect, it } from "vitest";
import { Rng, Tensor } from "@unroll/tensor";
import { classificationBatch, SequenceClassifier, SequenceForecaster, SequenceTagger } from "@unroll/nlp";
import { exportSequenceModel, OnnxSession } from "../index.js";

function maxAbsDiff(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  let m = 0;
  for (let i = 0; i < a.size; i++) m = Math.max(m, Math.abs(a.data[i]! - b.data[i]!));
  return m;
}

// A padded batch at sizes the export never traced (time 5, batch 4).
const examples = [
  { ids: Int32Array.of(3, 4, 5, 6, 7), label: 0 },
  { ids: Int32Array.of(8, 2), label: 1 },
  { ids: Int32Array.of(9, 9, 1), label: 0 },
  { ids: Int32Array.of(5), label: 1 },
];

describe("sequence classifiers and forecasters in onnxruntime", () => {
  for (const [cell, pooling] of [["lstm", "attention"], ["gru", "mean"], ["rnn_tanh", "max"], ["lstm", "last"]] as const) {
    it(`a bidirectional 2-layer ${cell} classifier with ${pooling} pooling: onnxruntime's logits${pooling === "attention" ? " and attention weights" : ""} are the library's, on a padded batch of new sizes`, async () => {
      const model = new SequenceClassifier({ vocabSize: 12, numClasses: 3, embeddingSize: 6, hiddenSize: 5, numLayers: 2, cell, pooling });
      const params = model.init(new Rng(3));
      const session = await OnnxSession.create(exportSequenceModel(model, params, { metadata: { "unroll.labels": JSON.stringify(["a", "b", "c"]) } }));
      const batch = classificationBatch(examples);
      const out = await session.runTensors({ inputs: batch.inputs, lengths: batch.lengths });
      const ref = model.forward(params, batch.inputs, batch.lengths);
      expect(maxAbsDiff(out["logits"]!, ref.logits)).toBeLessThan(1e-5);
      if (pooling === "attention") {
        expect(maxAbsDiff(out["attention"]!, ref.attention!)).toBeLessThan(1e-6);
        expect(out["attention"]!.data[1 * 5 + 2]).toBe(0); // example 1 has 2 steps: step 2 is padding
      } else expect(out["attention"]).toBeUndefined();
      expect(session.metadata["unroll.labels"]).toBe('["a","b","c"]');
    });
  }

  it("a bidirectional GRU tagger: a label's logits per step, on a padded batch of new sizes", async () => {
    const model = new SequenceTagger({ vocabSize: 12, numTags: 4, embeddingSize: 6, hiddenSize: 5, cell: "gru" });
    const params = model.init(new Rng(7));
    const session = await OnnxSession.create(exportSequenceModel(model, params, { outputName: "logits" }));
    const batch = classificationBatch(examples);
    const out = await session.runTensors({ inputs: batch.inputs, lengths: batch.lengths });
    expect(maxAbsDiff(out["logits"]!, model.forward(params, batch.inputs, batch.lengths))).toBeLessThan(1e-5);
  });

  it("a forecaster of numeric features: a graph for its window length, with a dynamic batch", async () => {
    const model = new SequenceForecaster({ inputSize: 3, outputSize: 4, hiddenSize: 6, cell: "gru" });
    const params = model.init(new Rng(5));
    const session = await OnnxSession.create(exportSequenceModel(model, params, { time: 8 }));
    const inputs = new Rng(6).normal([8, 7, 3]);
    const lengths = new Tensor(new Int32Array(7).fill(8), [7]);
    const out = await session.runTensors({ inputs, lengths });
    expect(maxAbsDiff(out["predictions"]!, model.forward(params, inputs, lengths))).toBeLessThan(1e-5);
    expect(() => exportSequenceModel(model, params)).toThrow(/exported for one sequence length: pass time/);
  });
});
