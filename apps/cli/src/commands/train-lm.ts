import { join, resolve } from "node:path";
import type { Command } from "commander";
import { collect, DataError, generateText, LanguageModel, languageModelConfigOf, languageModelTokens, loadCorpus, modelStep, trainLanguageModel, type TrainLmConfig } from "@unroll/nlp";
import { CheckpointError, loadCheckpoint, type RunFolder } from "@unroll/train";
import { pinTensors, treeLeaves } from "@unroll/tensor";
import { readConfigFile } from "../config.js";
import { chosenEngine, engineLabel, engineRefusal, engineSettings } from "../training/engine.js";
import { availableMemory, checkTrainingSize } from "../settings/size.js";
import { flagName, helpLine, kinds, readSettings, type SettingsTable } from "../settings/validate.js";
import { checkTensorBoardDir, inRun, type MetricsSink, metricsSink, openRun, printModelSummary, reportTraining, stopOnInterrupt } from "../training/run.js";
import { Interrupted, UserError } from "../ui/errors.js";
import type { Output } from "../ui/output.js";
import { TrainingProgress } from "../ui/progress.js";

/** The settings of `train lm`: flags and config-file keys share these names and these rules. */
export const SETTINGS = {
  data: { kind: kinds.string, default: "moby-dick", help: "corpus name (moby-dick, tiny-shakespeare, sotu: every State of the Union address, sotu:obama: one president's) or path to a UTF-8 text file" },
  out: { kind: kinds.string, default: "runs/lm", help: "run directory (checkpoints, metrics.jsonl)" },
  cell: { kind: kinds.choice("lstm", "gru", "rnn_tanh", "rnn_relu"), default: "lstm", help: "lstm | gru | rnn_tanh | rnn_relu" },
  layers: { kind: kinds.positiveInteger, default: "1", help: "number of recurrent layers" },
  hidden: { kind: kinds.positiveInteger, default: "256", help: "hidden units per layer" },
  embedding: { kind: { type: "size-or", words: ["one-hot"] }, help: "embedding size (default 64), or one-hot to feed one-hot vectors instead: --embedding one-hot" },
  dropout: { kind: kinds.fraction, default: "0", help: "dropout between layers and before the output layer" },
  init: { kind: kinds.choice("pytorch", "orthogonal", "xavier", "irnn", "np-rnn"), default: "pytorch", help: "pytorch | orthogonal | xavier | irnn | np-rnn" },
  forgetBias: { kind: kinds.number, default: "none: PyTorch's initialisation", help: "LSTM forget-gate bias (char-rnn: 1)" },
  tieWeights: { kind: kinds.boolean, default: "off", help: "share the embedding with the output layer" },
  tokenizer: { kind: kinds.choice("char", "word", "bpe"), default: "char", help: "char | word | bpe" },
  bpeVocab: { kind: { type: "integer", min: 256, max: 1 << 24 }, default: "1000", help: "BPE vocabulary size" },
  optimizer: { kind: kinds.choice("adam", "adamw", "sgd", "rmsprop", "adagrad"), default: "adam", help: "adam | adamw | sgd | rmsprop | adagrad" },
  lr: { kind: kinds.positive, default: "2e-3", help: "learning rate" },
  weightDecay: { kind: kinds.nonNegative, default: "0; adamw: 0.01", help: "weight decay" },
  momentum: { kind: kinds.nonNegative, default: "0", help: "momentum (sgd, rmsprop)" },
  schedule: { kind: kinds.choice("constant", "cosine", "step", "plateau"), default: "constant", help: "constant | cosine | step | plateau" },
  warmup: { kind: kinds.nonNegativeInteger, default: "0", help: "warm-up steps (cosine)" },
  clip: { kind: kinds.nonNegative, default: "5", help: "global gradient-norm clip (0: off)" },
  window: { kind: kinds.positiveInteger, default: "64", help: "BPTT window (steps per batch)" },
  batch: { kind: kinds.positiveInteger, default: "32", help: "batch size (parallel streams)" },
  batching: { kind: kinds.choice("stream", "shuffled"), default: "stream", help: "stream (state carried, char-rnn) | shuffled" },
  steps: { kind: kinds.positiveInteger, default: "300; none with --time alone", help: "training steps" },
  epochs: { kind: kinds.positive, default: "none: --steps decides", help: "passes over the training split (instead of --steps)" },
  time: { kind: kinds.positive, default: "none", help: "time budget in minutes" },
  seed: { kind: kinds.integer, default: "0", help: "random seed" },
  evalEvery: { kind: kinds.positiveInteger, default: "200", help: "validation every N steps" },
  evalTokens: { kind: kinds.positiveInteger, help: "validation tokens scored each time (default all)" },
  patience: { kind: kinds.positiveInteger, help: "early stopping: stop after N validations in a row without a lower loss (default: never)" },
  checkpointEvery: { kind: kinds.positiveInteger, default: "100", help: "checkpoint every N steps (the best validation's is kept in <out>/best)" },
  kernels: { kind: kinds.choice("auto", "wasm", "reference"), default: "auto", help: "auto | wasm | reference" },
  ...engineSettings("native kernels"),
  sample: { kind: kinds.nonNegativeInteger, default: "300", help: "characters sampled at the end (0: none)" },
  sampleEvery: { kind: kinds.positiveInteger, default: "never", help: "print a sample every N steps while training (seeded with --seed)" },
  sampleLength: { kind: kinds.positiveInteger, default: "200", help: "tokens in each --sample-every sample" },
  tensorboard: { kind: kinds.string, default: "none", help: "also write TensorBoard event files into this directory (loss, validation, lr, gradient norm)" },
} as const satisfies SettingsTable;

