import { buildOptimizer, buildSchedule, resumedConfig, type CorpusFingerprint, corpusFingerprint, DataError, type OptimizerSettings, type ScheduleSettings, selectKernels, Vocabulary, type VocabularyJSON } from "@unroll/nlp";
import { noGrad, reshape, Rng, ShapeError, softmaxCrossEntropy, type Tensor, treeEntries, treeMap, ValueRangeError } from "@unroll/tensor";
import { type Checkpoint, checkpointEvery, checkStateDict, type EvalResult, loadCheckpoint, saveTrainerCheckpoint, stateFromCheckpoint, type StopReason, Trainer } from "@unroll/train";
import { captionBatch } from "../caption/batch.js";
import { caption, type Caption, type CaptionOptions } from "../caption/decode.js";
import { type CaptionBatch, Captioner, type CaptionerConfig, type CaptionerParams, type ResolvedCaptionerConfig } from "../caption/model.js";
import { ciderD, cocoBleu } from "../metrics/index.js";
import { captionBatches, type CaptionExample, captionExamples } from "./batches.js";
import { type CaptionInput, type CaptionSet, pickInputs, resolveCaptionInput, sliceSet } from "./data.js";

/** How to train a captioner: plain JSON, the same as `unroll train caption`'s flags or config file. */
export interface TrainCaptionConfig {
  /** Video captioning: inputs are `[N, T, 3, S, S]` frames (default false). */
  readonly video?: boolean;
  /** Image size, frames per video, normalisation (see `CaptionInput`). */
  readonly input?: Partial<CaptionInput>;
  /** Words seen fewer times are unknown (default 2). */
  readonly minFrequency?: number;
  /** Lowercase the captions (default true: COCO's scorers lowercase too). */
  readonly lowercase?: boolean;
  /** Captions are cut to this many words for training (default 30). */
  readonly maxLength?: number;
  readonly model?: Partial<Omit<CaptionerConfig, "vocabSize" | "video">>;
  readonly optimizer?: OptimizerSettings;
  readonly schedule?: ScheduleSettings;
  /** Global-norm gradient clipping (default 5, 0 to disable). */
  readonly clip?: number;
  /** Captions per batch (default 32). */
  readonly batchSize?: number;
  readonly steps?: number;
  readonly epochs?: number;
  readonly timeBudgetMinutes?: number;
  /** Dev loss, BLEU and CIDEr-D every N steps (default 250) and at the end. */
  readonly evalEvery?: number;
  /** Dev images captioned (greedily) at each evaluation (default 500; the dev loss reads all). */
  readonly evalImages?: number;
  readonly seed?: number;
  readonly kernels?: "auto" | "wasm" | "reference";
  readonly threads?: number;
  /** Where the captions came from (paths), kept with checkpoints for `eval caption` and resuming. */
  readonly data?: string;
  readonly dev?: string;
}

/** What a captioning checkpoint's config holds: enough to rebuild the model, its vocabulary and its input. */
export interface CaptionCheckpointConfig {
  readonly kind: "caption-model";
  readonly model: ResolvedCaptionerConfig;
  readonly vocabulary: VocabularyJSON;
  readonly input: CaptionInput;
  readonly training: TrainCaptionConfig;
  /** The training captions' fingerprint (sha256 of `file name<TAB>caption` lines), checked on resume. */
  readonly corpus?: CorpusFingerprint;
}

export interface CaptionEvaluation extends EvalResult {
  readonly loss: number;
  readonly perplexity: number;
  /** COCO BLEU-4 (0-1). */
  readonly bleu4: number;
  /** COCO CIDEr-D (pycocoevalcap's scale: 1 is a good captioner on COCO). */
  readonly cider: number;
}

