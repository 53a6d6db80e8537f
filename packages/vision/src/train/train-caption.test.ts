import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GIFEncoder } from "gifenc";
import { describe, expect, it } from "vitest";
import { Rng, treeLeaves } from "@unroll/tensor";
import { saveCheckpoint } from "@unroll/train";
import {
  caption, captionBatches, captionExamples, captionInputs, encodePng, evaluateCaptions, loadCaptionModel, loadCaptionSet, movingShapesDataset, resolveCaptionInput, shapesDataset,
  trainCaptionModel, type CaptionSet, type TrainCaptionConfig,
} from "../index.js";
import { Vocabulary } from "@unroll/nlp";

const input = resolveCaptionInput({ imageSize: 16 });
function shapes(count: number, seed: number): CaptionSet {
  const items = shapesDataset({ count, side: 16, seed });
  return { ids: items.map((_, i) => `shape-${seed}-${i}.png`), inputs: captionInputs(items.map((d) => d.image), input), captions: items.map((d) => [d.caption]) };
}
const train = shapes(48, 1);
const dev = shapes(8, 2);
const config: TrainCaptionConfig = {
  input: { imageSize: 16 },
  model: { decoder: "attention", embeddingSize: 8, hiddenSize: 12, encoder: { channels: [4, 8], blocks: 1 } },
  batchSize: 8,
  evalEvery: 3,
  kernels: "reference",
};

describe("trainCaptionModel", () => {
  it("trains with dev loss, BLEU-4 and CIDEr-D at intervals, and resumes exactly where it stopped", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unroll-caption-"));
    const straightLosses: number[] = [];
    const straight = await trainCaptionModel({ train, dev, config: { ...config, steps: 6 }, onTrainer: (t) => void t.events.on("step", (e) => straightLosses.push(e.loss)) });
    expect(straight.steps).toBe(6);
    expect(straight.trainCaptions).toBe(48);
    expect(straight.evaluations.map((e) => e.step)).toEqual([3, 6]);
    for (const { result } of straight.evaluations) {
      expect(result.loss).toBeGreaterThan(0);
      expect(result.bleu4).toBeGreaterThanOrEqual(0);
      expect(result.cider).toBeGreaterThanOrEqual(0);
    }
    const losses: number[] = [];
    await trainCaptionModel({ train, dev, config: { ...config, steps: 3 }, checkpointDir: dir, checkpointEvery: 3, onTrainer: (t) => void t.events.on("step", (e) => losses.push(e.loss)) });
    const resumed = await trainCaptionModel({ train, dev, config: { steps: 6 }, checkpointDir: dir, resume: true, onTrainer: (t) => void t.events.on("step", (e) => losses.push(e.loss)) });
    expect(resumed.resumedFrom).toBe(3);
    expect(losses).toEqual(straightLosses);
    expect(treeLeaves(resumed.params).map((t) => Array.from(t.data))).toEqual(treeLeaves(straight.params).map((t) => Array.from(t.data)));
    expect((JSON.parse(readFileSync(join(dir, "latest.json"), "utf8")) as { step: number }).step).toBe(6);

    // The saved model captions as the trained one does, and its evaluation scores those captions.
    const loaded = await loadCaptionModel(dir);
    expect(loaded.step).toBe(6);
    expect(loaded.input).toEqual(input);
    const a = await caption(loaded.model, loaded.params, loaded.vocabulary, dev.inputs, { beamSize: 2 });
    const b = await caption(resumed.model, resumed.params, resumed.vocabulary, dev.inputs, { beamSize: 2 });
    expect(a.map((c) => c.text)).toEqual(b.map((c) => c.text));
    const scored = await evaluateCaptions(loaded.model, loaded.params, loaded.vocabulary, dev);
    expect(scored.loss).toBeCloseTo(resumed.evaluation!.loss, 5);
    expect(scored.bleu[3]).toBeCloseTo(resumed.evaluation!.bleu4, 10);
  });

  it("refuses to resume on other captions, and inputs prepared at another size", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unroll-caption-changed-"));
    await trainCaptionModel({ train, dev, config: { ...config, steps: 1 }, checkpointDir: dir });
    const other = { ...train, captions: train.captions.map((c, i) => (i === 5 ? [`${c[0]} too`] : c)) };
    await expect(trainCaptionModel({ train: other, dev, config: { steps: 2 }, checkpointDir: dir, resume: true })).rejects.toThrow(/these training captions are not the ones the run in .* was trained on/);
    const big = { ...train, inputs: captionInputs(shapesDataset({ count: 48, side: 24, seed: 1 }).map((d) => d.image), resolveCaptionInput({ imageSize: 24 })) };
    await expect(trainCaptionModel({ train: big, config: { ...config, steps: 1 } })).rejects.toThrow(/the training inputs are \[48, 3, 24, 24\], but this model reads \[N, 3, 16, 16\]/);
  });

  it("refuses a checkpoint of another kind with a clear message", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unroll-caption-mt-"));
    await saveCheckpoint(dir, { step: 1, params: { w: new Rng(0).normal([2]) }, config: { kind: "translation-model" } });
    await expect(loadCaptionModel(dir)).rejects.toThrow(/another kind \("translation-model"\), not a captioning model: it is a translation model \(use `unroll translate`/);
  });

  it("trains a video captioner on animated GIFs read from a caption file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unroll-caption-gif-"));
    const videos = movingShapesDataset({ count: 12, side: 16, frames: 4, seed: 3 });
    const lines = videos.map((v, i) => {
      const g = GIFEncoder();
      for (const f of v.frames) {
        // A palette of the frame's own colours (the shapes are flat colours on white).
        const colours = [...new Set(Array.from({ length: f.width * f.height }, (_, p) => `${f.data[p * 3]},${f.data[p * 3 + 1]},${f.data[p * 3 + 2]}`))];
        const palette = colours.map((c) => c.split(",").map(Number));
        const index = Uint8Array.from({ length: f.width * f.height }, (_, p) => colours.indexOf(`${f.data[p * 3]},${f.data[p * 3 + 1]},${f.data[p * 3 + 2]}`));
        g.writeFrame(index, f.width, f.height, { palette: palette.length > 1 ? palette : [...palette, [0, 0, 0]] });
      }
      g.finish();
      writeFileSync(join(dir, `v${i}.gif`), g.bytes());
      return `v${i}.gif\t${v.caption}`;
    });
    writeFileSync(join(dir, "videos.tsv"), lines.join("\n") + "\n");
    const videoInput = resolveCaptionInput({ imageSize: 16, frames: 4 }, true);
    const set = await loadCaptionSet(join(dir, "videos.tsv"), videoInput);
    expect(set.inputs.shape).toEqual([12, 4, 3, 16, 16]);
    expect(Array.from(set.inputs.data.subarray(0, 16 * 16 * 3))).toEqual(Array.from(captionInputs([videos[0]!.frames], videoInput).data.subarray(0, 16 * 16 * 3)));
    const result = await trainCaptionModel({ train: set, config: { ...config, video: true, input: { imageSize: 16, frames: 4 }, steps: 2 } });
    expect(result.steps).toBe(2);
    expect(result.model.config.video).toBe(true);
  });
});