type Key = keyof typeof SETTINGS;
type Values = ReadonlyMap<string, number | string | boolean>;

const DEFAULTS = { data: "moby-dick", out: "runs/lm", steps: 300, sample: 300, checkpointEvery: 100, sampleLength: 200 } as const;
/** What a resumed run may change: how long it runs (and when it stops early), where, on which kernels, and what the CLI does around it. */
const ON_RESUME = new Set<Key>(["out", "data", "steps", "time", "patience", "kernels", "threads", "engine", "sample", "sampleEvery", "sampleLength", "tensorboard", "checkpointEvery"]);
const ON_RESUME_FLAGS = "--steps, --time, --patience, --kernels, --threads, --engine, --sample, --sample-every, --sample-length, --tensorboard and --checkpoint-every";

/** The library's config from checked settings (every value already has its type). */
export function toConfig(v: Values, source: ReadonlyMap<string, string>, resume: boolean): TrainLmConfig {
  const get = <T extends number | string | boolean>(key: Key): T | undefined => v.get(key) as T | undefined;
  const model: Record<string, unknown> = {};
  const set = (target: Record<string, unknown>, name: string, key: Key): void => {
    if (v.has(key)) target[name] = v.get(key);
  };
  set(model, "cell", "cell");
  set(model, "numLayers", "layers");
  set(model, "hiddenSize", "hidden");
  set(model, "embeddingSize", "embedding");
  set(model, "dropout", "dropout");
  set(model, "init", "init");
  set(model, "forgetBias", "forgetBias");
  set(model, "tieWeights", "tieWeights");
  const optimizer: Record<string, unknown> = {};
  set(optimizer, "name", "optimizer");
  set(optimizer, "lr", "lr");
  set(optimizer, "weightDecay", "weightDecay");
  set(optimizer, "momentum", "momentum");
  const name = get<string>("optimizer") ?? "adam";
  if (v.has("momentum") && name !== "sgd" && name !== "rmsprop") {
    throw new UserError(`${source.get("momentum")} applies to the sgd and rmsprop optimisers, not ${name}`, "drop it, or choose --optimizer sgd or rmsprop");
  }
  const schedule: Record<string, unknown> = {};
  set(schedule, "name", "schedule");
  set(schedule, "warmupSteps", "warmup");
  if (v.has("warmup") && get("schedule") !== "cosine") {
    throw new UserError(`${source.get("warmup")} applies to the cosine schedule, not ${get<string>("schedule") ?? "constant"}`, "drop it, or choose --schedule cosine");
  }
  const config: Record<string, unknown> = { model, optimizer, schedule, data: get<string>("data") ?? DEFAULTS.data };
  set(config, "tokenizer", "tokenizer");
  set(config, "bpeVocabSize", "bpeVocab");
  set(config, "clip", "clip");
  set(config, "window", "window");
  set(config, "batchSize", "batch");
  set(config, "batching", "batching");
  if (v.has("epochs")) config.epochs = get("epochs");
  else if (v.has("steps") || (!v.has("time") && !resume)) config.steps = get<number>("steps") ?? DEFAULTS.steps;
  // With --time alone, the time budget is the only limit; a resume without either keeps the run's own.
  set(config, "timeBudgetMinutes", "time");
  set(config, "seed", "seed");
  set(config, "evalEvery", "evalEvery");
  set(config, "evalTokens", "evalTokens");
  set(config, "patience", "patience");
  set(config, "kernels", "kernels");
  set(config, "threads", "threads");
  return config as TrainLmConfig;
}

