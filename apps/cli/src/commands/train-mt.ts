import { resolve } from "node:path";
import type { Command } from "commander";
import { DataError, readPairs, type Seq2Seq, type Seq2SeqConfig, trainTranslationModel, type TrainMtConfig, translationConfigOf, translationTokens } from "@unroll/nlp";
import { CheckpointError, loadCheckpoint, type RunFolder } from "@unroll/train";
import { readConfigFile } from "../config.js";
import { chosenEngine, engineLabel, engineRefusal, engineSettings } from "../training/engine.js";
import { availableMemory, checkTrainingSize } from "../settings/size.js";
import { flagName, helpLine, kinds, readSettings, type SettingsTable } from "../settings/validate.js";
import { checkTensorBoardDir, inRun, type MetricsSink, metricsSink, openRun, printModelSummary, reportTraining, stopOnInterrupt } from "../training/run.js";
import { Interrupted, UserError } from "../ui/errors.js";
import type { Output } from "../ui/output.js";
import { TrainingProgress } from "../ui/progress.js";

/** The settings of `train mt`: flags and config-file keys share these names and rules (as `train lm`'s). */
export const SETTINGS = {
  data: { kind: kinds.string, default: "none: required for a new run", help: "tab-separated sentence pairs to train on (source<TAB>target per line)" },
  dev: { kind: kinds.string, help: "held-out pairs for the dev loss, BLEU and chrF (default: the last 5% of --data, at most 1,000)" },
  columns: { kind: kinds.string, help: "the columns holding source and target, 0-based (default 0,1; 1,0 translates the other way)" },
  out: { kind: kinds.string, default: "runs/mt", help: "run directory (checkpoints, metrics.jsonl)" },
  vocabulary: { kind: kinds.choice("word", "bpe", "char"), default: "word", help: "word | bpe | char" },
  joint: { kind: kinds.boolean, default: "false", help: "one vocabulary for both sides and shared embeddings" },
  minFrequency: { kind: kinds.positiveInteger, help: "word pieces seen fewer times are unknown (default 2)" },
  bpeVocab: { kind: { type: "integer", min: 256, max: 1 << 20 }, help: "BPE vocabulary size (default 4000)" },
  lowercase: { kind: kinds.boolean, default: "false", help: "lowercase words (word vocabularies)" },
  maxSourceLength: { kind: kinds.positiveInteger, help: "training pairs with more source tokens are left out (default 50)" },
  maxTargetLength: { kind: kinds.positiveInteger, help: "the same for the target (default 50)" },
  attention: { kind: kinds.choice("none", "bahdanau", "luong-dot", "luong-general"), default: "bahdanau", help: "none (the bottleneck) | bahdanau | luong-dot | luong-general" },
  cell: { kind: kinds.choice("gru", "lstm", "rnn_tanh", "rnn_relu"), default: "gru", help: "gru | lstm | rnn_tanh | rnn_relu" },
  embedding: { kind: kinds.positiveInteger, help: "embedding size (default 256)" },
  hidden: { kind: kinds.positiveInteger, help: "encoder units per direction, and decoder units (default 256)" },
  decoderHidden: { kind: kinds.positiveInteger, default: "--hidden", help: "decoder units when they differ from --hidden" },
  layers: { kind: kinds.positiveInteger, help: "recurrent layers of the encoder and of the decoder (default 1)" },
  bidirectional: { kind: kinds.boolean, help: "a bidirectional encoder (default true)" },
  attentionSize: { kind: kinds.positiveInteger, help: "width of Bahdanau's scoring layer (default: decoder units)" },
  inputFeeding: { kind: kinds.boolean, help: "Luong's input feeding (default true)" },
  dropout: { kind: kinds.fraction, default: "0", help: "dropout on embeddings, between layers and before the output layer" },
  teacherForcing: { kind: { type: "number", min: 0, max: 1 }, help: "probability of feeding the gold previous token (default 1)" },
  labelSmoothing: { kind: kinds.fraction, help: "label smoothing (default 0)" },
  optimizer: { kind: kinds.choice("adam", "adamw", "sgd"), default: "adam", help: "adam | adamw | sgd" },
  lr: { kind: kinds.positive, help: "learning rate (default 1e-3)" },
  weightDecay: { kind: kinds.nonNegative, default: "0; adamw: 0.01", help: "weight decay" },
  momentum: { kind: kinds.nonNegative, default: "0", help: "momentum (sgd)" },
  schedule: { kind: kinds.choice("constant", "cosine", "plateau"), default: "constant", help: "constant | cosine | plateau" },
  warmup: { kind: kinds.nonNegativeInteger, default: "0", help: "warm-up steps (cosine)" },
  clip: { kind: kinds.nonNegative, default: "5", help: "global gradient-norm clip (0: off; default 5)" },
  batch: { kind: kinds.positiveInteger, help: "sentence pairs per batch (default 64)" },
  steps: { kind: kinds.positiveInteger, default: "2000; none with --time alone", help: "training steps" },
  epochs: { kind: kinds.positive, default: "none: --steps decides", help: "passes over the training pairs (instead of --steps)" },
  time: { kind: kinds.positive, default: "none", help: "time budget in minutes" },
  seed: { kind: kinds.integer, default: "0", help: "random seed" },
  evalEvery: { kind: kinds.positiveInteger, help: "dev loss, BLEU and chrF every N steps (default 500)" },
  bleuSentences: { kind: kinds.positiveInteger, help: "dev sentences translated for BLEU each time (default 500)" },
  patience: { kind: kinds.positiveInteger, help: "early stopping: stop after N evaluations in a row without a lower dev loss (default: never)" },
  checkpointEvery: { kind: kinds.positiveInteger, help: "checkpoint every N steps (default 500; the lowest dev loss's is kept in <out>/best)" },
  kernels: { kind: kinds.choice("auto", "wasm", "reference"), default: "auto", help: "auto | wasm | reference" },
  ...engineSettings("LSTM or GRU encoders"),
  tensorboard: { kind: kinds.string, default: "none", help: "also write TensorBoard event files into this directory (loss, dev loss, BLEU, chrF, lr, gradient norm)" },
} as const satisfies SettingsTable;

