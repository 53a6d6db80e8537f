import { describe, expect, it } from "vitest";
import { gradcheck, Rng, Tensor, treeLeaves, treeMap, valueAndGrad } from "@unroll/tensor";
import { type AttentionKind, makeBatch, Seq2Seq, type Seq2SeqConfig, type Seq2SeqParams } from "../index.js";

const KINDS: readonly AttentionKind[] = ["none", "bahdanau", "luong-dot", "luong-general"];

function tinyModel(attention: AttentionKind, extra: Partial<Seq2SeqConfig> = {}): Seq2Seq {
  return new Seq2Seq({
    srcVocabSize: 9,
    tgtVocabSize: 8,
    embeddingSize: 4,
    encoderHiddenSize: 3,
    decoderHiddenSize: attention === "luong-dot" ? 6 : 5,
    attentionSize: 4,
    attention,
    ...extra,
  });
}

const pairs = [
  { src: Int32Array.of(3, 4, 5, 6), tgt: Int32Array.of(5, 4, 3) },
  { src: Int32Array.of(7, 8), tgt: Int32Array.of(7, 6, 5, 4) },
  { src: Int32Array.of(3), tgt: Int32Array.of(3) },
];

/** The parameters with their leaves replaced, in `treeLeaves` order. */
function withLeaves(params: Seq2SeqParams, leaves: readonly Tensor[]): Seq2SeqParams {
  return treeMap(params, (_, i) => leaves[i]!);
}

