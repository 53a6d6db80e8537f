import { resolve } from "node:path";
import type { Command } from "commander";
import {
  CLASSIFICATION_DATASETS,
  classificationDataset,
  classifierConfigOf,
  DataError,
  type LabelledText,
  loadText,
  parseLabelledTsv,
  type SequenceClassifier,
  trainClassifier,
  type TrainClassifyConfig,
  type TrainWindowClassifierConfig,
} from "@unroll/nlp";
import { CheckpointError, loadCheckpoint, type RunFolder } from "@unroll/train";
import { readConfigFile } from "../config.js";
import { chosenEngine, engineLabel, engineRefusal, engineSettings } from "../training/engine.js";
import { availableMemory, checkTrainingSize } from "../settings/size.js";
import { flagName, helpLine, kinds, readSettings, type SettingsTable } from "../settings/validate.js";
import { checkTensorBoardDir, inRun, type MetricsSink, metricsSink, openRun, printModelSummary, reportTraining, stopOnInterrupt } from "../training/run.js";
import { Interrupted, UserError } from "../ui/errors.js";
import type { Output } from "../ui/output.js";
import { TrainingProgress } from "../ui/progress.js";
import { reportClassification, trainWindows, type WindowDataSpec } from "./classify-windows.js";

/** The settings of `train classify`: flags and config-file keys share these names and rules (as `train lm`'s). */
export const SETTINGS = {
  data: { kind: kinds.string, default: "none: required for a new run", help: `${CLASSIFICATION_DATASETS.join(" | ")} (embedded, split 80/10/10) | a file of label<TAB>text lines` },
  dev: { kind: kinds.string, help: "held-out label<TAB>text lines for the dev loss, accuracy and macro-F1 (default: the data set's dev split, or the last 10% of --data)" },
  presidents: { kind: kinds.string, help: 'sotu: the presidents to tell apart, comma-separated as the corpus spells them ("Barack Obama,George W Bush"; default: the five with the most words)' },
  passageWords: { kind: kinds.positiveInteger, help: "sotu: words per passage (whole sentences, default 100)" },
  label: { kind: kinds.string, default: "none: the file is text, not numbers", help: "a CSV of numbers: the label column (each window of --window rows is labelled by its last row's value)" },
  features: { kind: kinds.string, default: "every numeric column but --label and --group", help: "a CSV of numbers: the feature columns, comma-separated" },
  window: { kind: kinds.positiveInteger, help: "a CSV of numbers: rows per window (default 24)" },
  group: { kind: kinds.string, default: "none: one series", help: "a CSV of numbers: a column that tells series apart (one sensor each)" },
  out: { kind: kinds.string, default: "runs/classify", help: "run directory (checkpoints, metrics.jsonl)" },
  vocabulary: { kind: kinds.choice("word", "bpe", "char"), default: "word", help: "word | bpe | char" },
  minFrequency: { kind: kinds.positiveInteger, help: "words seen fewer times are unknown (default 2)" },
  maxVocab: { kind: kinds.positiveInteger, help: "the largest word vocabulary (default 20000)" },
  bpeVocab: { kind: { type: "integer", min: 256, max: 1 << 20 }, help: "BPE vocabulary size (default 4000)" },
  lowercase: { kind: kinds.boolean, help: "lowercase words (default true)" },
  maxLength: { kind: kinds.positiveInteger, help: "texts are cut to their first N tokens (default 400)" },
  cell: { kind: kinds.choice("lstm", "gru", "rnn_tanh", "rnn_relu"), default: "lstm", help: "lstm | gru | rnn_tanh | rnn_relu" },
  embedding: { kind: kinds.positiveInteger, help: "embedding size (default 128)" },
  hidden: { kind: kinds.positiveInteger, help: "units per direction (default 128)" },
  layers: { kind: kinds.positiveInteger, help: "recurrent layers (default 1)" },
  bidirectional: { kind: kinds.boolean, help: "read each text both ways (default true)" },
  pooling: { kind: kinds.choice("last", "mean", "max", "attention"), help: "last | mean (default) | max | attention: how the steps become one vector" },
  attentionSize: { kind: kinds.positiveInteger, help: "width of attention pooling's scoring layer (default: --hidden)" },
  dropout: { kind: kinds.fraction, default: "0", help: "dropout on embeddings, between layers and before the output layer" },
  classWeights: { kind: kinds.string, help: "balanced (n / (classes × count)) | none (default) | one number per class in name order, comma-separated" },
  optimizer: { kind: kinds.choice("adam", "adamw", "sgd"), default: "adam", help: "adam | adamw | sgd" },
  lr: { kind: kinds.positive, help: "learning rate (default 1e-3)" },
  weightDecay: { kind: kinds.nonNegative, default: "0; adamw: 0.01", help: "weight decay" },
  momentum: { kind: kinds.nonNegative, default: "0", help: "momentum (sgd)" },
  schedule: { kind: kinds.choice("constant", "cosine", "plateau"), default: "constant", help: "constant | cosine | plateau" },
  warmup: { kind: kinds.nonNegativeInteger, default: "0", help: "warm-up steps (cosine)" },
  clip: { kind: kinds.nonNegative, default: "5", help: "global gradient-norm clip (0: off; default 5)" },
  batch: { kind: kinds.positiveInteger, help: "texts per batch (default 32)" },
  steps: { kind: kinds.positiveInteger, default: "1000; none with --time alone", help: "training steps" },
  epochs: { kind: kinds.positive, default: "none: --steps decides", help: "passes over the training texts (instead of --steps)" },
  time: { kind: kinds.positive, default: "none", help: "time budget in minutes" },
  seed: { kind: kinds.integer, default: "0", help: "random seed" },
  evalEvery: { kind: kinds.positiveInteger, help: "dev loss, accuracy and macro-F1 every N steps (default 200)" },
  patience: { kind: kinds.positiveInteger, help: "early stopping: stop after N evaluations in a row without a lower dev loss (default: never)" },
  checkpointEvery: { kind: kinds.positiveInteger, help: "checkpoint every N steps (default 500; the lowest dev loss's is kept in <out>/best)" },
  kernels: { kind: kinds.choice("auto", "wasm", "reference"), default: "auto", help: "auto | wasm | reference" },
  ...engineSettings("texts with LSTM or GRU encoders", "library"),
  tensorboard: { kind: kinds.string, default: "none", help: "also write TensorBoard event files into this directory (loss, dev loss, accuracy, macro-F1, lr, gradient norm)" },
} as const satisfies SettingsTable;