type Key = keyof typeof SETTINGS;
type Values = ReadonlyMap<string, number | string | boolean>;

const DEFAULTS = { out: "runs/mt", steps: 2000, checkpointEvery: 500 } as const;
const BOOLEANS = new Set<Key>(["joint", "lowercase", "bidirectional", "inputFeeding"]);
/** Settings a resumed run may change: how long to run and on which kernels; the rest is the run's own. */
const ON_RESUME = new Set<Key>(["out", "steps", "time", "patience", "kernels", "threads", "engine", "tensorboard", "data", "dev", "columns"]);

function columnsOf(raw: string | undefined, where: string): [number, number] {
  if (raw === undefined) return [0, 1];
  const m = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(raw);
  if (!m || m[1] === m[2]) throw new UserError(`${where} must be two different column numbers like 0,1, got ${JSON.stringify(raw)}`);
  return [Number(m[1]), Number(m[2])];
}

/** The library's config from checked settings. */
export function toConfig(v: Values, source: ReadonlyMap<string, string>, resume: boolean): TrainMtConfig {
  const get = <T extends number | string | boolean>(key: Key): T | undefined => v.get(key) as T | undefined;
  const model: Record<string, unknown> = {};
  const set = (target: Record<string, unknown>, name: string, key: Key): void => {
    if (v.has(key)) target[name] = v.get(key);
  };
  set(model, "attention", "attention");
  set(model, "cell", "cell");
  set(model, "embeddingSize", "embedding");
  set(model, "encoderHiddenSize", "hidden");
  set(model, "decoderHiddenSize", "hidden");
  set(model, "decoderHiddenSize", "decoderHidden");
  set(model, "encoderLayers", "layers");
  set(model, "decoderLayers", "layers");
  set(model, "bidirectional", "bidirectional");
  set(model, "attentionSize", "attentionSize");
  set(model, "inputFeeding", "inputFeeding");
  set(model, "dropout", "dropout");
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
  const config: Record<string, unknown> = { model, optimizer, schedule };
  set(config, "vocabulary", "vocabulary");
  set(config, "joint", "joint");
  set(config, "minFrequency", "minFrequency");
  set(config, "bpeVocabSize", "bpeVocab");
  set(config, "lowercase", "lowercase");
  set(config, "maxSourceLength", "maxSourceLength");
  set(config, "maxTargetLength", "maxTargetLength");
  set(config, "teacherForcing", "teacherForcing");
  set(config, "labelSmoothing", "labelSmoothing");
  set(config, "clip", "clip");
  set(config, "batchSize", "batch");
  if (v.has("epochs")) config.epochs = get("epochs");
  else if (v.has("steps") || (!v.has("time") && !resume)) config.steps = get<number>("steps") ?? DEFAULTS.steps;
  set(config, "timeBudgetMinutes", "time");
  set(config, "seed", "seed");
  set(config, "evalEvery", "evalEvery");
  set(config, "bleuSentences", "bleuSentences");
  set(config, "patience", "patience");
  set(config, "kernels", "kernels");
  set(config, "threads", "threads");
  if (v.has("data")) config.data = resolve(get<string>("data")!);
  if (v.has("dev")) config.dev = resolve(get<string>("dev")!);
  config.columns = columnsOf(get<string>("columns"), source.get("columns") ?? "--columns");
  return config as TrainMtConfig;
}

