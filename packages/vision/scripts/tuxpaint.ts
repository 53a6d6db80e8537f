// Real-data check of the captioning pipeline on ../shared/data/tuxpaint (789 training and 60 dev
// images of Tux Paint's stamps, one human caption each): trains each decoder for a time budget
// from scratch and scores greedy and beam-3 dev captions with COCO BLEU-4 and CIDEr-D, beside a
// baseline that gives every image the training set's most frequent caption.
//
//   npx --yes pnpm@12.4.2 --filter @unroll/vision tuxpaint -- --minutes 3 --decoder show-tell,inject,attention
import { parseArgs } from "node:util";
import { dirname, join, resolve } from "node:path";
import { Vocabulary } from "@unroll/nlp";
import { loadWasmKernelsSync, Rng, setKernels, Tensor } from "@unroll/tensor";
import { adam, Trainer } from "@unroll/train";
import { caption, type CaptionDecoderKind, Captioner, captionBatch, ciderD, cocoBleu, imagesToTensor, readCaptions, readImage, type RgbImage } from "../src/index.js";

const { values } = parseArgs({
  options: {
    data: { type: "string", default: resolve(import.meta.dirname, "../../../../shared/data/tuxpaint") },
    minutes: { type: "string", default: "3" },
    decoder: { type: "string", default: "show-tell,inject,attention" },
    side: { type: "string", default: "32" },
    threads: { type: "string", default: "2" },
  },
});
setKernels(loadWasmKernelsSync({ threads: Number(values.threads) }));
const side = Number(values.side);

async function load(split: string): Promise<{ image: RgbImage; caption: string; id: string }[]> {
  const file = join(values.data!, `${split}.tsv`);
  const entries = await readCaptions(file);
  return Promise.all(entries.map(async (e) => ({ image: await readImage(resolve(dirname(file), e.image)), caption: e.captions[0]!, id: e.image })));
}
const train = await load("train");
const dev = await load("dev");
const vocabulary = Vocabulary.fit(train.map((d) => d.caption), { lowercase: true, minFrequency: 2 });
console.log(`${train.length} training and ${dev.length} dev images at ${side}×${side}; ${vocabulary.size} words (seen twice or more)`);
const references = Object.fromEntries(dev.map((d) => [d.id, [d.caption]]));
const score = (hyps: Record<string, string>) => ({ bleu4: cocoBleu(hyps, references).bleu[3]! * 100, cider: ciderD(hyps, references).score * 100 });

// The baseline: the most frequent training caption for every image.
const counts = new Map<string, number>();
for (const d of train) counts.set(d.caption.toLowerCase(), (counts.get(d.caption.toLowerCase()) ?? 0) + 1);
const frequent = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
const base = score(Object.fromEntries(dev.map((d) => [d.id, frequent])));
console.log(`baseline "${frequent}" for every image: BLEU-4 ${base.bleu4.toFixed(2)}, CIDEr-D ${base.cider.toFixed(1)}`);

const trainImages = imagesToTensor(train.map((d) => d.image), { size: [side, side] });
const devImages = imagesToTensor(dev.map((d) => d.image), { size: [side, side] });
const perImage = 3 * side * side;
for (const decoder of values.decoder!.split(",") as CaptionDecoderKind[]) {
  const model = new Captioner({ vocabSize: vocabulary.size, decoder, encoder: { channels: [16, 32, 64], blocks: 1 }, embeddingSize: 64, hiddenSize: 128, dropout: 0.3 });
  const params = model.init(new Rng(0));
  const rng = new Rng(1);
  let drawn = 0;
  const data = {
    next() {
      const chosen = Array.from({ length: 32 }, () => Math.floor(rng.random() * train.length));
      drawn++;
      const pixels = new Float32Array(chosen.length * perImage);
      chosen.forEach((i, k) => pixels.set(trainImages.data.subarray(i * perImage, (i + 1) * perImage) as Float32Array, k * perImage));
      return captionBatch(new Tensor(pixels, [chosen.length, 3, side, side]), chosen.map((i) => vocabulary.encode(train[i]!.caption.toLowerCase())));
    },
    position: () => drawn,
    seek() {},
  };
  const t0 = performance.now();
  await new Trainer({ params, loss: model.lossFunction(), data, optimizer: adam({ lr: 2e-3 }), clip: { maxNorm: 5 }, seed: 2 }).run({ timeBudgetMs: Number(values.minutes) * 60_000 });
  const minutes = (performance.now() - t0) / 60_000;
  for (const beamSize of [1, 3]) {
    const out = await caption(model, params, vocabulary, devImages, { beamSize, maxLength: 16 });
    // The COCO scorers refuse an empty caption; an empty one is scored as the single word "a".
    const empty = out.filter((c) => c.text.trim() === "").length;
    const s = score(Object.fromEntries(dev.map((d, i) => [d.id, out[i]!.text.trim() || "a"])));
    const distinct = new Set(out.map((c) => c.text)).size;
    console.log(`${decoder}: ${drawn} steps in ${minutes.toFixed(1)} min; ${beamSize === 1 ? "greedy" : `beam ${beamSize}`}: BLEU-4 ${s.bleu4.toFixed(2)}, CIDEr-D ${s.cider.toFixed(1)}, ${distinct} distinct captions for ${dev.length} images (${empty} empty); e.g. ${out.slice(0, 3).map((c, i) => `"${c.text}" (${dev[i]!.caption})`).join(", ")}`);
  }
}