export interface TrainCaptionOptions {
  readonly train: CaptionSet;
  /** Held-out images for model selection; without them the last 5% of `train` (at most 500) are held out. */
  readonly dev?: CaptionSet;
  readonly config?: TrainCaptionConfig;
  readonly checkpointDir?: string;
  readonly checkpointEvery?: number;
  readonly keepCheckpoints?: number;
  /** Continue the run in `checkpointDir` exactly (steps, time, kernels and threads may change). */
  readonly resume?: boolean;
  readonly signal?: AbortSignal;
  /** Called with the model before any parameter is allocated (the CLI checks the size here). */
  readonly beforeInit?: (model: Captioner, config: TrainCaptionConfig) => void;
  readonly onTrainer?: (trainer: Trainer<CaptionerParams, CaptionBatch, never>, info: TrainCaptionInfo) => void | Promise<void>;
  /** After each evaluation: the dev loss, BLEU-4 and CIDEr-D. */
  readonly onEvaluation?: (step: number, result: CaptionEvaluation) => void;
}

export interface TrainCaptionInfo {
  readonly model: Captioner;
  readonly vocabulary: Vocabulary;
  readonly input: CaptionInput;
  readonly trainImages: number;
  readonly trainCaptions: number;
  /** Training captions cut to `maxLength` words. */
  readonly truncatedCaptions: number;
  readonly devImages: number;
  readonly parameters: number;
  readonly kernels: string;
  readonly resumedFrom: number | null;
  readonly targetSteps: number | null;
  readonly batchesPerEpoch: number;
}

export interface TrainCaptionResult extends TrainCaptionInfo {
  readonly params: CaptionerParams;
  readonly stopReason: StopReason;
  readonly steps: number;
  readonly evaluation: CaptionEvaluation | null;
  readonly evaluations: readonly { readonly step: number; readonly result: CaptionEvaluation }[];
}

function baseName(path: string): string {
  return path.slice(Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1);
}

/** The fingerprint of a set's captions (file names, not folders: a moved data folder is the same data). */
export function captionFingerprint(set: CaptionSet): Promise<CorpusFingerprint> {
  return corpusFingerprint(set.ids.map((id, i) => set.captions[i]!.map((c) => `${baseName(id)}\t${c}\n`).join("")).join(""));
}

/** Teacher-forced cross-entropy (nats per token, the end symbol included) over every caption of `examples`. */
export function captionLoss(model: Captioner, params: CaptionerParams, set: CaptionSet, examples: readonly CaptionExample[], options: { readonly batchSize?: number } = {}): { loss: number; perplexity: number; tokens: number } {
  const B = options.batchSize ?? 64;
  let total = 0;
  let tokens = 0;
  noGrad(() => {
    for (let i = 0; i < examples.length; i += B) {
      const chosen = examples.slice(i, i + B);
      const batch = captionBatch(pickInputs(set.inputs, chosen.map((e) => e.input)), chosen.map((e) => e.tokens));
      const { logits } = model.forward(params, batch);
      total += softmaxCrossEntropy(logits, reshape(batch.tgtOut, [batch.tgtOut.size]), { reduction: "sum", ignoreIndex: -100 }).item();
      tokens += batch.tokens;
    }
  });
  const loss = total / tokens;
  return { loss, perplexity: Math.exp(loss), tokens };
}

/** Captions for every input of a set, in batches. */
export async function captionSet(model: Captioner, params: CaptionerParams, vocabulary: Vocabulary, set: CaptionSet, options: CaptionOptions & { readonly batchSize?: number } = {}): Promise<Caption[]> {
  const B = options.batchSize ?? 64;
  const out: Caption[] = [];
  const M = set.inputs.shape[0]!;
  for (let i = 0; i < M; i += B) out.push(...(await caption(model, params, vocabulary, sliceSet(set, i, Math.min(M, i + B)).inputs, options)));
  return out;
}

/** COCO BLEU-1..4 and CIDEr-D of captions against a set's references (an empty caption is scored as "a": the scorers refuse empty ones). */
export function scoreCaptions(set: CaptionSet, hypotheses: readonly string[]): { bleu: number[]; cider: number } {
  const key = (i: number): string => `${i}`;
  const hyps = Object.fromEntries(hypotheses.map((h, i) => [key(i), h.trim() === "" ? "a" : h]));
  const refs = Object.fromEntries(hypotheses.map((_, i) => [key(i), [...set.captions[i]!]]));
  return { bleu: [...cocoBleu(hyps, refs).bleu], cider: ciderD(hyps, refs).score };
}

