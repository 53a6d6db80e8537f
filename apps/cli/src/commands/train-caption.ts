import { resolve } from "node:path";
import type { Command } from "commander";
import { DataError } from "@unroll/nlp";
import { MAX_WASM_THREADS } from "@unroll/tensor";
import { CheckpointError, loadCheckpoint, type RunFolder } from "@unroll/train";
import {
  captionConfigOf, type CaptionInput, type CaptionSet, type Captioner, EMOJI_PACKAGE, emojiCaptions, loadCaptionEntries, loadCaptionSet, resolveCaptionInput, trainCaptionModel, type TrainCaptionConfig,
} from "@unroll/vision";
import { readConfigFile } from "../config.js";
import { availableMemory, checkTrainingSize } from "../settings/size.js";
import { flagName, helpLine, kinds, readSettings, type SettingsTable } from "../settings/validate.js";
import { inRun, openRun, reportTraining, stopOnInterrupt } from "../training/run.js";
import { Interrupted, UserError } from "../ui/errors.js";
import type { Output } from "../ui/output.js";
import { TrainingProgress } from "../ui/progress.js";

/** The settings of `train caption` and `train video`: flags and config-file keys share these names and rules. */
export const SETTINGS = {
  data: { kind: kinds.string, default: "emoji for train caption; required for train video", help: "caption file to train on: image<TAB>caption per line, paths relative to the file (videos: a folder of frames, a GIF or an APNG); `emoji`: Google's emoji and their names (train caption's default)" },
  dev: { kind: kinds.string, help: "held-out captions for the dev loss, BLEU-4 and CIDEr-D (default: the last 5% of --data's images, at most 500)" },
  out: { kind: kinds.string, default: "runs/caption (train video: runs/video)", help: "run directory (checkpoints, metrics.jsonl)" },
  decoder: { kind: kinds.choice("show-tell", "inject", "attention"), default: "attention", help: "show-tell (the image as the first input) | inject (the image at every step) | attention (over the image's regions)" },
  cell: { kind: kinds.choice("lstm", "gru", "rnn_tanh", "rnn_relu"), default: "lstm", help: "lstm | gru | rnn_tanh | rnn_relu" },
  imageSize: { kind: { type: "integer", min: 8, max: 1024 }, help: "images are resized to this many pixels square (default 32)" },
  frames: { kind: { type: "integer", min: 1, max: 256 }, help: "frames sampled from each video, evenly (train video; default 8)" },
  encoder: { kind: kinds.choice("resnet", "mobilenet"), help: "resnet (a residual CNN trained from scratch; the default) | mobilenet (the pretrained MobileNetV2 inside the npm package nsfwjs: 224×224 images, frozen unless --fine-tune)" },
  fineTune: { kind: kinds.boolean, help: "train the pretrained MobileNetV2's weights with the decoder (--encoder mobilenet; default false: frozen)" },
  channels: { kind: kinds.string, help: "the encoder's channels per stage, e.g. 16,32,64 (the default; each stage halves the image)" },
  blocks: { kind: kinds.positiveInteger, help: "residual blocks per encoder stage (default 1)" },
  embedding: { kind: kinds.positiveInteger, help: "word embedding size (default 64)" },
  hidden: { kind: kinds.positiveInteger, help: "decoder units (default 128)" },
  attentionSize: { kind: kinds.positiveInteger, help: "width of the attention's scoring layer (default: --hidden)" },
  doublyStochastic: { kind: kinds.nonNegative, help: "λ of the attention regulariser pushing every region to be looked at once (default 1)" },
  dropout: { kind: kinds.fraction, default: "0", help: "dropout on embeddings and before the output layer" },
  minFrequency: { kind: kinds.positiveInteger, help: "words seen fewer times are unknown (default 2)" },
  maxLength: { kind: kinds.positiveInteger, help: "captions are cut to this many words for training (default 30)" },
  optimizer: { kind: kinds.choice("adam", "adamw", "sgd"), default: "adam", help: "adam | adamw | sgd" },
  lr: { kind: kinds.positive, help: "learning rate (default 2e-3)" },
  weightDecay: { kind: kinds.nonNegative, default: "0; adamw: 0.01", help: "weight decay" },
  momentum: { kind: kinds.nonNegative, default: "0", help: "momentum (sgd)" },
  schedule: { kind: kinds.choice("constant", "cosine", "plateau"), default: "constant", help: "constant | cosine | plateau" },
  warmup: { kind: kinds.nonNegativeInteger, default: "0", help: "warm-up steps (cosine)" },
  clip: { kind: kinds.nonNegative, default: "5", help: "global gradient-norm clip (0: off; default 5)" },
  batch: { kind: kinds.positiveInteger, help: "captions per batch (default 32)" },
  steps: { kind: kinds.positiveInteger, default: "2000; none with --time alone", help: "training steps" },
  epochs: { kind: kinds.positive, default: "none: --steps decides", help: "passes over the training captions (instead of --steps)" },
  time: { kind: kinds.positive, default: "none", help: "time budget in minutes" },
  seed: { kind: kinds.integer, default: "0", help: "random seed" },
  evalEvery: { kind: kinds.positiveInteger, help: "dev loss, BLEU-4 and CIDEr-D every N steps (default 250)" },
  evalImages: { kind: kinds.positiveInteger, help: "dev images captioned for BLEU-4 and CIDEr-D each time (default 500)" },
  checkpointEvery: { kind: kinds.positiveInteger, help: "checkpoint every N steps (default 500)" },
  kernels: { kind: kinds.choice("auto", "wasm", "reference"), default: "auto", help: "auto | wasm | reference" },
  threads: { kind: { type: "integer", min: 1, max: MAX_WASM_THREADS }, help: "threads for the WebAssembly kernels (default: the cores, at most 8)" },
} as const satisfies SettingsTable;