describe("Seq2Seq", () => {
  for (const attention of KINDS) {
    for (const cell of ["gru", "lstm"] as const) {
      it(`${attention} (${cell}): the loss's gradient matches finite differences, padding and label smoothing included`, () => {
        const model = tinyModel(attention, { cell, encoderLayers: 2, decoderLayers: 2 });
        const params = model.init(new Rng(1));
        const batch = makeBatch(pairs);
        const f = (...leaves: Tensor[]): Tensor => model.loss(model.forward(withLeaves(params, leaves), batch).logits, batch.tgtOut, 0.1);
        const report = gradcheck(f, treeLeaves(params), { atol: 1e-5, rtol: 1e-4 });
        expect(report.ok, report.message).toBe(true);
        expect(report.checked).toBe(treeLeaves(params).reduce((n, t) => n + t.size, 0));
      });
    }
  }

  it("bridges the encoder's final state when the shapes differ, and passes it on as it is when they agree", () => {
    expect(Object.keys(tinyModel("none").parameterShapes())).toContain("bridge.weight");
    const same = new Seq2Seq({ srcVocabSize: 5, tgtVocabSize: 5, embeddingSize: 2, encoderHiddenSize: 3, decoderHiddenSize: 3, bidirectional: false, attention: "none" });
    expect(Object.keys(same.parameterShapes()).filter((n) => n.startsWith("bridge"))).toEqual([]);
    const lstm = tinyModel("bahdanau", { cell: "lstm" });
    expect(lstm.parameterShapes()["bridgeCell.weight"]).toEqual([5, 6]);
  });

  for (const attention of KINDS.filter((k) => k !== "none")) {
    it(`${attention}: padded source positions get exactly zero attention, and extra padding changes no output or gradient`, () => {
      const model = tinyModel(attention);
      const params = model.init(new Rng(2));
      const batch = makeBatch(pairs);
      // The same batch with two more padded source positions.
      const [S, B] = batch.src.shape as [number, number];
      const wider = new Int32Array((S + 2) * B);
      wider.set(batch.src.data as Int32Array);
      const padded = { ...batch, src: new Tensor(wider, [S + 2, B]) };
      const run = (b: typeof batch) =>
        valueAndGrad((p: Seq2SeqParams) => {
          const out = model.forward(p, b);
          return [model.loss(out.logits, b.tgtOut), out] as const;
        }, { hasAux: true })(params);
      const a = run(batch);
      const w = run(padded);
      expect(w.value.item()).toBe(a.value.item());
      expect(Array.from(w.aux.logits.data)).toEqual(Array.from(a.aux.logits.data));
      for (const [x, y] of treeLeaves(a.grads).map((g, i) => [g, treeLeaves(w.grads)[i]!] as const)) expect(Array.from(y.data)).toEqual(Array.from(x.data));
      // Weights (T, B, S+2): zero past each length, rows summing to one.
      const weights = w.aux.attention!;
      const [T] = weights.shape as [number];
      for (let t = 0; t < T; t++) {
        for (let b = 0; b < B; b++) {
          let total = 0;
          for (let s = 0; s < S + 2; s++) {
            const v = weights.data[(t * B + b) * (S + 2) + s]!;
            if (s >= pairs[b]!.src.length) expect(v).toBe(0);
            total += v;
          }
          expect(total).toBeCloseTo(1, 6);
        }
      }
    });
  }

  for (const attention of KINDS) {
    it(`${attention}: lengths rounded up to a multiple (what a compiled engine asks for) give the same loss and gradients`, () => {
      const model = tinyModel(attention, { cell: "lstm", bidirectional: true });
      const params = model.init(new Rng(6));
      const lossAndGrads = (b: ReturnType<typeof makeBatch>) =>
        valueAndGrad((p: Seq2SeqParams) => model.loss(model.forward(p, b).logits, b.tgtOut))(params);
      const plain = makeBatch(pairs); // S 4, T 5
      const rounded = makeBatch(pairs, 3);
      expect(rounded.src.shape).toEqual([6, 3]);
      expect(rounded.tgtIn.shape).toEqual([6, 3]);
      expect(rounded.tgtOut.shape).toEqual([6, 3]);
      expect(makeBatch(pairs, 4).src.shape).toEqual([4, 3]); // already a multiple
      expect(rounded.tokens).toBe(plain.tokens);
      const a = lossAndGrads(plain);
      const b = lossAndGrads(rounded);
      expect(Math.abs(b.value.item() - a.value.item())).toBeLessThan(1e-6);
      for (const [x, y] of treeLeaves(a.grads).map((g, i) => [g, treeLeaves(b.grads)[i]!] as const)) {
        for (let k = 0; k < x.size; k++) expect(Math.abs(y.data[k]! - x.data[k]!)).toBeLessThan(1e-6);
      }
    });
  }

  it("refuses a length multiple that is not a positive integer", () => {
    expect(() => makeBatch(pairs, 0)).toThrow(/lengthMultiple must be a positive integer, got 0/);
    expect(() => makeBatch(pairs, 2.5)).toThrow(/lengthMultiple must be a positive integer/);
  });

  it("scores a padded batch as it scores each pair alone", () => {
    const model = tinyModel("luong-general", { cell: "lstm" });
    const params = model.init(new Rng(3));
    const batch = makeBatch(pairs);
    const together = model.forward(params, batch).logits; // (T, B, V)
    const [T, B, V] = together.shape as [number, number, number];
    pairs.forEach((pair, b) => {
      const alone = model.forward(params, makeBatch([pair])).logits; // (T_b, 1, V)
      const Tb = alone.shape[0]!;
      expect(Tb).toBeLessThanOrEqual(T);
      for (let t = 0; t < Tb; t++) {
        for (let v = 0; v < V; v++) expect(alone.data[t * V + v]!).toBeCloseTo(together.data[(t * B + b) * V + v]!, 5);
      }
    });
  });

  it("with teacher forcing below 1 feeds some of its own predictions, reproducibly for a seed", () => {
    const model = tinyModel("bahdanau");
    const params = model.init(new Rng(4));
    const batch = makeBatch(pairs);
    const gold = model.forward(params, batch).logits;
    const mixed = (seed: number) => model.forward(params, batch, { teacherForcing: 0, rng: new Rng(seed) }).logits;
    expect(Array.from(mixed(5).data)).toEqual(Array.from(mixed(6).data)); // ratio 0: always its own tokens
    expect(Array.from(mixed(5).data)).not.toEqual(Array.from(gold.data));
    // The first step always reads the start symbol.
    const V = gold.shape[2]!;
    expect(Array.from(mixed(5).data.subarray(0, 3 * V))).toEqual(Array.from(gold.data.subarray(0, 3 * V)));
    expect(() => model.forward(params, batch, { teacherForcing: 0.5 })).toThrow(/pass an rng/);
  });

  it("shares one embedding table with sharedEmbeddings, and checks state dicts by name, shape and dtype", () => {
    const model = new Seq2Seq({ srcVocabSize: 8, tgtVocabSize: 8, embeddingSize: 4, encoderHiddenSize: 3, decoderHiddenSize: 5, sharedEmbeddings: true });
    const names = Object.keys(model.parameterShapes());
    expect(names).toContain("encoder.embedding.weight");
    expect(names).not.toContain("decoder.embedding.weight");
    const params = model.init(new Rng(5));
    const dict: Record<string, Tensor> = {};
    const shapes = model.parameterShapes();
    const leaves = treeLeaves(params);
    // treeLeaves walks in insertion order, which parameterShapes follows too.
    Object.keys(shapes).forEach((n, i) => (dict[n] = leaves[i]!));
    const back = model.paramsFromStateDict(dict);
    expect(treeLeaves(back).map((t) => t.shape)).toEqual(leaves.map((t) => t.shape));
    expect(() => model.paramsFromStateDict({ ...dict, toString: dict["head.bias"]! })).toThrow(/unexpected toString/);
    expect(() => model.paramsFromStateDict({ ...dict, "head.bias": new Tensor(Int32Array.of(1, 2, 3, 4, 5, 6, 7, 8), [8]) })).toThrow(/head.bias is int32, expected float32/);
    const { "head.weight": _, ...missing } = dict;
    expect(() => model.paramsFromStateDict(missing)).toThrow(/missing head.weight/);
    expect(() => new Seq2Seq({ srcVocabSize: 8, tgtVocabSize: 9, sharedEmbeddings: true })).toThrow(/one joint vocabulary/);
    expect(() => new Seq2Seq({ srcVocabSize: 8, tgtVocabSize: 9, attention: "luong-dot", decoderHiddenSize: 256 })).toThrow(/must equal the encoder's output width \(512: 2 directions\)/);
  });

  it("refuses empty sources and lengths that do not fit", () => {
    const model = tinyModel("bahdanau");
    const params = model.init(new Rng(6));
    expect(() => makeBatch([{ src: new Int32Array(0), tgt: Int32Array.of(3) }])).toThrow(/pair 0 has an empty source sentence/);
    const batch = makeBatch(pairs);
    expect(() => model.encode(params, batch.src, [4, 2, 9])).toThrow(/source length 9 of example 2 is not in \[1, 4\]/);
  });
});
