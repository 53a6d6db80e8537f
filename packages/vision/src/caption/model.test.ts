import { describe, expect, it } from "vitest";
import { cast, gradcheck, loadWasmKernelsSync, referenceKernels, Rng, Tensor, treeLeaves, treeMap, valueAndGrad, withKernels } from "@unroll/tensor";
import { Vocabulary } from "@unroll/nlp";
import { CAPTION_DECODERS, caption, Captioner, type CaptionerConfig, type CaptionerParams, captionBatch, ResNetEncoder, videosToTensor } from "../index.js";

// A captioner small enough for finite differences: 8×8 images, two stages (grid 2×2), 3 features.
function tiny(decoder: CaptionerConfig["decoder"], extra: Partial<CaptionerConfig> = {}): Captioner {
  return new Captioner({ vocabSize: 7, decoder, encoder: { channels: [2, 3], blocks: 1 }, embeddingSize: 3, hiddenSize: 4, attentionSize: 3, ...extra });
}

function images(n: number, seed = 9): Tensor {
  return new Rng(seed).normal([n, 3, 8, 8], 0, 1);
}

// Captions of different lengths, so that padding is exercised (ids 3..6 are words).
const captions = [Int32Array.of(3, 4, 5), Int32Array.of(6), Int32Array.of(4, 4, 6, 3)];

const withLeaves = (params: CaptionerParams, leaves: readonly Tensor[]): CaptionerParams => treeMap(params, (_, i) => leaves[i]!);

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const ctx = { rng: new Rng(0), step: 0 } as never;