type Key = keyof typeof SETTINGS;
type Values = ReadonlyMap<string, number | string | boolean>;
type Kind = "caption" | "video";

const DEFAULTS = { steps: 2000, checkpointEvery: 500 } as const;
/** The built-in captioning set's name: Google's emoji (emoji-datasource-google) with their names. */
export const EMOJI = "emoji";
const isBuiltIn = (data: string): boolean => data === EMOJI;
/** Settings a resumed run may change: how long to run and on which kernels; the rest is the run's own. */
const ON_RESUME = new Set<Key>(["out", "steps", "time", "kernels", "threads", "data", "dev"]);

function channelsOf(raw: string, where: string): number[] {
  const parts = raw.split(",").map((s) => s.trim());
  const channels = parts.map(Number);
  if (parts.length === 0 || parts.length > 6 || channels.some((c, i) => !/^\d+$/.test(parts[i]!) || c < 1 || c > 1024)) {
    throw new UserError(`${where} must be 1 to 6 channel counts like 16,32,64, got ${JSON.stringify(raw)}`);
  }
  return channels;
}

/** The library's config from checked settings. */
export function toConfig(kind: Kind, v: Values, source: ReadonlyMap<string, string>, resume: boolean): TrainCaptionConfig {
  const get = <T extends number | string | boolean>(key: Key): T | undefined => v.get(key) as T | undefined;
  const set = (target: Record<string, unknown>, name: string, key: Key): void => {
    if (v.has(key)) target[name] = v.get(key);
  };
  if (kind === "caption" && v.has("frames")) throw new UserError(`${source.get("frames")} applies to videos`, "drop it, or train a video captioner with `unroll train video`");
  const model: Record<string, unknown> = {};
  set(model, "decoder", "decoder");
  set(model, "cell", "cell");
  set(model, "embeddingSize", "embedding");
  set(model, "hiddenSize", "hidden");
  set(model, "attentionSize", "attentionSize");
  set(model, "doublyStochastic", "doublyStochastic");
  set(model, "dropout", "dropout");
  if (v.has("attentionSize") && (get<string>("decoder") ?? "attention") !== "attention") throw new UserError(`${source.get("attentionSize")} applies to the attention decoder`, "drop it, or choose --decoder attention");
  if (get<string>("encoder") === "mobilenet") {
    const resnet = (["channels", "blocks"] as const).filter((k) => v.has(k));
    if (resnet.length > 0) throw new UserError(`${resnet.map((k) => source.get(k)).join(", ")} shape${resnet.length === 1 ? "s" : ""} the resnet encoder, not the pretrained MobileNetV2`, "drop it, or choose --encoder resnet");
    model.encoder = { kind: "mobilenet", frozen: !(get<boolean>("fineTune") ?? false) };
  } else if (v.has("fineTune")) {
    throw new UserError(`${source.get("fineTune")} applies to the pretrained encoder`, "drop it, or choose --encoder mobilenet");
  } else if (v.has("channels") || v.has("blocks")) {
    model.encoder = { channels: v.has("channels") ? channelsOf(get<string>("channels")!, source.get("channels")!) : [16, 32, 64], blocks: get<number>("blocks") ?? 1 };
  }
  const optimizer: Record<string, unknown> = {};
  set(optimizer, "name", "optimizer");
  set(optimizer, "lr", "lr");
  set(optimizer, "weightDecay", "weightDecay");
  set(optimizer, "momentum", "momentum");
  if (v.has("momentum") && (get<string>("optimizer") ?? "adam") !== "sgd") throw new UserError(`${source.get("momentum")} applies to the sgd optimiser`, "drop it, or choose --optimizer sgd");
  const schedule: Record<string, unknown> = {};
  set(schedule, "name", "schedule");
  set(schedule, "warmupSteps", "warmup");
  if (v.has("warmup") && get("schedule") !== "cosine") throw new UserError(`${source.get("warmup")} applies to the cosine schedule`, "drop it, or choose --schedule cosine");
  const input: Record<string, unknown> = {};
  set(input, "imageSize", "imageSize");
  // The MobileNetV2 was trained on 224×224 images in [0, 1] (nsfwjs: pixels / 255): the input's defaults already normalise so.
  if (get<string>("encoder") === "mobilenet" && !v.has("imageSize")) input.imageSize = 224;
  set(input, "frames", "frames");
  const config: Record<string, unknown> = { model, optimizer, schedule, input, video: kind === "video" };
  set(config, "minFrequency", "minFrequency");
  set(config, "maxLength", "maxLength");
  set(config, "clip", "clip");
  set(config, "batchSize", "batch");
  if (v.has("epochs")) config.epochs = get("epochs");
  else if (v.has("steps") || (!v.has("time") && !resume)) config.steps = get<number>("steps") ?? DEFAULTS.steps;
  set(config, "timeBudgetMinutes", "time");
  set(config, "seed", "seed");
  set(config, "evalEvery", "evalEvery");
  set(config, "evalImages", "evalImages");
  set(config, "kernels", "kernels");
  set(config, "threads", "threads");
  if (v.has("data")) config.data = isBuiltIn(get<string>("data")!) ? EMOJI : resolve(get<string>("data")!);
  else if (!resume && kind === "caption") config.data = EMOJI;
  if (v.has("dev")) config.dev = resolve(get<string>("dev")!);
  return config as TrainCaptionConfig;
}

