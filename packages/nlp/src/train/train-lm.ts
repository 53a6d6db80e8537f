import { defaultWasmThreads, loadWasmKernelsSync, Rng, setKernels, wasmSupported } from "@unroll/tensor";
import {
  adagrad,
  adam,
  adamw,
  type Checkpoint,
  checkpointEvery,
  constant,
  cosineWithWarmup,
  type EvalResult,
  type Optimizer,
  loadCheckpoint,
  reduceOnPlateau,
  rmsprop,
  saveTrainerCheckpoint,
  type ScheduleLike,
  sgd,
  stateFromCheckpoint,
  stepDecay,
  type StopReason,
  Trainer,
} from "@unroll/train";
import { shuffledWindows, streamBatches } from "../data/batching.js";
import { splitText } from "../data/text.js";
import { evaluate } from "../model/evaluate.js";
import { LanguageModel, type LanguageModelConfig, type LanguageModelParams } from "../model/language-model.js";
import { BpeTokenizer } from "../tokenizers/bpe.js";
import { CharTokenizer } from "../tokenizers/char.js";
import type { Tokenizer, TokenizerJSON } from "../tokenizers/tokenizer.js";
import { WordTokenizer } from "../tokenizers/word.js";
import { tokenizerFromJSON } from "../tokenizers/from-json.js";

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
}