describe("loadCaptionSet", () => {
  it("reads a caption file's images, several captions per image, and names the line of a broken image", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unroll-caption-set-"));
    mkdirSync(join(dir, "img"));
    const items = shapesDataset({ count: 2, side: 20, seed: 4 });
    items.forEach((d, i) => writeFileSync(join(dir, "img", `${i}.png`), encodePng(d.image)));
    writeFileSync(join(dir, "captions.tsv"), `img/0.png\t${items[0]!.caption}\nimg/1.png\t${items[1]!.caption}\nimg/0.png\tanother caption\n`);
    const set = await loadCaptionSet(join(dir, "captions.tsv"), input);
    expect(set.inputs.shape).toEqual([2, 3, 16, 16]);
    expect(set.captions).toEqual([[items[0]!.caption, "another caption"], [items[1]!.caption]]);
    writeFileSync(join(dir, "img", "broken.png"), "not a png");
    writeFileSync(join(dir, "broken.tsv"), `img/0.png\ta\nimg/broken.png\tb\n`);
    await expect(loadCaptionSet(join(dir, "broken.tsv"), input)).rejects.toThrow(/broken\.tsv, line 2: .*broken\.png is neither a PNG nor a JPEG/);
  });
});

describe("captionBatches", () => {
  it("draws every (image, caption) pair once per epoch and resumes from a position", () => {
    const set: CaptionSet = { ...train, captions: train.captions.map((c, i) => (i % 2 === 0 ? [...c, "a second caption"] : c)) };
    const vocabulary = Vocabulary.fit(set.captions.flat(), { lowercase: true });
    const { examples } = captionExamples(set, vocabulary, 30);
    expect(examples).toHaveLength(72);
    const source = captionBatches(set, examples, { batchSize: 10, seed: 5 });
    expect(source.batchesPerEpoch).toBe(8);
    let captions = 0;
    for (let b = 0; b < 8; b++) captions += source.next()!.tgtIn.shape[1]!;
    expect(captions).toBe(72);
    const position = source.position();
    const next = source.next()!;
    const again = captionBatches(set, examples, { batchSize: 10, seed: 5 });
    again.seek(JSON.parse(JSON.stringify(position)));
    const replay = again.next()!;
    expect(Array.from(replay.tgtIn.data)).toEqual(Array.from(next.tgtIn.data));
    expect(Array.from(replay.images.data)).toEqual(Array.from(next.images.data));
    expect(() => again.seek({ epoch: 0, batch: 99, rng: {} })).toThrow(/not a position of these 72 captions in batches of 10/);
  });
});