const SIZE_FIX = "use a smaller --hidden, --embedding, --layers or vocabulary (--bpe-vocab), or a smaller --batch or --window";

/** Refuses a model that cannot fit in this machine's memory, before anything is allocated. */
function checkSize(model: LanguageModel, config: TrainLmConfig, memory: number): void {
  const c = model.config;
  const gates = c.cell === "lstm" ? 4 : c.cell === "gru" ? 3 : 1;
  const input = c.embeddingSize === "one-hot" ? c.vocabSize : c.embeddingSize;
  const name = config.optimizer?.name ?? "adam";
  const buffers = name === "adam" || name === "adamw" ? 2 : name === "sgd" ? (config.optimizer?.momentum ? 1 : 0) : name === "rmsprop" ? 2 : 1;
  checkTrainingSize(
    {
      shapes: model.parameterShapes(),
      optimizerBuffers: buffers,
      activationsPerToken: input + c.numLayers * (gates + 3) * c.hiddenSize + 3 * c.vocabSize,
      tokensPerBatch: (config.batchSize ?? 32) * (config.window ?? 64),
    },
    memory,
    SIZE_FIX,
  );
}

export function registerTrainLm(train: Command, out: () => Output): void {
  const cmd = train
    .command("lm")
    .description("train a recurrent language model on a text (default: Moby-Dick, embedded) and print samples")
    .option("--config <file>", "JSON or YAML file with the settings below (flags override it)")
    .option("--resume", "continue the run in --out exactly where its last checkpoint left it")
    .option("--force", "start a new run in --out even if it holds one (the old run is moved into a new folder beside it, <out>.replaced-<time>)");
  for (const [key, spec] of Object.entries(SETTINGS)) {
    const flag = `--${flagName(key)}`;
    if (key === "tieWeights") cmd.option(flag, helpLine(spec));
    else cmd.option(`${flag} <value>`, helpLine(spec));
  }
  cmd.addHelpText(
    "after",
    `\nDefaults: --data ${DEFAULTS.data} --out ${DEFAULTS.out} --steps ${DEFAULTS.steps} (none with --time alone), a 1-layer LSTM with 256 units,\nAdam 2e-3, clip 5, batch 32, window 64, --eval-every 200, --checkpoint-every ${DEFAULTS.checkpointEvery}, --sample ${DEFAULTS.sample}, --sample-length ${DEFAULTS.sampleLength}.\n` +
      `One training at a time per --out (a lock file, run.lock, says who trains there). --out holds the checkpoints, metrics.jsonl\nand metrics.csv (the same rows), and best/, the checkpoint of the lowest validation loss (sample, eval and export read <out>/best).\n` +
      `On --resume only ${ON_RESUME_FLAGS} may change. Examples:\n  unroll train lm --steps 3000 --layers 2 --hidden 512 --dropout 0.2 --patience 5\n  unroll train lm --data tiny-shakespeare --config lm.yaml --sample-every 500 --tensorboard tb/shakespeare\n  unroll train lm --out runs/lm --resume\n  unroll sample runs/lm/best`,
  );
  cmd.action(async (flags: Record<string, unknown>) => trainLm(flags, out()));
}

