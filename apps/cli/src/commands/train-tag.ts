import { resolve } from "node:path";
import type { Command } from "commander";
import { DataError, loadText, parseTaggedTsv, type SequenceTagger, type TaggedSentence, taggerConfigOf, trainTagger, type TrainTaggerConfig } from "@unroll/nlp";
import { CheckpointError, loadCheckpoint, type RunFolder } from "@unroll/train";
import { readConfigFile } from "../config.js";
import { chosenEngine, engineLabel, engineRefusal, engineSettings } from "../training/engine.js";
import { availableMemory, checkTrainingSize } from "../settings/size.js";
import { flagName, helpLine, kinds, readSettings, type SettingsTable } from "../settings/validate.js";
import { checkTensorBoardDir, inRun, type MetricsSink, metricsSink, openRun, printModelSummary, reportTraining, stopOnInterrupt } from "../training/run.js";
import { Interrupted, UserError } from "../ui/errors.js";
import type { Output } from "../ui/output.js";
import { TrainingProgress } from "../ui/progress.js";
import { reportClassification } from "./classify-windows.js";
import { classWeightsOf } from "./train-classify.js";

/** The settings of `train tag`: flags and config-file keys share these names and rules (as `train classify`'s). */
export const SETTINGS = {
  data: { kind: kinds.string, default: "none: required for a new run", help: "a file of token<TAB>tag lines, a blank line between sentences (CoNLL-style; the tag is the last column)" },
  dev: { kind: kinds.string, help: "held-out tagged sentences for the dev loss, per-token accuracy and macro-F1 (default: the last 10% of --data)" },
  out: { kind: kinds.string, default: "runs/tag", help: "run directory (checkpoints, metrics.jsonl)" },
  minFrequency: { kind: kinds.positiveInteger, default: "1", help: "tokens seen fewer times are unknown" },
  maxVocab: { kind: kinds.positiveInteger, default: "50000", help: "the largest vocabulary" },
  lowercase: { kind: kinds.boolean, default: "false: case tells a name from a word", help: "lowercase tokens" },
  cell: { kind: kinds.choice("lstm", "gru", "rnn_tanh", "rnn_relu"), default: "lstm", help: "lstm | gru | rnn_tanh | rnn_relu" },
  embedding: { kind: kinds.positiveInteger, default: "128", help: "embedding size" },
  hidden: { kind: kinds.positiveInteger, default: "128", help: "units per direction" },
  layers: { kind: kinds.positiveInteger, default: "1", help: "recurrent layers" },
  bidirectional: { kind: kinds.boolean, default: "true", help: "read each sentence both ways, so each tag sees the whole sentence" },
  dropout: { kind: kinds.fraction, default: "0", help: "dropout on embeddings, between layers and before the output layer" },
  classWeights: { kind: kinds.string, default: "none", help: "balanced (n / (tags × count)) | none | one number per tag in name order, comma-separated" },
  optimizer: { kind: kinds.choice("adam", "adamw", "sgd"), default: "adam", help: "adam | adamw | sgd" },
  lr: { kind: kinds.positive, default: "1e-3", help: "learning rate" },
  weightDecay: { kind: kinds.nonNegative, default: "0; adamw: 0.01", help: "weight decay" },
  clip: { kind: kinds.nonNegative, default: "5", help: "global gradient-norm clip (0: off)" },
  batch: { kind: kinds.positiveInteger, default: "32", help: "sentences per batch" },
  steps: { kind: kinds.positiveInteger, default: "1000; none with --time alone", help: "training steps" },
  epochs: { kind: kinds.positive, default: "none: --steps decides", help: "passes over the training sentences (instead of --steps)" },
  time: { kind: kinds.positive, default: "none", help: "time budget in minutes" },
  seed: { kind: kinds.integer, default: "0", help: "random seed" },
  evalEvery: { kind: kinds.positiveInteger, default: "200", help: "dev loss, per-token accuracy and macro-F1 every N steps" },
  patience: { kind: kinds.positiveInteger, default: "never", help: "early stopping: stop after N evaluations in a row without a lower dev loss" },
  checkpointEvery: { kind: kinds.positiveInteger, default: "500; the lowest dev loss's is kept in <out>/best", help: "checkpoint every N steps" },
  kernels: { kind: kinds.choice("auto", "wasm", "reference"), default: "auto", help: "auto | wasm | reference" },
  ...engineSettings("LSTM or GRU taggers without --class-weights", "library"),
  tensorboard: { kind: kinds.string, default: "none", help: "also write TensorBoard event files into this directory (loss, dev loss, accuracy, macro-F1, lr, gradient norm)" },
} as const satisfies SettingsTable;

