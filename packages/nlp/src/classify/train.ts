import { noGrad, Rng, softmax, softmaxCrossEntropy, type Tensor, ValueRangeError } from "@unroll/tensor";
import {
  type BestRecord,
  type Checkpoint,
  type EngineFactory,
  type EvalResult,
  loadCheckpoint,
  stateFromCheckpoint,
  type StopReason,
  Trainer,
} from "@unroll/train";
import { DataError } from "../data/errors.js";
import { type CorpusFingerprint, corpusFingerprint } from "../train/checkpoint-config.js";
import { buildOptimizer, buildSchedule, type OptimizerSettings, resumedConfig, type ScheduleSettings } from "../train/recipe.js";
import { RunCheckpoints } from "../train/run-checkpoints.js";
import { selectKernels } from "../train/train-lm.js";
import { type FitVocabularyOptions, Vocabulary, type VocabularyJSON } from "../seq2seq/vocabulary.js";
import { classificationBatch, classificationBatches, type EncodedExample } from "./batches.js";
import { type ClassificationBatch, predictedClasses, type ResolvedClassifierConfig, SequenceClassifier, type SequenceClassifierConfig, type SequenceClassifierParams } from "./classifier.js";
import { type LabelledText, LabelSet } from "./data.js";
import { classificationReport, type ClassificationReport } from "./metrics.js";

/** How to train a text classifier: plain JSON, the same as `unroll train classify`'s flags or config file. */
export interface TrainClassifyConfig {
  /** "word" (default), "bpe" or "char" tokens. */
  readonly vocabulary?: "word" | "bpe" | "char";
  /** Word pieces seen fewer times are unknown (default 2). */
  readonly minFrequency?: number;
  /** The largest word vocabulary (default 20,000). */
  readonly maxVocab?: number;
  /** BPE vocabulary size (default 4000). */
  readonly bpeVocabSize?: number;
  /** Lowercase word pieces (default true: case says little about a class and doubles the vocabulary). */
  readonly lowercase?: boolean;
  /** Texts are cut to their first this many tokens (default 400). */
  readonly maxLength?: number;
  readonly model?: Partial<Omit<SequenceClassifierConfig, "vocabSize" | "inputSize" | "numClasses">>;
  /** "balanced" weighs each class by n / (classes · count) in the loss; or one weight per class in label order; default none. */
  readonly classWeights?: "balanced" | "none" | readonly number[];
  readonly optimizer?: OptimizerSettings;
  readonly schedule?: ScheduleSettings;
  /** Global-norm gradient clipping (default 5, 0 to disable). */
  readonly clip?: number;
  /** Examples per batch (default 32). */
  readonly batchSize?: number;
  readonly steps?: number;
  readonly epochs?: number;
  readonly timeBudgetMinutes?: number;
  /** Dev loss, accuracy and macro-F1 every N steps (default 200) and at the end. */
  readonly evalEvery?: number;
  /** Early stopping after this many evaluations without a lower dev loss. May change on a resume. */
  readonly patience?: number;
  readonly seed?: number;
  readonly kernels?: "auto" | "wasm" | "reference";
  readonly threads?: number;
  /** Where the examples came from (a path or a data set name), kept with checkpoints for `eval classify` and resuming. */
  readonly data?: string;
  /** The dev file, when not a data set's own dev split. */
  readonly dev?: string;
  /** `sotu`: the presidents and the passage length the examples were cut with. */
  readonly presidents?: readonly string[];
  readonly passageWords?: number;
}

/** What a classifier checkpoint's config holds: enough to rebuild the model, its vocabulary and its classes. */
export interface ClassifierCheckpointConfig {
  readonly kind: "sequence-classifier";
  readonly model: ResolvedClassifierConfig;
  readonly vocabulary: VocabularyJSON;
  readonly labels: readonly string[];
  readonly maxLength: number;
  readonly training: TrainClassifyConfig;
  readonly corpus?: CorpusFingerprint;
}

export interface ClassifierEvaluation extends EvalResult {
  readonly loss: number;
  readonly accuracy: number;
  readonly macroF1: number;
}