const SIZE_FIX = "use a smaller --image-size, --channels, --hidden or --embedding, a larger --min-frequency, or a smaller --batch (a frozen --encoder mobilenet keeps no activations for training)";

function checkSize(model: Captioner, config: TrainCaptionConfig, input: CaptionInput, memory: number): void {
  const c = model.config;
  const side = input.imageSize;
  const frames = input.frames ?? 1;
  // The encoder's activations dominate: each ResNet stage keeps about 4 maps of its channels at its
  // resolution; MobileNetV2's 98 layers hold about 260 values per input pixel (13 million at
  // 224×224), recorded when fine-tuned; frozen, it records nothing and its largest maps live briefly.
  const encoder =
    "kind" in c.encoder
      ? (c.encoder.frozen ? 80 : 260) * side * side * frames
      : c.encoder.channels.reduce((sum, ch, i) => sum + 4 * ch * (side / 2 ** (i + 1)) ** 2, 3 * side * side) * frames;
  const length = (config.maxLength ?? 30) + 1;
  checkTrainingSize(
    {
      shapes: model.parameterShapes(),
      optimizerBuffers: (config.optimizer?.name ?? "adam") === "sgd" ? 1 : 2,
      activationsPerToken: encoder / length + 2 * c.embeddingSize + 8 * c.hiddenSize + 3 * c.vocabSize,
      tokensPerBatch: (config.batchSize ?? 32) * length,
    },
    memory,
    SIZE_FIX,
  );
}