type Key = keyof typeof SETTINGS;
type Values = ReadonlyMap<string, number | string | boolean>;

const DEFAULTS = { out: "runs/classify", steps: 1000, checkpointEvery: 500 } as const;
const BOOLEANS = new Set<Key>(["lowercase", "bidirectional"]);
const ON_RESUME = new Set<Key>(["out", "steps", "time", "patience", "kernels", "threads", "engine", "tensorboard", "data", "dev"]);
/** Settings of text classifiers that a window classifier (a CSV of numbers) has no use for. */
const TEXT_ONLY: readonly Key[] = ["dev", "presidents", "passageWords", "vocabulary", "minFrequency", "maxVocab", "bpeVocab", "lowercase", "maxLength", "embedding", "schedule", "warmup", "epochs"];

const RESUME_LIST = "--steps, --time, --patience, --kernels, --threads, --engine and --tensorboard";

/** How the examples were chosen, recorded with the run (in its training config) so that `--resume` and `eval classify` read the same ones. */
export type ClassifyDataSpec = Pick<TrainClassifyConfig, "dev" | "presidents" | "passageWords"> & { readonly data: string };

function isDatasetName(data: string): data is (typeof CLASSIFICATION_DATASETS)[number] {
  return (CLASSIFICATION_DATASETS as readonly string[]).includes(data);
}

