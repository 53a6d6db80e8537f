import { Rng, ValueRangeError } from "@unroll/tensor";
import {
  type EngineFactory,
  type BestRecord,
  type Checkpoint,
  type EvalResult,
  loadCheckpoint,
  stateFromCheckpoint,
  type StopReason,
  Trainer,
} from "@unroll/train";
import { corpusBleu, type BleuScore } from "../metrics/bleu.js";
import { corpusChrf, type ChrfScore } from "../metrics/chrf.js";
import { DataError } from "../data/errors.js";
import { type CorpusFingerprint, corpusFingerprint } from "../train/checkpoint-config.js";
import { buildOptimizer, buildSchedule, resumedConfig } from "../train/recipe.js";
import { RunCheckpoints } from "../train/run-checkpoints.js";
import { selectKernels } from "../train/train-lm.js";
import { type EncodedPair, pairBatches } from "./batches.js";
import { evaluateTranslationLoss } from "./evaluate.js";
import { Seq2Seq, type ResolvedSeq2SeqConfig, type Seq2SeqBatch, type Seq2SeqConfig, type Seq2SeqParams } from "./model.js";
import type { SentencePair } from "./pairs.js";
import { translate, type TranslateOptions } from "./translate.js";
import { type FitVocabularyOptions, Vocabulary, type VocabularyJSON } from "./vocabulary.js";

/** How to train a translation model: plain JSON, the same as `unroll train mt`'s flags or config file. */
export interface TrainMtConfig {
  /** "word" (default), "bpe" or "char" vocabularies. */
  readonly vocabulary?: "word" | "bpe" | "char";
  /** One vocabulary for both sides and shared embeddings (a joint subword vocabulary). Default false. */
  readonly joint?: boolean;
  /** Word pieces seen fewer times are unknown (default 2). */
  readonly minFrequency?: number;
  /** BPE vocabulary size per side (or joint), default 4000. */
  readonly bpeVocabSize?: number;
  readonly lowercase?: boolean;
  /** Training pairs with more tokens on either side are left out (default 50 each). */
  readonly maxSourceLength?: number;
  readonly maxTargetLength?: number;
  readonly model?: Partial<Omit<Seq2SeqConfig, "srcVocabSize" | "tgtVocabSize" | "sharedEmbeddings">>;
  readonly optimizer?: { readonly name?: "adam" | "adamw" | "sgd"; readonly lr?: number; readonly weightDecay?: number; readonly momentum?: number };
  readonly schedule?: { readonly name?: "constant" | "cosine" | "plateau"; readonly warmupSteps?: number; readonly minLr?: number; readonly patience?: number; readonly factor?: number };
  /** Global-norm gradient clipping (default 5, 0 to disable). */
  readonly clip?: number;
  /** Sentence pairs per batch (default 64). */
  readonly batchSize?: number;
  readonly steps?: number;
  readonly epochs?: number;
  readonly timeBudgetMinutes?: number;
  /** Probability of feeding the gold previous token (default 1). */
  readonly teacherForcing?: number;
  /** Label smoothing ε (default 0). */
  readonly labelSmoothing?: number;
  /** Dev loss, BLEU and chrF every N steps (default 500) and at the end. */
  readonly evalEvery?: number;
  /** Early stopping: stop after this many evaluations in a row without a lower dev loss (default: never). May change on a resume. */
  readonly patience?: number;
  /** Dev sentences translated (greedily) for BLEU at each evaluation (default 500; the dev loss reads all). */
  readonly bleuSentences?: number;
  readonly seed?: number;
  readonly kernels?: "auto" | "wasm" | "reference";
  readonly threads?: number;
  /** Where the pairs came from (paths), kept with checkpoints for `eval` and `translate`. */
  readonly data?: string;
  readonly dev?: string;
  /** The columns read from the pair files (default [0, 1]). */
  readonly columns?: readonly [number, number];
}

