import { noGrad, Rng, ValueRangeError } from "@unroll/tensor";
import { init, spectralRadius } from "@unroll/cells";
import { adam, sgd } from "../optim/index.js";
import { Trainer } from "../trainer.js";
import { buildModel, MODEL_KINDS, type ModelKind, type ModelParams, type SequenceModel } from "./models.js";
import { taskSource, taskTestSet } from "./source.js";
import { addingTask, copyTask, type SequenceBatch, type Task, type TaskMetrics } from "./tasks.js";

/**
 * Learning rates of the reference run (PyTorch, Adam): 1e-4 for the relu RNNs, 1e-3 for the LSTM;
 * 1e-3 (Adam's default) for the tanh RNN.
 */
export const DEFAULT_LR: Readonly<Record<ModelKind, number>> = { tanh: 1e-3, irnn: 1e-4, "np-rnn": 1e-4, lstm: 1e-3 };

/** What the runner reports while it trains (every step). */
export interface ProgressEvent {
  readonly model: string;
  readonly step: number;
  readonly steps: number;
  readonly loss: number;
  readonly gradNorm: number;
  readonly elapsedMs: number;
  readonly etaMs: number | null;
  /** Set on the steps where the test set was evaluated. */
  readonly test?: TaskMetrics;
}

export interface CurvePoint extends TaskMetrics {
  readonly step: number;
}

/** What one training run did, whatever the task. */
export interface TrainingOutcome {
  /** Applied optimiser steps (fewer than asked when the run diverged). */
  readonly steps: number;
  readonly test: TaskMetrics;
  /** Mean training loss over the last 100 applied steps (or fewer). */
  readonly finalTrainLoss: number;
  /** Largest global gradient norm before clipping; Infinity once a step's loss or gradient was NaN or infinite. */
  readonly maxGradNorm: number;
  /** Largest gradient norm over the applied (finite) steps. */
  readonly maxFiniteGradNorm: number;
  /** Fraction of applied steps whose gradient was clipped. */
  readonly clippedFraction: number;
  /** Steps dropped because the loss or the gradient norm was NaN or infinite. */
  readonly skippedSteps: number;
  /** The first step whose loss or gradient norm was not finite, or null. */
  readonly firstNonFiniteStep: number | null;
  /** A step was not finite, or the final test loss is not. */
  readonly diverged: boolean;
  readonly wallMs: number;
  /** Test metrics every `evalEvery` steps (and at the end). */
  readonly curve: readonly CurvePoint[];
}

export interface TrainOptions {
  readonly task: Task;
  readonly model: SequenceModel;
  readonly steps: number;
  readonly batchSize: number;
  readonly optimizer: "adam" | "sgd";
  readonly lr: number;
  /** Clip the global gradient norm to this (null: no clipping). */
  readonly clip: number | null;
  /** Seed of the training batches. */
  readonly dataSeed: number;
  readonly testSet: SequenceBatch;
  /** Evaluate on the test set every this many steps (0: only at the end). */
  readonly evalEvery?: number;
  /** A run stops as diverged after this many non-finite steps in a row (default 20). */
  readonly maxConsecutiveSkips?: number;
  readonly label?: string;
  readonly onProgress?: (event: ProgressEvent) => void;
  readonly signal?: AbortSignal;
}

/**
 * Trains one model on one task with the `Trainer`: fresh batches from a seeded stream, Adam or
 * SGD, optional clipping by global norm, non-finite steps skipped and counted (a run that keeps
 * producing them stops as diverged), then the metrics on the fixed test set.
 */
