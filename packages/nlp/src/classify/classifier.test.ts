import { describe, expect, it } from "vitest";
import { gradcheck, loadWasmKernelsSync, Rng, Tensor, treeLeaves, treeMap, valueAndGrad, withKernels } from "@unroll/tensor";
import { adam, arraySource, Trainer } from "@unroll/train";
import {
  classificationBatch,
  classifierGradientFlow,
  POOLINGS,
  predictedClasses,
  SequenceClassifier,
  type SequenceClassifierConfig,
  type SequenceClassifierParams,
  SequenceTagger,
  type SequenceTaggerParams,
  taggingBatch,
  weightedCrossEntropy,
} from "../index.js";

const examples = [
  { ids: Int32Array.of(3, 4, 5, 6), label: 1 },
  { ids: Int32Array.of(7, 2), label: 0 },
  { ids: Int32Array.of(3), label: 2 },
];

function tiny(extra: Partial<SequenceClassifierConfig> = {}): SequenceClassifier {
  return new SequenceClassifier({ vocabSize: 9, numClasses: 3, embeddingSize: 4, hiddenSize: 3, attentionSize: 4, ...extra });
}

function withLeaves<P extends object>(params: P, leaves: readonly Tensor[]): P {
  return treeMap(params as never, (_, i) => leaves[i]!) as P;
}

describe("SequenceClassifier", () => {
  for (const pooling of POOLINGS) {
    for (const cell of ["lstm", "gru", "rnn_tanh"] as const) {
      it(`${pooling} pooling (${cell}, 2 bidirectional layers): the loss's gradient matches finite differences, padding and class weights included`, () => {
        const model = tiny({ pooling, cell, numLayers: 2 });
        const params = model.init(new Rng(1));
        const batch = classificationBatch(examples);
        const f = (...leaves: Tensor[]): Tensor =>
          model.loss(model.forward(withLeaves(params, leaves), batch.inputs, batch.lengths).logits, batch.labels, { classWeights: [0.5, 2, 1] });
        const report = gradcheck(f, treeLeaves(params), { atol: 1e-5, rtol: 1e-4 });
        expect(report.ok, report.message).toBe(true);
      });
    }
  }

  it("pads a batch's length up to a multiple when asked (a compiled engine's shapes): the same inputs, then padding", () => {
    const plain = classificationBatch(examples);
    const rounded = classificationBatch(examples, 3); // T 4 -> 6
    const [T, B] = plain.inputs.shape as [number, number];
    expect(rounded.inputs.shape).toEqual([6, B]);
    expect(T).toBe(4);
    expect(Array.from(rounded.inputs.data.subarray(0, T * B))).toEqual(Array.from(plain.inputs.data));
    expect(Array.from(rounded.inputs.data.subarray(T * B)).every((v) => v === 0)).toBe(true);
    expect(Array.from(rounded.lengths.data)).toEqual(Array.from(plain.lengths.data));
    expect(() => classificationBatch(examples, 0)).toThrow(/lengthMultiple must be a positive integer, got 0/);
  });

  it("numeric input features: the gradient matches finite differences, with respect to the inputs too", () => {
    const model = new SequenceClassifier({ inputSize: 2, numClasses: 2, hiddenSize: 3, pooling: "attention", attentionSize: 2 });
    const params = model.init(new Rng(3));
    const x = new Rng(4).normal([4, 2, 2]);
    const labels = new Tensor(Int32Array.of(1, 0), [2]);
    const lengths = new Tensor(Int32Array.of(4, 2), [2]);
    const f = (input: Tensor, ...leaves: Tensor[]): Tensor => model.loss(model.forward(withLeaves(params, leaves), input, lengths).logits, labels);
    const report = gradcheck(f, [x, ...treeLeaves(params)], { atol: 1e-5, rtol: 1e-4 });
    expect(report.ok, report.message).toBe(true);
  });

  for (const pooling of POOLINGS) {
    it(`${pooling} pooling: extra padding changes no output or gradient, and attention gives padding exactly zero weight`, () => {
      const model = tiny({ pooling });
      const params = model.init(new Rng(2));
      const batch = classificationBatch(examples);
      const [T, B] = batch.inputs.shape as [number, number];
      const wider = new Int32Array((T + 3) * B);
      wider.set(batch.inputs.data as Int32Array);
      const run = (inputs: Tensor) =>
        valueAndGrad((p: SequenceClassifierParams) => {
          const out = model.forward(p, inputs, batch.lengths);
          return [model.loss(out.logits, batch.labels), out] as const;
        }, { hasAux: true })(params);
      const a = run(batch.inputs);
      const w = run(new Tensor(wider, [T + 3, B]));
      expect(w.value.item()).toBe(a.value.item());
      expect(Array.from(w.aux.logits.data)).toEqual(Array.from(a.aux.logits.data));
      treeLeaves(a.grads).forEach((g, i) => expect(Array.from(treeLeaves(w.grads)[i]!.data)).toEqual(Array.from(g.data)));
      if (pooling === "attention") {
        const weights = w.aux.attention!; // (B, T+3)
        expect(weights.shape).toEqual([B, T + 3]);
        examples.forEach((e, b) => {
          let total = 0;
          for (let t = 0; t < T + 3; t++) {
            const v = weights.data[b * (T + 3) + t]!;
            if (t >= e.ids.length) expect(v).toBe(0);
            total += v;
          }
          expect(total).toBeCloseTo(1, 6);
        });
      } else expect(w.aux.attention).toBeNull();
    });
  }

  it("class weights follow PyTorch's weighted mean: Σ w[y]·loss / Σ w[y]", () => {
    // Logits chosen by hand; per-example losses -log softmax computed here independently.
    const logits = new Tensor(Float32Array.of(2, 0, -1, 0, 1, 0), [2, 3]);
    const labels = new Tensor(Int32Array.of(0, 2), [2]);
    const l0 = -(2 - Math.log(Math.exp(2) + 1 + Math.exp(-1)));
    const l1 = -(0 - Math.log(1 + Math.exp(1) + 1));
    expect(weightedCrossEntropy(logits, labels, [3, 1, 0.5]).item()).toBeCloseTo((3 * l0 + 0.5 * l1) / 3.5, 5);
    expect(weightedCrossEntropy(logits, labels, undefined).item()).toBeCloseTo((l0 + l1) / 2, 5);
    expect(() => weightedCrossEntropy(logits, new Tensor(Int32Array.of(0, 3), [2]), undefined)).toThrow(/label 3 of example 1 is not a class \(0\.\.2\)/);
  });

  it("refuses a configuration that cannot work, naming the setting", () => {
    expect(() => new SequenceClassifier({ numClasses: 2 })).toThrow(/exactly one of vocabSize .* and inputSize/);
    expect(() => new SequenceClassifier({ vocabSize: 5, numClasses: 1 })).toThrow(/numClasses must be an integer of at least 2/);
    expect(() => new SequenceClassifier({ vocabSize: 5, numClasses: 2, pooling: "sum" as never })).toThrow(/pooling must be one of last, mean, max, attention/);
    expect(() => tiny().lossFunction({ classWeights: [1, 2] })).toThrow(/3 classes but 2 class weights/);
    expect(() => tiny().lossFunction({ classWeights: [1, 0, 2] })).toThrow(/weight of class 1 must be a finite number above 0/);
    const model = tiny();
    const params = model.init(new Rng(0));
    expect(() => model.forward(params, new Tensor(Int32Array.of(3, 4), [2, 1]), [3])).toThrow(/lengths\[0\] = 3 is outside 1\.\.2/);
  });
});