/** The train/dev/test examples a spec names: an embedded data set's fixed split, or a file (and --dev). */
export async function readClassifyData(spec: ClassifyDataSpec, out: Output): Promise<{ train: LabelledText[]; dev: LabelledText[] | undefined; test: LabelledText[] | undefined }> {
  out.info(`loading ${spec.data}${spec.dev ? ` and ${spec.dev}` : ""}...`);
  if (isDatasetName(spec.data)) {
    const split = await classificationDataset(spec.data, {
      ...(spec.presidents ? { presidents: spec.presidents } : {}),
      ...(spec.passageWords !== undefined ? { words: spec.passageWords } : {}),
    }).catch((e: unknown) => {
      if (e instanceof DataError && e.code === "NOT_FOUND") throw new UserError(e.message, spec.data === "sotu" ? "check --presidents" : "install the package it names");
      throw e;
    });
    const dev = spec.dev ? await readTsv(spec.dev) : split.dev;
    return { train: split.train, dev, test: split.test };
  }
  if (spec.presidents || spec.passageWords !== undefined) throw new UserError("--presidents and --passage-words apply to --data sotu", "drop them, or use --data sotu");
  return { train: await readTsv(spec.data), dev: spec.dev ? await readTsv(spec.dev) : undefined, test: undefined };
}

export async function readTsv(path: string): Promise<LabelledText[]> {
  const text = await loadText(path).catch((e: unknown) => {
    if (e instanceof DataError) {
      const known = CLASSIFICATION_DATASETS.join(", ");
      throw new UserError(e.message, e.code === "NOT_FOUND" ? `give a file of label<TAB>text lines, or one of the embedded data sets: ${known}` : undefined);
    }
    throw e;
  });
  try {
    return parseLabelledTsv(text, path);
  } catch (e) {
    if (e instanceof DataError) throw new UserError(e.message, "each line of a classification file is the label, a tab, then the text");
    throw e;
  }
}

/** `--class-weights`: balanced, none, or one number above 0 per class (or tag: `noun`), in name order. */
export function classWeightsOf(raw: string | undefined, where: string, noun = "class"): TrainClassifyConfig["classWeights"] {
  if (raw === undefined) return undefined;
  if (raw === "balanced" || raw === "none") return raw;
  const numbers = raw.split(",").map((s) => Number(s.trim()));
  if (numbers.some((n) => !(Number.isFinite(n) && n > 0))) throw new UserError(`${where} must be balanced, none or numbers above 0 separated by commas (one per ${noun}, in name order), got ${JSON.stringify(raw)}`);
  return numbers;
}

/** The library's config from checked settings. */
export function toConfig(v: Values, source: ReadonlyMap<string, string>, resume: boolean): TrainClassifyConfig {
  const get = <T extends number | string | boolean>(key: Key): T | undefined => v.get(key) as T | undefined;
  const set = (target: Record<string, unknown>, name: string, key: Key): void => {
    if (v.has(key)) target[name] = v.get(key);
  };
  const model: Record<string, unknown> = {};
  set(model, "cell", "cell");
  set(model, "embeddingSize", "embedding");
  set(model, "hiddenSize", "hidden");
  set(model, "numLayers", "layers");
  set(model, "bidirectional", "bidirectional");
  set(model, "pooling", "pooling");
  set(model, "attentionSize", "attentionSize");
  set(model, "dropout", "dropout");
  if (v.has("attentionSize") && (get<string>("pooling") ?? "mean") !== "attention") throw new UserError(`${source.get("attentionSize")} applies to attention pooling`, "drop it, or choose --pooling attention");
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
  set(config, "minFrequency", "minFrequency");
  set(config, "maxVocab", "maxVocab");
  set(config, "bpeVocabSize", "bpeVocab");
  set(config, "lowercase", "lowercase");
  set(config, "maxLength", "maxLength");
  set(config, "clip", "clip");
  set(config, "batchSize", "batch");
  const weights = classWeightsOf(get<string>("classWeights"), source.get("classWeights") ?? "--class-weights");
  if (weights !== undefined) config.classWeights = weights;
  if (v.has("epochs")) config.epochs = get("epochs");
  else if (v.has("steps") || (!v.has("time") && !resume)) config.steps = get<number>("steps") ?? DEFAULTS.steps;
  set(config, "timeBudgetMinutes", "time");
  set(config, "seed", "seed");
  set(config, "evalEvery", "evalEvery");
  set(config, "patience", "patience");
  set(config, "kernels", "kernels");
  set(config, "threads", "threads");
  if (v.has("data")) {
    const data = get<string>("data")!;
    config.data = isDatasetName(data) ? data : resolve(data);
  }
  if (v.has("dev")) config.dev = resolve(get<string>("dev")!);
  if (v.has("presidents")) config.presidents = get<string>("presidents")!.split(",").map((s) => s.trim()).filter(Boolean);
  set(config, "passageWords", "passageWords");
  return config as TrainClassifyConfig;
}

