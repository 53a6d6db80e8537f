import { defaultWasmThreads, loadWasmKernelsSync, pinTensors, Rng, setKernels, type Tensor, treeEntries, treeLeaves, ValueRangeError, wasmSupported } from "@unroll/tensor";
import {
  type EngineFactory,
  BestCheckpoint,
  type BestRecord,
  type Checkpoint,
  CheckpointError,
  checkStateDict,
  checkpointEvery,
  type EvalResult,
  type Optimizer,
  latestCheckpoint,
  loadCheckpoint,
  saveTrainerCheckpoint,
  type ScheduleLike,
  stateFromCheckpoint,
  type StopReason,
  Trainer,
} from "@unroll/train";
import { shuffledWindows, streamBatches } from "../data/batching.js";
import { DataError } from "../data/errors.js";
import { splitText } from "../data/text.js";
import { collect, generateText } from "../generate/text.js";
import { modelStep } from "../generate/model-step.js";
import { evaluate } from "../model/evaluate.js";
import { LanguageModel, type LanguageModelBatch, type LanguageModelConfig, type LanguageModelParams } from "../model/language-model.js";
import type { RecurrentState } from "@unroll/cells";
import { BpeTokenizer } from "../tokenizers/bpe.js";
import { CharTokenizer } from "../tokenizers/char.js";
import type { Tokenizer, TokenizerJSON } from "../tokenizers/tokenizer.js";
import { WordTokenizer } from "../tokenizers/word.js";
import { tokenizerFromJSON } from "../tokenizers/from-json.js";
import { buildOptimizer, buildSchedule, resumedConfig } from "./recipe.js";
import { checkTrainLmConfig, type CorpusFingerprint, corpusFingerprint, readLanguageModelCheckpointConfig, verifyCorpus } from "./checkpoint-config.js";

/** How to train a language model: plain JSON, the same as the CLI's flags or config file. */
export interface TrainLmConfig {
  readonly tokenizer?: "char" | "word" | "bpe";
  /** Target vocabulary of the BPE tokenizer (default 1000). */
  readonly bpeVocabSize?: number;
  readonly model?: Partial<Omit<LanguageModelConfig, "vocabSize">>;
  readonly optimizer?: { readonly name?: "adam" | "adamw" | "sgd" | "rmsprop" | "adagrad"; readonly lr?: number; readonly weightDecay?: number; readonly momentum?: number };
  readonly schedule?: { readonly name?: "constant" | "cosine" | "step" | "plateau"; readonly warmupSteps?: number; readonly stepSize?: number; readonly gamma?: number; readonly minLr?: number; readonly patience?: number; readonly factor?: number };
  /** Global-norm gradient clipping (default 5, 0 to disable). */
  readonly clip?: number;
  readonly batchSize?: number;
  /** BPTT window (default 64). */
  readonly window?: number;
  /** "stream" (char-rnn: state carried across windows, default) or "shuffled" windows. */
  readonly batching?: "stream" | "shuffled";
  /** Fraction of the text used for training (default 0.9, the rest validates). */
  readonly trainFraction?: number;
  readonly steps?: number;
  /** Passes over the training split (sets `steps` from the batches per epoch when `steps` is absent). */
  readonly epochs?: number;
  readonly timeBudgetMinutes?: number;
  /** Where the text came from (a corpus name or a file path), kept with checkpoints for `eval`. */
  readonly data?: string;
  /** Evaluate on the validation split every N steps (default 200). */
  readonly evalEvery?: number;
  /**
   * Early stopping: stop after this many evaluations in a row without a lower validation loss
   * (default: never). May change on a resume.
   */
  readonly patience?: number;
  /** Cap on the validation tokens scored at each evaluation (default all). */
  readonly evalTokens?: number;
  readonly seed?: number;
  /** "auto" (WebAssembly SIMD where available, default), "wasm" or "reference". */
  readonly kernels?: "auto" | "wasm" | "reference";
  /** Threads for the WebAssembly kernels' products (Node only; default `defaultWasmThreads()`: the cores, at most 8). */
  readonly threads?: number;
}

