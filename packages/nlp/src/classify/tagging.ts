import { noGrad, reshape, Rng, softmax, softmaxCrossEntropy, ValueRangeError } from "@unroll/tensor";
import { type BestRecord, type Checkpoint, type EngineFactory, type EvalResult, loadCheckpoint, stateFromCheckpoint, type StopReason, Trainer } from "@unroll/train";
import { bucketedBatches } from "../data/bucketed.js";
import { DataError } from "../data/errors.js";
import { type CorpusFingerprint, corpusFingerprint } from "../train/checkpoint-config.js";
import { buildOptimizer, buildSchedule, type OptimizerSettings, resumedConfig, type ScheduleSettings } from "../train/recipe.js";
import { RunCheckpoints } from "../train/run-checkpoints.js";
import { resolveClassWeights } from "./train.js";
import { selectKernels } from "../train/train-lm.js";
import { type TaggedExample, taggingBatch } from "./batches.js";
import { LabelSet } from "./data.js";
import { classificationReport, type ClassificationReport } from "./metrics.js";
import { type ResolvedTaggerConfig, SequenceTagger, type SequenceTaggerConfig, type SequenceTaggerParams, type TaggingBatch } from "./tagger.js";

// Synced many-to-many from the command line to the checkpoint: CoNLL-style files of tagged tokens,
// a vocabulary of whole tokens (the tags belong to tokens, so a tokenizer must not split them), a
// bidirectional tagger trained by the Trainer, and per-token accuracy and macro-F1 over the tags.

/** One sentence of tokens with a tag each. */
export interface TaggedSentence {
  readonly tokens: readonly string[];
  readonly tags: readonly string[];
}

/**
 * Reads CoNLL-style tagged text: one `token<TAB>tag` per line, a blank line between sentences
 * (more columns are allowed: the token is the first, the tag the last, as in CoNLL-2003). A line
 * without a tab, or with an empty token or tag, is an error naming the file and line.
 */
export function parseTaggedTsv(content: string, path = "the input"): TaggedSentence[] {
  const out: TaggedSentence[] = [];
  let tokens: string[] = [];
  let tags: string[] = [];
  const flush = (): void => {
    if (tokens.length > 0) out.push({ tokens, tags });
    tokens = [];
    tags = [];
  };
  for (const [i, line] of content.split(/\r?\n/).entries()) {
    if (line.trim() === "") {
      flush();
      continue;
    }
    if (line.startsWith("-DOCSTART-")) continue;
    const where = `${path} line ${i + 1}`;
    const columns = line.split("\t").map((c) => c.trim());
    if (columns.length < 2) throw new DataError("MALFORMED", `${where} has no tab: each line must be "token<TAB>tag" (a blank line ends a sentence)`, { path });
    const token = columns[0]!;
    const tag = columns.at(-1)!;
    if (token === "") throw new DataError("MALFORMED", `${where} has an empty token before the tab`, { path });
    if (tag === "") throw new DataError("MALFORMED", `${where} (token "${token}") has an empty tag after the last tab`, { path });
    tokens.push(token);
    tags.push(tag);
  }
  flush();
  if (out.length === 0) throw new DataError("MALFORMED", `${path} holds no "token<TAB>tag" line`, { path });
  return out;
}

/** Whole tokens and their ids: 0 pads, 1 is the unknown token, the rest by frequency. */
export class TokenVocabulary {
  static readonly PAD = 0;
  static readonly UNK = 1;
  readonly tokens: readonly string[];
  readonly lowercase: boolean;
  private readonly ids: ReadonlyMap<string, number>;

  constructor(tokens: readonly string[], lowercase: boolean) {
    this.tokens = [...tokens];
    this.lowercase = lowercase;
    this.ids = new Map(tokens.map((t, i) => [t, i + 2]));
  }

