// The procedural sets' full numbers (the learning tests check a small size): each decoder trained
// from scratch on shapes (images) and moving shapes (videos), scored on held-out examples with COCO
// BLEU-4, CIDEr-D and the exact-caption rate.
//
//   npx --yes pnpm@12.4.2 --filter @unroll/vision shapes -- --steps 5000 --video-steps 3000 [--hidden 64] [--schedule cosine]
import { parseArgs } from "node:util";
import { CAPTION_DECODERS, type CaptionDecoderKind, captionInputs, type CaptionSet, evaluateCaptions, movingShapesDataset, resolveCaptionInput, shapesDataset, trainCaptionModel } from "../src/index.js";

const { values } = parseArgs({
  options: {
    steps: { type: "string", default: "1500" },
    "video-steps": { type: "string", default: "1000" },
    decoder: { type: "string", default: CAPTION_DECODERS.join(",") },
    threads: { type: "string", default: "2" },
    only: { type: "string", default: "images,videos" },
    hidden: { type: "string", default: "64" },
    schedule: { type: "string", default: "constant" },
  },
});
const decoders = values.decoder!.split(",") as CaptionDecoderKind[];
const threads = Number(values.threads);

async function run(kind: "images" | "videos", decoder: CaptionDecoderKind, steps: number): Promise<void> {
  const video = kind === "videos";
  const input = resolveCaptionInput(video ? { imageSize: 16, frames: 6 } : { imageSize: 24 }, video);
  const set = (count: number, seed: number): CaptionSet => {
    const items = video ? movingShapesDataset({ count, side: 16, frames: 6, seed }).map((v) => ({ x: v.frames, caption: v.caption })) : shapesDataset({ count, side: 24, seed }).map((d) => ({ x: d.image, caption: d.caption }));
    return { ids: items.map((_, i) => `${seed}-${i}`), inputs: captionInputs(items.map((d) => d.x) as never, input), captions: items.map((d) => [d.caption]) };
  };
  const train = set(video ? 1000 : 4000, 1);
  const held = set(200, 2);
  const t0 = performance.now();
  const result = await trainCaptionModel({
    train,
    dev: held,
    config: {
      video,
      input,
      minFrequency: 1,
      steps,
      evalEvery: steps,
      batchSize: video ? 16 : 32,
      optimizer: { lr: 3e-3 },
      schedule: { name: values.schedule as "constant" | "cosine" },
      model: { decoder, encoder: { channels: [16, 32, 32], blocks: 0 }, embeddingSize: 32, hiddenSize: Number(values.hidden) },
      threads,
    },
  });
  const minutes = (performance.now() - t0) / 60_000;
  const scored = await evaluateCaptions(result.model, result.params, result.vocabulary, held);
  const exact = scored.captions.filter((c, i) => c.text === held.captions[i]![0]).length / held.captions.length;
  console.log(
    `${kind} ${decoder.padEnd(9)} ${steps} steps (${minutes.toFixed(1)} min): BLEU-4 ${scored.bleu[3]!.toFixed(3)}, CIDEr-D ${scored.cider.toFixed(2)}, exact ${exact.toFixed(2)}, dev loss ${scored.loss.toFixed(3)}` +
      `; e.g. "${scored.captions[0]!.text}" for "${held.captions[0]![0]}"`,
  );
}

for (const kind of values.only!.split(",") as ("images" | "videos")[]) {
  for (const decoder of decoders) await run(kind, decoder, Number(kind === "videos" ? values["video-steps"] : values.steps));
}
