import { noGrad, Rng, softmaxCrossEntropy, Tensor, ValueRangeError } from "@unroll/tensor";
import { type Checkpoint, loadCheckpoint, stateFromCheckpoint, type StopReason, Trainer } from "@unroll/train";
import { bucketedBatches } from "../data/bucketed.js";
import { DataError } from "../data/errors.js";
import { buildOptimizer, type OptimizerSettings, resumedConfig } from "../train/recipe.js";
import { selectKernels } from "../train/train-lm.js";
import { type ClassificationBatch, predictedClasses, SequenceClassifier, type SequenceClassifierConfig, type SequenceClassifierParams } from "../classify/classifier.js";
import { classificationReport, type ClassificationReport } from "../classify/metrics.js";
import type { ClassifierEvaluation } from "../classify/train.js";
import { Standardizer, type StandardizerJSON } from "./scaler.js";
import { RunCheckpoints } from "../train/run-checkpoints.js";
import { chronologicalSplit, type ForecastWindow, forecastWindows, type Series } from "./windows.js";

export interface TrainWindowClassifierConfig {
  readonly features: readonly string[];
  /** Steps read per window (default 24); a window's class is its last step's. */
  readonly window?: number;
  readonly stride?: number;
  readonly devFraction?: number;
  readonly testFraction?: number;
  /** Per-class loss weights, or "balanced" (default): rare events count as much as the rest together. */
  readonly classWeights?: "balanced" | "none" | readonly number[];
  readonly model?: Partial<Omit<SequenceClassifierConfig, "vocabSize" | "inputSize" | "numClasses">>;
  readonly optimizer?: OptimizerSettings;
  readonly clip?: number;
  readonly batchSize?: number;
  /** Training steps (default 1000, or none with `timeBudgetMinutes` alone). */
  readonly steps?: number;
  /** Stop after this many minutes (with `steps`, whichever comes first). */
  readonly timeBudgetMinutes?: number;
  /** Dev loss, accuracy and macro-F1 every N steps (default 200), where the series have a dev part. */
  readonly evalEvery?: number;
  /** Stop after this many evaluations in a row without a lower dev loss. */
  readonly patience?: number;
  readonly seed?: number;
  readonly kernels?: "auto" | "wasm" | "reference";
  readonly threads?: number;
}

/** A dev evaluation of a window classifier: the mean cross-entropy (unweighted), accuracy and macro-F1. */
export type WindowEvaluation = ClassifierEvaluation;

export interface WindowClassifierResult {
  readonly model: SequenceClassifier;
  readonly params: SequenceClassifierParams;
  readonly scaler: Standardizer;
  readonly classes: readonly string[];
  readonly window: number;
  readonly trainWindows: number;
  readonly steps: number;
  readonly stopReason: StopReason;
  readonly resumedFrom: number | null;
  /** Scores on the last `testFraction` of every series (every window, stride 1), and on the dev part; null for an empty part. */
  readonly dev: ClassificationReport | null;
  readonly test: ClassificationReport | null;
  /** Every dev evaluation of the run, in order (this call's). */
  readonly evaluations: readonly { readonly step: number; readonly result: WindowEvaluation }[];
  /** best/'s step and dev loss (with `keepBest`), else null. */
  readonly best: { readonly step: number; readonly loss: number; readonly dir: string } | null;
}

/**
 * Window classification of numeric series: is the last step of this window an event (an anomaly,
 * a fault, a state)? `labels` gives a class id per step of each series; each window of `window`
 * steps is labelled by its last step. Time-ordered parts as in `trainForecaster`, features scaled
 * on the training part, class weights balanced by default (events are rare), a classifier over
 * numeric inputs (`SequenceClassifier` with `inputSize`), and the dev and test reports (per-class
 * F1: the event class's F1 is the detection score).
 */