async function trainLm(flags: Record<string, unknown>, out: Output): Promise<void> {
  const file = flags.config === undefined ? undefined : String(flags.config);
  const { values, source } = readSettings(SETTINGS, flags, file === undefined ? {} : await readConfigFile(file), file);
  const resume = Boolean(flags.resume);
  const config = toConfig(values, source, resume);
  const dir = resolve(String(values.get("out") ?? DEFAULTS.out));
  const memory = await availableMemory();
  // A model that cannot fit is refused before any text is read (its vocabulary is not known yet:
  // the smallest one gives a lower bound), and again with the real vocabulary before allocating.
  if (!resume) checkSize(new LanguageModel({ vocabSize: 1, cell: "lstm", hiddenSize: 256, embeddingSize: 64, ...config.model }), config, memory);

  await checkTensorBoardDir(values.get("tensorboard") as string | undefined, { resume, force: Boolean(flags.force) });
  const run = await openRun(out, { dir, resume, force: Boolean(flags.force), command: "unroll train lm" });
  run.releaseOnExit();
  await inRun(run, () => trainIn(run, { values, source, config, resume, memory }, out));
}

/**
 * A resumed run continues with its own model, data and optimiser settings: a setting given again
 * with the value the run was trained with is fine, one with another value is refused (it would
 * silently not apply).
 */
function refuseChangedSettings(values: Values, source: ReadonlyMap<string, string>, saved: { model: object; training: TrainLmConfig }): void {
  const changed: string[] = [];
  const leaves = (o: unknown, path: string[] = []): [string[], unknown][] =>
    o !== null && typeof o === "object" ? Object.entries(o).flatMap(([k, v]) => leaves(v, [...path, k])) : [[path, o]];
  const at = (o: unknown, path: readonly string[]): unknown => path.reduce<unknown>((x, k) => (x !== null && typeof x === "object" && Object.hasOwn(x, k) ? (x as Record<string, unknown>)[k] : undefined), o);
  const bare = leaves(toConfig(new Map(), new Map(), true));
  for (const [key, value] of values) {
    if (ON_RESUME.has(key as Key)) continue;
    const given = leaves(toConfig(new Map([[key, value]]), source, true)).filter(([p, v]) => !bare.some(([q, w]) => q.join(".") === p.join(".") && w === v));
    const differs = given.some(([path, v]) => (path[0] === "model" ? at(saved.model, path.slice(1)) : at(saved.training, path)) !== v);
    if (differs) changed.push(source.get(key) ?? `--${flagName(key)}`);
  }
  if (changed.length > 0) {
    throw new UserError(
      `${changed.join(", ")} cannot change on --resume: the run continues with its own model, data and optimiser settings`,
      `drop them (or give the run's own values); on --resume only ${ON_RESUME_FLAGS} may change (start a new run with --force or another --out to train differently)`,
    );
  }
}