export async function trainOnTask(options: TrainOptions): Promise<TrainingOutcome> {
  const { task, model, steps, testSet } = options;
  const evalEvery = options.evalEvery ?? 0;
  const maxSkips = options.maxConsecutiveSkips ?? 20;
  const label = options.label ?? model.kind;
  const evaluate = (params: ModelParams): TaskMetrics => task.metrics(model.forward(params, testSet.x, task.readout), testSet);
  const trainer = new Trainer<ModelParams, SequenceBatch>({
    params: model.params,
    loss: (params, batch) => ({
      loss: task.loss(model.forward(params, batch.x, task.readout), batch),
      tokens: batch.x.shape[1]!,
    }),
    data: taskSource(task, { batchSize: options.batchSize, seed: options.dataSeed }),
    optimizer: options.optimizer === "sgd" ? sgd({ lr: options.lr }) : adam({ lr: options.lr }),
    ...(options.clip === null ? {} : { clip: { maxNorm: options.clip } }),
    nonFinite: "skip",
    // The trainer gives up past this many skips in a row; the run stops itself (as diverged) at it.
    guard: { maxRetries: maxSkips },
    ...(evalEvery > 0 ? { evaluate: { every: evalEvery, run: (p: ModelParams) => toEval(evaluate(p)) } } : {}),
  });

  const losses: number[] = [];
  const curve: CurvePoint[] = [];
  let maxGradNorm = 0;
  let maxFiniteGradNorm = 0;
  let skipsInARow = 0;
  let skipped = 0;
  let firstNonFinite: number | null = null;
  let last = { loss: NaN, gradNorm: NaN, elapsedMs: 0, etaMs: null as number | null };
  trainer.events.on("step", (e) => {
    skipsInARow = 0;
    losses.push(e.loss);
    maxFiniteGradNorm = Math.max(maxFiniteGradNorm, e.gradNorm);
    if (!(e.gradNorm <= maxGradNorm)) maxGradNorm = e.gradNorm;
    last = e;
    if (evalEvery === 0 || e.step % evalEvery !== 0) {
      options.onProgress?.({ model: label, step: e.step, steps, loss: e.loss, gradNorm: e.gradNorm, elapsedMs: e.elapsedMs, etaMs: e.etaMs });
    }
  });
  trainer.events.on("eval", (e) => {
    const test = fromEval(e.metrics);
    curve.push({ step: e.step, ...test });
    options.onProgress?.({ model: label, step: e.step, steps, loss: last.loss, gradNorm: last.gradNorm, elapsedMs: last.elapsedMs, etaMs: last.etaMs, test });
  });
  trainer.events.on("skip", (e) => {
    skipped++;
    firstNonFinite ??= e.step;
    maxGradNorm = Infinity;
    if (++skipsInARow >= maxSkips) trainer.stop();
  });

  const start = performance.now();
  await trainer.run({ steps, ...(options.signal ? { signal: options.signal } : {}) });
  let test: TaskMetrics;
  if (curve.length > 0 && curve[curve.length - 1]!.step === trainer.step) {
    const { step: _step, ...metrics } = curve[curve.length - 1]!;
    test = metrics;
  } else {
    test = noGrad(() => evaluate(model.params)); // as the trainer's own evaluations run
    curve.push({ step: trainer.step, ...test });
  }
  const wallMs = performance.now() - start;
  const tail = losses.slice(-100);
  return {
    steps: trainer.step,
    test,
    finalTrainLoss: tail.length > 0 ? tail.reduce((s, v) => s + v, 0) / tail.length : NaN,
    maxGradNorm,
    maxFiniteGradNorm,
    clippedFraction: trainer.clipFraction,
    skippedSteps: skipped,
    firstNonFiniteStep: firstNonFinite,
    diverged: firstNonFinite !== null || !Number.isFinite(test.loss),
    wallMs,
    curve,
  };
}

function toEval(m: TaskMetrics): { loss: number; [metric: string]: number } {
  return m.accuracy === undefined ? { loss: m.loss } : { loss: m.loss, accuracy: m.accuracy };
}

function fromEval(m: { readonly loss: number; readonly [metric: string]: number }): TaskMetrics {
  return m.accuracy === undefined ? { loss: m.loss } : { loss: m.loss, accuracy: m.accuracy };
}

/**
 * Seeds of independent streams from one run seed: Philox keys (seed, stream), so that the
 * models' weights, the training batches and the test set never share random numbers, for any
 * two run seeds.
 */
export function streamSeed(seed: number, stream: number): number {
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    throw new ValueRangeError("streamSeed", `the run seed must be an integer in [0, 2^32), got ${seed}`);
  }
  return stream * 2 ** 32 + seed;
}