/** The data a run records in its training config. */
export function dataSpecOf(training: TrainClassifyConfig, where: string): ClassifyDataSpec {
  if (training.data === undefined) throw new UserError(`the run in ${where} does not record its training data`, "it was not written by `unroll train classify`: pass --data");
  return { ...training, data: training.data };
}

/** The data columns of a numeric run. */
function windowSpec(v: Values, source: ReadonlyMap<string, string>): WindowDataSpec {
  if (!v.has("data")) throw new UserError(`${source.get("label")} needs --data: a CSV of numbers with that column`);
  if (!v.has("features")) throw new UserError(`${source.get("label")} needs --features: the columns each window reads, comma-separated`);
  return {
    data: String(v.get("data")),
    label: String(v.get("label")),
    features: String(v.get("features")).split(",").map((s) => s.trim()).filter(Boolean),
    ...(v.has("group") ? { group: String(v.get("group")) } : {}),
  };
}

/** nlp's window-classifier config from checked settings (the model flags are the text classifier's). */
function windowConfig(v: Values): TrainWindowClassifierConfig {
  const get = <T>(key: Key): T | undefined => v.get(key) as T | undefined;
  const model: Record<string, unknown> = {};
  for (const [name, key] of [["cell", "cell"], ["hiddenSize", "hidden"], ["numLayers", "layers"], ["bidirectional", "bidirectional"], ["pooling", "pooling"], ["attentionSize", "attentionSize"], ["dropout", "dropout"]] as const) {
    if (v.has(key)) model[name] = v.get(key);
  }
  const weights = classWeightsOf(get<string>("classWeights"), "--class-weights");
  return {
    features: String(v.get("features")).split(",").map((s) => s.trim()).filter(Boolean),
    ...(v.has("window") ? { window: get<number>("window")! } : {}),
    model,
    ...(["optimizer", "lr", "weightDecay", "momentum"].some((k) => v.has(k))
      ? {
          optimizer: {
            ...(v.has("optimizer") ? { name: get<"adam" | "adamw" | "sgd">("optimizer")! } : {}),
            ...(v.has("lr") ? { lr: get<number>("lr")! } : {}),
            ...(v.has("weightDecay") ? { weightDecay: get<number>("weightDecay")! } : {}),
            ...(v.has("momentum") ? { momentum: get<number>("momentum")! } : {}),
          },
        }
      : {}),
    ...(weights !== undefined ? { classWeights: weights } : {}),
    ...(v.has("clip") ? { clip: get<number>("clip")! } : {}),
    ...(v.has("batch") ? { batchSize: get<number>("batch")! } : {}),
    ...(v.has("steps") || !v.has("time") ? { steps: get<number>("steps") ?? DEFAULTS.steps } : {}),
    ...(v.has("time") ? { timeBudgetMinutes: get<number>("time")! } : {}),
    ...(v.has("evalEvery") ? { evalEvery: get<number>("evalEvery")! } : {}),
    ...(v.has("patience") ? { patience: get<number>("patience")! } : {}),
    ...(v.has("seed") ? { seed: get<number>("seed")! } : {}),
    ...(v.has("kernels") ? { kernels: get<"auto" | "wasm" | "reference">("kernels")! } : {}),
    ...(v.has("threads") ? { threads: get<number>("threads")! } : {}),
  };
}

const SIZE_FIX = "use a smaller --hidden, --embedding, --layers or vocabulary (--max-vocab, --min-frequency), or a smaller --batch or --max-length";

