import { appendFile, mkdir, readdir, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { collect, generateText, loadCorpus, modelStep, trainLanguageModel, type TrainLmConfig } from "@unroll/nlp";
import { latestCheckpoint, loadCheckpoint } from "@unroll/train";
import { pinTensors, treeLeaves } from "@unroll/tensor";
import { choiceFlag, numberFlag, readConfigFile } from "../config.js";
import { UserError } from "../ui/errors.js";
import type { Output } from "../ui/output.js";
import { TrainingProgress } from "../ui/progress.js";

/** The settings of `train lm`: flags and config-file keys share these names. */
const SETTINGS = {
  data: "corpus name (moby-dick, tiny-shakespeare) or path to a UTF-8 text file",
  out: "run directory (checkpoints, metrics.jsonl)",
  cell: "lstm | gru | rnn_tanh | rnn_relu",
  layers: "number of recurrent layers",
  hidden: "hidden units per layer",
  embedding: "embedding size, or one-hot",
  dropout: "dropout between layers and before the output layer",
  init: "pytorch | orthogonal | xavier | irnn | np-rnn",
  forgetBias: "LSTM forget-gate bias (char-rnn: 1)",
  tieWeights: "share the embedding with the output layer",
  tokenizer: "char | word | bpe",
  bpeVocab: "BPE vocabulary size",
  optimizer: "adam | adamw | sgd | rmsprop | adagrad",
  lr: "learning rate",
  weightDecay: "weight decay",
  momentum: "momentum (sgd, rmsprop)",
  schedule: "constant | cosine | step | plateau",
  warmup: "warm-up steps (cosine)",
  clip: "global gradient-norm clip (0: off)",
  window: "BPTT window (steps per batch)",
  batch: "batch size (parallel streams)",
  batching: "stream (state carried, char-rnn) | shuffled",
  steps: "training steps",
  epochs: "passes over the training split (instead of --steps)",
  time: "time budget in minutes",
  seed: "random seed",
  evalEvery: "validation every N steps",
  evalTokens: "validation tokens scored each time (default all)",
  checkpointEvery: "checkpoint every N steps",
  kernels: "auto | wasm | reference",
  threads: "threads for the WebAssembly kernels (default: the cores, at most 8)",
  sample: "characters sampled at the end (0: none)",
} as const;

type Settings = Partial<Record<keyof typeof SETTINGS, unknown>>;

const DEFAULTS = { data: "moby-dick", out: "runs/lm", steps: 300, sample: 300, checkpointEvery: 100 } as const;

function toConfig(s: Settings): TrainLmConfig {
  const num = (key: keyof typeof SETTINGS, kind: Parameters<typeof numberFlag>[2]): number | undefined =>
    s[key] === undefined ? undefined : numberFlag(flagName(key), s[key], kind);
  const model: Record<string, unknown> = {};
  if (s.cell !== undefined) model.cell = choiceFlag("cell", s.cell, ["lstm", "gru", "rnn_tanh", "rnn_relu"]);
  if (s.layers !== undefined) model.numLayers = num("layers", "positive-integer");
  if (s.hidden !== undefined) model.hiddenSize = num("hidden", "positive-integer");
  if (s.embedding !== undefined) model.embeddingSize = s.embedding === "one-hot" ? "one-hot" : num("embedding", "positive-integer");
  if (s.dropout !== undefined) model.dropout = num("dropout", "fraction");
  if (s.init !== undefined) model.init = choiceFlag("init", s.init, ["pytorch", "orthogonal", "xavier", "irnn", "np-rnn"]);
  if (s.forgetBias !== undefined) model.forgetBias = num("forgetBias", "number");
  if (s.tieWeights !== undefined) model.tieWeights = s.tieWeights === true || s.tieWeights === "true";
  const optimizer: Record<string, unknown> = {};
  if (s.optimizer !== undefined) optimizer.name = choiceFlag("optimizer", s.optimizer, ["adam", "adamw", "sgd", "rmsprop", "adagrad"]);
  if (s.lr !== undefined) optimizer.lr = num("lr", "positive");
  if (s.weightDecay !== undefined) optimizer.weightDecay = num("weightDecay", "number");
  if (s.momentum !== undefined) optimizer.momentum = num("momentum", "number");
  const schedule: Record<string, unknown> = {};
  if (s.schedule !== undefined) schedule.name = choiceFlag("schedule", s.schedule, ["constant", "cosine", "step", "plateau"]);
  if (s.warmup !== undefined) schedule.warmupSteps = num("warmup", "integer");
  const config: Record<string, unknown> = {
    model,
    optimizer,
    schedule,
    data: String(s.data ?? DEFAULTS.data),
  };
  if (s.tokenizer !== undefined) config.tokenizer = choiceFlag("tokenizer", s.tokenizer, ["char", "word", "bpe"]);
  if (s.bpeVocab !== undefined) config.bpeVocabSize = num("bpeVocab", "positive-integer");
  if (s.clip !== undefined) config.clip = num("clip", "number");
  if (s.window !== undefined) config.window = num("window", "positive-integer");
  if (s.batch !== undefined) config.batchSize = num("batch", "positive-integer");
  if (s.batching !== undefined) config.batching = choiceFlag("batching", s.batching, ["stream", "shuffled"]);
  if (s.epochs !== undefined) config.epochs = num("epochs", "positive");
  else if (s.steps !== undefined || s.time === undefined) config.steps = num("steps", "positive-integer") ?? DEFAULTS.steps;
  // With --time alone, the time budget is the only limit.
  if (s.time !== undefined) config.timeBudgetMinutes = num("time", "positive");
  if (s.seed !== undefined) config.seed = num("seed", "integer");
  if (s.evalEvery !== undefined) config.evalEvery = num("evalEvery", "positive-integer");
  if (s.evalTokens !== undefined) config.evalTokens = num("evalTokens", "positive-integer");
  if (s.kernels !== undefined) config.kernels = choiceFlag("kernels", s.kernels, ["auto", "wasm", "reference"]);
  if (s.threads !== undefined) config.threads = num("threads", "positive-integer");
  return config as TrainLmConfig;
}

/** Deletes what a run wrote into its directory (step checkpoints, the pointer, metrics), nothing else. */
async function removeRun(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (/^step-\d{8,}$/.test(name) || name === "latest.json" || name === "metrics.jsonl") await rm(join(dir, name), { recursive: true, force: true });
  }
}