export interface TrainClassifyOptions {
  readonly train: readonly LabelledText[];
  /** Held-out examples for model selection; without them the last 10% of `train` are held out. */
  readonly dev?: readonly LabelledText[];
  readonly config?: TrainClassifyConfig;
  readonly engine?: EngineFactory;
  readonly checkpointDir?: string;
  readonly checkpointEvery?: number;
  readonly keepCheckpoints?: number;
  /** Continue the run in `checkpointDir` exactly (steps, time, patience, kernels and threads may change). */
  readonly resume?: boolean;
  /** Keep the checkpoint of the lowest dev loss in `<checkpointDir>/best`. */
  readonly keepBest?: boolean;
  readonly signal?: AbortSignal;
  readonly beforeInit?: (model: SequenceClassifier, config: TrainClassifyConfig) => void;
  readonly onTrainer?: (trainer: Trainer<SequenceClassifierParams, ClassificationBatch, never>, info: TrainClassifyInfo) => void | Promise<void>;
  readonly onEvaluation?: (step: number, result: ClassifierEvaluation) => void;
}

export interface TrainClassifyInfo {
  readonly model: SequenceClassifier;
  readonly vocabulary: Vocabulary;
  readonly labels: LabelSet;
  /** Texts are cut to this many tokens. */
  readonly maxLength: number;
  readonly trainExamples: number;
  readonly devExamples: number;
  /** Training texts cut to `maxLength` tokens. */
  readonly truncated: number;
  readonly classCounts: readonly number[];
  readonly classWeights: readonly number[] | null;
  readonly parameters: number;
  readonly kernels: string;
  readonly resumedFrom: number | null;
  readonly targetSteps: number | null;
  readonly batchesPerEpoch: number;
}

export interface TrainClassifyResult extends TrainClassifyInfo {
  readonly params: SequenceClassifierParams;
  readonly stopReason: StopReason;
  readonly steps: number;
  readonly evaluation: ClassifierEvaluation | null;
  readonly evaluations: readonly { readonly step: number; readonly result: ClassifierEvaluation }[];
  readonly best: (BestRecord & { readonly dir: string }) | null;
}

/** Texts to encoded examples (cut to `maxLength` tokens; an empty text is an error naming it). */
export function encodeExamples(
  examples: readonly LabelledText[],
  vocabulary: Vocabulary,
  labels: LabelSet,
  maxLength: number,
  where = "example",
): { examples: EncodedExample[]; truncated: number } {
  let truncated = 0;
  const out = examples.map((e, i) => {
    let ids = vocabulary.encode(e.text);
    if (ids.length === 0) throw new DataError("MALFORMED", `${where} ${i + 1} (label "${e.label}") has no text`);
    if (ids.length > maxLength) {
      ids = ids.subarray(0, maxLength);
      truncated++;
    }
    return { ids, label: labels.id(e.label, `${where} ${i + 1}`) };
  });
  return { examples: out, truncated };
}

/** Dev loss (mean cross-entropy per example), predictions and the classification report. */
export function evaluateClassifierOn(
  model: SequenceClassifier,
  params: SequenceClassifierParams,
  examples: readonly EncodedExample[],
  labels: LabelSet,
  options: { batchSize?: number } = {},
): { loss: number; predicted: Int32Array; probabilities: Float32Array[]; report: ClassificationReport } {
  const size = options.batchSize ?? 64;
  // Similar lengths together: less padding; results are put back in the examples' order.
  const order = Array.from(examples.keys()).sort((a, b) => examples[a]!.ids.length - examples[b]!.ids.length || a - b);
  const predicted = new Int32Array(examples.length);
  const probabilities = new Array<Float32Array>(examples.length);
  let total = 0;
  noGrad(() => {
    for (let i = 0; i < order.length; i += size) {
      const idx = order.slice(i, i + size);
      const batch = classificationBatch(idx.map((j) => examples[j]!));
      const { logits } = model.forward(params, batch.inputs, batch.lengths);
      total += softmaxCrossEntropy(logits, batch.labels, { reduction: "sum" }).item();
      const p = softmax(logits, -1);
      const classes = predictedClasses(logits);
      const C = labels.size;
      idx.forEach((j, b) => {
        predicted[j] = classes[b]!;
        probabilities[j] = Float32Array.from(p.data.subarray(b * C, (b + 1) * C));
      });
    }
  });
  const report = classificationReport(Int32Array.from(examples, (e) => e.label), predicted, labels.names);
  return { loss: total / examples.length, predicted, probabilities, report };
}