/** What a language-model checkpoint's config holds: enough to rebuild the model and its tokenizer. */
export interface LanguageModelCheckpointConfig {
  readonly kind: "language-model";
  readonly model: LanguageModelConfig;
  readonly tokenizer: TokenizerJSON;
  readonly training: TrainLmConfig;
  /**
   * The training text's sha256 and UTF-8 length: a resume and `eval` of the run's own corpus check
   * that they read the same text (absent in checkpoints written before it was recorded).
   */
  readonly corpus?: CorpusFingerprint;
}

export interface TrainLmOptions {
  /** The training text (loaded by the caller: `loadCorpus`, `mobyDick`, a file). */
  readonly text: string;
  readonly config?: TrainLmConfig;
  /**
   * What computes the gradients: the library's autodiff (default) or `onnxruntimeEngine({ tokens:
   * languageModelTokens })` of @unroll/onnx (the step compiled for onnxruntime). Not part of the
   * run's settings: a run may resume on another engine.
   */
  readonly engine?: EngineFactory;
  /** Where to write checkpoints (Node only); none when omitted. */
  readonly checkpointDir?: string;
  readonly checkpointEvery?: number;
  readonly keepCheckpoints?: number;
  /**
   * Continue the run saved in `checkpointDir` (its latest checkpoint) exactly: its saved settings
   * are used, except `steps`, `timeBudgetMinutes`, `patience`, `kernels` and `threads` from `config`
   * (a schedule whose length depends on `steps`, such as cosine, then follows the new length).
   */
  readonly resume?: boolean;
  /**
   * Keep the checkpoint of the lowest validation loss in `<checkpointDir>/best` (a checkpoint root:
   * `loadLanguageModel`, and the CLI's sample, eval and export, read it), written when validation
   * improves, the final evaluation included (not for a run stopped by `signal`: it is resumed).
   */
  readonly keepBest?: boolean;
  /**
   * A sample every `every` steps while training (char-rnn's habit): `length` tokens from `prime`
   * (default a newline) at `temperature` (default 0.8), seeded with the run's seed so that the
   * same run prints the same samples; given to `onSample`. It changes nothing in the training.
   */
  readonly samples?: { readonly every: number; readonly length: number; readonly temperature?: number; readonly prime?: string };
  readonly onSample?: (sample: { readonly step: number; readonly text: string }) => void;
  readonly signal?: AbortSignal;
  /**
   * Called with the model, its tokenizer and the settings in effect (a resumed run's own) before any
   * parameter is allocated: the place to check that the model fits in memory (throw to stop).
   */
  readonly beforeInit?: (model: LanguageModel, tokenizer: Tokenizer, config: TrainLmConfig) => void;
  /** Called (and awaited) once the trainer exists, before training: subscribe to its events here. */
  readonly onTrainer?: (trainer: Trainer<LanguageModelParams, never, never>, info: TrainLmInfo) => void | Promise<void>;
}

export interface TrainLmInfo {
  readonly model: LanguageModel;
  readonly tokenizer: Tokenizer;
  readonly trainTokens: number;
  readonly validationTokens: number;
  readonly parameters: number;
  readonly kernels: string;
  readonly resumedFrom: number | null;
  /** The step target (from `steps` or `epochs`), if any. */
  readonly targetSteps: number | null;
  readonly batchesPerEpoch: number;
}

export interface TrainLmResult extends TrainLmInfo {
  readonly params: LanguageModelParams;
  readonly stopReason: StopReason;
  readonly steps: number;
  readonly validation: EvalResult | null;
  readonly history: readonly { readonly step: number; readonly loss: number }[];
  /** With `keepBest`: the step and validation loss of `<checkpointDir>/best`, if any. */
  readonly best: (BestRecord & { readonly dir: string }) | null;
}

function buildTokenizer(text: string, config: TrainLmConfig): Tokenizer {
  switch (config.tokenizer ?? "char") {
    case "char":
      return CharTokenizer.fromText(text);
    case "word":
      return WordTokenizer.fit(text, { minFrequency: 2 });
    case "bpe":
      return BpeTokenizer.train(text, { vocabSize: config.bpeVocabSize ?? 1000 });
  }
}

/**
 * Selects the kernels (`threads`: for the WebAssembly ones, default `defaultWasmThreads()`);
 * returns the name of the table in use.
 */