function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export function registerTrainLm(train: Command, out: () => Output): void {
  const cmd = train
    .command("lm")
    .description("train a recurrent language model on a text (default: Moby-Dick, embedded) and print samples")
    .option("--config <file>", "JSON or YAML file with the settings below (flags override it)")
    .option("--resume", "continue the run in --out exactly where its last checkpoint left it")
    .option("--force", "start a new run in --out even if it holds one (deletes that run's checkpoints and metrics)");
  for (const [key, help] of Object.entries(SETTINGS)) {
    const flag = `--${flagName(key)}`;
    if (key === "tieWeights") cmd.option(flag, help);
    else cmd.option(`${flag} <value>`, help);
  }
  cmd.addHelpText(
    "after",
    `\nDefaults: --data ${DEFAULTS.data} --out ${DEFAULTS.out} --steps ${DEFAULTS.steps} (none with --time alone), a 1-layer LSTM with 256 units,\nAdam 2e-3, clip 5, batch 32, window 64. Examples:\n  unroll train lm --steps 3000 --layers 2 --hidden 512 --dropout 0.2\n  unroll train lm --data tiny-shakespeare --config lm.yaml\n  unroll train lm --out runs/lm --resume`,
  );
  cmd.action(async (flags: Record<string, unknown>) => trainLm(flags, out()));
}

