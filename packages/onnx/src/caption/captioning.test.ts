import { describe, expect, it } from "vitest";
import { beamSearch, greedySearch, Vocabulary } from "@unroll/nlp";
import { Rng } from "@unroll/tensor";
import { CAPTION_DECODERS, Captioner, type CaptionerConfig, captionDecoder } from "@unroll/vision";
import { exportCaptioningModel, OnnxSession, onnxCaptionDecoder } from "../index.js";

describe("captioning models in onnxruntime", () => {
  const cases: Partial<CaptionerConfig>[] = [
    ...CAPTION_DECODERS.flatMap((decoder) => (["lstm", "gru"] as const).map((cell) => ({ decoder, cell }))),
    { decoder: "attention", cell: "lstm", video: true },
    { decoder: "inject", cell: "gru", video: true },
  ];
  for (const c of cases) {
    it(`${c.decoder} (${c.cell}${c.video ? ", video" : ""}): the encoder and step graphs give the library's logits, and greedy and beam search the same captions`, async () => {
      const model = new Captioner({ vocabSize: 9, encoder: { channels: [4, 6], blocks: 1 }, embeddingSize: 5, hiddenSize: 7, attentionSize: 5, ...c });
      const params = model.init(new Rng(3));
      const frames = 3;
      const files = exportCaptioningModel(model, params, { imageSize: [12, 10], ...(c.video ? { frames } : {}) });
      const onnx = onnxCaptionDecoder(await OnnxSession.create(files.encoder), await OnnxSession.create(files.decoder));
      const N = 4;
      const images = new Rng(4).normal(c.video ? [N, frames, 3, 12, 10] : [N, 3, 12, 10], 0, 1);
      const encoded = model.encode(params, images);
      const libraryRows = { memory: encoded.memory, state: model.initialDecoderState(encoded) };
      const onnxRows = await onnx.encode(images.data as Float32Array, N);
      expect(onnx.signature.grid).toEqual(encoded.grid);
      const start = new Int32Array(N).fill(Vocabulary.BOS);
      const library = captionDecoder(model, params);
      const a = await library.step(start, libraryRows);
      const b = await onnx.step(start, onnxRows);
      expect(b.logits.length).toBe(a.logits.length);
      for (let i = 0; i < a.logits.length; i++) expect(b.logits[i]!).toBeCloseTo(a.logits[i]!, 4);
      if (c.decoder === "attention") for (let i = 0; i < a.attention!.length; i++) expect(b.attention![i]!).toBeCloseTo(a.attention![i]!, 5);
      else expect(b.attention).toBeUndefined();
      const options = { bos: Vocabulary.BOS, eos: Vocabulary.EOS, maxLength: 6, exclude: [Vocabulary.PAD, Vocabulary.BOS] };
      const beams = [await beamSearch(library, libraryRows, N, { ...options, beamSize: 3 }), await beamSearch(onnx, onnxRows, N, { ...options, beamSize: 3 })];
      expect(beams[1]!.map((h) => h[0]!.tokens)).toEqual(beams[0]!.map((h) => h[0]!.tokens));
      const greedy = [await greedySearch(library, libraryRows, N, options), await greedySearch(onnx, onnxRows, N, options)];
      expect(greedy[1]!.map((h) => h.tokens)).toEqual(greedy[0]!.map((h) => h.tokens));
    });
  }

  it("refuses an export without the image size, a video export without frames, and images of the wrong size", async () => {
    const image = new Captioner({ vocabSize: 9, encoder: { channels: [4], blocks: 0 }, embeddingSize: 5, hiddenSize: 7 });
    const params = image.init(new Rng(0));
    expect(() => exportCaptioningModel(image, params, {} as never)).toThrow(/imageSize must be \[height, width\] in pixels, got undefined/);
    const video = new Captioner({ vocabSize: 9, encoder: { channels: [4], blocks: 0 }, embeddingSize: 5, hiddenSize: 7, video: true });
    expect(() => exportCaptioningModel(video, video.init(new Rng(0)), { imageSize: [8, 8] })).toThrow(/a video captioner needs frames/);
    const files = exportCaptioningModel(image, params, { imageSize: [8, 8] });
    const onnx = onnxCaptionDecoder(await OnnxSession.create(files.encoder), await OnnxSession.create(files.decoder));
    await expect(onnx.encode(new Float32Array(3 * 10 * 10), 1)).rejects.toThrow(/1 images of \[3, 8, 8\] are 192 values, got 300: resize them to the exported size/);
  });

  it("the pretrained MobileNetV2 encoder (nsfwjs's weights, 224×224) exports too: onnxruntime's first-step logits are the library's", { timeout: 120_000 }, async () => {
    const model = await Captioner.create({ vocabSize: 9, encoder: { kind: "mobilenet" }, embeddingSize: 5, hiddenSize: 7, decoder: "attention" });
    const params = model.init(new Rng(3));
    const files = exportCaptioningModel(model, params, { imageSize: [224, 224] });
    const onnx = onnxCaptionDecoder(await OnnxSession.create(files.encoder), await OnnxSession.create(files.decoder));
    expect(onnx.signature.grid).toEqual([7, 7]);
    const images = new Rng(4).uniform([2, 3, 224, 224], 0, 1);
    const encoded = model.encode(params, images);
    const start = new Int32Array(2).fill(Vocabulary.BOS);
    const a = await captionDecoder(model, params).step(start, { memory: encoded.memory, state: model.initialDecoderState(encoded) });
    const b = await onnx.step(start, await onnx.encode(images.data as Float32Array, 2));
    for (let i = 0; i < a.logits.length; i++) expect(b.logits[i]!).toBeCloseTo(a.logits[i]!, 4);
  });
});
