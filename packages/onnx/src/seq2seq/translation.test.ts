import { describe, expect, it } from "vitest";
import { beamSearch, greedySearch, makeBatch, Seq2Seq, seq2seqDecoder, type AttentionKind, Vocabulary } from "@unroll/nlp";
import { Rng } from "@unroll/tensor";
import { exportTranslationModel, OnnxSession, onnxTranslationDecoder } from "../index.js";

const sources = [Int32Array.of(3, 4, 5, 6, 7), Int32Array.of(8, 9), Int32Array.of(10, 3, 4), Int32Array.of(5)];

describe("translation models in onnxruntime", () => {
  const cases: { attention: AttentionKind; cell: "gru" | "lstm"; bidirectional: boolean; layers: number }[] = [
    { attention: "bahdanau", cell: "gru", bidirectional: true, layers: 2 },
    { attention: "luong-general", cell: "lstm", bidirectional: true, layers: 1 },
    { attention: "luong-dot", cell: "gru", bidirectional: false, layers: 1 },
    { attention: "none", cell: "lstm", bidirectional: true, layers: 2 },
  ];
  for (const c of cases) {
    it(`${c.attention} (${c.cell}): the encoder and step graphs give the library's logits, and beam search the same tokens`, async () => {
      const model = new Seq2Seq({
        srcVocabSize: 11, tgtVocabSize: 10, embeddingSize: 5, encoderHiddenSize: c.attention === "luong-dot" ? 6 : 4, decoderHiddenSize: 6,
        attention: c.attention, cell: c.cell, bidirectional: c.bidirectional, encoderLayers: c.layers, decoderLayers: c.layers,
      });
      const params = model.init(new Rng(7));
      const files = exportTranslationModel(model, params);
      const onnx = onnxTranslationDecoder(await OnnxSession.create(files.encoder), await OnnxSession.create(files.decoder));
      const batch = makeBatch(sources.map((src) => ({ src, tgt: new Int32Array(0) })));
      const encoded = model.encode(params, batch.src, batch.srcLengths);
      const libraryRows = { memory: encoded.memory, state: model.initialDecoderState(encoded) };
      const onnxRows = await onnx.encode(batch.src.data as Int32Array, batch.srcLengths.data as Int32Array);
      // One step from the start symbol: logits and attention agree.
      const start = new Int32Array(sources.length).fill(Vocabulary.BOS);
      const a = await seq2seqDecoder(model, params).step(start, libraryRows);
      const b = await onnx.step(start, onnxRows);
      expect(b.logits.length).toBe(a.logits.length);
      for (let i = 0; i < a.logits.length; i++) expect(b.logits[i]!).toBeCloseTo(a.logits[i]!, 5);
      if (c.attention === "none") expect(b.attention).toBeUndefined();
      else for (let i = 0; i < a.attention!.length; i++) expect(b.attention![i]!).toBeCloseTo(a.attention![i]!, 5);
      // Whole searches: the same tokens.
      const options = { bos: Vocabulary.BOS, eos: Vocabulary.EOS, maxLength: 8 };
      const viaLibrary = await beamSearch(seq2seqDecoder(model, params), libraryRows, sources.length, { ...options, beamSize: 3 });
      const viaOnnx = await beamSearch(onnx, onnxRows, sources.length, { ...options, beamSize: 3 });
      expect(viaOnnx.map((h) => h[0]!.tokens)).toEqual(viaLibrary.map((h) => h[0]!.tokens));
      const greedyLibrary = await greedySearch(seq2seqDecoder(model, params), libraryRows, sources.length, options);
      const greedyOnnx = await greedySearch(onnx, onnxRows, sources.length, options);
      expect(greedyOnnx.map((h) => h.tokens)).toEqual(greedyLibrary.map((h) => h.tokens));
    });
  }
});