function checkSize(model: SequenceClassifier, config: TrainClassifyConfig, memory: number): void {
  const c = model.config;
  const gates = c.cell === "lstm" ? 4 : c.cell === "gru" ? 3 : 1;
  checkTrainingSize(
    {
      shapes: model.parameterShapes(),
      optimizerBuffers: (config.optimizer?.name ?? "adam") === "sgd" ? 1 : 2,
      activationsPerToken: 2 * c.embeddingSize + c.numLayers * (gates + 3) * c.hiddenSize * (c.bidirectional ? 2 : 1),
      tokensPerBatch: (config.batchSize ?? 32) * (config.maxLength ?? 400),
    },
    memory,
    SIZE_FIX,
  );
}

export function registerTrainClassify(train: Command, out: () => Output): void {
  const cmd = train
    .command("classify")
    .description("train a sequence classifier (one label per text: spam or ham, which president wrote it) with dev accuracy and macro-F1 as it goes")
    .option("--config <file>", "JSON or YAML file with the settings below (flags override it)")
    .option("--resume", "continue the run in --out exactly where its last checkpoint left it")
    .option("--force", "start a new run in --out even if it holds one (the old run is moved into a new folder beside it, <out>.replaced-<time>)");
  for (const [key, spec] of Object.entries(SETTINGS)) {
    const flag = `--${flagName(key)}`;
    cmd.option(BOOLEANS.has(key as Key) ? `${flag} [value]` : `${flag} <value>`, helpLine(spec));
  }
  cmd.addHelpText(
    "after",
    `\nDefaults: --out ${DEFAULTS.out} --steps ${DEFAULTS.steps} (none with --time alone); lowercase word vocabulary (min frequency 2, at most 20,000),\n` +
      `texts cut to 400 tokens, a bidirectional LSTM of 128 per direction, mean pooling, Adam 1e-3, clip 5, batch 32.\n` +
      `--out holds the checkpoints, metrics.jsonl and metrics.csv, and best/, the checkpoint of the lowest dev loss. On --resume only\n${RESUME_LIST} may change. The embedded data sets keep a test split that training never reads: \`unroll eval classify RUN\`\nscores it. Examples:\n` +
      `  unroll train classify --data spam-assassin --time 5\n` +
      `  unroll train classify --data sotu --presidents "Barack Obama,George W Bush,William J Clinton" --pooling attention\n` +
      `  unroll train classify --data reviews.tsv --class-weights balanced --out runs/reviews\n` +
      `  unroll train classify --data readings.csv --label fault --features temp,vibration --group machine --window 24 --out runs/faults`,
  );
  cmd.action(async (flags: Record<string, unknown>) => trainClassify(flags, out()));
}