/** What a translation checkpoint's config holds: enough to rebuild the model and both vocabularies. */
export interface TranslationCheckpointConfig {
  readonly kind: "translation-model";
  readonly model: ResolvedSeq2SeqConfig;
  readonly source: VocabularyJSON;
  readonly target: VocabularyJSON;
  readonly training: TrainMtConfig;
  /** The training pairs' fingerprint (sha256 of `source<TAB>target` lines), checked on resume. */
  readonly corpus?: CorpusFingerprint;
}

export interface TranslationEvaluation extends EvalResult {
  readonly loss: number;
  readonly perplexity: number;
  readonly bleu: number;
  readonly chrf: number;
}

export interface TrainMtOptions {
  readonly train: readonly SentencePair[];
  /**
   * What computes the gradients: the library's autodiff (default) or `onnxruntimeEngine({ tokens:
   * translationTokens })` of @unroll/onnx. Not part of the run's settings: a run may resume on another engine.
   */
  readonly engine?: EngineFactory;
  /** Held-out pairs for model selection; without them the last 5% of `train` (at most 1,000) are held out. */
  readonly dev?: readonly SentencePair[];
  readonly config?: TrainMtConfig;
  readonly checkpointDir?: string;
  readonly checkpointEvery?: number;
  readonly keepCheckpoints?: number;
  /** Continue the run in `checkpointDir` exactly (see `trainLanguageModel`: steps, time, patience, kernels and threads may change). */
  readonly resume?: boolean;
  /** Keep the checkpoint of the lowest dev loss in `<checkpointDir>/best` (see `trainLanguageModel`). */
  readonly keepBest?: boolean;
  readonly signal?: AbortSignal;
  /** Called with the model before any parameter is allocated (the CLI checks the size here). */
  readonly beforeInit?: (model: Seq2Seq, config: TrainMtConfig) => void;
  readonly onTrainer?: (trainer: Trainer<Seq2SeqParams, Seq2SeqBatch, never>, info: TrainMtInfo) => void | Promise<void>;
  /** After each evaluation: the dev loss, BLEU and chrF. */
  readonly onEvaluation?: (step: number, result: TranslationEvaluation) => void;
}

export interface TrainMtInfo {
  readonly model: Seq2Seq;
  readonly source: Vocabulary;
  readonly target: Vocabulary;
  readonly trainPairs: number;
  /** Training pairs left out for their length. */
  readonly droppedPairs: number;
  readonly devPairs: number;
  readonly parameters: number;
  readonly kernels: string;
  readonly resumedFrom: number | null;
  readonly targetSteps: number | null;
  readonly batchesPerEpoch: number;
}

export interface TrainMtResult extends TrainMtInfo {
  readonly params: Seq2SeqParams;
  readonly stopReason: StopReason;
  readonly steps: number;
  readonly evaluation: TranslationEvaluation | null;
  readonly evaluations: readonly { readonly step: number; readonly result: TranslationEvaluation }[];
  /** With `keepBest`: the step and dev loss of `<checkpointDir>/best`, if any. */
  readonly best: (BestRecord & { readonly dir: string }) | null;
}

function buildVocabularies(pairs: readonly SentencePair[], config: TrainMtConfig): { source: Vocabulary; target: Vocabulary } {
  const options: FitVocabularyOptions = {
    kind: config.vocabulary ?? "word",
    ...(config.minFrequency !== undefined ? { minFrequency: config.minFrequency } : {}),
    ...(config.bpeVocabSize !== undefined ? { bpeVocabSize: config.bpeVocabSize } : {}),
    ...(config.lowercase !== undefined ? { lowercase: config.lowercase } : {}),
  };
  if (config.joint) {
    const joint = Vocabulary.fit([...pairs.map((p) => p.source), ...pairs.map((p) => p.target)], options);
    return { source: joint, target: joint };
  }
  return { source: Vocabulary.fit(pairs.map((p) => p.source), options), target: Vocabulary.fit(pairs.map((p) => p.target), options) };
}

