import { noGrad, Rng, ValueRangeError } from "@unroll/tensor";
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
import { bucketedBatches } from "../data/bucketed.js";
import { DataError } from "../data/errors.js";
import { buildOptimizer, buildSchedule, type OptimizerSettings, resumedConfig, type ScheduleSettings } from "../train/recipe.js";
import { RunCheckpoints } from "../train/run-checkpoints.js";
import { selectKernels } from "../train/train-lm.js";
import { type ForecastBatch, type ResolvedForecasterConfig, SequenceForecaster, type SequenceForecasterConfig, type SequenceForecasterParams } from "./forecaster.js";
import { Standardizer, type StandardizerJSON } from "./scaler.js";
import { changeDeviation, chronologicalSplit, forecastBatch, type ForecastWindow, forecastWindows, lastValueForecast, seasonalForecast, type Series } from "./windows.js";

/** How to train a forecaster: plain JSON, the same as `unroll train forecast`'s flags or config file. */
export interface TrainForecastConfig {
  /** The columns read at every step (the target among them; added when left out). */
  readonly features: readonly string[];
  /** The column forecast. */
  readonly target: string;
  /** Steps read per forecast (default 48). */
  readonly window?: number;
  /** Steps forecast (default 1). */
  readonly horizon?: number;
  /** Training windows start this many steps apart (default 1). */
  readonly stride?: number;
  /** The last fractions of every series held out, in time order: dev then test (default 0.15 each). */
  readonly devFraction?: number;
  readonly testFraction?: number;
  /** The seasonal-naive baseline's period in steps (default: none). */
  readonly season?: number;
  /**
   * "change" (default): the model predicts each value's change from the last value read, so that
   * an untrained model is the naive forecast and a drifting series stays in the range it was
   * trained on; "value": the values themselves.
   */
  readonly predict?: "change" | "value";
  readonly model?: Partial<Omit<SequenceForecasterConfig, "inputSize" | "outputSize">>;
  readonly optimizer?: OptimizerSettings;
  readonly schedule?: ScheduleSettings;
  readonly clip?: number;
  /** Windows per batch (default 64). */
  readonly batchSize?: number;
  readonly steps?: number;
  readonly epochs?: number;
  readonly timeBudgetMinutes?: number;
  /** Dev error every N steps (default 200) and at the end. */
  readonly evalEvery?: number;
  readonly patience?: number;
  readonly seed?: number;
  readonly kernels?: "auto" | "wasm" | "reference";
  readonly threads?: number;
  /** Where the series came from and how they were grouped (kept with checkpoints). */
  readonly data?: string;
  readonly groupBy?: string;
  /** The name of the 0/1 column whose marks were passed as `exclude` (kept with checkpoints). */
  readonly exclude?: string;
}

export interface ForecasterCheckpointConfig {
  readonly kind: "sequence-forecaster";
  readonly model: ResolvedForecasterConfig;
  readonly scaler: StandardizerJSON;
  readonly target: string;
  readonly window: number;
  readonly horizon: number;
  readonly predict: "change" | "value";
  readonly changeScale: number;
  readonly training: TrainForecastConfig;
}

/** Forecast errors in the target's own units, over every predicted value of every window. */
export interface ForecastScores {
  readonly mae: number;
  readonly rmse: number;
  readonly windows: number;
}

export interface ForecastEvaluation extends EvalResult {
  /** Mean squared error of the scaled target (what the model minimises with "mse"). */
  readonly loss: number;
  readonly mae: number;
  readonly rmse: number;
}

export interface TrainForecastOptions {
  /** Row-major series `length × features.length`, raw (unscaled), in the order of `config.features`. */
  readonly series: readonly Series[];
  /**
   * What computes the gradients: the library's autodiff (default) or `onnxruntimeEngine()` of
   * @unroll/onnx (windows have one shape, so one graph serves the run). Not part of the run's settings.
   */
  readonly engine?: EngineFactory;
  /**
   * Per series, 1 at steps that training windows must not touch (readings known to be faults or
   * introduced events, which a forecaster of normal behaviour should not learn to expect). Dev and
   * test windows keep them: the scores are on everything.
   */
  readonly exclude?: readonly (ArrayLike<number> | null)[];
  readonly config: TrainForecastConfig;
  readonly checkpointDir?: string;
  readonly checkpointEvery?: number;
  readonly keepCheckpoints?: number;
  readonly resume?: boolean;
  readonly keepBest?: boolean;
  readonly signal?: AbortSignal;
  readonly onTrainer?: (trainer: Trainer<SequenceForecasterParams, ForecastBatch, never>, info: TrainForecastInfo) => void | Promise<void>;
  readonly onEvaluation?: (step: number, result: ForecastEvaluation) => void;
}