async function trainLm(flags: Record<string, unknown>, out: Output): Promise<void> {
  const fromFile = flags.config ? await readConfigFile(String(flags.config)) : {};
  for (const key of Object.keys(fromFile)) {
    if (!(key in SETTINGS)) throw new UserError(`unknown setting "${key}" in ${String(flags.config)}`, `known settings: ${Object.keys(SETTINGS).join(", ")}`);
  }
  const settings: Settings = { ...fromFile };
  for (const key of Object.keys(SETTINGS) as (keyof typeof SETTINGS)[]) if (flags[key] !== undefined) settings[key] = flags[key];
  const config = toConfig(settings);
  const dir = resolve(String(settings.out ?? DEFAULTS.out));
  const existing = await latestCheckpoint(dir).catch(() => null);
  if (existing && !flags.resume && !flags.force) {
    throw new UserError(`${dir} already holds a run (its latest checkpoint is ${existing})`, `continue it with --resume, or choose another --out (or pass --force)`);
  }
  if (flags.resume && !existing) throw new UserError(`there is no checkpoint to resume in ${dir}`, "start a run first, or point --out at the run directory");
  if (existing && flags.force && !flags.resume) await removeRun(dir);
  let data = String(settings.data ?? DEFAULTS.data);
  if (flags.resume) {
    // A resumed run reads the text it was trained on: its tokenizer and data position refer to it.
    const saved = (await loadCheckpoint(dir)).config as { training?: { data?: string } } | null;
    const recorded = saved?.training?.data;
    if (recorded !== undefined && settings.data !== undefined && String(settings.data) !== recorded) {
      throw new UserError(`the run in ${dir} was trained on ${recorded}, not ${String(settings.data)}`, "resume without --data (or with the same data), or start a new run");
    }
    if (recorded !== undefined) data = recorded;
  }
  out.info(`loading ${data}...`);
  const text = await loadCorpus(data).catch((e: Error) => {
    throw new UserError(e.message, data === "tiny-shakespeare" ? "it is downloaded once on first use; run `unroll data download tiny-shakespeare` with internet access" : undefined);
  });
  await mkdir(dir, { recursive: true });
  const metricsPath = join(dir, "metrics.jsonl");
  let pending: string[] = [];
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const lines = pending.join("");
    pending = [];
    await appendFile(metricsPath, lines);
  };
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    out.info("\nstopping after this step and saving a checkpoint (Ctrl-C again to quit without saving)...");
    controller.abort();
  };
  process.on("SIGINT", onSigint);
  let progress: TrainingProgress | null = null;
  try {
    const result = await trainLanguageModel({
      text,
      config,
      checkpointDir: dir,
      checkpointEvery: settings.checkpointEvery !== undefined ? numberFlag("checkpoint-every", settings.checkpointEvery, "positive-integer") : DEFAULTS.checkpointEvery,
      resume: Boolean(flags.resume),
      signal: controller.signal,
      onTrainer: (trainer, info) => {
        out.info(
          `${info.model.config.numLayers}-layer ${info.model.config.cell} (hidden ${info.model.config.hiddenSize}), ${info.parameters.toLocaleString("en-US")} parameters, ` +
            `vocabulary ${info.tokenizer.vocabSize} (${info.tokenizer.kind}), ${info.trainTokens.toLocaleString("en-US")} training tokens, kernels ${info.kernels}` +
            (info.resumedFrom !== null ? `; resuming from step ${info.resumedFrom}` : ""),
        );
        progress = new TrainingProgress(out, info.targetSteps);
        trainer.events.on("step", (e) => {
          progress!.step(e);
          pending.push(`${JSON.stringify({ step: e.step, loss: e.loss, gradNorm: e.gradNorm, lr: e.lr, tokensPerSecond: e.tokensPerSecond })}\n`);
        });
        trainer.events.on("eval", (e) => {
          const m = e.metrics;
          pending.push(`${JSON.stringify({ step: e.step, validation: m.loss })}\n`);
          progress!.line(
            `step ${e.step}: validation loss ${m.loss.toFixed(4)} nats/token (${(m.loss / Math.LN2).toFixed(3)} bits), perplexity ${Math.exp(m.loss).toFixed(2)}${e.improved ? " (best)" : ""}`,
            { event: "validation", step: e.step, loss: m.loss, bitsPerToken: m.loss / Math.LN2, perplexity: Math.exp(m.loss) },
          );
          void flush();
        });
        trainer.events.on("guard", (e) => progress!.line(`warning: ${e.message}`, { event: "guard", ...e }));
      },
    });
    (progress as TrainingProgress | null)?.stop();
    await flush();
    const stopped = result.stopReason === "stopped";
    out.result(
      {
        event: "done",
        steps: result.steps,
        stopReason: result.stopReason,
        validationLoss: result.validation?.loss ?? null,
        checkpoint: dir,
      },
      () =>
        `${stopped ? "stopped" : "finished"} at step ${result.steps}; checkpoint saved in ${dir}` +
        (result.validation ? `; validation loss ${result.validation.loss.toFixed(4)} nats/token` : "") +
        (stopped ? `\nresume with: unroll train lm --out ${dir} --resume` : ""),
    );
    const sampleLength = settings.sample !== undefined ? numberFlag("sample", settings.sample, "integer") : DEFAULTS.sample;
    if (sampleLength > 0 && !stopped) {
      const prime = "\n";
      out.info(`\nsample (${sampleLength} tokens, temperature 0.8, seed 0):`);
      const release = pinTensors(treeLeaves(result.params));
      const text = await collect(
        generateText(modelStep(result.model, result.params), result.tokenizer, { prime, maxTokens: sampleLength, temperature: 0.8, seed: 0 }),
      ).finally(release);
      out.result({ event: "sample", text }, () => text);
    }
  } finally {
    process.off("SIGINT", onSigint);
  }
}