export function registerTrainCaption(train: Command, out: () => Output, kind: Kind): void {
  const what = kind === "caption" ? "images" : "videos";
  const cmd = train
    .command(kind)
    .description(
      kind === "caption"
        ? "train an image captioner (a CNN encoder and a recurrent decoder: show-tell, inject or attention) on a caption file, with dev BLEU-4 and CIDEr-D as it goes"
        : "train a video captioner (per-frame CNN features, an LSTM over the frames, a recurrent decoder) on a caption file of frame folders, GIFs or APNGs",
    )
    .option("--config <file>", "JSON or YAML file with the settings below (flags override it)")
    .option("--resume", "continue the run in --out exactly where its last checkpoint left it")
    .option("--force", "start a new run in --out even if it holds one (the old run is moved into a new folder beside it, <out>.replaced-<time>)");
  for (const [key, spec] of Object.entries(SETTINGS)) {
    cmd.option(`--${flagName(key)} <value>`, helpLine(spec));
  }
  const defaultOut = kind === "caption" ? "runs/caption" : "runs/video";
  cmd.addHelpText(
    "after",
    `\nDefaults: ${kind === "caption" ? "--data emoji (Google's emoji named: 1,716 to train on, 190 held out) " : ""}--out ${defaultOut} --steps ${DEFAULTS.steps} (none with --time alone); ${what} resized to 32×32${kind === "video" ? ", 8 frames" : ""}; a residual CNN encoder\n` +
      `(channels 16,32,64, 1 block per stage) trained from scratch (--encoder mobilenet: nsfwjs's pretrained MobileNetV2, 224×224, frozen); an LSTM decoder of 128 with attention, embeddings 64; words seen twice or more;\n` +
      `Adam 2e-3, clip 5, batch 32. On --resume only --steps, --time, --kernels and --threads may change. Examples:\n` +
      (kind === "caption"
        ? `  unroll train caption --time 10                      # the emoji set\n` +
          `  unroll data shapes --out shapes && unroll train caption --data shapes/train.tsv --dev shapes/dev.tsv --time 5\n` +
          `  unroll train caption --data tuxpaint/train.tsv --decoder inject --image-size 48 --out runs/inject`
        : `  unroll data shapes --video --out moving && unroll train video --data moving/train.tsv --dev moving/dev.tsv --time 5`),
  );
  cmd.action(async (flags: Record<string, unknown>) => trainCaption(kind, defaultOut, flags, out()));
}

async function trainCaption(kind: Kind, defaultOut: string, flags: Record<string, unknown>, out: Output): Promise<void> {
  const file = flags.config === undefined ? undefined : String(flags.config);
  const { values, source } = readSettings(SETTINGS, flags, file === undefined ? {} : await readConfigFile(file), file);
  const resume = Boolean(flags.resume);
  if (resume) {
    const changed = [...values.keys()].filter((k) => !ON_RESUME.has(k as Key));
    if (changed.length > 0) {
      throw new UserError(
        `${changed.map((k) => source.get(k)).join(", ")} cannot change on --resume: the run continues with its own settings`,
        "drop them; only --steps, --time, --kernels and --threads may change (start a new run with --force or another --out to train differently)",
      );
    }
  } else if (!values.has("data") && kind === "video") {
    throw new UserError(
      "train video needs captioned videos: --data captions.tsv (video<TAB>caption per line; a video is a folder of frames, a GIF or an APNG)",
      "try the procedural set: unroll data shapes --video --out moving, then --data moving/train.tsv",
    );
  }
  const config = toConfig(kind, values, source, resume);
  const dir = resolve(String(values.get("out") ?? defaultOut));
  const memory = await availableMemory();
  // A new run reads its images before it touches --out: a broken file leaves no trace there.
  const sets = resume ? null : await readSets(out, config.data ?? EMOJI, config.dev, resolveCaptionInput(config.input, kind === "video"));
  const run = await openRun(out, { dir, resume, force: Boolean(flags.force), command: `unroll train ${kind}` });
  run.releaseOnExit();
  await inRun(run, () => trainIn(kind, run, { values, config, resume, memory, sets }, out));
}

