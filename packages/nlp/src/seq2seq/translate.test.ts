import { describe, expect, it } from "vitest";
import { Rng } from "@unroll/tensor";
import { beamSearch, greedySearch, makeBatch, Seq2Seq, seq2seqDecoder, translate, Vocabulary } from "../index.js";

const source = Vocabulary.fit(["ein kleiner hund", "eine große katze", "der hund schläft"], { minFrequency: 1 });
const target = Vocabulary.fit(["a small dog", "a big cat", "the dog sleeps"], { minFrequency: 1 });
const sentences = ["der kleine hund", "", "eine katze schläft nicht", "hund", "   "];

function modelFor(attention: "none" | "bahdanau" | "luong-general") {
  const model = new Seq2Seq({ srcVocabSize: source.size, tgtVocabSize: target.size, embeddingSize: 6, encoderHiddenSize: 5, decoderHiddenSize: 7, attention, cell: "lstm" });
  return { model, params: model.init(new Rng(3)) };
}

describe("translate", () => {
  for (const attention of ["none", "bahdanau", "luong-general"] as const) {
    it(`${attention}: beam size 1 gives greedy's tokens and scores; results in input order; blank lines stay blank`, async () => {
      const { model, params } = modelFor(attention);
      const greedy = await translate(model, params, { source, target }, sentences, { maxLength: 12 });
      const beam1 = await translate(model, params, { source, target }, sentences, { beamSize: 1, lengthPenalty: { kind: "none" }, maxLength: 12 });
      expect(beam1.map((t) => t.tokens)).toEqual(greedy.map((t) => t.tokens));
      expect(beam1.map((t) => t.logProb)).toEqual(greedy.map((t) => t.logProb));
      expect(greedy[1]).toMatchObject({ text: "", tokens: [] });
      expect(greedy[4]).toMatchObject({ text: "", tokens: [] });
      // Each sentence alone gives what it gave in the batch.
      for (const [i, s] of sentences.entries()) {
        const [alone] = await translate(model, params, { source, target }, [s], { maxLength: 12 });
        expect(alone!.tokens).toEqual(greedy[i]!.tokens);
      }
      expect(greedy[0]!.sourceTokens).toEqual(Array.from(source.encode("der kleine hund")));
      if (attention === "none") expect(greedy[0]!.attention).toBeUndefined();
      else {
        const a = greedy[0]!.attention!;
        expect(a).toHaveLength(greedy[0]!.tokens.length + (greedy[0]!.finished ? 1 : 0));
        for (const row of a) {
          expect(row).toHaveLength(greedy[0]!.sourceTokens.length);
          expect(row.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 5);
        }
      }
    });
  }

  it("the library decoder drives both searches; on these sentences beam search finds sequences at least as likely as greedy's", async () => {
    const { model, params } = modelFor("bahdanau");
    const src = sentences.filter((s) => s.trim() !== "").map((s) => ({ src: source.encode(s), tgt: new Int32Array(0) }));
    const batch = makeBatch(src);
    const encoded = model.encode(params, batch.src, batch.srcLengths);
    const rows = { memory: encoded.memory, state: model.initialDecoderState(encoded) };
    const options = { bos: Vocabulary.BOS, eos: Vocabulary.EOS, maxLength: 8 };
    const greedy = await greedySearch(seq2seqDecoder(model, params), rows, src.length, options);
    const beam = await beamSearch(seq2seqDecoder(model, params), rows, src.length, { ...options, beamSize: 4, earlyStop: false });
    beam.forEach((hyps, i) => {
      if (greedy[i]!.finished && hyps[0]!.finished) expect(hyps[0]!.logProb).toBeGreaterThanOrEqual(greedy[i]!.logProb - 1e-9);
    });
  });
});