/** A `classWeights` setting as numbers (null: unweighted); `noun` names what is weighted (class, tag) in errors. */
export function resolveClassWeights(
  setting: "balanced" | "none" | readonly number[] | undefined,
  labels: LabelSet,
  trainLabels: readonly string[],
  where: { readonly op: string; readonly noun: string } = { op: "trainClassifier", noun: "class" },
): number[] | null {
  if (setting === undefined || setting === "none") return null;
  if (setting === "balanced") return labels.balancedWeights(trainLabels);
  const plural = where.noun === "class" ? "classes" : `${where.noun}s`;
  if (!Array.isArray(setting)) throw new ValueRangeError(where.op, `classWeights must be "balanced", "none" or one number per ${where.noun}, got ${JSON.stringify(setting)}`);
  if (setting.length !== labels.size) {
    throw new ValueRangeError(where.op, `classWeights has ${setting.length} numbers but there are ${labels.size} ${plural} (${labels.names.join(", ")}, in this order)`);
  }
  return [...setting];
}

/**
 * Trains a many-to-one text classifier: vocabulary, labels, length-bucketed batches, the model, a
 * trainer (Adam, clipping), dev loss + accuracy + macro-F1 at intervals, checkpoints that resume
 * exactly. `unroll train classify` is a thin layer over this.
 */