type Key = keyof typeof SETTINGS;
type Values = ReadonlyMap<string, number | string | boolean>;

const DEFAULTS = { out: "runs/tag", steps: 1000, checkpointEvery: 500 } as const;
const BOOLEANS = new Set<Key>(["lowercase", "bidirectional"]);
const ON_RESUME = new Set<Key>(["out", "steps", "time", "patience", "kernels", "threads", "engine", "tensorboard", "data", "dev"]);
const RESUME_LIST = "--steps, --time, --patience, --kernels, --threads, --engine and --tensorboard";

/** Tagged sentences from a file, as the user's errors they are when the file is missing or malformed. */
export async function readTagged(path: string): Promise<TaggedSentence[]> {
  const text = await loadText(path).catch((e: unknown) => {
    if (e instanceof DataError) throw new UserError(e.message, e.code === "NOT_FOUND" ? "give a file of token<TAB>tag lines, a blank line between sentences" : undefined);
    throw e;
  });
  try {
    return parseTaggedTsv(text, path);
  } catch (e) {
    if (e instanceof DataError) throw new UserError(e.message, "each line of a tagging file is a token, a tab, then its tag; a blank line ends a sentence");
    throw e;
  }
}

/** The library's config from checked settings. */
export function toConfig(v: Values, source: ReadonlyMap<string, string>, resume: boolean): TrainTaggerConfig {
  const set = (target: Record<string, unknown>, name: string, key: Key): void => {
    if (v.has(key)) target[name] = v.get(key);
  };
  const model: Record<string, unknown> = {};
  for (const [name, key] of [["cell", "cell"], ["embeddingSize", "embedding"], ["hiddenSize", "hidden"], ["numLayers", "layers"], ["bidirectional", "bidirectional"], ["dropout", "dropout"]] as const) set(model, name, key);
  const optimizer: Record<string, unknown> = {};
  set(optimizer, "name", "optimizer");
  set(optimizer, "lr", "lr");
  set(optimizer, "weightDecay", "weightDecay");
  const config: Record<string, unknown> = { model, optimizer };
  for (const [name, key] of [["minFrequency", "minFrequency"], ["maxVocab", "maxVocab"], ["lowercase", "lowercase"], ["clip", "clip"], ["batchSize", "batch"], ["timeBudgetMinutes", "time"], ["seed", "seed"], ["evalEvery", "evalEvery"], ["patience", "patience"], ["kernels", "kernels"], ["threads", "threads"]] as const) {
    set(config, name, key);
  }
  const weights = classWeightsOf(v.get("classWeights") as string | undefined, source.get("classWeights") ?? "--class-weights", "tag");
  if (weights !== undefined) config.classWeights = weights;
  if (v.has("epochs")) config.epochs = v.get("epochs");
  else if (v.has("steps") || (!v.has("time") && !resume)) config.steps = (v.get("steps") as number | undefined) ?? DEFAULTS.steps;
  if (v.has("data")) config.data = resolve(String(v.get("data")));
  if (v.has("dev")) config.dev = resolve(String(v.get("dev")));
  return config as TrainTaggerConfig;
}

function checkSize(model: SequenceTagger, config: TrainTaggerConfig, memory: number, longest: number): void {
  const c = model.config;
  const gates = c.cell === "lstm" ? 4 : c.cell === "gru" ? 3 : 1;
  checkTrainingSize(
    {
      shapes: model.parameterShapes(),
      optimizerBuffers: (config.optimizer?.name ?? "adam") === "sgd" ? 1 : 2,
      activationsPerToken: 2 * c.embeddingSize + c.numLayers * (gates + 3) * c.hiddenSize * (c.bidirectional ? 2 : 1) + 2 * model.config.numTags,
      tokensPerBatch: (config.batchSize ?? 32) * longest,
    },
    memory,
    "use a smaller --hidden, --embedding, --layers or vocabulary (--max-vocab, --min-frequency), or a smaller --batch",
  );
}

