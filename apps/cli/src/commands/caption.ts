import { stat } from "node:fs/promises";
import type { Command } from "commander";
import { pinTensors, treeLeaves } from "@unroll/tensor";
import {
  attentionStrip, caption, captionInputs, encodePng, evaluateCaptions, loadCaptionModel, type LoadedCaptionModel, readImage, readVideo, type RgbImage,
} from "@unroll/vision";
import { numberFlag } from "../config.js";
import { UserError } from "../ui/errors.js";
import { writeFileAtomic } from "../ui/files.js";
import type { Output } from "../ui/output.js";
import { useKernels } from "./kernel-flags.js";
import { readEvaluationSet } from "./train-caption.js";

/** The decoding flags shared by `caption` and `eval caption`. */
function withCaptionFlags(cmd: Command, defaults: { beam: string }): Command {
  return cmd
    .option("--beam <k>", "beam size (1: greedy)", defaults.beam)
    .option("--max-length <n>", "at most this many words per caption", "20")
    .option("--kernels <k>", "auto | wasm | reference", "auto")
    .option("--threads <n>", "threads for the WebAssembly kernels (default: the cores, at most 8)");
}

function captionOptions(flags: Record<string, unknown>): { beamSize: number; maxLength: number } {
  return { beamSize: numberFlag("beam", flags.beam, "positive-integer"), maxLength: numberFlag("max-length", flags.maxLength, "positive-integer") };
}

/** A captioner from a run, with the fix for the usual mistakes in the message. */
async function loadCaptionRun(run: string): Promise<LoadedCaptionModel> {
  return loadCaptionModel(run).catch((e: Error) => {
    if (e.name === "CheckpointError") throw new UserError(e.message, "point at a run directory written by `unroll train caption` or `unroll train video` (its --out)");
    if (e.name === "ValueRangeError") throw new UserError(e.message.replace(/^loadCaptionModel: /, ""), "point at a run of `unroll train caption` or `unroll train video`");
    throw e;
  });
}

/** An image file, or for a video model a folder of frames, a GIF or an APNG. */
async function readInput(path: string, video: boolean): Promise<RgbImage | RgbImage[]> {
  if (!video) {
    if (await stat(path).then((s) => s.isDirectory(), () => false)) {
      throw new UserError(`${path} is a folder, and this is an image captioner`, "give it an image file (PNG or JPEG); folders of frames are for models of `unroll train video`");
    }
    return readImage(path);
  }
  return readVideo(path);
}

export function registerCaption(program: Command, out: () => Output): void {
  withCaptionFlags(
    program
      .command("caption")
      .description("caption images (or videos) with a model trained by `unroll train caption` (or `train video`); one caption per input on standard output")
      .argument("<run>", "a run directory (its latest checkpoint) or a checkpoint directory")
      .argument("<inputs...>", "PNG or JPEG images; for a video model, folders of frames, GIFs or APNGs")
      .option("--attention-map <file.png>", "write the attention over the image for each word (attention decoder, one input): the image, then one overlay per word"),
    { beam: "3" },
  ).action(async (run: string, inputs: string[], flags: Record<string, unknown>) => {
    const o = out();
    const options = captionOptions(flags);
    const map = flags.attentionMap === undefined ? undefined : String(flags.attentionMap);
    useKernels(flags);
    const loaded = await loadCaptionRun(run);
    const video = loaded.model.config.video;
    if (map !== undefined) {
      if (loaded.model.config.decoder !== "attention") throw new UserError(`the model in ${run} has no attention (its decoder is ${loaded.model.config.decoder}): there is no map to draw`, "train with --decoder attention, or drop --attention-map");
      if (video) throw new UserError("--attention-map draws attention over an image's regions; a video model attends over frames", "drop --attention-map; --json gives each word's weights over the frames");
      if (inputs.length !== 1) throw new UserError(`--attention-map draws one image's attention, and ${inputs.length} inputs were given`, "caption one image at a time with --attention-map");
    }
    // Every input is read before anything is written: a broken file is reported with nothing half done.
    const decoded = await Promise.all(inputs.map((p) => readInput(p, video)));
    const release = pinTensors(treeLeaves(loaded.params));
    try {
      const results = await caption(loaded.model, loaded.params, loaded.vocabulary, captionInputs(decoded as RgbImage[] | RgbImage[][], loaded.input), options);
      if (map !== undefined) {
        const c = results[0]!;
        await writeFileAtomic(map, encodePng(attentionStrip(decoded[0] as RgbImage, c.attention!, c.grid)));
      }
      for (const [i, c] of results.entries()) {
        const words = [...c.tokens.map((id) => loaded.vocabulary.tokenText(id).trim()), ...(c.finished ? ["</s>"] : [])];
        o.result(
          { input: inputs[i], caption: c.text, score: c.score, finished: c.finished, words, ...(c.attention ? { attention: c.attention, grid: c.grid } : {}), ...(map !== undefined ? { attentionMap: map } : {}) },
          () => (inputs.length === 1 ? c.text : `${inputs[i]}\t${c.text}`) + (map !== undefined ? `\nwrote ${map}: the image, then ${words.join(" | ")}` : ""),
        );
      }
    } finally {
      release();
    }
  });
}

/** `unroll eval caption RUN --data dev.tsv`: COCO BLEU-1..4 and CIDEr-D, and the teacher-forced loss. */
export function registerEvalCaption(evalCommand: Command, out: () => Output): void {
  withCaptionFlags(
    evalCommand
      .command("caption")
      .description("score a captioner on a caption file: BLEU-1..4 and CIDEr-D as the COCO caption evaluation computes them (every caption of an image is a reference), and the teacher-forced loss")
      .argument("<run>", "a run directory or a checkpoint directory written by `unroll train caption` or `train video`")
      .requiredOption("--data <captions.tsv>", "image<TAB>caption per line, as for training; `emoji`: the emoji set's held-out tenth")
      .option("--captions <file>", "also write the captions there (image<TAB>caption per line)"),
    { beam: "3" },
  ).action(async (run: string, flags: Record<string, unknown>) => {
    const o = out();
    const options = captionOptions(flags);
    useKernels(flags);
    const loaded = await loadCaptionRun(run);
    const set = await readEvaluationSet(String(flags.data), loaded.input);
    const release = pinTensors(treeLeaves(loaded.params));
    const started = performance.now();
    const result = await evaluateCaptions(loaded.model, loaded.params, loaded.vocabulary, set, options).finally(release);
    const seconds = (performance.now() - started) / 1000;
    if (flags.captions !== undefined) await writeFileAtomic(String(flags.captions), result.captions.map((c, i) => `${set.ids[i]}\t${c.text}\n`).join(""));
    const images = set.ids.length;
    o.result(
      { data: flags.data, step: loaded.step, images, bleu: result.bleu, bleu4: result.bleu[3], cider: result.cider, loss: result.loss, beam: options.beamSize, imagesPerSecond: images / seconds },
      () =>
        `BLEU-1..4 ${result.bleu.map((b) => (100 * b).toFixed(2)).join(" / ")}   CIDEr-D ${(100 * result.cider).toFixed(1)}   (COCO caption evaluation, ×100)\n` +
        `loss ${result.loss.toFixed(4)} nats/token on ${images} ${loaded.model.config.video ? "videos" : "images"} (step ${loaded.step}); ${(images / seconds).toFixed(1)} ${loaded.model.config.video ? "videos" : "images"}/s with beam ${options.beamSize}`,
    );
  });
}