async function readSets(out: Output, data: string, dev: string | undefined, input: CaptionInput): Promise<{ train: CaptionSet; dev: CaptionSet | undefined }> {
  if (isBuiltIn(data)) {
    if (input.frames !== null) throw new UserError("the emoji set is images, and this is a video captioner", "train it with `unroll train caption --data emoji`, or give --data a caption file of videos");
    out.info(`loading the emoji set (${EMOJI_PACKAGE})${dev ? ` and ${dev}` : ""}...`);
    const emoji = await emojiCaptions().catch((e: Error) => {
      throw new UserError(e.message, "or train on a caption file of your own: --data captions.tsv");
    });
    return { train: await loadCaptionEntries(emoji.train, input), dev: dev ? await loadCaptionSet(dev, input) : await loadCaptionEntries(emoji.dev, input) };
  }
  out.info(`loading ${data}${dev ? ` and ${dev}` : ""}...`);
  const train = await loadCaptionSet(data, input);
  return { train, dev: dev ? await loadCaptionSet(dev, input) : undefined };
}

/** A caption file, or the built-in emoji set's held-out tenth (`eval caption --data emoji`). */
export async function readEvaluationSet(data: string, input: CaptionInput): Promise<CaptionSet> {
  if (!isBuiltIn(data)) return loadCaptionSet(data, input);
  const emoji = await emojiCaptions().catch((e: Error) => {
    throw new UserError(e.message, "or score on a caption file: --data captions.tsv");
  });
  return loadCaptionEntries(emoji.dev, input);
}