/** Streams: weights 0, training batches 1, test set 2. */
const STREAM = { weights: 0, train: 1, test: 2 } as const;

export function makeTask(name: "adding" | "copy", length: number): Task {
  if (name === "adding") return addingTask(length);
  if (name === "copy") return copyTask(length);
  throw new ValueRangeError("makeTask", `unknown task ${JSON.stringify(name)}; expected adding or copy`);
}

export interface LongRangeOptions {
  readonly task: "adding" | "copy";
  /** T: the adding problem's sequence length, or copy memory's delay. */
  readonly length: number;
  readonly hiddenSize: number;
  /** The budget every model gets: optimiser steps, batch size, clipping. */
  readonly steps: number;
  readonly batchSize: number;
  /** Clip the global gradient norm to this; null: no clipping. Default 1. */
  readonly clip?: number | null;
  /** Default: all four, in the order of `MODEL_KINDS`. */
  readonly models?: readonly ModelKind[];
  /** One learning rate for every model, or per model (missing ones from `DEFAULT_LR`). */
  readonly lr?: number | Partial<Record<ModelKind, number>>;
  /** Default "adam". */
  readonly optimizer?: "adam" | "sgd";
  /** Run seed in [0, 2^32): weights, batches and test set come from its streams. Default 0. */
  readonly seed?: number;
  /** Test sequences (default 1000). */
  readonly testSize?: number;
  /** Evaluate on the test set every this many steps (default 0: only at the end). */
  readonly evalEvery?: number;
  readonly onProgress?: (event: ProgressEvent) => void;
  readonly signal?: AbortSignal;
}

/** One row of the results table: one model's final test metrics against the task's baseline. */
export interface LongRangeRow extends TrainingOutcome {
  readonly task: "adding" | "copy";
  readonly model: ModelKind;
  readonly description: string;
  readonly length: number;
  readonly hiddenSize: number;
  readonly batchSize: number;
  readonly optimizer: "adam" | "sgd";
  readonly lr: number;
  readonly clip: number | null;
  readonly seed: number;
  readonly testSize: number;
  /** What an input-blind predictor scores on this task (adding: MSE 1/6). */
  readonly baseline: TaskMetrics;
  readonly msPerStep: number;
}

/**
 * The long-range comparison of the source material: every model trained on the same task under
 * the same budget (steps, batch, clipping, optimiser) and the same training batches, each from
 * the same weight seed, then scored on one fixed test set. Runs the models one after the other.
 */