/**
 * A trained captioner's captions of a set scored with COCO BLEU-1..4 and CIDEr-D against all of
 * each image's references, and the teacher-forced dev loss. Greedy unless `options.beamSize` says.
 */
export async function evaluateCaptions(
  model: Captioner,
  params: CaptionerParams,
  vocabulary: Vocabulary,
  set: CaptionSet,
  options: CaptionOptions & { readonly maxLengthForLoss?: number } = {},
): Promise<{ bleu: number[]; cider: number; loss: number; perplexity: number; captions: Caption[] }> {
  if (set.inputs.shape[0] === 0) throw new ValueRangeError("evaluateCaptions", "there are no images to evaluate on");
  const captions = await captionSet(model, params, vocabulary, set, options);
  const { bleu, cider } = scoreCaptions(set, captions.map((c) => c.text));
  const loss = captionLoss(model, params, set, captionExamples(set, vocabulary, options.maxLengthForLoss ?? Infinity).examples);
  return { bleu, cider, loss: loss.loss, perplexity: loss.perplexity, captions };
}

/** A captioner's parameters from a state dict (the names of `parameterShapes`), checked against the model. */
export function captionerParamsFromStateDict(model: Captioner, tensors: Readonly<Record<string, Tensor>>): CaptionerParams {
  const expected = new Map(Object.entries(model.parameterShapes()).map(([name, shape]) => [name, { shape, dtype: "float32" as const }]));
  const problems = checkStateDict(expected, tensors, { finite: true });
  if (problems.length > 0) throw new ShapeError("Captioner", `the weights do not fit this model: ${problems.join("; ")}`);
  // The parameter tree's structure from a throwaway init; its leaves are replaced by name.
  const skeleton = model.init(new Rng(0));
  const names = treeEntries(skeleton).map(([name]) => name);
  return treeMap(skeleton, (_, i) => tensors[names[i]!]!);
}

/**
 * Trains a captioner on captioned images (or videos): the vocabulary, shuffled (image, caption)
 * batches, the model, a trainer (Adam 2e-3, clipping 5), dev loss + COCO BLEU-4 + CIDEr-D at
 * intervals, checkpoints that resume exactly. The CLI's `train caption` / `train video` are thin
 * layers over this.
 */