async function trainIn(
  kind: Kind,
  run: RunFolder,
  a: { values: Values; config: TrainCaptionConfig; resume: boolean; memory: number; sets: { train: CaptionSet; dev: CaptionSet | undefined } | null },
  out: Output,
): Promise<void> {
  const { config, resume } = a;
  const dir = run.dir;
  let sets = a.sets;
  if (resume) {
    // A resumed run reads the captions it was trained on, prepared as it prepared them.
    let saved;
    try {
      saved = captionConfigOf(await loadCheckpoint(run.checkpoint!), dir);
    } catch (e) {
      if (e instanceof CheckpointError) throw new UserError(`the run in ${dir} cannot be resumed: ${e.message}`, "restore the file from a backup, or start a new run with --force");
      throw new UserError((e as Error).message, `resume a run of \`unroll train ${kind}\``);
    }
    if (saved.model.video !== (kind === "video")) throw new UserError(`the run in ${dir} is ${saved.model.video ? "a video" : "an image"} captioner`, `resume it with \`unroll train ${saved.model.video ? "video" : "caption"} --out ${dir} --resume\``);
    const data = saved.training.data;
    if (config.data !== undefined && data !== undefined && config.data !== data) throw new UserError(`the run in ${dir} was trained on ${data}, not ${config.data}`, "resume without --data");
    if (data === undefined) throw new UserError(`the run in ${dir} does not record its training captions`, `it was not written by \`unroll train ${kind}\``);
    sets = await readSets(out, data, saved.training.dev, saved.input);
  }
  const interrupt = stopOnInterrupt(out);
  let progress: TrainingProgress | null = null;
  let metrics: Awaited<ReturnType<RunFolder["openMetrics"]>>["log"] | null = null;
  let lastEvalStep = -1;
  try {
    const result = await trainCaptionModel({
      train: sets!.train,
      ...(sets!.dev ? { dev: sets!.dev } : {}),
      config,
      checkpointDir: dir,
      checkpointEvery: (a.values.get("checkpointEvery") as number | undefined) ?? DEFAULTS.checkpointEvery,
      resume,
      signal: interrupt.signal,
      beforeInit: (model, effective) => checkSize(model, effective, resolveCaptionInput(effective.input, kind === "video"), a.memory),
      onTrainer: async (trainer, info) => {
        const m = info.model.config;
        const side = info.input.imageSize;
        out.info(
          `${m.decoder} captioner (${m.cell} ${m.hiddenSize}, ${"kind" in m.encoder ? `pretrained MobileNetV2 encoder (nsfwjs, ${m.encoder.frozen ? "frozen" : "fine-tuned"})` : `encoder channels ${m.encoder.channels.join(",")}`}${m.video ? `, ${info.input.frames} frames` : ""}, ${side}×${side} ${m.video ? "videos" : "images"}), ` +
            `${info.parameters.toLocaleString("en-US")} parameters, ${info.vocabulary.size.toLocaleString("en-US")} words, ` +
            `${info.trainImages.toLocaleString("en-US")} training ${m.video ? "videos" : "images"} (${info.trainCaptions.toLocaleString("en-US")} captions${info.truncatedCaptions > 0 ? `, ${info.truncatedCaptions} cut to ${config.maxLength ?? 30} words` : ""}), ${info.devImages} dev, kernels ${info.kernels}` +
            (info.resumedFrom !== null ? `; resuming from step ${info.resumedFrom}` : ""),
        );
        const opened = await run.openMetrics(info.resumedFrom ?? undefined);
        metrics = opened.log;
        progress = new TrainingProgress(out, info.targetSteps);
        reportTraining(trainer, { progress, metrics: opened.log, vocabSize: info.vocabulary.size });
        trainer.events.on("eval", (e) => (lastEvalStep = e.step));
      },
      onEvaluation: (step, r) => {
        const log = metrics as { append(r: Record<string, number>): void } | null;
        if (step !== lastEvalStep) log?.append({ step, validation: r.loss });
        log?.append({ step, bleu4: r.bleu4, cider: r.cider });
        (progress as TrainingProgress | null)?.line(`step ${step}: dev BLEU-4 ${(100 * r.bleu4).toFixed(2)}, CIDEr-D ${(100 * r.cider).toFixed(1)} (greedy)`, { event: "caption-scores", step, bleu4: r.bleu4, cider: r.cider, loss: r.loss });
      },
    }).catch((e: unknown) => {
      if (e instanceof DataError && e.code === "CHANGED") throw new UserError(e.message, `a resumed run must read the captions it was trained on: restore ${config.data ?? "them"}, or start a new run with --force`);
      throw e;
    });
    (progress as TrainingProgress | null)?.stop();
    const stopped = result.stopReason === "stopped";
    const ev = result.evaluation;
    out.result(
      { event: "done", steps: result.steps, stopReason: result.stopReason, bleu4: ev?.bleu4 ?? null, cider: ev?.cider ?? null, devLoss: ev?.loss ?? null, checkpoint: dir },
      () =>
        `${stopped ? "stopped" : "finished"} at step ${result.steps}; checkpoint saved in ${dir}` +
        (ev ? `; dev BLEU-4 ${(100 * ev.bleu4).toFixed(2)}, CIDEr-D ${(100 * ev.cider).toFixed(1)}, loss ${ev.loss.toFixed(4)}` : "") +
        (stopped ? `\nresume with: unroll train ${kind} --out ${dir} --resume` : `\ncaption with: unroll caption ${dir} ${kind === "caption" ? "image.png" : "frames/"}`),
    );
    if (stopped) throw new Interrupted();
  } finally {
    (progress as TrainingProgress | null)?.stop();
    interrupt.dispose();
  }
}