  /** Tokens seen at least `minFrequency` times (default 1), the `maxTokens` most frequent (ties by first sight). */
  static fit(sentences: Iterable<readonly string[]>, options: { minFrequency?: number; maxTokens?: number; lowercase?: boolean } = {}): TokenVocabulary {
    const lowercase = options.lowercase ?? false;
    const counts = new Map<string, number>();
    for (const s of sentences) for (const t of s) {
      const k = lowercase ? t.toLowerCase() : t;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    const kept = [...counts].filter(([, n]) => n >= (options.minFrequency ?? 1));
    kept.sort((a, b) => b[1] - a[1]); // stable: equal counts keep their first-seen order
    return new TokenVocabulary(kept.slice(0, options.maxTokens ?? 50_000).map(([t]) => t), lowercase);
  }

  static fromJSON(json: unknown): TokenVocabulary {
    const j = json as { tokens?: unknown; lowercase?: unknown } | null;
    if (!j || !Array.isArray(j.tokens) || !j.tokens.every((t) => typeof t === "string") || typeof j.lowercase !== "boolean") {
      throw new ValueRangeError("TokenVocabulary", "not a token vocabulary (expected { tokens: string[], lowercase: boolean })");
    }
    return new TokenVocabulary(j.tokens as string[], j.lowercase);
  }

  /** Ids including padding and the unknown token. */
  get size(): number {
    return this.tokens.length + 2;
  }

  encode(tokens: readonly string[]): Int32Array {
    return Int32Array.from(tokens, (t) => this.ids.get(this.lowercase ? t.toLowerCase() : t) ?? TokenVocabulary.UNK);
  }

  toJSON(): { tokens: string[]; lowercase: boolean } {
    return { tokens: [...this.tokens], lowercase: this.lowercase };
  }
}

/** How to train a tagger: plain JSON, the same as `unroll train tag`'s flags or config file. */
export interface TrainTaggerConfig {
  /** Tokens seen fewer times are unknown (default 1). */
  readonly minFrequency?: number;
  /** The largest vocabulary (default 50,000). */
  readonly maxVocab?: number;
  /** Lowercase tokens (default false: case tells a name from a word). */
  readonly lowercase?: boolean;
  readonly model?: Partial<Omit<SequenceTaggerConfig, "vocabSize" | "inputSize" | "numTags" | "pooling">>;
  /** "balanced" weighs each tag by n / (tags · count) in the loss; or one weight per tag in name order; default none. */
  readonly classWeights?: "balanced" | "none" | readonly number[];
  readonly optimizer?: OptimizerSettings;
  readonly schedule?: ScheduleSettings;
  /** Global-norm gradient clipping (default 5, 0 to disable). */
  readonly clip?: number;
  /** Sentences per batch (default 32). */
  readonly batchSize?: number;
  readonly steps?: number;
  readonly epochs?: number;
  readonly timeBudgetMinutes?: number;
  /** Dev loss, per-token accuracy and macro-F1 every N steps (default 200) and at the end. */
  readonly evalEvery?: number;
  readonly patience?: number;
  readonly seed?: number;
  readonly kernels?: "auto" | "wasm" | "reference";
  readonly threads?: number;
  /** Where the sentences came from, kept with checkpoints for `eval tag` and resuming. */
  readonly data?: string;
  readonly dev?: string;
}

export interface TaggerCheckpointConfig {
  readonly kind: "sequence-tagger";
  readonly model: ResolvedTaggerConfig;
  readonly vocabulary: { tokens: string[]; lowercase: boolean };
  readonly tags: readonly string[];
  readonly training: TrainTaggerConfig;
  readonly corpus?: CorpusFingerprint;
}

export interface TaggerEvaluation extends EvalResult {
  /** Mean cross-entropy per token. */
  readonly loss: number;
  /** Tokens tagged right. */
  readonly accuracy: number;
  readonly macroF1: number;
}

export interface TrainTaggerOptions {
  readonly train: readonly TaggedSentence[];
  /** Held-out sentences for model selection; without them the last 10% of `train` are held out. */
  readonly dev?: readonly TaggedSentence[];
  readonly config?: TrainTaggerConfig;
  readonly engine?: EngineFactory;
  readonly checkpointDir?: string;
  readonly checkpointEvery?: number;
  readonly keepCheckpoints?: number;
  /** Continue the run in `checkpointDir` exactly (steps, time, patience, kernels and threads may change). */
  readonly resume?: boolean;
  /** Keep the checkpoint of the lowest dev loss in `<checkpointDir>/best`. */
  readonly keepBest?: boolean;
  readonly signal?: AbortSignal;
  readonly beforeInit?: (model: SequenceTagger, config: TrainTaggerConfig) => void;
  readonly onTrainer?: (trainer: Trainer<SequenceTaggerParams, TaggingBatch, never>, info: TrainTaggerInfo) => void | Promise<void>;
  readonly onEvaluation?: (step: number, result: TaggerEvaluation) => void;
}

export interface TrainTaggerInfo {
  readonly model: SequenceTagger;
  readonly vocabulary: TokenVocabulary;
  readonly tags: LabelSet;
  readonly trainSentences: number;
  readonly trainTokens: number;
  readonly devSentences: number;
  /** Training tokens per tag, in tag order. */
  readonly tagCounts: readonly number[];
  readonly classWeights: readonly number[] | null;
  readonly parameters: number;
  readonly kernels: string;
  readonly resumedFrom: number | null;
  readonly targetSteps: number | null;
  readonly batchesPerEpoch: number;
}

export interface TrainTaggerResult extends TrainTaggerInfo {
  readonly params: SequenceTaggerParams;
  readonly stopReason: StopReason;
  readonly steps: number;
  readonly evaluation: TaggerEvaluation | null;
  readonly evaluations: readonly { readonly step: number; readonly result: TaggerEvaluation }[];
  readonly best: (BestRecord & { readonly dir: string }) | null;
}

/** Sentences to ids; a tag the tag set lacks is an error naming the sentence and token. */
export function encodeSentences(sentences: readonly TaggedSentence[], vocabulary: TokenVocabulary, tags: LabelSet, where = "sentence"): TaggedExample[] {
  return sentences.map((s, i) => {
    if (s.tokens.length === 0) throw new DataError("MALFORMED", `${where} ${i + 1} has no token`);
    if (s.tags.length !== s.tokens.length) throw new DataError("MALFORMED", `${where} ${i + 1} has ${s.tokens.length} tokens but ${s.tags.length} tags`);
    return { ids: vocabulary.encode(s.tokens), tags: Int32Array.from(s.tags, (t, k) => tags.id(t, `${where} ${i + 1}, token ${k + 1} ("${s.tokens[k]}")`)) };
  });
}

/** Predicted tags (and each prediction's probability) of encoded sentences, batched by length. */
function predict(model: SequenceTagger, params: SequenceTaggerParams, examples: readonly TaggedExample[], batchSize = 64): { loss: number; tags: Int32Array[]; confidence: Float32Array[] } {
  const order = Array.from(examples.keys()).sort((a, b) => examples[a]!.ids.length - examples[b]!.ids.length || a - b);
  const tags = new Array<Int32Array>(examples.length);
  const confidence = new Array<Float32Array>(examples.length);
  let total = 0;
  let tokens = 0;
  noGrad(() => {
    for (let i = 0; i < order.length; i += batchSize) {
      const idx = order.slice(i, i + batchSize);
      const batch = taggingBatch(idx.map((j) => examples[j]!));
      const logits = model.forward(params, batch.inputs, batch.lengths);
      const [T, B, C] = logits.shape as [number, number, number];
      total += softmaxCrossEntropy(reshape(logits, [T * B, C]), reshape(batch.tags, [T * B]), { reduction: "sum", ignoreIndex: -100 }).item();
      tokens += batch.tokens;
      const p = softmax(logits, -1).data;
      idx.forEach((j, b) => {
        const n = examples[j]!.ids.length;
        const best = new Int32Array(n);
        const prob = new Float32Array(n);
        for (let t = 0; t < n; t++) {
          const at = (t * B + b) * C;
          let k = 0;
          for (let c = 1; c < C; c++) if (p[at + c]! > p[at + k]!) k = c;
          best[t] = k;
          prob[t] = p[at + k]!;
        }
        tags[j] = best;
        confidence[j] = prob;
      });
    }
  });
  return { loss: total / tokens, tags, confidence };
}

/** Dev loss per token, predictions and the report over every token (accuracy, per-tag F1, confusion). */
export function evaluateTaggerOn(model: SequenceTagger, params: SequenceTaggerParams, examples: readonly TaggedExample[], tags: LabelSet): { loss: number; report: ClassificationReport } {
  if (examples.length === 0) throw new ValueRangeError("evaluateTagger", "there are no sentences to evaluate on");
  const r = predict(model, params, examples);
  const gold = Int32Array.from(examples.flatMap((e) => Array.from(e.tags)));
  const predicted = Int32Array.from(r.tags.flatMap((t) => Array.from(t)));
  return { loss: r.loss, report: classificationReport(gold, predicted, tags.names) };
}

/**
 * Trains a tagger (one tag per token): the token vocabulary, the tag set, length-bucketed batches,
 * a bidirectional encoder with a per-step output layer, the Trainer (Adam, clipping), dev loss,
 * per-token accuracy and macro-F1 at intervals, checkpoints that resume exactly. `unroll train tag`
 * is a thin layer over this.
 */
export async function trainTagger(options: TrainTaggerOptions): Promise<TrainTaggerResult> {
  let config = options.config ?? {};
  let vocabulary: TokenVocabulary;
  let tags: LabelSet;
  let modelConfig: SequenceTaggerConfig;
  let resumed: Checkpoint | null = null;
  if (options.resume) {
    if (!options.checkpointDir) throw new TypeError("trainTagger: resume needs checkpointDir");
    resumed = await loadCheckpoint(options.checkpointDir);
    const saved = taggerConfigOf(resumed, options.checkpointDir);
    config = resumedConfig(saved.training, options.config ?? {});
    vocabulary = TokenVocabulary.fromJSON(saved.vocabulary);
    tags = new LabelSet(saved.tags);
    modelConfig = saved.model;
  } else {
    tags = LabelSet.fit(options.train.flatMap((s) => s.tags));
    vocabulary = TokenVocabulary.fit(
      options.train.map((s) => s.tokens),
      { minFrequency: config.minFrequency ?? 1, maxTokens: config.maxVocab ?? 50_000, lowercase: config.lowercase ?? false },
    );
    modelConfig = { ...config.model, vocabSize: vocabulary.size, numTags: tags.size };
  }
  const corpus = await corpusFingerprint(options.train.map((s) => s.tokens.map((t, k) => `${t}\t${s.tags[k]}\n`).join("") + "\n").join(""));
  if (resumed) {
    const recorded = taggerConfigOf(resumed, options.checkpointDir!).corpus;
    if (recorded !== undefined && recorded.sha256 !== corpus.sha256) {
      throw new DataError(
        "CHANGED",
        `these training sentences are not the ones the run in ${options.checkpointDir} was trained on (sha256 ${corpus.sha256}, ${options.train.length} sentences; the checkpoint records ${recorded.sha256})`,
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
  const encoded = encodeSentences(trainSet, vocabulary, tags, "training sentence");
  const devEncoded = encodeSentences(devSet, vocabulary, tags, "dev sentence");
  const classWeights = resolveClassWeights(config.classWeights, tags, trainSet.flatMap((s) => s.tags), { op: "trainTagger", noun: "tag" });
  // The weighted loss builds its weight table from the tags' values in JavaScript: a traced graph
  // would keep the first batch's.
  if (classWeights && options.engine && options.engine.name !== "library") {
    throw new ValueRangeError("trainTagger", `classWeights need the library's engine: the ${options.engine.name} engine cannot weigh tags yet`);
  }
  const model = new SequenceTagger(modelConfig);
  options.beforeInit?.(model, config);
  const params = model.init(new Rng(config.seed ?? 0));
  const data = bucketedBatches(encoded, {
    batchSize: config.batchSize ?? 32,
    seed: config.seed ?? 0,
    op: "trainTagger",
    noun: "sentences",
    compare: (a, b) => a.ids.length - b.ids.length,
    build: (items) => taggingBatch(items, options.engine?.lengthMultiple ?? 1),
  });
  const steps = config.steps ?? (config.epochs !== undefined ? Math.ceil(config.epochs * data.batchesPerEpoch) : undefined);
  const checkpointConfig: TaggerCheckpointConfig = { kind: "sequence-tagger", model: model.config, vocabulary: vocabulary.toJSON(), tags: tags.names, training: config, corpus };
  const evaluations: { step: number; result: TaggerEvaluation }[] = [];
  const evaluate = (p: SequenceTaggerParams, step: number): TaggerEvaluation => {
    const r = evaluateTaggerOn(model, p, devEncoded, tags);
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
  const trainer: Trainer<SequenceTaggerParams, TaggingBatch, never> = new Trainer<SequenceTaggerParams, TaggingBatch, never>({
    params,
    loss: model.lossFunction(classWeights ? { classWeights } : {}),
    ...(options.engine ? { engine: options.engine } : {}),
    data,
    optimizer: buildOptimizer(config.optimizer, 1e-3),
    schedule: buildSchedule(config.schedule, config.optimizer?.lr ?? 1e-3, steps),
    ...(config.clip !== 0 ? { clip: { maxNorm: config.clip ?? 5 } } : {}),
    ...(devEncoded.length > 0 ? { evaluate: { every: config.evalEvery ?? 200, run: (p: SequenceTaggerParams) => evaluate(p, trainer.step) } } : {}),
    ...(config.patience !== undefined ? { earlyStopping: { patience: config.patience } } : {}),
    seed: config.seed ?? 0,
    afterStep: checkpoints.afterStep,
  });
  checkpoints.watch(trainer);
  if (resumed) trainer.restore(stateFromCheckpoint(resumed));
  let parameters = 0;
  for (const shape of Object.values(model.parameterShapes())) parameters += shape.reduce((a, b) => a * b, 1);
  const info: TrainTaggerInfo = {
    model,
    vocabulary,
    tags,
    trainSentences: encoded.length,
    trainTokens: encoded.reduce((n, e) => n + e.ids.length, 0),
    devSentences: devEncoded.length,
    tagCounts: tags.counts(trainSet.flatMap((s) => s.tags)),
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

/** The tagger part of a checkpoint's config; a clear error for any other checkpoint. */
export function taggerConfigOf(checkpoint: Checkpoint, where: string): TaggerCheckpointConfig {
  const saved = checkpoint.config as Partial<TaggerCheckpointConfig> | null;
  if (saved?.kind !== "sequence-tagger" || !saved.model || !saved.vocabulary || !saved.tags) {
    const kind = saved?.kind === undefined ? "no model description" : `"${String(saved.kind)}"`;
    const hint: Record<string, string> = {
      "language-model": "it is a language model (use `unroll sample` with it)",
      "translation-model": "it is a translation model (use `unroll translate` with it)",
      "sequence-classifier": "it is a classifier (use `unroll classify` with it)",
    };
    const h = hint[String(saved?.kind)];
    throw new ValueRangeError("loadTagger", `${where} holds a checkpoint of another kind (${kind}), not a sequence tagger${h ? `: ${h}` : ""}`);
  }
  return saved as TaggerCheckpointConfig;
}

/** What tagging needs: a training result or a loaded checkpoint has all of it. */
export interface TaggerParts {
  readonly model: SequenceTagger;
  readonly params: SequenceTaggerParams;
  readonly vocabulary: TokenVocabulary;
  readonly tags: LabelSet;
}

export interface LoadedTagger extends TaggerParts {
  readonly config: TaggerCheckpointConfig;
  readonly step: number;
}

/** A trained tagger from a checkpoint directory (or a run directory through latest.json). */
export async function loadTagger(dirOrRoot: string): Promise<LoadedTagger> {
  const checkpoint = await loadCheckpoint(dirOrRoot);
  const config = taggerConfigOf(checkpoint, dirOrRoot);
  const model = new SequenceTagger(config.model);
  const vocabulary = TokenVocabulary.fromJSON(config.vocabulary);
  const tags = new LabelSet(config.tags);
  if (vocabulary.size !== config.model.vocabSize || tags.size !== config.model.numTags) {
    throw new ValueRangeError("loadTagger", `${dirOrRoot}: the vocabulary (${vocabulary.size} ids) and tags (${tags.size}) do not fit the model (${config.model.vocabSize}, ${config.model.numTags})`);
  }
  return { model, params: model.paramsFromStateDict(checkpoint.params), vocabulary, tags, config, step: checkpoint.step };
}

/** One token's prediction: its tag and that tag's probability. */
export interface TokenTag {
  readonly token: string;
  readonly tag: string;
  readonly probability: number;
}

/** Tags sentences of tokens with a trained or loaded tagger. */
export function tagSentences(loaded: TaggerParts, sentences: readonly (readonly string[])[]): TokenTag[][] {
  sentences.forEach((s, i) => {
    if (s.length === 0) throw new DataError("MALFORMED", `sentence ${i + 1} is empty: there is nothing to tag`);
  });
  const examples = sentences.map((s) => ({ ids: loaded.vocabulary.encode(s), tags: new Int32Array(s.length) }));
  const r = predict(loaded.model, loaded.params, examples);
  return sentences.map((s, i) => s.map((token, t) => ({ token, tag: loaded.tags.names[r.tags[i]![t]!]!, probability: r.confidence[i]![t]! })));
}

/** Scores a loaded tagger on tagged sentences: loss per token, accuracy, macro-F1 over the tags, confusion matrix. */
export function evaluateTagger(loaded: TaggerParts, sentences: readonly TaggedSentence[]): { loss: number; report: ClassificationReport } {
  return evaluateTaggerOn(loaded.model, loaded.params, encodeSentences(sentences, loaded.vocabulary, loaded.tags), loaded.tags);
}