/** Encodes pairs; drops those over the length limits (training) or keeps them all (evaluation). */
export function encodePairs(
  pairs: readonly SentencePair[],
  vocabularies: { readonly source: Vocabulary; readonly target: Vocabulary },
  limits: { readonly maxSourceLength?: number; readonly maxTargetLength?: number } = {},
): { pairs: EncodedPair[]; dropped: number } {
  const out: EncodedPair[] = [];
  let dropped = 0;
  for (const p of pairs) {
    const src = vocabularies.source.encode(p.source);
    const tgt = vocabularies.target.encode(p.target);
    if (src.length === 0 || (limits.maxSourceLength !== undefined && src.length > limits.maxSourceLength) || (limits.maxTargetLength !== undefined && tgt.length > limits.maxTargetLength)) {
      dropped++;
      continue;
    }
    out.push({ src, tgt });
  }
  return { pairs: out, dropped };
}

/**
 * Corpus BLEU and chrF (sacreBLEU's defaults) of the model's translations of `pairs` against
 * their targets, and the teacher-forced loss. Greedy unless `options.beamSize` says otherwise.
 */
export async function evaluateTranslation(
  model: Seq2Seq,
  params: Seq2SeqParams,
  vocabularies: { readonly source: Vocabulary; readonly target: Vocabulary },
  pairs: readonly SentencePair[],
  options: TranslateOptions & { readonly lossPairs?: readonly EncodedPair[] } = {},
): Promise<{ bleu: BleuScore; chrf: ChrfScore; loss: number; perplexity: number; hypotheses: string[] }> {
  if (pairs.length === 0) throw new ValueRangeError("evaluateTranslation", "there are no pairs to evaluate on");
  const translations = await translate(model, params, vocabularies, pairs.map((p) => p.source), options);
  const hypotheses = translations.map((t) => t.text);
  const references = [pairs.map((p) => p.target)];
  const encoded = options.lossPairs ?? encodePairs(pairs, vocabularies).pairs;
  const loss = encoded.length > 0 ? evaluateTranslationLoss(model, params, encoded) : { loss: NaN, perplexity: NaN };
  return { bleu: corpusBleu(hypotheses, references), chrf: corpusChrf(hypotheses, references), loss: loss.loss, perplexity: loss.perplexity, hypotheses };
}

/**
 * Trains a translation model on sentence pairs: vocabularies, length filter, bucketed batches,
 * the model, a trainer (Adam, clipping), dev loss + BLEU + chrF at intervals, checkpoints that
 * resume exactly. The CLI's `train mt` and the results script are thin layers over this.
 */
