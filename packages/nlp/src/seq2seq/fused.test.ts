import { describe, expect, it } from "vitest";
import { gradcheck, loadWasmKernelsSync, referenceKernels, Rng, type Tensor, treeLeaves, treeMap, valueAndGrad, withKernels } from "@unroll/tensor";
import { makeBatch, Seq2Seq, type Seq2SeqParams } from "../index.js";

// The fused one-layer Bahdanau decoder against the step-by-step decoder it replaces in training.
const pairs = [
  { src: Int32Array.of(3, 4, 5, 6), tgt: Int32Array.of(5, 4, 3) },
  { src: Int32Array.of(7, 8), tgt: Int32Array.of(7, 6, 5, 4) },
  { src: Int32Array.of(3), tgt: Int32Array.of(3) },
];
const withLeaves = (params: Seq2SeqParams, leaves: readonly Tensor[]): Seq2SeqParams => treeMap(params, (_, i) => leaves[i]!);

function model(cell: "gru" | "lstm" | "rnn_tanh", bidirectional = true): Seq2Seq {
  return new Seq2Seq({ srcVocabSize: 9, tgtVocabSize: 8, embeddingSize: 4, encoderHiddenSize: 3, decoderHiddenSize: 5, attentionSize: 4, attention: "bahdanau", cell, bidirectional });
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe("the fused Bahdanau decoder", () => {
  for (const cell of ["gru", "lstm", "rnn_tanh"] as const) {
    it(`${cell}: the same logits, attention and gradients as the step-by-step decoder`, () => {
      const m = model(cell);
      const params = m.init(new Rng(3));
      const batch = makeBatch(pairs);
      const run = (fused: boolean) =>
        valueAndGrad((p: Seq2SeqParams) => {
          const out = m.forward(p, batch, { fused });
          return [m.loss(out.logits, batch.tgtOut, 0.1), out] as const;
        }, { hasAux: true })(params);
      const a = run(true);
      const b = run(false);
      expect(Math.abs(a.value.item() - b.value.item())).toBeLessThan(1e-6);
      expect(maxDiff(a.aux.logits.data, b.aux.logits.data)).toBeLessThan(1e-5);
      expect(maxDiff(a.aux.attention!.data, b.aux.attention!.data)).toBeLessThan(1e-6);
      const ga = treeLeaves(a.grads);
      const gb = treeLeaves(b.grads);
      ga.forEach((g, i) => expect(maxDiff(g.data, gb[i]!.data), `gradient ${i}`).toBeLessThan(1e-5));
    });

    it(`${cell}: the fused path's gradient matches finite differences`, () => {
      const m = model(cell, false);
      const params = m.init(new Rng(4));
      const batch = makeBatch(pairs);
      const f = (...leaves: Tensor[]): Tensor => m.loss(m.forward(withLeaves(params, leaves), batch, { fused: true }).logits, batch.tgtOut);
      const report = gradcheck(f, treeLeaves(params), { atol: 1e-5, rtol: 1e-4 });
      expect(report.ok, report.message).toBe(true);
    });
  }

  for (const [cell, sizes] of [["gru", { h: 5, a: 4 }], ["lstm", { h: 8, a: 8 }], ["rnn_tanh", { h: 7, a: 6 }], ["lstm", { h: 3, a: 5 }]] as const) {
    it(`${cell} (hidden ${sizes.h}, attention ${sizes.a}): the WebAssembly kernel gives the reference kernel's loss and gradients`, () => {
      const m = new Seq2Seq({ srcVocabSize: 9, tgtVocabSize: 8, embeddingSize: 4, encoderHiddenSize: 4, decoderHiddenSize: sizes.h, attentionSize: sizes.a, attention: "bahdanau", cell });
      const params = m.init(new Rng(6));
      const batch = makeBatch(pairs);
      const run = () => valueAndGrad((p: Seq2SeqParams) => m.loss(m.forward(p, batch, { fused: true }).logits, batch.tgtOut))(params);
      const reference = withKernels(referenceKernels, run);
      const wasm = withKernels(loadWasmKernelsSync({ threads: 1 }), run);
      expect(Math.abs(wasm.value.item() - reference.value.item())).toBeLessThan(1e-5);
      const r = treeLeaves(reference.grads);
      treeLeaves(wasm.grads).forEach((g, i) => expect(maxDiff(g.data, r[i]!.data), `gradient ${i}`).toBeLessThan(1e-4));
    });
  }
});