const SIZE_FIX = "use a smaller --hidden, --embedding, --layers or vocabulary (--min-frequency, --vocabulary bpe --bpe-vocab), or a smaller --batch or --max-*-length";

function checkSize(model: Seq2Seq, config: TrainMtConfig, memory: number): void {
  const c = model.config;
  const gates = c.cell === "lstm" ? 4 : c.cell === "gru" ? 3 : 1;
  const length = Math.max(config.maxSourceLength ?? 50, config.maxTargetLength ?? 50);
  checkTrainingSize(
    {
      shapes: model.parameterShapes(),
      optimizerBuffers: (config.optimizer?.name ?? "adam") === "sgd" ? 1 : 2,
      activationsPerToken: 2 * c.embeddingSize + (c.encoderLayers + c.decoderLayers) * (gates + 3) * Math.max(c.encoderHiddenSize * 2, c.decoderHiddenSize) + 3 * c.tgtVocabSize,
      tokensPerBatch: (config.batchSize ?? 64) * length,
    },
    memory,
    SIZE_FIX,
  );
}

export function registerTrainMt(train: Command, out: () => Output): void {
  const cmd = train
    .command("mt")
    .description("train a translation model (encoder-decoder, with or without attention) on tab-separated sentence pairs, with dev BLEU and chrF as it goes")
    .option("--config <file>", "JSON or YAML file with the settings below (flags override it)")
    .option("--resume", "continue the run in --out exactly where its last checkpoint left it")
    .option("--force", "start a new run in --out even if it holds one (the old run is moved into a new folder beside it, <out>.replaced-<time>)");
  for (const [key, spec] of Object.entries(SETTINGS)) {
    const flag = `--${flagName(key)}`;
    cmd.option(BOOLEANS.has(key as Key) ? `${flag} [value]` : `${flag} <value>`, helpLine(spec));
  }
  cmd.addHelpText(
    "after",
    `\nDefaults: --out ${DEFAULTS.out} --steps ${DEFAULTS.steps} (none with --time alone); word vocabularies (min frequency 2), a bidirectional\n` +
      `GRU encoder of 256 per direction, a GRU decoder of 256 with Bahdanau attention, embeddings 256, Adam 1e-3, clip 5, batch 64.\n` +
      `--out holds the checkpoints, metrics.jsonl and metrics.csv (the same rows), and best/, the checkpoint of the lowest dev loss\n(translate, eval mt and export read <out>/best). On --resume only --steps, --time, --patience, --kernels, --threads, --engine\nand --tensorboard may change (the data must be the run's own). Examples:\n` +
      `  unroll train mt --data de-en/train.tsv --dev de-en/dev.tsv --time 15\n` +
      `  unroll train mt --data eng-fra.txt --columns 1,0 --attention luong-general --out runs/fr-en\n` +
      `  unroll train mt --data de-en/train.tsv --attention none --out runs/bottleneck   # the bottleneck baseline`,
  );
  cmd.action(async (flags: Record<string, unknown>) => trainMt(flags, out()));
}