export async function trainTranslationModel(options: TrainMtOptions): Promise<TrainMtResult> {
  let config = options.config ?? {};
  let vocabularies: { source: Vocabulary; target: Vocabulary };
  let modelConfig: Seq2SeqConfig;
  let resumed: Checkpoint | null = null;
  if (options.resume) {
    if (!options.checkpointDir) throw new TypeError("trainTranslationModel: resume needs checkpointDir");
    resumed = await loadCheckpoint(options.checkpointDir);
    const saved = translationConfigOf(resumed, options.checkpointDir);
    const limits = options.config ?? {};
    config = resumedConfig(saved.training, limits);
    const source = Vocabulary.fromJSON(saved.source);
    vocabularies = { source, target: config.joint ? source : Vocabulary.fromJSON(saved.target) };
    modelConfig = saved.model;
  } else {
    vocabularies = buildVocabularies(options.train, config);
    modelConfig = { ...config.model, srcVocabSize: vocabularies.source.size, tgtVocabSize: vocabularies.target.size, sharedEmbeddings: config.joint ?? false };
  }
  const corpus = await corpusFingerprint(options.train.map((p) => `${p.source}\t${p.target}\n`).join(""));
  if (resumed) {
    const recorded = translationConfigOf(resumed, options.checkpointDir!).corpus;
    if (recorded !== undefined && recorded.sha256 !== corpus.sha256) {
      throw new DataError(
        "CHANGED",
        `these training pairs are not the ones the run in ${options.checkpointDir} was trained on (sha256 ${corpus.sha256}, ${options.train.length} pairs; the checkpoint records ${recorded.sha256})`,
        { path: config.data ?? options.checkpointDir! },
      );
    }
  }
  const kernels = selectKernels(config.kernels, config.threads);
  let trainSet = options.train;
  let devSet = options.dev ?? [];
  if (!options.dev) {
    const held = Math.min(1000, Math.floor(trainSet.length * 0.05));
    devSet = trainSet.slice(trainSet.length - held);
    trainSet = trainSet.slice(0, trainSet.length - held);
  }
  const limits = { maxSourceLength: config.maxSourceLength ?? 50, maxTargetLength: config.maxTargetLength ?? 50 };
  const { pairs: trainPairs, dropped } = encodePairs(trainSet, vocabularies, limits);
  if (trainPairs.length === 0) throw new ValueRangeError("trainTranslationModel", `no training pair is within the length limits (${limits.maxSourceLength} source, ${limits.maxTargetLength} target tokens)`);
  const devEncoded = encodePairs(devSet, vocabularies).pairs;
  const bleuPairs = devSet.slice(0, config.bleuSentences ?? 500);
  const model = new Seq2Seq(modelConfig);
  options.beforeInit?.(model, config);
  const params = model.init(new Rng(config.seed ?? 0));
  const data = pairBatches(trainPairs, { batchSize: config.batchSize ?? 64, seed: config.seed ?? 0, lengthMultiple: options.engine?.lengthMultiple ?? 1 });
  const steps = config.steps ?? (config.epochs !== undefined ? Math.ceil(config.epochs * data.batchesPerEpoch) : undefined);
  const checkpointConfig: TranslationCheckpointConfig = {
    kind: "translation-model",
    model: model.config,
    source: vocabularies.source.toJSON(),
    target: vocabularies.target.toJSON(),
    training: config,
    corpus,
  };
  const evalEvery = config.evalEvery ?? 500;
  const evaluations: { step: number; result: TranslationEvaluation }[] = [];
  let lastLoss: { step: number; loss: number; perplexity: number } | null = null;
  const bleuAt = async (step: number): Promise<void> => {
    if (devEncoded.length === 0 || bleuPairs.length === 0) return;
    const loss = lastLoss?.step === step ? lastLoss : { step, ...evaluateTranslationLoss(model, params, devEncoded) };
    const translations = await translate(model, params, vocabularies, bleuPairs.map((p) => p.source), { batchSize: 64 });
    const hypotheses = translations.map((t) => t.text);
    const references = [bleuPairs.map((p) => p.target)];
    const result: TranslationEvaluation = { loss: loss.loss, perplexity: loss.perplexity, bleu: corpusBleu(hypotheses, references).score, chrf: corpusChrf(hypotheses, references).score };
    evaluations.push({ step, result });
    options.onEvaluation?.(step, result);
  };
  const checkpoints = await RunCheckpoints.open({
    dir: options.checkpointDir,
    config: checkpointConfig,
    every: options.checkpointEvery ?? 500,
    keep: options.keepCheckpoints ?? 3,
    keepBest: options.keepBest ?? false,
    resumed,
  });
  const trainer = new Trainer<Seq2SeqParams, Seq2SeqBatch, never>({
    params,
    loss: model.lossFunction({
      ...(config.teacherForcing !== undefined ? { teacherForcing: config.teacherForcing } : {}),
      ...(config.labelSmoothing !== undefined ? { labelSmoothing: config.labelSmoothing } : {}),
    }),
    ...(options.engine ? { engine: options.engine } : {}),
    data,
    optimizer: buildOptimizer(config.optimizer, 1e-3),
    schedule: buildSchedule(config.schedule, config.optimizer?.lr ?? 1e-3, steps),
    ...(config.clip !== 0 ? { clip: { maxNorm: config.clip ?? 5 } } : {}),
    ...(devEncoded.length > 0
      ? {
          evaluate: {
            every: evalEvery,
            run: (p: Seq2SeqParams) => {
              const r = evaluateTranslationLoss(model, p, devEncoded);
              lastLoss = { step: trainer.step, loss: r.loss, perplexity: r.perplexity };
              return { loss: r.loss, perplexity: r.perplexity };
            },
          },
        }
      : {}),
    ...(config.patience !== undefined ? { earlyStopping: { patience: config.patience } } : {}),
    seed: config.seed ?? 0,
    afterStep: async (t, e) => {
      if (e.step % evalEvery === 0) await bleuAt(e.step);
      await checkpoints.afterStep(t, e);
    },
  });
  checkpoints.watch(trainer);
  if (resumed) trainer.restore(stateFromCheckpoint(resumed));
  let parameters = 0;
  for (const shape of Object.values(model.parameterShapes())) parameters += shape.reduce((a, b) => a * b, 1);
  const info: TrainMtInfo = {
    model,
    source: vocabularies.source,
    target: vocabularies.target,
    trainPairs: trainPairs.length,
    droppedPairs: dropped,
    devPairs: devSet.length,
    parameters,
    kernels,
    resumedFrom: resumed ? resumed.step : null,
    targetSteps: steps ?? null,
    batchesPerEpoch: data.batchesPerEpoch,
  };
  await options.onTrainer?.(trainer, info);
  const stopReason = await trainer.run({
    ...(steps !== undefined ? { steps } : {}),
    ...(config.timeBudgetMinutes !== undefined ? { timeBudgetMs: config.timeBudgetMinutes * 60_000 } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  // The model as it ends, evaluated outside the trainer so that its state stays that of an
  // uninterrupted run; not for a run stopped to be resumed (its metrics stay an uninterrupted run's).
  if (trainer.step > 0 && stopReason !== "stopped" && evaluations.at(-1)?.step !== trainer.step) await bleuAt(trainer.step);
  const final = evaluations.at(-1);
  await checkpoints.finish(trainer, final?.step === trainer.step ? final.result.loss : null);
  return { ...info, params, stopReason, steps: trainer.step, evaluation: evaluations.at(-1)?.result ?? null, evaluations, best: checkpoints.best };
}

/** The translation part of a checkpoint's config; a clear error for any other checkpoint. */
export function translationConfigOf(checkpoint: Checkpoint, where: string): TranslationCheckpointConfig {
  const saved = checkpoint.config as Partial<TranslationCheckpointConfig> | null;
  if (saved?.kind !== "translation-model" || !saved.model || !saved.source || !saved.target) {
    const kind = saved?.kind === undefined ? "no model description" : `"${String(saved.kind)}"`;
    throw new ValueRangeError(
      "loadTranslationModel",
      `${where} holds a checkpoint of another kind (${kind}), not a translation model${(saved?.kind as string | undefined) === "language-model" ? ": it is a language model (use `unroll sample` with it)" : ""}`,
    );
  }
  return saved as TranslationCheckpointConfig;
}

export interface LoadedTranslationModel {
  readonly model: Seq2Seq;
  readonly params: Seq2SeqParams;
  readonly source: Vocabulary;
  readonly target: Vocabulary;
  readonly config: TranslationCheckpointConfig;
  readonly step: number;
}

/** A trained translation model from a checkpoint directory (or a run directory through latest.json). */
export async function loadTranslationModel(dirOrRoot: string): Promise<LoadedTranslationModel> {
  const checkpoint = await loadCheckpoint(dirOrRoot);
  const config = translationConfigOf(checkpoint, dirOrRoot);
  const model = new Seq2Seq(config.model);
  const source = Vocabulary.fromJSON(config.source);
  const target = config.training.joint ? source : Vocabulary.fromJSON(config.target);
  if (source.size !== config.model.srcVocabSize || target.size !== config.model.tgtVocabSize) {
    throw new ValueRangeError(
      "loadTranslationModel",
      `${dirOrRoot}: the vocabularies (${source.size} source, ${target.size} target ids) do not fit the model (${config.model.srcVocabSize}, ${config.model.tgtVocabSize})`,
    );
  }
  return { model, params: model.paramsFromStateDict(checkpoint.params), source, target, config, step: checkpoint.step };
}
