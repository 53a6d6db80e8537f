import { describe, expect, it } from "vitest";
import { loadWasmKernelsSync, Rng, withKernels } from "@unroll/tensor";
import { adam, arraySource, Trainer } from "@unroll/train";
import { type AttentionKind, greedySearch, makeBatch, Seq2Seq, seq2seqDecoder, Vocabulary } from "../index.js";

// The lecture's point as a test: reversing a sequence needs every source token at the right
// step. With attention the decoder looks them up; through the bottleneck it must squeeze the
// whole sequence into one vector, which fails as the sequences grow.
const kernels = loadWasmKernelsSync({ threads: 1 });

function reversal(attention: AttentionKind, minLength: number, maxLength: number, steps: number): Promise<{ exact: number; tokens: number }> {
  return withKernels(kernels, async () => {
    const rng = new Rng(1);
    const pair = () => {
      const n = minLength + Math.floor(rng.random() * (maxLength - minLength + 1));
      const src = Int32Array.from({ length: n }, () => 3 + Math.floor(rng.random() * 10)); // 10 symbols after pad, start, end
      return { src, tgt: src.slice().reverse() };
    };
    const batches = Array.from({ length: steps }, () => makeBatch(Array.from({ length: 32 }, pair)));
    const held = Array.from({ length: 200 }, pair); // not seen in training (drawn after it)
    const model = new Seq2Seq({ srcVocabSize: 13, tgtVocabSize: 13, embeddingSize: 32, encoderHiddenSize: 64, decoderHiddenSize: 64, attention });
    const params = model.init(new Rng(0));
    await new Trainer({ params, loss: model.lossFunction(), data: arraySource(batches), optimizer: adam({ lr: 3e-3 }), clip: { maxNorm: 5 } }).run({ steps });
    const batch = makeBatch(held.map((p) => ({ src: p.src, tgt: new Int32Array(0) })));
    const encoded = model.encode(params, batch.src, batch.srcLengths);
    const rows = { memory: encoded.memory, state: model.initialDecoderState(encoded) };
    const out = await greedySearch(seq2seqDecoder(model, params), rows, held.length, { bos: Vocabulary.BOS, eos: Vocabulary.EOS, maxLength: maxLength + 5 });
    let exact = 0;
    let right = 0;
    let total = 0;
    out.forEach((h, i) => {
      const gold = held[i]!.tgt;
      if (h.tokens.length === gold.length && h.tokens.every((t, j) => t === gold[j])) exact++;
      gold.forEach((t, j) => {
        total++;
        if (h.tokens[j] === t) right++;
      });
    });
    return { exact: exact / held.length, tokens: right / total };
  });
}

describe("learning to reverse sequences", () => {
  it("with attention: every held-out sequence of 3-8 symbols reversed exactly after 500 steps", { timeout: 240_000 }, async () => {
    const r = await reversal("bahdanau", 3, 8, 500);
    expect(r.exact).toBe(1);
  });

  it("through the bottleneck, with the same budget on sequences of 10-15: far from it", { timeout: 240_000 }, async () => {
    const r = await reversal("none", 10, 15, 500);
    expect(r.exact).toBeLessThan(0.1);
    expect(r.tokens).toBeLessThan(0.6);
  });
});