export function selectKernels(choice: "auto" | "wasm" | "reference" = "auto", threads?: number): string {
  if (choice === "reference" || (choice === "auto" && !wasmSupported())) {
    return "reference";
  }
  const kernels = loadWasmKernelsSync({ threads: threads ?? defaultWasmThreads() });
  setKernels(kernels);
  return kernels.name;
}

/**
 * Trains a language model on a text: tokenizer, 90/10 split, batches, model, trainer (Adam,
 * clipping, evaluation on the validation split), checkpoints that resume exactly. The CLI's
 * `train lm` and the benchmark scripts are thin layers over this.
 *
 * Everything read from a file is checked before it is used: a resumed checkpoint's settings
 * (CheckpointError naming checkpoint.json and the key), its tokenizer against the model's
 * vocabulary, its weights (names, shapes, dtypes, finite values), its training state, and the text
 * against the corpus fingerprint it records (DataError "CHANGED"). A text too short for the
 * batches is a DataError "TOO_SHORT" that says how many tokens there are and how many are needed.
 */
export async function trainLanguageModel(options: TrainLmOptions): Promise<TrainLmResult> {
  checkTrainLmConfig(options.config ?? {});
  let config = options.config ?? {};
  let tokenizer: Tokenizer;
  let modelConfig: LanguageModelConfig;
  let model: LanguageModel;
  let resumed: { checkpoint: Checkpoint; dir: string } | null = null;
  let corpus: CorpusFingerprint | undefined;
  if (options.resume) {
    if (!options.checkpointDir) throw new TypeError("trainLanguageModel: resume needs checkpointDir");
    const checkpoint = await loadCheckpoint(options.checkpointDir);
    const dir = await checkpointDirOf(options.checkpointDir);
    const from = languageModelFromCheckpoint(checkpoint, dir);
    const saved = from.config;
    // The saved run's settings rule (model, data, optimiser, schedule), so that it continues exactly;
    // only how long to run and which kernels (and threads) to use may change.
    const limits = options.config ?? {};
    config = resumedConfig(saved.training, limits);
    await verifyCorpus(saved, options.text, saved.training.data ?? "the text");
    corpus = saved.corpus;
    tokenizer = from.tokenizer;
    modelConfig = saved.model;
    model = from.model;
    resumed = { checkpoint, dir };
  } else {
    tokenizer = buildTokenizer(options.text, config);
    modelConfig = { vocabSize: tokenizer.vocabSize, cell: "lstm", hiddenSize: 256, embeddingSize: 64, ...config.model };
    model = new LanguageModel(modelConfig);
  }
  if (options.checkpointDir) corpus ??= await corpusFingerprint(options.text);
  const batchSize = config.batchSize ?? 32;
  const window = config.window ?? 64;
  const batching = config.batching ?? "stream";
  const trainFraction = config.trainFraction ?? 0.9;
  const { train, validation } = splitText(options.text, { trainFraction });
  const trainIds = tokenizer.encode(train);
  const validIds = tokenizer.encode(validation);
  checkLength({ source: config.data ?? "the text", tokenizer, trainFraction, train, validation, trainIds, validIds, batchSize, window, batching });
  options.beforeInit?.(model, tokenizer, config);
  const kernels = selectKernels(config.kernels, config.threads);
  const evalIds = config.evalTokens !== undefined ? validIds.slice(0, config.evalTokens + 1) : validIds;
  const params = model.init(new Rng(config.seed ?? 0));
  const data = batching === "stream" ? streamBatches(trainIds, { batchSize, window }) : shuffledWindows(trainIds, { batchSize, window, seed: config.seed ?? 0 });
  let savedStep = resumed?.checkpoint.step ?? -1;
  const steps = config.steps ?? (config.epochs !== undefined ? Math.ceil(config.epochs * data.batchesPerEpoch) : undefined);
  const checkpointConfig: LanguageModelCheckpointConfig = {
    kind: "language-model",
    model: modelConfig,
    tokenizer: tokenizer.toJSON(),
    training: config,
    ...(corpus !== undefined ? { corpus } : {}),
  };
  let optimizer: Optimizer;
  let schedule: ScheduleLike;
  try {
    optimizer = buildOptimizer(config.optimizer, 2e-3);
    schedule = buildSchedule(config.schedule, config.optimizer?.lr ?? 2e-3, steps);
  } catch (e) {
    // The optimiser's and schedule's own checks: settings that do not work together (warm-up longer than the run).
    if (resumed) throw new CheckpointError("trainLanguageModel", `its settings cannot be used: ${(e as Error).message}`, { file: manifestOf(resumed.dir), cause: e });
    throw new ValueRangeError("trainLanguageModel", `the settings do not work together: ${(e as Error).message}`);
  }
  const samples = options.samples;
  if (samples !== undefined && !(Number.isSafeInteger(samples.every) && samples.every >= 1 && Number.isSafeInteger(samples.length) && samples.length >= 1)) {
    throw new ValueRangeError("trainLanguageModel", `samples.every and samples.length must be positive integers, got ${samples.every} and ${samples.length}`);
  }
  const best = options.keepBest && options.checkpointDir ? await BestCheckpoint.open(options.checkpointDir, { resumed: resumed?.checkpoint ?? null }) : null;
  const keep = options.keepCheckpoints ?? 3;
  const everyN = options.checkpointDir
    ? checkpointEvery(options.checkpointDir, options.checkpointEvery ?? 500, { config: checkpointConfig, keep, onSaved: (_dir, step) => (savedStep = step) })
    : null;
  // A validation that beats best/ is saved after its step (with the run's checkpoint of that step).
  let newBest: { step: number; loss: number } | null = null;
  const trainer = new Trainer<LanguageModelParams, LanguageModelBatch, RecurrentState>({
    params,
    loss: model.lossFunction(),
    ...(options.engine ? { engine: options.engine } : {}),
    data,
    optimizer,
    schedule,
    ...(config.clip !== 0 ? { clip: { maxNorm: config.clip ?? 5 } } : {}),
    evaluate: { every: config.evalEvery ?? 200, run: (p) => ({ ...evaluate(model, p, evalIds) }) },
    ...(config.patience !== undefined ? { earlyStopping: { patience: config.patience } } : {}),
    seed: config.seed ?? 0,
    ...(options.checkpointDir || samples
      ? {
          afterStep: async (t, e) => {
            if (best && newBest?.step === e.step) {
              await best.save(t, { loss: newBest.loss, config: checkpointConfig, keep });
              savedStep = e.step;
            } else await everyN?.(t, e);
            newBest = null;
            if (samples && e.step % samples.every === 0) options.onSample?.({ step: e.step, text: await sampleNow() });
          },
        }
      : {}),
  });
  const sampleNow = async (): Promise<string> => {
    // The weights stay inside the kernels while generating (no copy per token), released before the next update.
    const release = pinTensors(treeLeaves(params));
    try {
      return await collect(
        generateText(modelStep(model, params), tokenizer, { prime: samples?.prime ?? "\n", maxTokens: samples!.length, temperature: samples?.temperature ?? 0.8, seed: config.seed ?? 0 }),
      );
    } finally {
      release();
    }
  };
  if (resumed) {
    try {
      const state = stateFromCheckpoint(resumed.checkpoint);
      checkCarry(model, state.carry, batchSize);
      trainer.restore(state);
    } catch (e) {
      throw new CheckpointError(
        "trainLanguageModel",
        `this run cannot continue from it: ${(e as Error).message} (the checkpoint was edited or damaged, or does not belong to these settings)`,
        { file: manifestOf(resumed.dir), cause: e },
      );
    }
  }
  let parameters = 0;
  for (const shape of Object.values(model.parameterShapes())) parameters += shape.reduce((a, b) => a * b, 1);
  const info: TrainLmInfo = {
    model,
    tokenizer,
    trainTokens: trainIds.length,
    validationTokens: validIds.length,
    parameters,
    kernels,
    resumedFrom: resumed ? resumed.checkpoint.step : null,
    targetSteps: steps ?? null,
    batchesPerEpoch: data.batchesPerEpoch,
  };
  const history: { step: number; loss: number }[] = [];
  trainer.events.on("step", (e) => history.push({ step: e.step, loss: e.loss }));
  let last: EvalResult | null = null;
  let lastEvalStep = -1;
  trainer.events.on("eval", (e) => {
    last = e.metrics;
    lastEvalStep = e.step;
    if (best?.improves(e.metrics.loss)) newBest = { step: e.step, loss: e.metrics.loss };
  });
  await options.onTrainer?.(trainer as unknown as Trainer<LanguageModelParams, never, never>, info);
  const stopReason = await trainer.run({
    ...(steps !== undefined ? { steps } : {}),
    ...(config.timeBudgetMinutes !== undefined ? { timeBudgetMs: config.timeBudgetMinutes * 60_000 } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  // A final evaluation, so the result describes the model as it ends. Run outside the trainer, so
  // that its state (best metric, plateau schedule) stays that of the uninterrupted run.
  if (lastEvalStep !== trainer.step && trainer.step > 0) {
    const final: EvalResult = { ...evaluate(model, params, evalIds) };
    last = final;
    // The model as it ends may be the best one; not for a run stopped to be resumed (it goes on).
    if (best && stopReason !== "stopped" && best.improves(final.loss)) {
      await best.save(trainer, { loss: final.loss, config: checkpointConfig, keep, runCheckpointSaved: savedStep === trainer.step });
      savedStep = trainer.step;
    }
  }
  if (options.checkpointDir && savedStep !== trainer.step) {
    await saveTrainerCheckpoint(trainer, options.checkpointDir, { config: checkpointConfig, keep });
  }
  const bestRecord = best?.best ? { ...best.best, dir: best.dir } : null;
  return { ...info, params, stopReason, steps: trainer.step, validation: last, history, best: bestRecord };
}

/** Refuses a text too short for the batches, saying how many tokens there are and how many are needed. */
function checkLength(a: {
  source: string;
  tokenizer: Tokenizer;
  trainFraction: number;
  train: string;
  validation: string;
  trainIds: Int32Array;
  validIds: Int32Array;
  batchSize: number;
  window: number;
  batching: "stream" | "shuffled";
}): void {
  const { tokenizer } = a;
  const tokens = (n: number): string => `${n.toLocaleString("en-US")} token${n === 1 ? "" : "s"}`;
  const chars = (s: string): string => `${s.length.toLocaleString("en-US")} character${s.length === 1 ? "" : "s"}`;
  const how = `with the ${tokenizer.kind} tokenizer (vocabulary ${tokenizer.vocabSize.toLocaleString("en-US")})`;
  const why =
    tokenizer.kind === "word" && tokenizer.vocabSize <= 1
      ? "; the word tokenizer keeps the words seen at least twice, and this text has none, so it reads as one unknown token after another: use the char or bpe tokenizer"
      : "";
  const need = a.batching === "stream" ? a.batchSize + 1 : a.window + 1;
  if (a.trainIds.length < need) {
    const what = a.batching === "stream" ? `${a.batchSize} parallel streams (batchSize) need at least ${need}` : `windows of ${a.window} tokens need at least ${need}`;
    throw new DataError(
      "TOO_SHORT",
      `${a.source} is too short to train on: its training part (the first ${Math.round(a.trainFraction * 100)}%, ${chars(a.train)}) is ${tokens(a.trainIds.length)} ${how}, ` +
        `and ${what}${why}; use a longer text, or a smaller ${a.batching === "stream" ? "batchSize" : "window"}`,
      { path: a.source },
    );
  }
  if (a.validIds.length < 2) {
    throw new DataError(
      "TOO_SHORT",
      `${a.source} is too short to validate on: its validation part (the last ${Math.round((1 - a.trainFraction) * 100)}%, ${chars(a.validation)}) is ${tokens(a.validIds.length)} ${how}, ` +
        `and scoring needs at least 2${why}; use a longer text`,
      { path: a.source },
    );
  }
}

/** Checks a carried state read from state.safetensors against the model: its names, dims, dtype, finite values. */
function checkCarry(model: LanguageModel, carry: Readonly<Record<string, Tensor>> | null, batchSize: number): void {
  if (carry === null) return;
  const expected = new Map(treeEntries(model.initialState(1)).map(([path, t]) => [path, t.shape]));
  const have = new Map(Object.entries(carry));
  const problems = checkStateDict(
    new Map([...expected].map(([path, shape]) => {
      const t = have.get(path);
      // The batch axis (1) is the batch's width: batchSize, or fewer in a short last batch.
      const width = t !== undefined && t.rank === shape.length && t.shape[1]! >= 1 && t.shape[1]! <= batchSize ? t.shape[1]! : batchSize;
      return [path, { shape: [shape[0]!, width, ...shape.slice(2)], dtype: "float32" as const }];
    })),
    carry,
    { finite: true },
  );
  if (problems.length > 0) throw new Error(`its carried state (state.safetensors) does not fit the model: ${problems.join("; ")}`);
}

function manifestOf(dir: string): string {
  return `${dir}/checkpoint.json`;
}

/** The checkpoint directory that `loadCheckpoint(dirOrRoot)` read: `dirOrRoot` itself, or the one its latest.json names. */
async function checkpointDirOf(dirOrRoot: string): Promise<string> {
  const { stat } = await import("node:fs/promises");
  const { join } = await import("node:path");
  const isDir = await stat(join(dirOrRoot, "checkpoint.json")).then(() => true, () => false);
  return isDir ? dirOrRoot : ((await latestCheckpoint(dirOrRoot)) ?? dirOrRoot);
}

/**
 * A checkpoint's language model, everything checked: its config (`readLanguageModelCheckpointConfig`),
 * the model it describes, its tokenizer, that the tokenizer's vocabulary is the one the embedding and
 * output layer were trained for, and the weights (names, shapes, float32, finite). Problems are
 * CheckpointErrors naming the file.
 */
export function languageModelFromCheckpoint(
  checkpoint: Pick<Checkpoint, "config" | "params">,
  dir: string,
  files: { readonly config: string; readonly weights: string; readonly op?: string } = { config: manifestOf(dir), weights: `${dir}/model.safetensors` },
): { config: LanguageModelCheckpointConfig; model: LanguageModel; tokenizer: Tokenizer; params: LanguageModelParams } {
  const file = files.config;
  const op = files.op ?? "loadLanguageModel";
  const config = readLanguageModelCheckpointConfig(checkpoint.config, file, op);
  const fail = (what: string, e: unknown, at = file): never => {
    throw new CheckpointError(op, `${what}: ${(e as Error).message}`, { file: at, cause: e });
  };
  let model: LanguageModel;
  try {
    model = new LanguageModel(config.model);
  } catch (e) {
    return fail("config.model does not describe a language model", e);
  }
  let tokenizer: Tokenizer;
  try {
    tokenizer = tokenizerFromJSON(config.tokenizer);
  } catch (e) {
    return fail("config.tokenizer cannot be read", e);
  }
  if (tokenizer.vocabSize !== model.config.vocabSize) {
    throw new CheckpointError(
      op,
      `the tokenizer has ${tokenizer.vocabSize} tokens, but the model's embedding and output layer are for ${model.config.vocabSize} (config.model.vocabSize): ` +
        "they do not belong together, so token ids would be misread; the checkpoint was edited or assembled from two runs",
      { file },
    );
  }
  let params: LanguageModelParams;
  try {
    params = model.paramsFromStateDict(checkpoint.params);
  } catch (e) {
    return fail("the weights cannot be used", e, files.weights);
  }
  return { config, model, tokenizer, params };
}

/** The language-model part of a checkpoint's config, checked; a CheckpointError naming `where` for any other checkpoint or any bad setting. */
export function languageModelConfigOf(checkpoint: Checkpoint, where: string): LanguageModelCheckpointConfig {
  return readLanguageModelCheckpointConfig(checkpoint.config, where);
}

export interface LoadedLanguageModel {
  readonly model: LanguageModel;
  readonly params: LanguageModelParams;
  readonly tokenizer: Tokenizer;
  readonly config: LanguageModelCheckpointConfig;
  readonly step: number;
}

/**
 * A trained language model from a checkpoint directory (or a run directory through latest.json),
 * everything checked (see `trainLanguageModel`): a problem is a CheckpointError naming the file.
 */
export async function loadLanguageModel(dirOrRoot: string): Promise<LoadedLanguageModel> {
  const checkpoint = await loadCheckpoint(dirOrRoot);
  const { model, params, tokenizer, config } = languageModelFromCheckpoint(checkpoint, await checkpointDirOf(dirOrRoot));
  return { model, params, tokenizer, config, step: checkpoint.step };
}