async function trainMt(flags: Record<string, unknown>, out: Output): Promise<void> {
  const file = flags.config === undefined ? undefined : String(flags.config);
  // A boolean flag given bare (`--joint`) means true.
  const given: Record<string, unknown> = { ...flags };
  for (const key of BOOLEANS) if (given[key] === true) given[key] = "true";
  const { values, source } = readSettings(SETTINGS, given, file === undefined ? {} : await readConfigFile(file), file);
  const resume = Boolean(flags.resume);
  if (resume) {
    const changed = [...values.keys()].filter((k) => !ON_RESUME.has(k as Key));
    if (changed.length > 0) {
      throw new UserError(
        `${changed.map((k) => source.get(k)).join(", ")} cannot change on --resume: the run continues with its own settings`,
        "drop them; only --steps, --time, --patience, --kernels, --threads, --engine and --tensorboard may change (start a new run with --force or another --out to train differently)",
      );
    }
  } else if (!values.has("data")) {
    throw new UserError("train mt needs sentence pairs: --data pairs.tsv (source<TAB>target per line)", "e.g. the Tatoeba/Anki files (eng-fra.txt: --columns 1,0 for French to English)");
  }
  const config = toConfig(values, source, resume);
  const dir = resolve(String(values.get("out") ?? DEFAULTS.out));
  const memory = await availableMemory();
  // A new run reads its pairs before it touches --out: a malformed file leaves no trace there.
  const pairs = resume ? null : await readTrainingPairs(out, config.data!, config.dev, config.columns ?? [0, 1]);
  await checkTensorBoardDir(values.get("tensorboard") as string | undefined, { resume, force: Boolean(flags.force) });
  const run = await openRun(out, { dir, resume, force: Boolean(flags.force), command: "unroll train mt" });
  run.releaseOnExit();
  await inRun(run, () => trainIn(run, { values, config, resume, memory, pairs }, out));
}

type Pairs = Awaited<ReturnType<typeof readPairs>>["pairs"];

async function readTrainingPairs(out: Output, data: string, dev: string | undefined, columns: readonly [number, number]): Promise<{ train: Pairs; dev: Pairs | undefined }> {
  out.info(`loading ${data}${dev ? ` and ${dev}` : ""}...`);
  const train = (await readPairs(data, { columns })).pairs;
  return { train, dev: dev ? (await readPairs(dev, { columns })).pairs : undefined };
}