export async function runLongRange(options: LongRangeOptions): Promise<LongRangeRow[]> {
  const task = makeTask(options.task, options.length);
  const seed = options.seed ?? 0;
  const testSize = options.testSize ?? 1000;
  const models = options.models ?? MODEL_KINDS;
  const clip = options.clip === undefined ? 1 : options.clip;
  const optimizer = options.optimizer ?? "adam";
  for (const [what, v] of [["steps", options.steps], ["batchSize", options.batchSize], ["hiddenSize", options.hiddenSize], ["testSize", testSize]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new ValueRangeError("runLongRange", `${what} must be a positive integer, got ${v}`);
  }
  const testSet = taskTestSet(task, { size: testSize, seed: streamSeed(seed, STREAM.test) });
  const rows: LongRangeRow[] = [];
  for (const kind of models) {
    const lr = typeof options.lr === "number" ? options.lr : (options.lr?.[kind] ?? DEFAULT_LR[kind]);
    const model = buildModel(kind, {
      inputSize: task.inputSize,
      hiddenSize: options.hiddenSize,
      outputSize: task.outputSize,
      rng: new Rng(streamSeed(seed, STREAM.weights)),
    });
    const outcome = await trainOnTask({
      task,
      model,
      steps: options.steps,
      batchSize: options.batchSize,
      optimizer,
      lr,
      clip,
      dataSeed: streamSeed(seed, STREAM.train),
      testSet,
      ...(options.evalEvery !== undefined ? { evalEvery: options.evalEvery } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    rows.push({
      task: task.name,
      model: kind,
      description: model.description,
      length: options.length,
      hiddenSize: options.hiddenSize,
      batchSize: options.batchSize,
      optimizer,
      lr,
      clip,
      seed,
      testSize,
      baseline: { loss: task.baseline.loss, ...(task.baseline.accuracy === undefined ? {} : { accuracy: task.baseline.accuracy }) },
      msPerStep: outcome.steps > 0 ? outcome.wallMs / outcome.steps : NaN,
      ...outcome,
    });
    if (options.signal?.aborted) break;
  }
  return rows;
}

export interface ClippingOptions {
  /** Adding-problem length T (default 50). */
  readonly length?: number;
  readonly hiddenSize?: number;
  readonly steps?: number;
  readonly batchSize?: number;
  /** SGD learning rate (default 0.1). */
  readonly lr?: number;
  /** The recurrent weight is N(0, (gain/√H)²): spectral radius about `gain` (default 2.5). */
  readonly gain?: number;
  /** The clipped run's max norm (default 1). */
  readonly maxNorm?: number;
  readonly seed?: number;
  readonly testSize?: number;
  readonly maxConsecutiveSkips?: number;
  /** Evaluate on the test set every this many steps (default 0: only at the end). */
  readonly evalEvery?: number;
  readonly onProgress?: (event: ProgressEvent) => void;
  readonly signal?: AbortSignal;
}

export interface ClippingRow extends TrainingOutcome {
  /** The max norm, or null for the unclipped run. */
  readonly clip: number | null;
  readonly length: number;
  readonly hiddenSize: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly gain: number;
  /** Spectral radius of the initial W_hh. */
  readonly spectralRadius: number;
  readonly seed: number;
  readonly baseline: TaskMetrics;
}

/**
 * The clipping demonstration: a tanh RNN whose recurrent weight starts large (W_hh ~
 * N(0, (gain/√H)²), spectral radius ≈ gain) trained with plain SGD on the adding problem twice,
 * from the same weights and batches, without clipping and with `clip: { maxNorm }`. Reports the
 * largest gradient norm, the final losses and whether the run diverged (a NaN or infinite loss or
 * gradient norm). Returns `[unclipped, clipped]`.
 */
export async function runClippingDemo(options: ClippingOptions = {}): Promise<ClippingRow[]> {
  const length = options.length ?? 50;
  const hiddenSize = options.hiddenSize ?? 100;
  const steps = options.steps ?? 500;
  const batchSize = options.batchSize ?? 32;
  const lr = options.lr ?? 0.1;
  const gain = options.gain ?? 2.5;
  const maxNorm = options.maxNorm ?? 1;
  const seed = options.seed ?? 0;
  const task = addingTask(length);
  const testSet = taskTestSet(task, { size: options.testSize ?? 1000, seed: streamSeed(seed, STREAM.test) });
  const rows: ClippingRow[] = [];
  for (const clip of [null, maxNorm]) {
    const model = buildModel("tanh", {
      inputSize: task.inputSize,
      hiddenSize,
      outputSize: 1,
      rng: new Rng(streamSeed(seed, STREAM.weights)),
      scheme: { weightHH: init.normalScaledByHidden({ gain }) },
    });
    const radius = spectralRadius(model.params.rnn.weight_hh_l0!);
    const outcome = await trainOnTask({
      task,
      model,
      steps,
      batchSize,
      optimizer: "sgd",
      lr,
      clip,
      dataSeed: streamSeed(seed, STREAM.train),
      testSet,
      label: clip === null ? "tanh, no clipping" : `tanh, clip ${clip}`,
      ...(options.maxConsecutiveSkips !== undefined ? { maxConsecutiveSkips: options.maxConsecutiveSkips } : {}),
      ...(options.evalEvery !== undefined ? { evalEvery: options.evalEvery } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    rows.push({ clip, length, hiddenSize, batchSize, lr, gain, spectralRadius: radius, seed, baseline: { loss: task.baseline.loss }, ...outcome });
  }
  return rows;
}