export async function trainClassifier(options: TrainClassifyOptions): Promise<TrainClassifyResult> {
  let config = options.config ?? {};
  let vocabulary: Vocabulary;
  let labels: LabelSet;
  let modelConfig: SequenceClassifierConfig;
  let resumed: Checkpoint | null = null;
  if (options.resume) {
    if (!options.checkpointDir) throw new TypeError("trainClassifier: resume needs checkpointDir");
    resumed = await loadCheckpoint(options.checkpointDir);
    const saved = classifierConfigOf(resumed, options.checkpointDir);
    const limits = options.config ?? {};
    config = resumedConfig(saved.training, limits);
    vocabulary = Vocabulary.fromJSON(saved.vocabulary);
    labels = new LabelSet(saved.labels);
    modelConfig = saved.model;
  } else {
    labels = LabelSet.fit(options.train.map((e) => e.label));
    const fit: FitVocabularyOptions = {
      kind: config.vocabulary ?? "word",
      minFrequency: config.minFrequency ?? 2,
      maxVocab: config.maxVocab ?? 20_000,
      ...(config.bpeVocabSize !== undefined ? { bpeVocabSize: config.bpeVocabSize } : {}),
      ...((config.vocabulary ?? "word") === "word" ? { lowercase: config.lowercase ?? true } : {}),
    };
    vocabulary = Vocabulary.fit(options.train.map((e) => e.text), fit);
    modelConfig = { ...config.model, vocabSize: vocabulary.size, numClasses: labels.size };
  }
  const corpus = await corpusFingerprint(options.train.map((e) => `${e.label}\t${e.text}\n`).join(""));
  if (resumed) {
    const recorded = classifierConfigOf(resumed, options.checkpointDir!).corpus;
    if (recorded !== undefined && recorded.sha256 !== corpus.sha256) {
      throw new DataError(
        "CHANGED",
        `these training examples are not the ones the run in ${options.checkpointDir} was trained on (sha256 ${corpus.sha256}, ${options.train.length} examples; the checkpoint records ${recorded.sha256})`,
        { path: config.data ?? options.checkpointDir! },
      );
    }
  }
  const kernels = selectKernels(config.kernels, config.threads);
  let trainSet = options.train;
  let devSet = options.dev ?? [];
  if (!options.dev) {
    const held = Math.floor(trainSet.length * 0.1);
    devSet = trainSet.slice(trainSet.length - held);
    trainSet = trainSet.slice(0, trainSet.length - held);
  }
  const maxLength = config.maxLength ?? 400;
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new ValueRangeError("trainClassifier", `maxLength must be a positive integer, got ${maxLength}`);
  const encoded = encodeExamples(trainSet, vocabulary, labels, maxLength, "training example");
  const devEncoded = encodeExamples(devSet, vocabulary, labels, maxLength, "dev example").examples;
  const classWeights = resolveClassWeights(config.classWeights, labels, trainSet.map((e) => e.label));
  const model = new SequenceClassifier(modelConfig);
  options.beforeInit?.(model, config);
  const params = model.init(new Rng(config.seed ?? 0));
  const data = classificationBatches(encoded.examples, { batchSize: config.batchSize ?? 32, seed: config.seed ?? 0, lengthMultiple: options.engine?.lengthMultiple ?? 1 });
  const steps = config.steps ?? (config.epochs !== undefined ? Math.ceil(config.epochs * data.batchesPerEpoch) : undefined);
  const checkpointConfig: ClassifierCheckpointConfig = {
    kind: "sequence-classifier",
    model: model.config,
    vocabulary: vocabulary.toJSON(),
    labels: labels.names,
    maxLength,
    training: config,
    corpus,
  };
  const evalEvery = config.evalEvery ?? 200;
  const evaluations: { step: number; result: ClassifierEvaluation }[] = [];
  const evaluate = (p: SequenceClassifierParams, step: number): ClassifierEvaluation => {
    const r = evaluateClassifierOn(model, p, devEncoded, labels);
    const result = { loss: r.loss, accuracy: r.report.accuracy, macroF1: r.report.macroF1 };
    evaluations.push({ step, result });
    options.onEvaluation?.(step, result);
    return result;
  };
  const checkpoints = await RunCheckpoints.open({
    dir: options.checkpointDir,
    config: checkpointConfig,
    every: options.checkpointEvery ?? 500,
    keep: options.keepCheckpoints ?? 3,
    keepBest: options.keepBest ?? false,
    resumed,
  });
  const trainer: Trainer<SequenceClassifierParams, ClassificationBatch, never> = new Trainer<SequenceClassifierParams, ClassificationBatch, never>({
    params,
    loss: model.lossFunction(classWeights ? { classWeights } : {}),
    ...(options.engine ? { engine: options.engine } : {}),
    data,
    optimizer: buildOptimizer(config.optimizer, 1e-3),
    schedule: buildSchedule(config.schedule, config.optimizer?.lr ?? 1e-3, steps),
    ...(config.clip !== 0 ? { clip: { maxNorm: config.clip ?? 5 } } : {}),
    ...(devEncoded.length > 0 ? { evaluate: { every: evalEvery, run: (p: SequenceClassifierParams) => evaluate(p, trainer.step) } } : {}),
    ...(config.patience !== undefined ? { earlyStopping: { patience: config.patience } } : {}),
    seed: config.seed ?? 0,
    afterStep: checkpoints.afterStep,
  });
  checkpoints.watch(trainer);
  if (resumed) trainer.restore(stateFromCheckpoint(resumed));
  let parameters = 0;
  for (const shape of Object.values(model.parameterShapes())) parameters += shape.reduce((a, b) => a * b, 1);
  const info: TrainClassifyInfo = {
    model,
    vocabulary,
    labels,
    maxLength,
    trainExamples: encoded.examples.length,
    devExamples: devEncoded.length,
    truncated: encoded.truncated,
    classCounts: labels.counts(trainSet.map((e) => e.label)),
    classWeights,
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
  // The model as it ends, evaluated outside the trainer (its state stays an uninterrupted run's).
  const final = trainer.step > 0 && stopReason !== "stopped" && devEncoded.length > 0 && evaluations.at(-1)?.step !== trainer.step ? evaluate(params, trainer.step) : null;
  await checkpoints.finish(trainer, final?.loss ?? null);
  return { ...info, params, stopReason, steps: trainer.step, evaluation: evaluations.at(-1)?.result ?? null, evaluations, best: checkpoints.best };
}

/** The classifier part of a checkpoint's config; a clear error for any other checkpoint. */
export function classifierConfigOf(checkpoint: Checkpoint, where: string): ClassifierCheckpointConfig {
  const saved = checkpoint.config as Partial<ClassifierCheckpointConfig> | null;
  if (saved?.kind !== "sequence-classifier" || !saved.model || !saved.vocabulary || !saved.labels) {
    const kind = saved?.kind === undefined ? "no model description" : `"${String(saved.kind)}"`;
    const hint: Record<string, string> = { "language-model": "it is a language model (use `unroll sample` with it)", "translation-model": "it is a translation model (use `unroll translate` with it)" };
    const h = hint[String(saved?.kind)];
    throw new ValueRangeError("loadClassifier", `${where} holds a checkpoint of another kind (${kind}), not a sequence classifier${h ? `: ${h}` : ""}`);
  }
  return saved as ClassifierCheckpointConfig;
}

/** What classifying needs: a training result or a loaded checkpoint has all of it. */
export interface ClassifierParts {
  readonly model: SequenceClassifier;
  readonly params: SequenceClassifierParams;
  readonly vocabulary: Vocabulary;
  readonly labels: LabelSet;
  /** Texts are cut to this many tokens. */
  readonly maxLength: number;
}

export interface LoadedClassifier extends ClassifierParts {
  readonly config: ClassifierCheckpointConfig;
  readonly step: number;
}

/** A trained classifier from a checkpoint directory (or a run directory through latest.json). */
export async function loadClassifier(dirOrRoot: string): Promise<LoadedClassifier> {
  const checkpoint = await loadCheckpoint(dirOrRoot);
  const config = classifierConfigOf(checkpoint, dirOrRoot);
  const model = new SequenceClassifier(config.model);
  const vocabulary = Vocabulary.fromJSON(config.vocabulary);
  const labels = new LabelSet(config.labels);
  if (vocabulary.size !== config.model.vocabSize || labels.size !== config.model.numClasses) {
    throw new ValueRangeError("loadClassifier", `${dirOrRoot}: the vocabulary (${vocabulary.size} ids) and classes (${labels.size}) do not fit the model (${config.model.vocabSize}, ${config.model.numClasses})`);
  }
  return { model, params: model.paramsFromStateDict(checkpoint.params), vocabulary, labels, maxLength: config.maxLength, config, step: checkpoint.step };
}

/** One text's prediction: the class, every class's probability and, with attention pooling, the weight of each token. */
export interface Classification {
  readonly label: string;
  readonly probabilities: Readonly<Record<string, number>>;
  /** With attention pooling: each token's text and weight. */
  readonly attention?: readonly { readonly token: string; readonly weight: number }[];
}

/** Classifies texts with a trained or loaded classifier (texts cut to its `maxLength` tokens). */
export function classifyTexts(loaded: ClassifierParts, texts: readonly string[]): Classification[] {
  const { model, params, vocabulary, labels } = loaded;
  return texts.map((text, i) => {
    let ids = vocabulary.encode(text);
    if (ids.length === 0) throw new DataError("MALFORMED", `text ${i + 1} is empty: there is nothing to classify`);
    if (ids.length > loaded.maxLength) ids = ids.subarray(0, loaded.maxLength);
    const batch = classificationBatch([{ ids, label: 0 }]);
    return noGrad(() => {
      const out = model.forward(params, batch.inputs, batch.lengths);
      const p = softmax(out.logits, -1).data;
      const probabilities: Record<string, number> = {};
      labels.names.forEach((n, c) => (probabilities[n] = p[c]!));
      const label = labels.names[predictedClasses(out.logits)[0]!]!;
      const attention = out.attention ? Array.from(ids, (id, t) => ({ token: vocabulary.tokenText(id), weight: (out.attention as Tensor).data[t]! })) : undefined;
      return { label, probabilities, ...(attention ? { attention } : {}) };
    });
  });
}

/** Scores a loaded classifier on labelled texts: loss, accuracy, macro-F1, confusion matrix. */
export function evaluateClassifier(loaded: ClassifierParts, examples: readonly LabelledText[]): { loss: number; report: ClassificationReport } {
  if (examples.length === 0) throw new ValueRangeError("evaluateClassifier", "there are no examples to evaluate on");
  const encoded = encodeExamples(examples, loaded.vocabulary, loaded.labels, loaded.maxLength, "example").examples;
  const r = evaluateClassifierOn(loaded.model, loaded.params, encoded, loaded.labels);
  return { loss: r.loss, report: r.report };
}