export interface TrainForecastInfo {
  readonly model: SequenceForecaster;
  readonly scaler: Standardizer;
  readonly target: string;
  readonly window: number;
  readonly horizon: number;
  readonly predict: "change" | "value";
  readonly changeScale: number;
  readonly trainWindows: number;
  readonly devWindows: number;
  readonly testWindows: number;
  readonly parameters: number;
  readonly kernels: string;
  readonly resumedFrom: number | null;
  readonly targetSteps: number | null;
  readonly batchesPerEpoch: number;
}

export interface TrainForecastResult extends TrainForecastInfo {
  readonly params: SequenceForecasterParams;
  readonly stopReason: StopReason;
  readonly steps: number;
  readonly evaluation: ForecastEvaluation | null;
  readonly best: (BestRecord & { readonly dir: string }) | null;
  /** The held-out test windows: the model's errors and the baselines' on the same windows. */
  readonly test: { readonly model: ForecastScores; readonly lastValue: ForecastScores; readonly seasonal: ForecastScores | null } | null;
}

/** What forecasting needs: a training result or a loaded checkpoint has it. */
export interface ForecasterParts {
  readonly model: SequenceForecaster;
  readonly params: SequenceForecasterParams;
  readonly scaler: Standardizer;
  readonly target: string;
  readonly window: number;
  readonly horizon: number;
  /** The model's outputs are changes from the last value read ("change") or values. */
  readonly predict: "change" | "value";
  /** With "change": the outputs are in units of this typical one-step change (scaled units). */
  readonly changeScale: number;
}

function scoresOf(pairs: Iterable<[Float64Array, Float64Array]>): ForecastScores {
  let abs = 0;
  let sq = 0;
  let n = 0;
  let windows = 0;
  for (const [predicted, actual] of pairs) {
    windows++;
    for (let k = 0; k < actual.length; k++) {
      const d = predicted[k]! - actual[k]!;
      abs += Math.abs(d);
      sq += d * d;
      n++;
    }
  }
  return { mae: abs / n, rmse: Math.sqrt(sq / n), windows };
}

function actualOf(s: Series, F: number, target: number, w: ForecastWindow, horizon: number): Float64Array {
  return Float64Array.from({ length: horizon }, (_, k) => s.values[(w.end + k) * F + target]!);
}

/** The model's forecasts of `windows` in the target's units, and its scaled MSE. */
function predictWindows(parts: ForecasterParts, scaled: readonly Float32Array[], windows: readonly ForecastWindow[], targetIndex: number): { predictions: Float64Array[]; scaledMse: number } {
  const F = parts.scaler.features.length;
  const shape = { window: parts.window, horizon: parts.horizon };
  const predictions: Float64Array[] = [];
  let sq = 0;
  let n = 0;
  const relative = parts.predict === "change";
  noGrad(() => {
    for (let i = 0; i < windows.length; i += 256) {
      const slice = windows.slice(i, i + 256);
      const batch = forecastBatch(scaled, F, targetIndex, shape, slice, relative, parts.changeScale);
      const out = parts.model.forward(parts.params, batch.inputs, batch.lengths).data;
      const K = parts.horizon;
      slice.forEach((w, b) => {
        const origin = relative ? scaled[w.series]![(w.end - 1) * F + targetIndex]! : 0;
        const p = new Float64Array(K);
        for (let k = 0; k < K; k++) {
          const d = out[b * K + k]! - batch.targets.data[b * K + k]!;
          sq += d * d;
          n++;
          p[k] = parts.scaler.unscale(targetIndex, relative ? origin + out[b * K + k]! * parts.changeScale : out[b * K + k]!);
        }
        predictions.push(p);
      });
    }
  });
  return { predictions, scaledMse: sq / n };
}