// The lecture's many-to-one task as a test: does a sequence of digits contain a 7? The answer
// depends on one step anywhere in the sequence, so the model must carry it to the end.
describe("learning many-to-one and synced many-to-many", () => {
  const kernels = loadWasmKernelsSync({ threads: 1 });

  function digits(rng: Rng, n: number): Int32Array {
    return Int32Array.from({ length: n }, () => 1 + Math.floor(rng.random() * 10)); // ids 1..10 stand for the digits 0..9
  }

  for (const pooling of ["last", "max", "attention"] as const) {
    it(`${pooling} pooling learns "does the sequence contain a 7" on held-out sequences of 5-20 digits`, { timeout: 120_000 }, async () => {
      await withKernels(kernels, async () => {
        const rng = new Rng(11);
        const example = () => {
          const ids = digits(rng, 5 + Math.floor(rng.random() * 16));
          // Half the sequences get a 7 (id 8) at a random place; the rest have none.
          for (let t = 0; t < ids.length; t++) if (ids[t] === 8) ids[t] = 9;
          const label = rng.random() < 0.5 ? 1 : 0;
          if (label) ids[Math.floor(rng.random() * ids.length)] = 8;
          return { ids, label };
        };
        const batches = Array.from({ length: 300 }, () => classificationBatch(Array.from({ length: 32 }, example)));
        const held = Array.from({ length: 400 }, example);
        const model = new SequenceClassifier({ vocabSize: 11, numClasses: 2, embeddingSize: 16, hiddenSize: 32, pooling, cell: "gru" });
        const params = model.init(new Rng(0));
        await new Trainer({ params, loss: model.lossFunction(), data: arraySource(batches), optimizer: adam({ lr: 1e-2 }), clip: { maxNorm: 5 } }).run({ steps: 300 });
        const batch = classificationBatch(held);
        const predicted = predictedClasses(model.forward(params, batch.inputs, batch.lengths).logits);
        const right = predicted.reduce((n, p, i) => n + (p === held[i]!.label ? 1 : 0), 0);
        expect(right / held.length).toBeGreaterThanOrEqual(0.99);
      });
    });
  }

  it("the tagger learns to mark every digit that equals the one before it (a label per step)", { timeout: 120_000 }, async () => {
    await withKernels(kernels, async () => {
      const rng = new Rng(5);
      const example = () => {
        const ids = Int32Array.from({ length: 4 + Math.floor(rng.random() * 12) }, () => 1 + Math.floor(rng.random() * 3));
        const tags = Int32Array.from(ids, (id, t) => (t > 0 && ids[t - 1] === id ? 1 : 0));
        return { ids, tags };
      };
      const batches = Array.from({ length: 300 }, () => taggingBatch(Array.from({ length: 32 }, example)));
      const held = Array.from({ length: 200 }, example);
      const model = new SequenceTagger({ vocabSize: 4, numTags: 2, embeddingSize: 8, hiddenSize: 16, cell: "lstm" });
      const params = model.init(new Rng(0));
      await new Trainer({ params, loss: model.lossFunction(), data: arraySource(batches), optimizer: adam({ lr: 1e-2 }), clip: { maxNorm: 5 } }).run({ steps: 300 });
      const batch = taggingBatch(held);
      const logits = model.forward(params, batch.inputs, batch.lengths); // (T, B, 2)
      const [T, B] = batch.tags.shape as [number, number];
      let right = 0;
      let total = 0;
      for (let t = 0; t < T; t++) {
        for (let b = 0; b < B; b++) {
          const gold = batch.tags.data[t * B + b]!;
          if (gold === -100) continue;
          const i = (t * B + b) * 2;
          total++;
          if ((logits.data[i + 1]! > logits.data[i]! ? 1 : 0) === gold) right++;
        }
      }
      expect(right / total).toBe(1);
    });
  });
});