export function registerTrainTag(train: Command, out: () => Output): void {
  const cmd = train
    .command("tag")
    .description("train a sequence tagger (one tag per token: part of speech, named entities) with dev per-token accuracy and macro-F1 as it goes")
    .option("--config <file>", "JSON or YAML file with the settings below (flags override it)")
    .option("--resume", "continue the run in --out exactly where its last checkpoint left it")
    .option("--force", "start a new run in --out even if it holds one (the old run is moved into a new folder beside it, <out>.replaced-<time>)");
  for (const [key, spec] of Object.entries(SETTINGS)) {
    const flag = `--${flagName(key)}`;
    cmd.option(BOOLEANS.has(key as Key) ? `${flag} [value]` : `${flag} <value>`, helpLine(spec));
  }
  cmd.addHelpText(
    "after",
    `\nDefaults: as each flag says. --engine onnxruntime pays where the sentences have few lengths (data punctuation's\nsequences of 40 words); CoNLL sentences of every length would each compile a graph, so auto means the library's kernels.\n--out holds the checkpoints, metrics.jsonl and metrics.csv, and best/, the checkpoint of the lowest dev loss. On --resume only ${RESUME_LIST}\nmay change. Examples:\n` +
      `  unroll train tag --data pos.tsv --dev pos-dev.tsv --time 5\n` +
      `  unroll train tag --data ner.tsv --class-weights balanced --out runs/ner`,
  );
  cmd.action(async (flags: Record<string, unknown>) => trainTag(flags, out()));
}

async function trainTag(flags: Record<string, unknown>, out: Output): Promise<void> {
  const file = flags.config === undefined ? undefined : String(flags.config);
  const given: Record<string, unknown> = { ...flags };
  for (const key of BOOLEANS) if (given[key] === true) given[key] = "true";
  const { values, source } = readSettings(SETTINGS, given, file === undefined ? {} : await readConfigFile(file), file);
  const resume = Boolean(flags.resume);
  if (resume) {
    const changed = [...values.keys()].filter((k) => !ON_RESUME.has(k as Key));
    if (changed.length > 0) {
      throw new UserError(
        `${changed.map((k) => source.get(k)).join(", ")} cannot change on --resume: the run continues with its own settings`,
        `drop them; only ${RESUME_LIST} may change (start a new run with --force or another --out to train differently)`,
      );
    }
  } else if (!values.has("data")) {
    throw new UserError("train tag needs tagged sentences: --data tagged.tsv (token<TAB>tag per line, a blank line between sentences)", "e.g. unroll train tag --data pos.tsv --time 5");
  }
  const config = toConfig(values, source, resume);
  if (values.get("engine") === "onnxruntime" && config.classWeights !== undefined && config.classWeights !== "none") {
    throw new UserError(`${source.get("classWeights")} needs the library's engine: the compiled step cannot weigh tags yet`, "drop --engine onnxruntime (or the class weights)");
  }
  const memory = await availableMemory();
  const dir = resolve(String(values.get("out") ?? DEFAULTS.out));
  // A new run reads its sentences before it touches --out: a malformed file leaves no trace there.
  const sentences = resume ? null : { train: await readTagged(config.data!), dev: config.dev !== undefined ? await readTagged(config.dev) : undefined };
  await checkTensorBoardDir(values.get("tensorboard") as string | undefined, { resume, force: Boolean(flags.force) });
  const run = await openRun(out, { dir, resume, force: Boolean(flags.force), command: "unroll train tag" });
  run.releaseOnExit();
  await inRun(run, () => trainIn(run, { values, config, resume, memory, sentences }, out));
}