/** The checked, scaled data of a forecasting run: what `trainForecaster` trains on. */
export interface PreparedForecastData {
  readonly features: readonly string[];
  readonly F: number;
  /** The target's index among the features. */
  readonly target: number;
  readonly shape: { readonly window: number; readonly horizon: number };
  readonly predict: "change" | "value";
  readonly scaler: Standardizer;
  readonly scaled: Float32Array[];
  readonly changeScale: number;
  readonly trainWindows: ForecastWindow[];
  readonly devWindows: ForecastWindow[];
  readonly testWindows: ForecastWindow[];
}

/**
 * Checks series against a config and prepares them (time-ordered parts, scaling fitted on the
 * training parts, windows): every error a data set can bring (a constant feature, a series shorter
 * than a window, a target that is not a feature) comes from here, so a program can call it before
 * it creates anything on disk. `trainForecaster` calls it first.
 */
export function prepareForecastData(
  series: readonly Series[],
  config: TrainForecastConfig,
  options: { readonly exclude?: readonly (ArrayLike<number> | null)[]; readonly scaler?: StandardizerJSON; readonly changeScale?: number } = {},
): PreparedForecastData {
  const features = config.features;
  const F = features.length;
  const target = features.indexOf(config.target);
  if (target < 0) throw new ValueRangeError("trainForecaster", `the target "${config.target}" must be one of the features (${features.join(", ")})`);
  for (const [i, s] of series.entries()) {
    if (s.values.length !== s.length * F) throw new ValueRangeError("trainForecaster", `series ${i + 1} has ${s.values.length} values, not ${s.length} steps × ${F} features`);
  }
  const shape = { window: config.window ?? 48, horizon: config.horizon ?? 1 };
  const predict = config.predict ?? "change";
  if (predict !== "change" && predict !== "value") throw new ValueRangeError("trainForecaster", `predict must be "change" or "value", got ${JSON.stringify(predict)}`);
  const fractions = { dev: config.devFraction ?? 0.15, test: config.testFraction ?? 0.15 };
  const parts = series.map((s) => chronologicalSplit(s.length, fractions));
  const trainParts = series.map((s, i) => ({ values: s.values.subarray(0, parts[i]!.train * F), length: parts[i]!.train }));
  const scaler = options.scaler ? Standardizer.fromJSON(options.scaler) : Standardizer.fit(features, trainParts);
  const scaled = series.map((s) => scaler.transform(s.values));
  const changeScale =
    options.changeScale ?? changeDeviation(trainParts.map((s, i) => ({ values: scaled[i]!.subarray(0, s.length * F), length: s.length })), F, target);
  const excluded = (w: ForecastWindow): boolean => {
    const marks = options.exclude?.[w.series];
    if (!marks) return false;
    for (let t = w.end - shape.window; t < w.end + shape.horizon; t++) if (marks[t]) return true;
    return false;
  };
  const trainWindows = forecastWindows(series, shape, (_s, i) => ({ from: 0, to: parts[i]!.train }), config.stride ?? 1).filter((w) => !excluded(w));
  const devWindows = forecastWindows(series, shape, (_s, i) => ({ from: parts[i]!.train, to: parts[i]!.dev }), shape.horizon);
  const testWindows = forecastWindows(series, shape, (s, i) => ({ from: parts[i]!.dev, to: s.length }), shape.horizon);
  if (trainWindows.length === 0) throw new DataError("TOO_SHORT", `the training parts hold no window of ${shape.window} + ${shape.horizon} steps: use longer series or a smaller window`);
  return { features, F, target, shape, predict, scaler, scaled, changeScale, trainWindows, devWindows, testWindows };
}

/**
 * Trains a forecaster of the next `horizon` values of `target` from the last `window` steps of
 * every feature: chronological train/dev/test parts of every series (no shuffling across time),
 * per-feature standardisation fitted on the training parts only and saved with the model,
 * shuffled windows, Adam, clipping, dev errors in the target's units, checkpoints that resume
 * exactly, and at the end the test errors beside the naive last-value and seasonal baselines.
 */