async function trainClassify(flags: Record<string, unknown>, out: Output): Promise<void> {
  const file = flags.config === undefined ? undefined : String(flags.config);
  const given: Record<string, unknown> = { ...flags };
  for (const key of BOOLEANS) if (given[key] === true) given[key] = "true";
  const { values, source } = readSettings(SETTINGS, given, file === undefined ? {} : await readConfigFile(file), file);
  const resume = Boolean(flags.resume);
  const numeric = ["label", "features", "window", "group"].filter((k) => values.has(k));
  if (numeric.length > 0 && !values.has("label")) throw new UserError(`${numeric.map((k) => source.get(k)).join(", ")} apply to a CSV of numbers, with --label naming its label column`);
  if (resume) {
    const changed = [...values.keys()].filter((k) => !ON_RESUME.has(k as Key));
    if (changed.length > 0) {
      throw new UserError(
        `${changed.map((k) => source.get(k)).join(", ")} cannot change on --resume: the run continues with its own settings`,
        `drop them; only ${RESUME_LIST} may change (start a new run with --force or another --out to train differently)`,
      );
    }
  } else if (values.has("label")) {
    if (values.get("engine") === "onnxruntime") throw new UserError("--engine onnxruntime trains text classifiers; a CSV of numbers trains on the library's kernels", "drop --engine (or use --engine library)");
    const textOnly = TEXT_ONLY.filter((k) => values.has(k));
    if (textOnly.length > 0) throw new UserError(`${textOnly.map((k) => source.get(k)).join(", ")} ${textOnly.length === 1 ? "applies" : "apply"} to texts, not to a CSV of numbers (--label)`, "drop them");
    await trainWindows(out, {
      dir: resolve(String(values.get("out") ?? DEFAULTS.out)),
      force: Boolean(flags.force),
      resume: false,
      spec: windowSpec(values, source),
      config: windowConfig(values),
      ...(values.has("checkpointEvery") ? { checkpointEvery: values.get("checkpointEvery") as number } : {}),
      ...(values.has("tensorboard") ? { tensorboard: String(values.get("tensorboard")) } : {}),
    });
    return;
  } else if (!values.has("data")) {
    throw new UserError(`train classify needs labelled texts: --data ${CLASSIFICATION_DATASETS.join(" | ")} | texts.tsv (label<TAB>text per line)`, "e.g. unroll train classify --data spam-assassin --time 5");
  }
  const dir = resolve(String(values.get("out") ?? DEFAULTS.out));
  if (resume && (await loadCheckpoint(dir).then((c) => (c.config as { kind?: unknown } | null)?.kind, () => undefined)) === "window-classifier") {
    const limits: Record<string, unknown> = {};
    for (const [key, name] of [["steps", "steps"], ["time", "timeBudgetMinutes"], ["patience", "patience"], ["kernels", "kernels"], ["threads", "threads"]] as const) if (values.has(key)) limits[name] = values.get(key);
    await trainWindows(out, {
      dir,
      force: false,
      resume: true,
      spec: null,
      config: limits as unknown as TrainWindowClassifierConfig,
      ...(values.has("tensorboard") ? { tensorboard: String(values.get("tensorboard")) } : {}),
    });
    return;
  }
  const config = toConfig(values, source, resume);
  const memory = await availableMemory();
  // A new run reads its examples before it touches --out: a malformed file leaves no trace there.
  const examples = resume ? null : await readClassifyData(dataSpecOf(config, "--data"), out);
  await checkTensorBoardDir(values.get("tensorboard") as string | undefined, { resume, force: Boolean(flags.force) });
  const run = await openRun(out, { dir, resume, force: Boolean(flags.force), command: "unroll train classify" });
  run.releaseOnExit();
  await inRun(run, () => trainIn(run, { values, config, resume, memory, examples }, out));
}