describe("Captioner", () => {
  for (const decoder of CAPTION_DECODERS) {
    for (const cell of ["lstm", "gru"] as const) {
      for (const fused of decoder === "attention" ? [false, true] : [false]) {
        it(`${decoder} (${cell}${fused ? ", fused" : ""}): the loss's gradient matches finite differences, encoder and regulariser included`, () => {
          const model = tiny(decoder, { cell });
          const params = model.init(new Rng(1));
          const batch = captionBatch(images(3), captions);
          const loss = model.lossFunction();
          const f = (...leaves: Tensor[]): Tensor => {
            const p = withLeaves(params, leaves);
            // The images in the parameters' dtype: gradcheck runs in float64 and in float32.
            const b = { ...batch, images: cast(batch.images, leaves[0]!.dtype) };
            if (!fused) return loss(p, b, undefined as never, ctx).loss;
            const { logits, attention } = model.forward(p, b, { fused: true });
            return model.loss(logits, attention, b.tgtOut);
          };
          const report = gradcheck(f, treeLeaves(params), { atol: 1e-5, rtol: 1e-4 });
          expect(report.ok, report.message).toBe(true);
          expect(report.checked).toBe(treeLeaves(params).reduce((n, t) => n + t.size, 0));
        });
      }
    }
  }

  for (const decoder of CAPTION_DECODERS) {
    it(`video, ${decoder}: the loss's gradient matches finite differences through the frame LSTM and the encoder`, () => {
      const model = tiny(decoder, { video: true, cell: "gru" });
      const params = model.init(new Rng(7));
      const videos = new Rng(8).normal([3, 3, 3, 8, 8], 0, 1); // 3 videos of 3 frames
      const batch = captionBatch(videos, captions);
      const loss = model.lossFunction();
      const f = (...leaves: Tensor[]): Tensor => loss(withLeaves(params, leaves), { ...batch, images: cast(batch.images, leaves[0]!.dtype) }, undefined as never, ctx).loss;
      const report = gradcheck(f, treeLeaves(params), { atol: 1e-5, rtol: 1e-4 });
      expect(report.ok, report.message).toBe(true);
      expect(Object.keys(model.parameterShapes()).filter((n) => n.startsWith("frames."))).toEqual(["frames.weight_ih_l0", "frames.weight_hh_l0", "frames.bias_ih_l0", "frames.bias_hh_l0"]);
    });
  }

  it("video: the frames' order matters (the memory is the frame LSTM's outputs, one per frame), and images are refused with the fix", async () => {
    const model = tiny("attention", { video: true });
    const params = model.init(new Rng(9));
    const videos = new Rng(10).normal([1, 4, 3, 8, 8], 0, 1);
    const reversed = new Tensor(Float32Array.from({ length: videos.size }, (_, i) => videos.data[(3 - Math.floor(i / 192)) * 192 + (i % 192)]!), videos.shape);
    const words = [Int32Array.of(3, 4)];
    const a = model.forward(params, captionBatch(videos, words), { fused: false });
    const b = model.forward(params, captionBatch(reversed, words), { fused: false });
    expect(a.attention!.shape).toEqual([3, 1, 4]);
    expect(maxDiff(a.logits.data, b.logits.data)).toBeGreaterThan(1e-4);
    const vocabulary = Vocabulary.fit(["red blue green yellow"], { minFrequency: 1 });
    const captioner = tiny("attention", { video: true, vocabSize: vocabulary.size });
    const [c] = await caption(captioner, captioner.init(new Rng(1)), vocabulary, videos, { maxLength: 3 });
    expect(c!.grid).toEqual([1, 4]);
    expect(() => model.forward(params, captionBatch(images(1), words))).toThrow(/a video captioner reads frames \[N, T, 3, H, W\], got \[1, 3, 8, 8\]: stack each video's frames with videosToTensor/);
  });

  for (const cell of ["lstm", "gru"] as const) {
    it(`attention (${cell}): the fused decoder gives the step-by-step decoder's logits, attention and gradients, on both kernel tables`, () => {
      const model = tiny("attention", { cell, hiddenSize: 8, attentionSize: 8 });
      const params = model.init(new Rng(2));
      const batch = captionBatch(images(3), captions);
      const run = (fused: boolean) =>
        valueAndGrad((p: CaptionerParams) => {
          const out = model.forward(p, batch, { fused });
          return [model.loss(out.logits, out.attention, batch.tgtOut), out] as const;
        }, { hasAux: true })(params);
      for (const kernels of [referenceKernels, loadWasmKernelsSync({ threads: 1 })]) {
        const [a, b] = withKernels(kernels, () => [run(true), run(false)]);
        expect(Math.abs(a!.value.item() - b!.value.item())).toBeLessThan(1e-5);
        expect(maxDiff(a!.aux.logits.data, b!.aux.logits.data)).toBeLessThan(1e-5);
        expect(maxDiff(a!.aux.attention!.data, b!.aux.attention!.data)).toBeLessThan(1e-6);
        const gb = treeLeaves(b!.grads);
        treeLeaves(a!.grads).forEach((g, i) => expect(maxDiff(g.data, gb[i]!.data), `gradient ${i}`).toBeLessThan(1e-4));
      }
    });
  }

  it("the doubly stochastic regulariser: Σ_r (1 - Σ_t α_tr)² over the caption's real steps, averaged over images", () => {
    const model = tiny("attention");
    // One image, two steps, two regions: the weights sum to [1.4, 0.6] over both steps.
    const attention = new Tensor(Float32Array.of(0.5, 0.5, 0.9, 0.1), [2, 1, 2]);
    const bothReal = new Tensor(Int32Array.of(4, 2), [2, 1]);
    expect(model.attentionPenalty(attention, bothReal).item()).toBeCloseTo(0.4 ** 2 + 0.4 ** 2, 6);
    // The second step is padding: only [0.5, 0.5] counts.
    const padded = new Tensor(Int32Array.of(2, -100), [2, 1]);
    expect(model.attentionPenalty(attention, padded).item()).toBeCloseTo(0.5 ** 2 + 0.5 ** 2, 6);
    // Two images: the mean of 0.32 and, for weights [1, 0] then [0, 1], (1-1)² + (1-1)² = 0.
    const two = new Tensor(Float32Array.of(0.5, 0.5, 1, 0, 0.9, 0.1, 0, 1), [2, 2, 2]);
    expect(model.attentionPenalty(two, new Tensor(Int32Array.of(4, 4, 2, 2), [2, 2])).item()).toBeCloseTo(0.32 / 2, 6);
  });

  it("the attention weights of every step sum to one over the image's regions", () => {
    const model = tiny("attention");
    const { attention } = model.forward(model.init(new Rng(3)), captionBatch(images(3), captions), { fused: false });
    expect(attention!.shape).toEqual([5, 3, 4]);
    for (let row = 0; row < 15; row++) {
      const w = Array.from(attention!.data.slice(row * 4, row * 4 + 4));
      expect(w.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 6);
    }
  });

  it("the image reaches the words: different images give different logits after the same words", () => {
    for (const decoder of CAPTION_DECODERS) {
      const model = tiny(decoder);
      const params = model.init(new Rng(4));
      const same = [captions[0]!, captions[0]!];
      const { logits } = model.forward(params, captionBatch(images(2), same), { fused: false });
      // Rows are time-major: row 2t is image 0 at step t, row 2t + 1 image 1.
      for (let t = 0; t < 4; t++) {
        const a = logits.data.slice(2 * t * 7, (2 * t + 1) * 7);
        const b = logits.data.slice((2 * t + 1) * 7, (2 * t + 2) * 7);
        expect(maxDiff(a, b), `${decoder}, step ${t}`).toBeGreaterThan(1e-4);
      }
    }
  });

  it("greedy captions are the arg-max of the teacher-forced logits along their own words, and beam size 1 gives them too", async () => {
    const vocabulary = Vocabulary.fit(["red blue green yellow"], { minFrequency: 1 });
    let finished = 0;
    for (const [decoder, endBias] of CAPTION_DECODERS.flatMap((d) => [[d, 0], [d, 1.5]] as const)) {
      const model = tiny(decoder, { vocabSize: vocabulary.size });
      const initial = model.init(new Rng(5));
      // A push towards the end symbol, so that some captions finish before the length limit.
      const bias = Float32Array.from(initial.head.bias.data);
      bias[Vocabulary.EOS]! += endBias;
      const params = { ...initial, head: { ...initial.head, bias: new Tensor(bias, initial.head.bias.shape) } };
      const x = images(3);
      const greedy = await caption(model, params, vocabulary, x, { maxLength: 6 });
      finished += greedy.filter((c) => c.finished).length;
      const beam1 = await caption(model, params, vocabulary, x, { maxLength: 6, beamSize: 1, lengthPenalty: { kind: "none" } } as never);
      expect(beam1.map((c) => c.tokens)).toEqual(greedy.map((c) => c.tokens));
      for (const c of greedy) expect(c.tokens).not.toContain(vocabulary.unkId);
      greedy.forEach((c, n) => {
        expect(c.grid).toEqual([2, 2]);
        expect(c.text).toBe(vocabulary.decode(c.tokens));
        const one = new Tensor(x.data.slice(n * 192, (n + 1) * 192), [1, 3, 8, 8]);
        // The tokens leave out the end symbol; a finished caption chose it after its last word.
        const { logits } = model.forward(params, captionBatch(one, [Int32Array.from(c.tokens)]), { fused: false });
        const chosen = c.finished ? [...c.tokens, Vocabulary.EOS] : c.tokens;
        chosen.forEach((token, t) => {
          const row = Array.from(logits.data.slice(t * vocabulary.size, (t + 1) * vocabulary.size));
          row[Vocabulary.PAD] = -Infinity;
          row[Vocabulary.BOS] = -Infinity;
          row[vocabulary.unkId!] = -Infinity; // never chosen unless allowUnknown
          expect(row.indexOf(Math.max(...row)), `${decoder}, image ${n}, step ${t}`).toBe(token);
        });
        if (decoder === "attention") {
          expect(c.attention).toHaveLength(chosen.length);
          for (const w of c.attention!) expect(w.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
        } else expect(c.attention).toBeUndefined();
      });
    }
    // Both branches ran: some captions chose the end symbol, some ran to the length limit.
    expect(finished).toBeGreaterThan(0);
    expect(finished).toBeLessThan(2 * 3 * CAPTION_DECODERS.length);
  });

  it("never writes the unknown symbol unless allowUnknown is set", async () => {
    const vocabulary = Vocabulary.fit(["red blue green yellow"], { minFrequency: 1 });
    const model = tiny("inject", { vocabSize: vocabulary.size });
    const initial = model.init(new Rng(6));
    // A model that prefers the unknown symbol above everything at every step.
    const bias = Float32Array.from(initial.head.bias.data);
    bias[vocabulary.unkId!]! += 100;
    const params = { ...initial, head: { ...initial.head, bias: new Tensor(bias, initial.head.bias.shape) } };
    const allowed = await caption(model, params, vocabulary, images(2), { maxLength: 3, allowUnknown: true });
    expect(allowed.map((c) => c.tokens)).toEqual([Array(3).fill(vocabulary.unkId), Array(3).fill(vocabulary.unkId)]);
    for (const beamSize of [1, 3]) {
      const captions = await caption(model, params, vocabulary, images(2), { maxLength: 3, beamSize });
      for (const c of captions) expect(c.tokens).not.toContain(vocabulary.unkId);
    }
  });

  it("refuses settings it cannot build, naming the setting", () => {
    expect(() => tiny("lookback" as never)).toThrow(/decoder must be one of show-tell, inject, attention/);
    expect(() => tiny("attention", { vocabSize: 2 })).toThrow(/vocabSize must hold the special symbols/);
    expect(() => tiny("attention", { dropout: 1 })).toThrow(/dropout must be in \[0, 1\)/);
    expect(() => tiny("attention", { hiddenSize: 0 })).toThrow(/hiddenSize must be a positive integer/);
    expect(() => tiny("attention", { doublyStochastic: -1 })).toThrow(/doublyStochastic must be >= 0/);
    expect(() => new ResNetEncoder({ channels: [] })).toThrow(/channels must be positive integers/);
    const model = tiny("inject");
    expect(() => model.forward(model.init(new Rng(0)), { images: images(2), tgtIn: captionBatch(images(3), captions).tgtIn })).toThrow(/2 images but 3 captions/);
    expect(() => captionBatch(images(2), captions)).toThrow(/with one per caption \(3\)/);
    expect(() => captionBatch(images(0), [])).toThrow(/at least one caption/);
    const videos = new Rng(1).normal([3, 2, 3, 8, 8], 0, 1);
    expect(() => model.forward(model.init(new Rng(0)), captionBatch(videos, captions))).toThrow(/reads images \[N, 3, H, W\], got frames \[3, 2, 3, 8, 8\]: build it with video: true/);
  });
});

describe("captionBatch", () => {
  it("lays captions out time-first: start + words in, words + end out, padding 0 in and -100 out", () => {
    const b = captionBatch(images(2), [Int32Array.of(5, 6), Int32Array.of(4)]);
    const { BOS, EOS } = Vocabulary;
    expect(b.tgtIn.shape).toEqual([3, 2]);
    expect(Array.from(b.tgtIn.data)).toEqual([BOS, BOS, 5, 4, 6, 0]);
    expect(Array.from(b.tgtOut.data)).toEqual([5, 4, 6, EOS, EOS, -100]);
    expect(b.tokens).toBe(5);
  });
});

describe("ResNetEncoder", () => {
  it("halves the grid per stage; the pooled vector is the regions' mean", () => {
    const encoder = new ResNetEncoder({ channels: [4, 5, 6], blocks: 2 });
    const x = new Rng(1).normal([2, 3, 20, 12], 0, 1);
    const out = encoder.forward(encoder.init(new Rng(2)), x);
    expect(out.grid).toEqual([3, 2]); // 20 -> 10 -> 5 -> 3, 12 -> 6 -> 3 -> 2
    expect(out.pooled.shape).toEqual([2, 6]);
    expect(out.regions.shape).toEqual([2, 6, 6]);
    for (let n = 0; n < 2; n++) {
      for (let c = 0; c < 6; c++) {
        let s = 0;
        for (let r = 0; r < 6; r++) s += out.regions.data[(n * 6 + r) * 6 + c]!;
        expect(out.pooled.data[n * 6 + c]).toBeCloseTo(s / 6, 5);
      }
    }
    expect(Object.keys(encoder.parameterShapes())).toHaveLength(3 * (2 + 2 * 4));
    expect(() => encoder.forward(encoder.init(new Rng(2)), new Rng(1).normal([2, 1, 8, 8], 0, 1))).toThrow(/images must be \[N, 3, H, W\], got \[2, 1, 8, 8\]/);
  });
});

describe("videosToTensor", () => {
  const frame = (v: number) => ({ width: 2, height: 1, data: Uint8Array.of(v, v, v, v, v, v) });
  it("samples each video to the same number of frames, evenly over its length", () => {
    const videos = [[0, 1, 2, 3, 4, 5].map((v) => frame(v * 51)), [0, 1, 2].map((v) => frame(v * 51))];
    const t = videosToTensor(videos, { frames: 3 });
    expect(t.shape).toEqual([2, 3, 3, 1, 2]);
    // Frames floor((i + 0.5) * 6 / 3) = 1, 3, 5 of the first; all three of the second.
    const first = (n: number, i: number) => t.data[((n * 3 + i) * 3) * 2]!;
    expect([0, 1, 2].map((i) => first(0, i) * 255)).toEqual([51, 153, 255].map((x) => expect.closeTo(x, 3)));
    expect([0, 1, 2].map((i) => first(1, i) * 255)).toEqual([0, 51, 102].map((x) => expect.closeTo(x, 3)));
  });
  it("refuses videos of different lengths without frames, and empty ones, naming the video", () => {
    expect(() => videosToTensor([[frame(0), frame(1)], [frame(0)]])).toThrow(/video 1 has 1 frames, the first has 2: pass frames/);
    expect(() => videosToTensor([[frame(0)], []], { frames: 2 })).toThrow(/video 1 has no frames/);
    expect(() => videosToTensor([])).toThrow(/there are no videos/);
  });
});