export interface TrainLmOptions {
  /** The training text (loaded by the caller: `loadCorpus`, `mobyDick`, a file). */
  readonly text: string;
  readonly config?: TrainLmConfig;
  /** Where to write checkpoints (Node only); none when omitted. */
  readonly checkpointDir?: string;
  readonly checkpointEvery?: number;
  readonly keepCheckpoints?: number;
  /**
   * Continue the run saved in `checkpointDir` (its latest checkpoint) exactly: its saved settings
   * are used, except `steps`, `timeBudgetMinutes`, `kernels` and `threads` from `config` (a schedule whose
   * length depends on `steps`, such as cosine, then follows the new length).
   */
  readonly resume?: boolean;
  readonly signal?: AbortSignal;
  /** Called once the trainer exists, before training: subscribe to its events here. */
  readonly onTrainer?: (trainer: Trainer<LanguageModelParams, never, never>, info: TrainLmInfo) => void;
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

function buildOptimizer(config: TrainLmConfig): Optimizer {
  const o = config.optimizer ?? {};
  const lr = o.lr ?? 2e-3;
  switch (o.name ?? "adam") {
    case "adam":
      return adam({ lr, weightDecay: o.weightDecay ?? 0 });
    case "adamw":
      return adamw({ lr, weightDecay: o.weightDecay ?? 1e-2 });
    case "sgd":
      return sgd({ lr, momentum: o.momentum ?? 0, weightDecay: o.weightDecay ?? 0 });
    case "rmsprop":
      return rmsprop({ lr, momentum: o.momentum ?? 0, weightDecay: o.weightDecay ?? 0 });
    case "adagrad":
      return adagrad({ lr, weightDecay: o.weightDecay ?? 0 });
  }
}

function buildSchedule(config: TrainLmConfig, totalSteps: number | undefined): ScheduleLike {
  const s = config.schedule ?? {};
  const lr = config.optimizer?.lr ?? 2e-3;
  switch (s.name ?? "constant") {
    case "constant":
      return constant(lr);
    case "cosine":
      return cosineWithWarmup({ lr, warmupSteps: s.warmupSteps ?? 0, totalSteps: totalSteps ?? 10_000, minLr: s.minLr ?? 0 });
    case "step":
      return stepDecay({ lr, stepSize: s.stepSize ?? 1000, gamma: s.gamma ?? 0.5 });
    case "plateau":
      return reduceOnPlateau({ lr, patience: s.patience ?? 2, factor: s.factor ?? 0.5, minLr: s.minLr ?? 0 });
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
 */
export async function trainLanguageModel(options: TrainLmOptions): Promise<TrainLmResult> {
  let config = options.config ?? {};
  let tokenizer: Tokenizer;
  let modelConfig: LanguageModelConfig;
  let resumed: Checkpoint | null = null;
  if (options.resume) {
    if (!options.checkpointDir) throw new TypeError("trainLanguageModel: resume needs checkpointDir");
    resumed = await loadCheckpoint(options.checkpointDir);
    const saved = languageModelConfigOf(resumed, options.checkpointDir);
    // The saved run's settings rule (model, data, optimiser, schedule), so that it continues exactly;
    // only how long to run and which kernels (and threads) to use may change.
    const limits = options.config ?? {};
    config = {
      ...saved.training,
      ...(limits.steps !== undefined ? { steps: limits.steps } : {}),
      ...(limits.timeBudgetMinutes !== undefined ? { timeBudgetMinutes: limits.timeBudgetMinutes } : {}),
      ...(limits.kernels !== undefined ? { kernels: limits.kernels } : {}),
      ...(limits.threads !== undefined ? { threads: limits.threads } : {}),
    };
    tokenizer = tokenizerFromJSON(saved.tokenizer);
    modelConfig = saved.model;
  } else {
    tokenizer = buildTokenizer(options.text, config);
    modelConfig = { vocabSize: tokenizer.vocabSize, cell: "lstm", hiddenSize: 256, embeddingSize: 64, ...config.model };
  }
  const kernels = selectKernels(config.kernels, config.threads);
  const { train, validation } = splitText(options.text, { trainFraction: config.trainFraction ?? 0.9 });
  const trainIds = tokenizer.encode(train);
  const validIds = tokenizer.encode(validation);
  const evalIds = config.evalTokens !== undefined ? validIds.slice(0, config.evalTokens + 1) : validIds;
  const model = new LanguageModel(modelConfig);
  const params = model.init(new Rng(config.seed ?? 0));
  const batchSize = config.batchSize ?? 32;
  const window = config.window ?? 64;
  const data =
    (config.batching ?? "stream") === "stream"
      ? streamBatches(trainIds, { batchSize, window })
      : shuffledWindows(trainIds, { batchSize, window, seed: config.seed ?? 0 });
  let savedStep = resumed?.step ?? -1;
  const steps = config.steps ?? (config.epochs !== undefined ? Math.ceil(config.epochs * data.batchesPerEpoch) : undefined);
  const checkpointConfig: LanguageModelCheckpointConfig = { kind: "language-model", model: modelConfig, tokenizer: tokenizer.toJSON(), training: config };
  const trainer = new Trainer({
    params,
    loss: model.lossFunction(),
    data,
    optimizer: buildOptimizer(config),
    schedule: buildSchedule(config, steps),
    ...(config.clip !== 0 ? { clip: { maxNorm: config.clip ?? 5 } } : {}),
    evaluate: { every: config.evalEvery ?? 200, run: (p) => ({ ...evaluate(model, p, evalIds) }) },
    seed: config.seed ?? 0,
    ...(options.checkpointDir
      ? {
          afterStep: checkpointEvery(options.checkpointDir, options.checkpointEvery ?? 500, {
            config: checkpointConfig,
            keep: options.keepCheckpoints ?? 3,
            onSaved: (_dir, step) => (savedStep = step),
          }),
        }
      : {}),
  });
  if (resumed) trainer.restore(stateFromCheckpoint(resumed));
  let parameters = 0;
  for (const shape of Object.values(model.parameterShapes())) parameters += shape.reduce((a, b) => a * b, 1);
  const info: TrainLmInfo = {
    model,
    tokenizer,
    trainTokens: trainIds.length,
    validationTokens: validIds.length,
    parameters,
    kernels,
    resumedFrom: resumed ? resumed.step : null,
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
  });
  options.onTrainer?.(trainer as unknown as Trainer<LanguageModelParams, never, never>, info);
  const stopReason = await trainer.run({
    ...(steps !== undefined ? { steps } : {}),
    ...(config.timeBudgetMinutes !== undefined ? { timeBudgetMs: config.timeBudgetMinutes * 60_000 } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  // A final evaluation, so the result describes the model as it ends. Run outside the trainer, so
  // that its state (best metric, plateau schedule) stays that of the uninterrupted run.
  if (lastEvalStep !== trainer.step && trainer.step > 0) last = { ...evaluate(model, params, evalIds) };
  if (options.checkpointDir && savedStep !== trainer.step) {
    await saveTrainerCheckpoint(trainer, options.checkpointDir, { config: checkpointConfig, keep: options.keepCheckpoints ?? 3 });
  }
  return { ...info, params, stopReason, steps: trainer.step, validation: last, history };
}

/** The language-model part of a checkpoint's config; a clear error for any other checkpoint. */
export function languageModelConfigOf(checkpoint: Checkpoint, where: string): LanguageModelCheckpointConfig {
  const saved = checkpoint.config as Partial<LanguageModelCheckpointConfig> | null;
  if (saved?.kind !== "language-model" || !saved.model || !saved.tokenizer) {
    throw new TypeError(
      `${where} holds a checkpoint of another kind (${saved?.kind === undefined ? "no model description" : `"${String(saved.kind)}"`}), not a language model`,
    );
  }
  return saved as LanguageModelCheckpointConfig;
}

export interface LoadedLanguageModel {
  readonly model: LanguageModel;
  readonly params: LanguageModelParams;
  readonly tokenizer: Tokenizer;
  readonly config: LanguageModelCheckpointConfig;
  readonly step: number;
}

/** A trained language model from a checkpoint directory (or a run directory through latest.json). */
export async function loadLanguageModel(dirOrRoot: string): Promise<LoadedLanguageModel> {
  const checkpoint = await loadCheckpoint(dirOrRoot);
  const config = languageModelConfigOf(checkpoint, dirOrRoot);
  const model = new LanguageModel(config.model);
  return { model, params: model.paramsFromStateDict(checkpoint.params), tokenizer: tokenizerFromJSON(config.tokenizer), config, step: checkpoint.step };
}