export async function trainWindowClassifier(options: {
  readonly series: readonly Series[];
  readonly labels: readonly ArrayLike<number>[];
  readonly classes: readonly string[];
  readonly config: TrainWindowClassifierConfig;
  /** Where the checkpoints go (`loadWindowClassifier` reads the latest). */
  readonly checkpointDir?: string;
  /** A checkpoint every N steps (default 500) and at the end. */
  readonly checkpointEvery?: number;
  /** Continue the run in `checkpointDir` exactly (only steps, time, patience, kernels and threads may change). */
  readonly resume?: boolean;
  /** Keep the checkpoint of the lowest dev loss in `<checkpointDir>/best`. */
  readonly keepBest?: boolean;
  readonly signal?: AbortSignal;
  /** After each dev evaluation. */
  readonly onEvaluation?: (step: number, result: WindowEvaluation) => void;
  /** The trainer before it runs (progress, metrics), with the run's target steps. */
  readonly onTrainer?: (trainer: Trainer<SequenceClassifierParams, ClassificationBatch, never>, info: { readonly targetSteps: number | null; readonly trainWindows: number; readonly devWindows: number; readonly resumedFrom: number | null }) => void | Promise<void>;
  /** Recorded with the checkpoint: where the series came from, for `eval classify`. */
  readonly describe?: Readonly<Record<string, unknown>>;
}): Promise<WindowClassifierResult> {
  const { series, labels, classes } = options;
  let config = options.config;
  let resumed: Checkpoint | null = null;
  if (options.resume) {
    if (!options.checkpointDir) throw new TypeError("trainWindowClassifier: resume needs checkpointDir");
    resumed = await loadCheckpoint(options.checkpointDir);
    const saved = windowConfigOf(resumed, options.checkpointDir);
    config = resumedConfig(saved.training, options.config);
    if (saved.classes.join("\u0000") !== classes.join("\u0000")) {
      throw new ValueRangeError("trainWindowClassifier", `the run in ${options.checkpointDir} was trained on the classes ${saved.classes.join(", ")}, not ${classes.join(", ")}`);
    }
  }
  const F = config.features.length;
  const C = classes.length;
  if (labels.length !== series.length) throw new ValueRangeError("trainWindowClassifier", `${series.length} series but ${labels.length} label sequences`);
  series.forEach((s, i) => {
    if (labels[i]!.length !== s.length) throw new ValueRangeError("trainWindowClassifier", `series ${i + 1} has ${s.length} steps but ${labels[i]!.length} labels`);
    for (let t = 0; t < s.length; t++) {
      const y = labels[i]![t]!;
      if (!Number.isInteger(y) || y < 0 || y >= C) throw new DataError("MALFORMED", `series ${i + 1}, step ${t + 1}: label ${y} is not a class (0..${C - 1}: ${classes.join(", ")})`);
    }
  });
  const shape = { window: config.window ?? 24, horizon: 1 };
  const fractions = { dev: config.devFraction ?? 0.15, test: config.testFraction ?? 0.15 };
  const parts = series.map((s) => chronologicalSplit(s.length, fractions));
  const scaler = Standardizer.fit(config.features, series.map((s, i) => ({ values: s.values.subarray(0, parts[i]!.train * F), length: parts[i]!.train })));
  if (resumed && JSON.stringify(scaler.toJSON()) !== JSON.stringify(windowConfigOf(resumed, options.checkpointDir!).scaler)) {
    throw new DataError("CHANGED", `these series are not the ones the run in ${options.checkpointDir} was trained on (their training parts scale differently)`);
  }
  const scaled = series.map((s) => scaler.transform(s.values));
  // A window ending at step `end` reads [end - window, end) and is labelled by step end - 1: the
  // "horizon" of 1 here only keeps the window inside its part.
  const windowsIn = (range: (s: Series, i: number) => { from: number; to: number }, stride: number): ForecastWindow[] =>
    forecastWindows(series, shape, (s, i) => {
      const r = range(s, i);
      // Labelled steps end - 1 in [from, to): ends in [from + 1, to]; forecastWindows keeps end + 1 <= its `to`.
      return { from: r.from + 1, to: Math.min(s.length, r.to) + 1 };
    }, stride);
  const train = windowsIn((_s, i) => ({ from: 0, to: parts[i]!.train }), config.stride ?? 1);
  const dev = windowsIn((_s, i) => ({ from: parts[i]!.train, to: parts[i]!.dev }), 1);
  const test = windowsIn((s, i) => ({ from: parts[i]!.dev, to: s.length }), 1);
  const labelOf = (w: ForecastWindow): number => labels[w.series]![w.end - 1]!;
  const batchOf = (ws: readonly ForecastWindow[]): ClassificationBatch & { tokens: number } => {
    const T = shape.window;
    const B = ws.length;
    const inputs = new Float32Array(T * B * F);
    ws.forEach((w, b) => {
      for (let t = 0; t < T; t++) inputs.set(scaled[w.series]!.subarray((w.end - T + t) * F, (w.end - T + t + 1) * F), (t * B + b) * F);
    });
    return { inputs: new Tensor(inputs, [T, B, F]), lengths: new Tensor(new Int32Array(B).fill(T), [B]), labels: new Tensor(Int32Array.from(ws, labelOf), [B]), tokens: B };
  };
  const counts = new Array<number>(C).fill(0);
  for (const w of train) counts[labelOf(w)]!++;
  const setting = config.classWeights ?? "balanced";
  const classWeights =
    setting === "none" ? undefined : setting === "balanced" ? counts.map((n) => (n === 0 ? 1 : train.length / (C * n))) : [...setting];
  selectKernels(config.kernels, config.threads);
  const model = new SequenceClassifier({ pooling: "last", bidirectional: false, hiddenSize: 32, ...config.model, inputSize: F, numClasses: C });
  const params = model.init(new Rng(config.seed ?? 0));
  const data = bucketedBatches(train, { batchSize: config.batchSize ?? 64, seed: config.seed ?? 0, bucketPool: 1, op: "trainWindowClassifier", noun: "windows", compare: () => 0, build: batchOf });
  const checkpointConfig: WindowClassifierCheckpointConfig = {
    kind: "window-classifier",
    model: model.config,
    scaler: scaler.toJSON(),
    classes: [...classes],
    window: shape.window,
    training: config,
    ...(options.describe ? { data: options.describe } : {}),
  };
  const checkpoints = await RunCheckpoints.open({ dir: options.checkpointDir, config: checkpointConfig, every: options.checkpointEvery ?? 500, keepBest: options.keepBest ?? false, resumed });
  /** Predictions (and the summed cross-entropy) over windows, in batches of 512. */
  const predict = (p: SequenceClassifierParams, ws: readonly ForecastWindow[]): { predicted: Int32Array; lossSum: number } => {
    const predicted = new Int32Array(ws.length);
    let lossSum = 0;
    noGrad(() => {
      for (let i = 0; i < ws.length; i += 512) {
        const batch = batchOf(ws.slice(i, i + 512));
        const { logits } = model.forward(p, batch.inputs, batch.lengths);
        lossSum += softmaxCrossEntropy(logits, batch.labels, { reduction: "sum" }).item();
        predicted.set(predictedClasses(logits), i);
      }
    });
    return { predicted, lossSum };
  };
  const report = (ws: readonly ForecastWindow[]): ClassificationReport | null => (ws.length === 0 ? null : classificationReport(Int32Array.from(ws, labelOf), predict(params, ws).predicted, classes));
  const evaluations: { step: number; result: WindowEvaluation }[] = [];
  const evaluate = (p: SequenceClassifierParams, step: number): WindowEvaluation => {
    const { predicted, lossSum } = predict(p, dev);
    const r = classificationReport(Int32Array.from(dev, labelOf), predicted, classes);
    const result = { loss: lossSum / dev.length, accuracy: r.accuracy, macroF1: r.macroF1 };
    evaluations.push({ step, result });
    options.onEvaluation?.(step, result);
    return result;
  };
  const steps = config.steps ?? (config.timeBudgetMinutes !== undefined ? undefined : 1000);
  const trainer: Trainer<SequenceClassifierParams, ClassificationBatch, never> = new Trainer<SequenceClassifierParams, ClassificationBatch, never>({
    params,
    loss: model.lossFunction(classWeights ? { classWeights } : {}),
    data,
    optimizer: buildOptimizer(config.optimizer, 1e-3),
    ...(config.clip !== 0 ? { clip: { maxNorm: config.clip ?? 5 } } : {}),
    ...(dev.length > 0 ? { evaluate: { every: config.evalEvery ?? 200, run: (p: SequenceClassifierParams) => evaluate(p, trainer.step) } } : {}),
    ...(config.patience !== undefined ? { earlyStopping: { patience: config.patience } } : {}),
    seed: config.seed ?? 0,
    afterStep: checkpoints.afterStep,
  });
  checkpoints.watch(trainer);
  if (resumed) trainer.restore(stateFromCheckpoint(resumed));
  await options.onTrainer?.(trainer, { targetSteps: steps ?? null, trainWindows: train.length, devWindows: dev.length, resumedFrom: resumed?.step ?? null });
  const stopReason = await trainer.run({
    ...(steps !== undefined ? { steps } : {}),
    ...(config.timeBudgetMinutes !== undefined ? { timeBudgetMs: config.timeBudgetMinutes * 60_000 } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  // The model as it ends, evaluated outside the trainer (its state stays an uninterrupted run's).
  const final = trainer.step > 0 && stopReason !== "stopped" && dev.length > 0 && evaluations.at(-1)?.step !== trainer.step ? evaluate(params, trainer.step) : null;
  await checkpoints.finish(trainer, final?.loss ?? null);
  return { model, params, scaler, classes, window: shape.window, trainWindows: train.length, steps: trainer.step, stopReason, resumedFrom: resumed?.step ?? null, dev: report(dev), test: report(test), evaluations, best: checkpoints.best };
}

/** What a window classifier's checkpoint records. */
export interface WindowClassifierCheckpointConfig {
  readonly kind: "window-classifier";
  readonly model: SequenceClassifier["config"];
  readonly scaler: StandardizerJSON;
  readonly classes: readonly string[];
  readonly window: number;
  readonly training: TrainWindowClassifierConfig;
  readonly data?: Readonly<Record<string, unknown>>;
}

export interface LoadedWindowClassifier extends Pick<WindowClassifierResult, "model" | "params" | "scaler" | "classes" | "window"> {
  readonly config: WindowClassifierCheckpointConfig;
  readonly step: number;
}

/** The window-classifier part of a checkpoint's config; a clear error for any other checkpoint. */
export function windowConfigOf(checkpoint: Checkpoint, dir: string): WindowClassifierCheckpointConfig {
  const config = checkpoint.config as Partial<WindowClassifierCheckpointConfig> | null;
  if (config?.kind !== "window-classifier" || !config.model || !config.scaler) {
    throw new ValueRangeError("loadWindowClassifier", `${dir} holds a checkpoint of another kind (${config?.kind === undefined ? "no model description" : `"${String(config.kind)}"`}), not a window classifier`);
  }
  return config as WindowClassifierCheckpointConfig;
}

/** A window classifier from its checkpoint directory; a clear error for any other checkpoint. */
export async function loadWindowClassifier(dir: string): Promise<LoadedWindowClassifier> {
  const checkpoint = await loadCheckpoint(dir);
  const c = windowConfigOf(checkpoint, dir);
  const model = new SequenceClassifier({ ...c.model, inputSize: c.scaler.features.length });
  return { model, params: model.paramsFromStateDict(checkpoint.params), scaler: Standardizer.fromJSON(c.scaler), classes: c.classes, window: c.window, config: c, step: checkpoint.step };
}

/**
 * The class of every window of each series (the window of `window` rows ending at each row from
 * row `window` on), as `trainWindowClassifier` labels them: `classes[i][end - window]` is the
 * class of the window that ends at row `end` (1-based `end` = `window` ... length).
 */
export function classifyWindows(
  result: Pick<WindowClassifierResult, "model" | "params" | "scaler" | "window">,
  series: readonly Series[],
): Int32Array[] {
  const F = result.scaler.features.length;
  const T = result.window;
  return noGrad(() =>
    series.map((s, i) => {
      if (s.length < T) throw new DataError("TOO_SHORT", `series ${i + 1} has ${s.length} steps, fewer than one window (${T})`);
      const scaled = result.scaler.transform(s.values);
      const out = new Int32Array(s.length - T + 1);
      for (let start = T; start <= s.length; start += 512) {
        const ends = Array.from({ length: Math.min(512, s.length - start + 1) }, (_, k) => start + k);
        const B = ends.length;
        const inputs = new Float32Array(T * B * F);
        ends.forEach((end, b) => {
          for (let t = 0; t < T; t++) inputs.set(scaled.subarray((end - T + t) * F, (end - T + t + 1) * F), (t * B + b) * F);
        });
        const logits = result.model.forward(result.params, new Tensor(inputs, [T, B, F]), new Tensor(new Int32Array(B).fill(T), [B])).logits;
        out.set(predictedClasses(logits), start - T);
      }
      return out;
    }),
  );
}

/**
 * Scores a window classifier on other series (a sensor it never saw): every window of every
 * series, labelled by its last step, as `trainWindowClassifier` labels them.
 */
export function evaluateWindowClassifier(
  result: Pick<WindowClassifierResult, "model" | "params" | "scaler" | "classes" | "window">,
  series: readonly Series[],
  labels: readonly ArrayLike<number>[],
): ClassificationReport {
  const T = result.window;
  const predicted = classifyWindows(result, series);
  const gold: number[] = [];
  series.forEach((s, i) => {
    for (let end = T; end <= s.length; end++) gold.push(labels[i]![end - 1]!);
  });
  return classificationReport(gold, predicted.flatMap((p) => Array.from(p)), result.classes);
}