async function trainIn(
  run: RunFolder,
  a: { values: Values; config: TrainClassifyConfig; resume: boolean; memory: number; examples: Awaited<ReturnType<typeof readClassifyData>> | null },
  out: Output,
): Promise<void> {
  const { resume } = a;
  const config = a.config;
  const dir = run.dir;
  let spec: ClassifyDataSpec | undefined = config.data !== undefined ? dataSpecOf(config, "--data") : undefined;
  if (resume) {
    let saved: TrainClassifyConfig;
    try {
      saved = classifierConfigOf(await loadCheckpoint(run.checkpoint!), dir).training;
    } catch (e) {
      if (e instanceof CheckpointError) throw new UserError(`the run in ${dir} cannot be resumed: ${e.message}`, "restore the file from a backup, or start a new run with --force");
      throw e;
    }
    const own = dataSpecOf(saved, dir);
    if (spec !== undefined && (spec.data !== own.data || (config.dev !== undefined && config.dev !== own.dev))) throw new UserError(`the run in ${dir} was trained on ${own.data}, not ${spec.data}`, "resume without --data and --dev");
    spec = own;
  }
  const { train, dev } = a.examples ?? (await readClassifyData(spec!, out));
  const interrupt = stopOnInterrupt(out);
  let progress: TrainingProgress | null = null;
  const tell = (line: string): void => ((progress as TrainingProgress | null) ? (progress as TrainingProgress).line(line, { event: "engine", text: line }) : out.info(line));
  let metrics: (MetricsSink & { close(): void }) | null = null;
  let lastEvalStep = -1;
  try {
    const result = await trainClassifier({
      train,
      ...(dev ? { dev } : {}),
      config,
      checkpointDir: dir,
      checkpointEvery: (a.values.get("checkpointEvery") as number | undefined) ?? DEFAULTS.checkpointEvery,
      resume,
      keepBest: true,
      ...chosenEngine(a.values, { tell, auto: "library" }),
      signal: interrupt.signal,
      beforeInit: (model, effective) => checkSize(model, effective, a.memory),
      onTrainer: async (trainer, info) => {
        const m = info.model.config;
        const counts = info.labels.names.map((n, i) => `${n} ${info.classCounts[i]}`).join(", ");
        out.info(
          `${m.bidirectional ? "bidirectional " : ""}${m.cell} classifier (${m.numLayers} × ${m.hiddenSize}, ${m.pooling} pooling), ${info.parameters.toLocaleString("en-US")} parameters, ` +
            `vocabulary ${info.vocabulary.size.toLocaleString("en-US")} (${info.vocabulary.tokenizer.kind}), ${info.trainExamples.toLocaleString("en-US")} training texts (${counts})` +
            `${info.truncated > 0 ? `, ${info.truncated} cut to ${config.maxLength ?? 400} tokens` : ""}, ${info.devExamples} dev texts, ${engineLabel(a.values, info.kernels, "library")}` +
            (info.classWeights ? `; class weights ${info.classWeights.map((w) => w.toFixed(3)).join(", ")}` : "") +
            (info.resumedFrom !== null ? `; resuming from step ${info.resumedFrom}` : ""),
        );
        printModelSummary(out, info.model.parameterShapes());
        const opened = await run.openMetrics(info.resumedFrom ?? undefined);
        metrics = await metricsSink(out, opened.log, { tensorboard: a.values.get("tensorboard") as string | undefined, resumedFrom: info.resumedFrom });
        progress = new TrainingProgress(out, info.targetSteps, undefined, undefined, "texts");
        reportTraining(trainer, { progress, metrics, vocabSize: info.labels.size, lossUnit: "nats/text" });
        trainer.events.on("eval", (e) => (lastEvalStep = e.step));
      },
      onEvaluation: (step, r) => reportClassification(metrics as MetricsSink | null, progress as TrainingProgress | null, step, r, step !== lastEvalStep),
    }).catch((e: unknown) => {
      if (e instanceof DataError && e.code === "CHANGED") throw new UserError(e.message, `a resumed run must read the texts it was trained on: restore ${spec?.data}, or start a new run with --force`);
      if (e instanceof DataError && e.code === "MALFORMED") throw new UserError(e.message, "give every example some text");
      if (e instanceof Error && e.name === "ValueRangeError" && /classWeights|LabelSet/.test(e.message)) throw new UserError(e.message.replace(/^\w+: /, ""));
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
        accuracy: ev?.accuracy ?? null,
        macroF1: ev?.macroF1 ?? null,
        devLoss: ev?.loss ?? null,
        checkpoint: dir,
        best: best ? { step: best.step, devLoss: best.loss, checkpoint: best.dir } : null,
      },
      () =>
        `${stopped ? "stopped" : result.stopReason === "early-stopping" ? "stopped early (the dev loss stopped improving: --patience)" : "finished"} at step ${result.steps}; checkpoint saved in ${dir}` +
        (ev ? `; dev accuracy ${(100 * ev.accuracy).toFixed(2)}%, macro-F1 ${(100 * ev.macroF1).toFixed(2)}%, loss ${ev.loss.toFixed(4)}` : "") +
        (best ? `\nlowest dev loss ${best.loss.toFixed(4)} at step ${best.step}, kept in ${best.dir}` : "") +
        (stopped ? `\nresume with: unroll train classify --out ${dir} --resume` : `\nscore it with: unroll eval classify ${best ? best.dir : dir}`),
    );
    if (stopped) throw new Interrupted();
  } finally {
    (progress as TrainingProgress | null)?.stop();
    (metrics as { close(): void } | null)?.close();
    interrupt.dispose();
  }
}