async function trainIn(run: RunFolder, a: { values: Values; config: TrainMtConfig; resume: boolean; memory: number; pairs: { train: Pairs; dev: Pairs | undefined } | null }, out: Output): Promise<void> {
  const { config, resume } = a;
  const dir = run.dir;
  let data = config.data;
  let dev = config.dev;
  let columns = config.columns ?? [0, 1];
  if (resume) {
    // A resumed run reads the pairs it was trained on.
    let saved: TrainMtConfig;
    try {
      saved = translationConfigOf(await loadCheckpoint(run.checkpoint!), dir).training;
    } catch (e) {
      if (e instanceof CheckpointError) throw new UserError(`the run in ${dir} cannot be resumed: ${e.message}`, "restore the file from a backup, or start a new run with --force");
      throw e;
    }
    if (data !== undefined && saved.data !== undefined && data !== saved.data) throw new UserError(`the run in ${dir} was trained on ${saved.data}, not ${data}`, "resume without --data");
    data = saved.data;
    dev = saved.dev;
    columns = saved.columns ?? [0, 1];
    if (data === undefined) throw new UserError(`the run in ${dir} does not record its training pairs`, "it was not written by `unroll train mt`");
  }
  const { train, dev: devPairs } = a.pairs ?? (await readTrainingPairs(out, data!, dev, columns));
  const interrupt = stopOnInterrupt(out);
  let progress: TrainingProgress | null = null;
  const tell = (line: string): void => ((progress as TrainingProgress | null) ? (progress as TrainingProgress).line(line, { event: "engine", text: line }) : out.info(line));
  let metrics: (MetricsSink & { close(): void }) | null = null;
  let lastEvalStep = -1;
  try {
    const result = await trainTranslationModel({
      train,
      ...(devPairs ? { dev: devPairs } : {}),
      config,
      checkpointDir: dir,
      checkpointEvery: (a.values.get("checkpointEvery") as number | undefined) ?? DEFAULTS.checkpointEvery,
      resume,
      keepBest: true,
      ...chosenEngine(a.values, { tokens: translationTokens, tell }),
      signal: interrupt.signal,
      beforeInit: (model, effective) => checkSize(model, effective, a.memory),
      onTrainer: async (trainer, info) => {
        const m: Seq2SeqConfig = info.model.config;
        out.info(
          `${m.cell} encoder-decoder (${m.bidirectional ? "bidirectional " : ""}encoder ${m.encoderHiddenSize}, decoder ${m.decoderHiddenSize}, attention ${m.attention}), ` +
            `${info.parameters.toLocaleString("en-US")} parameters, vocabularies ${info.source.size.toLocaleString("en-US")} / ${info.target.size.toLocaleString("en-US")} (${info.source.tokenizer.kind}), ` +
            `${info.trainPairs.toLocaleString("en-US")} training pairs${info.droppedPairs > 0 ? ` (${info.droppedPairs} longer than the limits left out)` : ""}, ${info.devPairs} dev pairs, ${engineLabel(a.values, info.kernels)}` +
            (info.resumedFrom !== null ? `; resuming from step ${info.resumedFrom}` : ""),
        );
        printModelSummary(out, info.model.parameterShapes());
        const opened = await run.openMetrics(info.resumedFrom ?? undefined);
        metrics = await metricsSink(out, opened.log, { tensorboard: a.values.get("tensorboard") as string | undefined, resumedFrom: info.resumedFrom });
        progress = new TrainingProgress(out, info.targetSteps);
        reportTraining(trainer, { progress, metrics, vocabSize: info.target.size });
        trainer.events.on("eval", (e) => (lastEvalStep = e.step));
      },
      onEvaluation: (step, r) => {
        const log = metrics as MetricsSink | null;
        // The final evaluation of a run that ended between validations: its dev loss too (plot draws it).
        if (step !== lastEvalStep) log?.append({ step, validation: r.loss });
        log?.append({ step, bleu: r.bleu, chrf: r.chrf });
        (progress as TrainingProgress | null)?.line(`step ${step}: dev BLEU ${r.bleu.toFixed(2)}, chrF ${r.chrf.toFixed(2)} (greedy)`, { event: "bleu", step, bleu: r.bleu, chrf: r.chrf, loss: r.loss });
      },
    }).catch((e: unknown) => {
      if (e instanceof DataError && e.code === "CHANGED") throw new UserError(e.message, `a resumed run must read the pairs it was trained on: restore ${data}, or start a new run with --force`);
      const refused = engineRefusal(e);
      if (refused) throw refused;
      throw e;
    });
    (progress as TrainingProgress | null)?.stop();
    const stopped = result.stopReason === "stopped";
    const ev = result.evaluation;
    const best = result.best;
    out.result(
      {
        event: "done",
        steps: result.steps,
        stopReason: result.stopReason,
        bleu: ev?.bleu ?? null,
        chrf: ev?.chrf ?? null,
        devLoss: ev?.loss ?? null,
        checkpoint: dir,
        best: best ? { step: best.step, devLoss: best.loss, checkpoint: best.dir } : null,
      },
      () =>
        `${stopped ? "stopped" : result.stopReason === "early-stopping" ? "stopped early (the dev loss stopped improving: --patience)" : "finished"} at step ${result.steps}; checkpoint saved in ${dir}` +
        (ev ? `; dev BLEU ${ev.bleu.toFixed(2)}, chrF ${ev.chrf.toFixed(2)}, loss ${ev.loss.toFixed(4)}` : "") +
        (best ? `\nlowest dev loss ${best.loss.toFixed(4)} at step ${best.step}, kept in ${best.dir}` : "") +
        (stopped ? `\nresume with: unroll train mt --out ${dir} --resume` : `\ntranslate with: echo "..." | unroll translate ${dir}`),
    );
    if (stopped) throw new Interrupted();
  } finally {
    (progress as TrainingProgress | null)?.stop();
    (metrics as { close(): void } | null)?.close();
    interrupt.dispose();
  }
}