export async function trainCaptionModel(options: TrainCaptionOptions): Promise<TrainCaptionResult> {
  let config = options.config ?? {};
  let vocabulary: Vocabulary;
  let modelConfig: CaptionerConfig;
  let input: CaptionInput;
  let resumed: Checkpoint | null = null;
  if (options.resume) {
    if (!options.checkpointDir) throw new TypeError("trainCaptionModel: resume needs checkpointDir");
    resumed = await loadCheckpoint(options.checkpointDir);
    const saved = captionConfigOf(resumed, options.checkpointDir);
    const limits = options.config ?? {};
    config = resumedConfig(saved.training, limits);
    vocabulary = Vocabulary.fromJSON(saved.vocabulary);
    modelConfig = saved.model;
    input = saved.input;
  } else {
    // The pretrained MobileNetV2 reads 224×224 images in [0, 1], as nsfwjs feeds it.
    const pretrained = config.model?.encoder?.kind === "mobilenet" ? { imageSize: 224 } : {};
    input = resolveCaptionInput({ ...pretrained, ...config.input }, config.video ?? false);
    vocabulary = Vocabulary.fit(
      options.train.captions.flat(),
      { kind: "word", minFrequency: config.minFrequency ?? 2, lowercase: config.lowercase ?? true },
    );
    modelConfig = { decoder: "attention", embeddingSize: 64, hiddenSize: 128, encoder: { channels: [16, 32, 64], blocks: 1 }, ...config.model, vocabSize: vocabulary.size, video: config.video ?? false };
  }
  const expectedShape = input.frames === null ? [3, input.imageSize, input.imageSize] : [input.frames, 3, input.imageSize, input.imageSize];
  for (const [name, set] of [["training", options.train], ["dev", options.dev]] as const) {
    if (set && set.inputs.shape.slice(1).join(",") !== expectedShape.join(",")) {
      throw new ValueRangeError("trainCaptionModel", `the ${name} inputs are [${set.inputs.shape.join(", ")}], but this model reads [N, ${expectedShape.join(", ")}]: prepare them with the model's input settings (captionInputs / loadCaptionSet)`);
    }
  }
  const corpus = await captionFingerprint(options.train);
  if (resumed) {
    const recorded = captionConfigOf(resumed, options.checkpointDir!).corpus;
    if (recorded !== undefined && recorded.sha256 !== corpus.sha256) {
      throw new DataError("CHANGED", `these training captions are not the ones the run in ${options.checkpointDir} was trained on (sha256 ${corpus.sha256}; the checkpoint records ${recorded.sha256})`, {
        path: config.data ?? options.checkpointDir!,
      });
    }
  }
  const kernels = selectKernels(config.kernels, config.threads);
  let trainSet = options.train;
  let devSet = options.dev ?? null;
  if (!devSet) {
    const M = trainSet.inputs.shape[0]!;
    const held = Math.min(500, Math.floor(M * 0.05));
    devSet = held > 0 ? sliceSet(trainSet, M - held, M) : null;
    trainSet = held > 0 ? sliceSet(trainSet, 0, M - held) : trainSet;
  }
  const maxLength = config.maxLength ?? 30;
  const { examples, truncated } = captionExamples(trainSet, vocabulary, maxLength);
  const devExamples = devSet ? captionExamples(devSet, vocabulary, Infinity).examples : [];
  const evalSet = devSet ? sliceSet(devSet, 0, Math.min(devSet.inputs.shape[0]!, config.evalImages ?? 500)) : null;
  const model = await Captioner.create(modelConfig);
  options.beforeInit?.(model, config);
  const params = model.init(new Rng(config.seed ?? 0));
  const data = captionBatches(trainSet, examples, { batchSize: config.batchSize ?? 32, seed: config.seed ?? 0 });
  const steps = config.steps ?? (config.epochs !== undefined ? Math.ceil(config.epochs * data.batchesPerEpoch) : undefined);
  const checkpointConfig: CaptionCheckpointConfig = { kind: "caption-model", model: model.config, vocabulary: vocabulary.toJSON(), input, training: config, corpus };
  const evalEvery = config.evalEvery ?? 250;
  const evaluations: { step: number; result: CaptionEvaluation }[] = [];
  let lastLoss: { step: number; loss: number; perplexity: number } | null = null;
  const scoreAt = async (step: number): Promise<void> => {
    if (!devSet || !evalSet) return;
    const loss = lastLoss?.step === step ? lastLoss : { step, ...captionLoss(model, params, devSet, devExamples) };
    const captions = await captionSet(model, params, vocabulary, evalSet, { maxLength: maxLength + 1 });
    const { bleu, cider } = scoreCaptions(evalSet, captions.map((c) => c.text));
    const result: CaptionEvaluation = { loss: loss.loss, perplexity: loss.perplexity, bleu4: bleu[3]!, cider };
    evaluations.push({ step, result });
    options.onEvaluation?.(step, result);
  };
  let savedStep = resumed?.step ?? -1;
  const saveEvery = options.checkpointDir
    ? checkpointEvery<CaptionerParams, CaptionBatch, never>(options.checkpointDir, options.checkpointEvery ?? 500, {
        config: checkpointConfig,
        keep: options.keepCheckpoints ?? 3,
        onSaved: (_dir, step) => (savedStep = step),
      })
    : null;
  const lr = config.optimizer?.lr ?? 2e-3;
  const trainer: Trainer<CaptionerParams, CaptionBatch, never> = new Trainer<CaptionerParams, CaptionBatch, never>({
    params,
    loss: model.lossFunction(),
    data,
    optimizer: buildOptimizer(config.optimizer, 2e-3),
    schedule: buildSchedule(config.schedule, lr, steps),
    ...(config.clip !== 0 ? { clip: { maxNorm: config.clip ?? 5 } } : {}),
    ...(devExamples.length > 0
      ? {
          evaluate: {
            every: evalEvery,
            run: (p: CaptionerParams) => {
              const r = captionLoss(model, p, devSet!, devExamples);
              lastLoss = { step: trainer.step, loss: r.loss, perplexity: r.perplexity };
              return { loss: r.loss, perplexity: r.perplexity };
            },
          },
        }
      : {}),
    seed: config.seed ?? 0,
    afterStep: async (t, e) => {
      if (e.step % evalEvery === 0) await scoreAt(e.step);
      await saveEvery?.(t, e);
    },
  });
  if (resumed) trainer.restore(stateFromCheckpoint(resumed));
  let parameters = 0;
  for (const shape of Object.values(model.parameterShapes())) parameters += shape.reduce((a, b) => a * b, 1);
  const info: TrainCaptionInfo = {
    model,
    vocabulary,
    input,
    trainImages: trainSet.inputs.shape[0]!,
    trainCaptions: examples.length,
    truncatedCaptions: truncated,
    devImages: devSet?.inputs.shape[0] ?? 0,
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
  // As translation: the final model evaluated outside the trainer, not for a run stopped to be resumed.
  if (trainer.step > 0 && stopReason !== "stopped" && evaluations.at(-1)?.step !== trainer.step) await scoreAt(trainer.step);
  if (options.checkpointDir && savedStep !== trainer.step) {
    await saveTrainerCheckpoint(trainer, options.checkpointDir, { config: checkpointConfig, keep: options.keepCheckpoints ?? 3 });
  }
  return { ...info, params, stopReason, steps: trainer.step, evaluation: evaluations.at(-1)?.result ?? null, evaluations };
}

/** The captioning part of a checkpoint's config; a clear error for any other checkpoint. */
export function captionConfigOf(checkpoint: Checkpoint, where: string): CaptionCheckpointConfig {
  const saved = checkpoint.config as Partial<CaptionCheckpointConfig> | null;
  if (saved?.kind !== "caption-model" || !saved.model || !saved.vocabulary || !saved.input) {
    const kind = saved?.kind === undefined ? "no model description" : `"${String(saved.kind)}"`;
    const other = saved?.kind as string | undefined;
    const hint = other === "language-model" ? ": it is a language model (use `unroll sample` with it)" : other === "translation-model" ? ": it is a translation model (use `unroll translate` with it)" : "";
    throw new ValueRangeError("loadCaptionModel", `${where} holds a checkpoint of another kind (${kind}), not a captioning model${hint}`);
  }
  return saved as CaptionCheckpointConfig;
}

export interface LoadedCaptionModel {
  readonly model: Captioner;
  readonly params: CaptionerParams;
  readonly vocabulary: Vocabulary;
  readonly input: CaptionInput;
  readonly config: CaptionCheckpointConfig;
  readonly step: number;
}

/** A trained captioner from a checkpoint directory (or a run directory through latest.json). */
export async function loadCaptionModel(dirOrRoot: string): Promise<LoadedCaptionModel> {
  const checkpoint = await loadCheckpoint(dirOrRoot);
  const config = captionConfigOf(checkpoint, dirOrRoot);
  // A frozen MobileNetV2 is not in the checkpoint: it is imported from nsfwjs again (and checked against the fingerprint the checkpoint records).
  const model = await Captioner.create(config.model);
  const vocabulary = Vocabulary.fromJSON(config.vocabulary);
  if (vocabulary.size !== config.model.vocabSize) {
    throw new ValueRangeError("loadCaptionModel", `${dirOrRoot}: the vocabulary (${vocabulary.size} words) does not fit the model (${config.model.vocabSize})`);
  }
  const input = resolveCaptionInput(config.input, config.model.video);
  return { model, params: captionerParamsFromStateDict(model, checkpoint.params), vocabulary, input, config, step: checkpoint.step };
}