async function trainIn(run: RunFolder, a: { values: Values; source: ReadonlyMap<string, string>; config: TrainLmConfig; resume: boolean; memory: number }, out: Output): Promise<void> {
  const { values, config, resume } = a;
  const dir = run.dir;
  let data = String(values.get("data") ?? DEFAULTS.data);
  if (resume) {
    // A resumed run reads the text it was trained on: its tokenizer and data position refer to it.
    let recorded: string | undefined;
    try {
      const checkpoint = await loadCheckpoint(run.checkpoint!);
      const saved = languageModelConfigOf(checkpoint, join(run.checkpoint!, "checkpoint.json"));
      if (checkpoint.optimizer === null) {
        // Weights alone (`unroll import torch` writes such runs): no optimiser, generator or data position to go on from.
        const imported = (checkpoint.metrics as { imported?: { from?: unknown } } | null)?.imported?.from === "torch";
        throw new UserError(
          `the run in ${dir} holds weights but no training state (optimiser, random generator, data position)${imported ? ": it was written by `unroll import torch`" : ""}, so it cannot be resumed`,
          `sample and eval read it as it is; to train it further, continue in PyTorch: unroll export torch ${dir} --out <dir>, then python3 <dir>/train.py --data <text>`,
        );
      }
      recorded = saved.training.data;
      refuseChangedSettings(values, a.source, saved);
    } catch (e) {
      if (e instanceof CheckpointError) throw cannotResume(dir, e);
      throw e;
    }
    if (recorded !== undefined && values.has("data") && data !== recorded) {
      throw new UserError(`the run in ${dir} was trained on ${recorded}, not ${data}`, "resume without --data (or with the same data), or start a new run");
    }
    if (recorded !== undefined) data = recorded;
  }
  out.info(`loading ${data}...`);
  const text = await loadCorpus(data).catch((e: Error) => {
    throw new UserError(e.message, data === "tiny-shakespeare" ? "it is downloaded once on first use; run `unroll data download tiny-shakespeare` with internet access" : undefined);
  });
  const interrupt = stopOnInterrupt(out);
  let progress: TrainingProgress | null = null;
  const tell = (line: string): void => ((progress as TrainingProgress | null) ? (progress as TrainingProgress).line(line, { event: "engine", text: line }) : out.info(line));
  let metrics: (MetricsSink & { close(): void }) | null = null;
  let lastEvalStep = -1;
  const sampleEvery = values.get("sampleEvery") as number | undefined;
  try {
    const result = await trainLanguageModel({
      text,
      config,
      checkpointDir: dir,
      checkpointEvery: (values.get("checkpointEvery") as number | undefined) ?? DEFAULTS.checkpointEvery,
      resume,
      keepBest: true,
      ...chosenEngine(values, { tokens: languageModelTokens, tell }),
      signal: interrupt.signal,
      ...(sampleEvery !== undefined
        ? {
            samples: { every: sampleEvery, length: (values.get("sampleLength") as number | undefined) ?? DEFAULTS.sampleLength },
            onSample: (s: { step: number; text: string }) => (progress as TrainingProgress | null)?.line(`--- sample at step ${s.step} ---\n${s.text}\n---`, { event: "sample", step: s.step, text: s.text }),
          }
        : {}),
      beforeInit: (model, _tokenizer, effective) => checkSize(model, effective, a.memory),
      onTrainer: async (trainer, info) => {
        out.info(
          `${info.model.config.numLayers}-layer ${info.model.config.cell} (hidden ${info.model.config.hiddenSize}), ${info.parameters.toLocaleString("en-US")} parameters, ` +
            `vocabulary ${info.tokenizer.vocabSize} (${info.tokenizer.kind}), ${info.trainTokens.toLocaleString("en-US")} training tokens, ${engineLabel(values, info.kernels)}` +
            (info.resumedFrom !== null ? `; resuming from step ${info.resumedFrom}` : ""),
        );
        printModelSummary(out, info.model.parameterShapes());
        // Only now, with the checkpoint and the text checked: metrics.jsonl, cut back to the resumed step.
        const { log, truncated } = await run.openMetrics(info.resumedFrom ?? undefined);
        if (truncated && truncated.dropped > 0) {
          out.info(`metrics.jsonl: removed ${truncated.dropped} line${truncated.dropped === 1 ? "" : "s"} after step ${info.resumedFrom} (that step's checkpoint is where the run continues)`);
        }
        metrics = await metricsSink(out, log, { tensorboard: values.get("tensorboard") as string | undefined, resumedFrom: info.resumedFrom });
        progress = new TrainingProgress(out, info.targetSteps);
        reportTraining(trainer, { progress, metrics, vocabSize: info.tokenizer.vocabSize });
        trainer.events.on("eval", (e) => (lastEvalStep = e.step));
      },
    }).catch((e: unknown) => {
      throw explain(e, { dir, data, resume });
    });
    (progress as TrainingProgress | null)?.stop();
    const stopped = result.stopReason === "stopped";
    // The validation of the model as it ends goes into metrics.jsonl too (plot draws it), unless the
    // run was stopped to be resumed: then the file stays what an uninterrupted run's would be.
    if (!stopped && result.validation && lastEvalStep !== result.steps) (metrics as MetricsSink | null)?.append({ step: result.steps, validation: result.validation.loss });
    const best = result.best;
    out.result(
      {
        event: "done",
        steps: result.steps,
        stopReason: result.stopReason,
        validationLoss: result.validation?.loss ?? null,
        checkpoint: dir,
        best: best ? { step: best.step, validationLoss: best.loss, checkpoint: best.dir } : null,
      },
      () =>
        `${stopped ? "stopped" : result.stopReason === "early-stopping" ? "stopped early (the validation loss stopped improving: --patience)" : "finished"} at step ${result.steps}; checkpoint saved in ${dir}` +
        (result.validation ? `; validation loss ${result.validation.loss.toFixed(4)} nats/token` : "") +
        (stopped ? `\nresume with: unroll train lm --out ${dir} --resume` : "") +
        (best ? `\nbest validation loss ${best.loss.toFixed(4)} at step ${best.step}, kept in ${best.dir} (unroll sample ${best.dir})` : ""),
    );
    if (stopped) throw new Interrupted();
    const sampleLength = (values.get("sample") as number | undefined) ?? DEFAULTS.sample;
    if (sampleLength > 0 && !stopped) {
      const prime = "\n";
      out.info(`\nsample (${sampleLength} tokens, temperature 0.8, seed 0):`);
      const release = pinTensors(treeLeaves(result.params));
      const sample = await collect(
        generateText(modelStep(result.model, result.params), result.tokenizer, { prime, maxTokens: sampleLength, temperature: 0.8, seed: 0 }),
      ).finally(release);
      out.result({ event: "sample", text: sample }, () => sample);
    }
  } finally {
    (progress as TrainingProgress | null)?.stop();
    (metrics as { close(): void } | null)?.close();
    interrupt.dispose();
  }
}

function cannotResume(dir: string, e: Error): UserError {
  return new UserError(
    `the run in ${dir} cannot be resumed: ${e.message}`,
    `restore the file from a backup; or start a new run with --force, which moves this one aside into a new folder beside ${dir}`,
  );
}

/** The library's errors about this run's files and text, with the flags that fix them. */
function explain(e: unknown, a: { dir: string; data: string; resume: boolean }): unknown {
  if (e instanceof CheckpointError && a.resume) return cannotResume(a.dir, e);
  const refused = engineRefusal(e, "use --engine library");
  if (refused) return refused;
  if (e instanceof DataError && e.code === "CHANGED") {
    return new UserError(
      e.message,
      `a resumed run must read the text it was trained on: restore ${a.data}; to train on the new text, start a new run with --force (the old run is moved aside) or another --out`,
    );
  }
  if (e instanceof DataError && e.code === "TOO_SHORT") {
    return new UserError(e.message, /word tokenizer/.test(e.message) ? "use --tokenizer char or --tokenizer bpe" : "give a longer text with --data, or lower --batch or --window");
  }
  return e;
}