async function trainIn(
  run: RunFolder,
  a: { values: Values; config: TrainTaggerConfig; resume: boolean; memory: number; sentences: { train: TaggedSentence[]; dev: TaggedSentence[] | undefined } | null },
  out: Output,
): Promise<void> {
  const { resume, config } = a;
  const dir = run.dir;
  let sentences = a.sentences;
  if (resume) {
    let saved: TrainTaggerConfig;
    try {
      saved = taggerConfigOf(await loadCheckpoint(run.checkpoint!), dir).training;
    } catch (e) {
      if (e instanceof CheckpointError) throw new UserError(`the run in ${dir} cannot be resumed: ${e.message}`, "restore the file from a backup, or start a new run with --force");
      if (e instanceof Error && e.name === "ValueRangeError") throw new UserError(e.message.replace(/^\w+: /, ""), "resume it with the command that trained it");
      throw e;
    }
    if (saved.data === undefined) throw new UserError(`the run in ${dir} does not record its training data`, "it was not written by `unroll train tag`");
    if ((config.data !== undefined && config.data !== saved.data) || (config.dev !== undefined && config.dev !== saved.dev)) {
      throw new UserError(`the run in ${dir} was trained on ${saved.data}, not ${config.data}`, "resume without --data and --dev");
    }
    sentences = { train: await readTagged(saved.data), dev: saved.dev !== undefined ? await readTagged(saved.dev) : undefined };
  }
  const { train, dev } = sentences!;
  const longest = Math.max(...train.map((s) => s.tokens.length));
  const interrupt = stopOnInterrupt(out);
  let progress: TrainingProgress | null = null;
  const tell = (line: string): void => ((progress as TrainingProgress | null) ? (progress as TrainingProgress).line(line, { event: "engine", text: line }) : out.info(line));
  let metrics: (MetricsSink & { close(): void }) | null = null;
  let lastEvalStep = -1;
  try {
    const result = await trainTagger({
      train,
      ...(dev ? { dev } : {}),
      config,
      checkpointDir: dir,
      checkpointEvery: (a.values.get("checkpointEvery") as number | undefined) ?? DEFAULTS.checkpointEvery,
      resume,
      keepBest: true,
      ...chosenEngine(a.values, { tell, auto: "library" }),
      signal: interrupt.signal,
      beforeInit: (model, effective) => checkSize(model, effective, a.memory, longest),
      onTrainer: async (trainer, info) => {
        const m = info.model.config;
        const counts = info.tags.names.map((n, i) => `${n} ${info.tagCounts[i]}`).join(", ");
        out.info(
          `${m.bidirectional ? "bidirectional " : ""}${m.cell} tagger (${m.numLayers} × ${m.hiddenSize}), ${info.parameters.toLocaleString("en-US")} parameters, ` +
            `vocabulary ${info.vocabulary.size.toLocaleString("en-US")}, ${info.trainSentences.toLocaleString("en-US")} training sentences (${info.trainTokens.toLocaleString("en-US")} tokens: ${counts}), ` +
            `${info.devSentences} dev sentences, ${engineLabel(a.values, info.kernels, "library")}` +
            (info.classWeights ? `; tag weights ${info.classWeights.map((w) => w.toFixed(3)).join(", ")}` : "") +
            (info.resumedFrom !== null ? `; resuming from step ${info.resumedFrom}` : ""),
        );
        printModelSummary(out, info.model.parameterShapes());
        const opened = await run.openMetrics(info.resumedFrom ?? undefined);
        metrics = await metricsSink(out, opened.log, { tensorboard: a.values.get("tensorboard") as string | undefined, resumedFrom: info.resumedFrom });
        progress = new TrainingProgress(out, info.targetSteps);
        reportTraining(trainer, { progress, metrics, vocabSize: info.tags.size });
        trainer.events.on("eval", (e) => (lastEvalStep = e.step));
      },
      onEvaluation: (step, r) => reportClassification(metrics as MetricsSink | null, progress as TrainingProgress | null, step, r, step !== lastEvalStep),
    }).catch((e: unknown) => {
      if (e instanceof DataError && e.code === "CHANGED") throw new UserError(e.message, `a resumed run must read the sentences it was trained on: restore ${config.data ?? "them"}, or start a new run with --force`);
      if (e instanceof DataError && e.code === "MALFORMED") throw new UserError(e.message);
      if (e instanceof Error && e.name === "ValueRangeError" && /classWeights|LabelSet|not one the model/.test(e.message)) throw new UserError(e.message.replace(/^\w+: /, ""));
      const refused = engineRefusal(e, "use --engine library (or auto, the default), or --cell lstm or gru");
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
        (ev ? `; dev accuracy ${(100 * ev.accuracy).toFixed(2)}% of tokens, macro-F1 ${(100 * ev.macroF1).toFixed(2)}%, loss ${ev.loss.toFixed(4)}` : "") +
        (best ? `\nlowest dev loss ${best.loss.toFixed(4)} at step ${best.step}, kept in ${best.dir}` : "") +
        (stopped ? `\nresume with: unroll train tag --out ${dir} --resume` : `\ntag with: unroll tag ${best ? best.dir : dir} < sentences.txt; score with: unroll eval tag ${best ? best.dir : dir} --data tagged.tsv`),
    );
    if (stopped) throw new Interrupted();
  } finally {
    (progress as TrainingProgress | null)?.stop();
    (metrics as { close(): void } | null)?.close();
    interrupt.dispose();
  }
}