export async function trainForecaster(options: TrainForecastOptions): Promise<TrainForecastResult> {
  let config = options.config;
  let resumed: Checkpoint | null = null;
  if (options.resume) {
    if (!options.checkpointDir) throw new TypeError("trainForecaster: resume needs checkpointDir");
    resumed = await loadCheckpoint(options.checkpointDir);
    const saved = forecasterConfigOf(resumed, options.checkpointDir);
    const limits = options.config;
    config = resumedConfig(saved.training, limits);
  }
  const saved = resumed ? forecasterConfigOf(resumed, options.checkpointDir!) : null;
  const prepared = prepareForecastData(options.series, config, { ...(options.exclude ? { exclude: options.exclude } : {}), ...(saved ? { scaler: saved.scaler, changeScale: saved.changeScale } : {}) });
  const { F, target, shape, predict, scaler, scaled, changeScale, trainWindows, devWindows, testWindows } = prepared;
  const kernels = selectKernels(config.kernels, config.threads);
  const model = new SequenceForecaster({ ...config.model, inputSize: F, outputSize: shape.horizon });
  if (resumed && JSON.stringify(forecasterConfigOf(resumed, options.checkpointDir!).model) !== JSON.stringify(model.config)) {
    throw new ValueRangeError("trainForecaster", `the run in ${options.checkpointDir} was trained with another model configuration`);
  }
  const params = model.init(new Rng(config.seed ?? 0));
  const data = bucketedBatches(trainWindows, {
    batchSize: config.batchSize ?? 64,
    seed: config.seed ?? 0,
    bucketPool: 1,
    op: "trainForecaster",
    noun: "windows",
    compare: () => 0,
    build: (ws) => forecastBatch(scaled, F, target, shape, ws, predict === "change", changeScale),
  });
  const steps = config.steps ?? (config.epochs !== undefined ? Math.ceil(config.epochs * data.batchesPerEpoch) : undefined);
  const checkpointConfig: ForecasterCheckpointConfig = { kind: "sequence-forecaster", model: model.config, scaler: scaler.toJSON(), target: config.target, window: shape.window, horizon: shape.horizon, predict, changeScale, training: config };
  const forecaster = (p: SequenceForecasterParams): ForecasterParts => ({ model, params: p, scaler, target: config.target, ...shape, predict, changeScale });
  const evaluations: { step: number; result: ForecastEvaluation }[] = [];
  const evaluate = (p: SequenceForecasterParams, step: number): ForecastEvaluation => {
    const { predictions, scaledMse } = predictWindows(forecaster(p), scaled, devWindows, target);
    const s = scoresOf(devWindows.map((w, i) => [predictions[i]!, actualOf(options.series[w.series]!, F, target, w, shape.horizon)]));
    const result = { loss: scaledMse, mae: s.mae, rmse: s.rmse };
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
  const trainer: Trainer<SequenceForecasterParams, ForecastBatch, never> = new Trainer<SequenceForecasterParams, ForecastBatch, never>({
    params,
    loss: model.lossFunction(),
    ...(options.engine ? { engine: options.engine } : {}),
    data,
    optimizer: buildOptimizer(config.optimizer, 1e-3),
    schedule: buildSchedule(config.schedule, config.optimizer?.lr ?? 1e-3, steps),
    ...(config.clip !== 0 ? { clip: { maxNorm: config.clip ?? 5 } } : {}),
    ...(devWindows.length > 0 ? { evaluate: { every: config.evalEvery ?? 200, run: (p: SequenceForecasterParams) => evaluate(p, trainer.step) } } : {}),
    ...(config.patience !== undefined ? { earlyStopping: { patience: config.patience } } : {}),
    seed: config.seed ?? 0,
    afterStep: checkpoints.afterStep,
  });
  checkpoints.watch(trainer);
  if (resumed) trainer.restore(stateFromCheckpoint(resumed));
  let parameters = 0;
  for (const s of Object.values(model.parameterShapes())) parameters += s.reduce((a, b) => a * b, 1);
  const info: TrainForecastInfo = {
    model,
    scaler,
    target: config.target,
    ...shape,
    predict,
    changeScale,
    trainWindows: trainWindows.length,
    devWindows: devWindows.length,
    testWindows: testWindows.length,
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
  const final = trainer.step > 0 && stopReason !== "stopped" && devWindows.length > 0 && evaluations.at(-1)?.step !== trainer.step ? evaluate(params, trainer.step) : null;
  await checkpoints.finish(trainer, final?.loss ?? null);
  const test = testWindows.length > 0 ? evaluateForecasts(forecaster(params), options.series, testWindows, config.season) : null;
  return { ...info, params, stopReason, steps: trainer.step, evaluation: evaluations.at(-1)?.result ?? null, best: checkpoints.best, test };
}

/** Errors of the model and of the naive baselines on the same windows (`season`: the seasonal baseline's period). */
export function evaluateForecasts(
  parts: ForecasterParts,
  series: readonly Series[],
  windows: readonly ForecastWindow[],
  season?: number,
): { model: ForecastScores; lastValue: ForecastScores; seasonal: ForecastScores | null } {
  if (windows.length === 0) throw new ValueRangeError("evaluateForecasts", "there are no windows to evaluate on");
  const F = parts.scaler.features.length;
  const target = parts.scaler.features.indexOf(parts.target);
  const scaled = series.map((s) => parts.scaler.transform(s.values));
  const { predictions } = predictWindows(parts, scaled, windows, target);
  const actual = windows.map((w) => actualOf(series[w.series]!, F, target, w, parts.horizon));
  return {
    model: scoresOf(windows.map((_, i) => [predictions[i]!, actual[i]!])),
    lastValue: scoresOf(windows.map((w, i) => [lastValueForecast(series[w.series]!, F, target, w, parts.horizon), actual[i]!])),
    seasonal: season ? scoresOf(windows.map((w, i) => [seasonalForecast(series[w.series]!, F, target, w, parts.horizon, season), actual[i]!])) : null,
  };
}

/** The next `horizon` values of the target after the last `window` rows of `recent` (row-major, raw, the model's features). */
export function forecastNext(parts: ForecasterParts, recent: Float64Array, rows: number): Float64Array {
  const F = parts.scaler.features.length;
  if (recent.length !== rows * F) throw new ValueRangeError("forecastNext", `${recent.length} values are not ${rows} rows × ${F} features`);
  if (rows < parts.window) throw new DataError("TOO_SHORT", `the model reads ${parts.window} steps, but only ${rows} rows were given`);
  const series = [{ values: recent, length: rows }];
  const scaled = series.map((s) => parts.scaler.transform(s.values));
  const target = parts.scaler.features.indexOf(parts.target);
  // The window ending at the last row; the batch builder reads no target past it for horizon 0.
  const window = { series: 0, end: rows };
  const padded = [Float32Array.from([...scaled[0]!, ...new Float32Array(parts.horizon * F)])];
  return predictWindows(parts, padded, [window], target).predictions[0]!;
}

/** The forecaster part of a checkpoint's config; a clear error for any other checkpoint. */
export function forecasterConfigOf(checkpoint: Checkpoint, where: string): ForecasterCheckpointConfig {
  const saved = checkpoint.config as Partial<ForecasterCheckpointConfig> | null;
  if (saved?.kind !== "sequence-forecaster" || !saved.model || !saved.scaler) {
    const kind = saved?.kind === undefined ? "no model description" : `"${String(saved.kind)}"`;
    throw new ValueRangeError("loadForecaster", `${where} holds a checkpoint of another kind (${kind}), not a forecaster`);
  }
  return saved as ForecasterCheckpointConfig;
}

export interface LoadedForecaster extends ForecasterParts {
  readonly config: ForecasterCheckpointConfig;
  readonly step: number;
}

export async function loadForecaster(dirOrRoot: string): Promise<LoadedForecaster> {
  const checkpoint = await loadCheckpoint(dirOrRoot);
  const config = forecasterConfigOf(checkpoint, dirOrRoot);
  const model = new SequenceForecaster({ ...config.model, inputSize: config.scaler.features.length });
  return {
    model,
    params: model.paramsFromStateDict(checkpoint.params),
    scaler: Standardizer.fromJSON(config.scaler),
    target: config.target,
    window: config.window,
    horizon: config.horizon,
    predict: config.predict,
    changeScale: config.changeScale,
    config,
    step: checkpoint.step,
  };
}

/**
 * The first `batch` dev windows of a loaded forecaster's series (its own scaling), as one batch:
 * what `unroll diagnose` reads the gradient flow on. Fewer dev windows than `batch` is an error.
 */
export function forecasterDevBatch(loaded: LoadedForecaster, series: readonly Series[], batch: number, exclude?: readonly (ArrayLike<number> | null)[]): ForecastBatch {
  const p = prepareForecastData(series, loaded.config.training, { scaler: loaded.config.scaler, changeScale: loaded.changeScale, ...(exclude ? { exclude } : {}) });
  if (p.devWindows.length < batch) throw new ValueRangeError("forecasterDevBatch", `the series have ${p.devWindows.length} dev windows, fewer than the ${batch} asked for`);
  return forecastBatch(p.scaled, p.F, p.target, p.shape, p.devWindows.slice(0, batch), p.predict === "change", p.changeScale);
}