describe("SequenceTagger", () => {
  it("the per-step loss's gradient matches finite differences (padding at -100, tag weights)", () => {
    const model = new SequenceTagger({ vocabSize: 9, numTags: 3, embeddingSize: 4, hiddenSize: 3, numLayers: 2, cell: "gru" });
    const params = model.init(new Rng(1));
    const batch = taggingBatch([
      { ids: Int32Array.of(3, 4, 5), tags: Int32Array.of(0, 1, 2) },
      { ids: Int32Array.of(6), tags: Int32Array.of(1) },
    ]);
    const f = (...leaves: Tensor[]): Tensor => model.loss(model.forward(withLeaves<SequenceTaggerParams>(params, leaves), batch.inputs, batch.lengths), batch.tags, [1, 2, 0.5]);
    const report = gradcheck(f, treeLeaves(params), { atol: 1e-5, rtol: 1e-4 });
    expect(report.ok, report.message).toBe(true);
  });

  it("is bidirectional by default and names a tag outside the set", () => {
    const model = new SequenceTagger({ vocabSize: 5, numTags: 2, hiddenSize: 3, embeddingSize: 2 });
    expect(model.config.bidirectional).toBe(true);
    const params = model.init(new Rng(0));
    const batch = taggingBatch([{ ids: Int32Array.of(1, 2), tags: Int32Array.of(0, 5) }]);
    expect(() => model.loss(model.forward(params, batch.inputs, batch.lengths), batch.tags)).toThrow(/tag 5 at step 1 of example 0 is not a tag/);
  });
});

describe("classifierGradientFlow", () => {
  it("last-state pooling reaches the early steps through the recurrence only (a tanh RNN's curve decays backwards); mean pooling reaches every step", () => {
    const T = 30;
    const batch = classificationBatch(Array.from({ length: 8 }, (_, b) => ({ ids: Int32Array.from({ length: T }, (_, t) => 1 + ((t * 3 + b) % 9)), label: b % 2 })));
    const flow = (pooling: "last" | "mean"): number[] => {
      const model = new SequenceClassifier({ vocabSize: 10, numClasses: 2, embeddingSize: 8, hiddenSize: 16, cell: "rnn_tanh", bidirectional: false, pooling });
      return classifierGradientFlow(model, model.init(new Rng(4)), batch);
    };
    const last = flow("last");
    const mean = flow("mean");
    expect(last).toHaveLength(T);
    // Last pooling: the first step gets a tiny fraction of the last step's gradient.
    expect(last[0]! / last[T - 1]!).toBeLessThan(1e-2);
    // Mean pooling: every step has its own path to the loss, the first within 10x of the last.
    expect(mean[0]! / mean[T - 1]!).toBeGreaterThan(0.1);
  });
});
