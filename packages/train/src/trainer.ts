import {
  detach,
  noGrad,
  Rng,
  type RngState,
  type Tensor,
  TensorError,
  treeEntries,
  treeMap,
} from "@unroll/tensor";
import { checkStateDict } from "./checkpoint/state-dict.js";
import { clipGradNorm, clipGradValue, globalNorm } from "./clip.js";
import type { DataSource } from "./data.js";
import { type EngineFactory, type GradientEngine, libraryEngine } from "./engine.js";
import { Emitter } from "./events.js";
import type { Optimizer, OptimizerState } from "./optim/optimizer.js";
import { treeFromEntries } from "./tree.js";

/** What the loss function sees besides parameters, batch and carried state. */
export interface StepContext {
  readonly step: number;
  /** The trainer's seeded generator (dropout masks): its state is checkpointed, so resumes are exact. */
  readonly rng: Rng;
  readonly training: true;
}

export interface LossOutput<C> {
  /** A scalar: what the optimiser minimises. */
  readonly loss: Tensor;
  /** State carried into the next step, detached (truncated BPTT's hidden state). */
  readonly carry?: C;
  /** Tokens (or examples) in the batch, for throughput. */
  readonly tokens?: number;
  /**
   * The loss that step events report when `loss` adds a regulariser to the data term (a
   * captioner's attention penalty): the data term alone, so that training and validation losses
   * compare. Default: `loss`.
   */
  readonly reportedLoss?: number;
}

export type LossFunction<P, B, C> = (params: P, batch: B, carry: C | undefined, context: StepContext) => LossOutput<C>;

/** A learning-rate schedule as the trainer uses it; see `schedules/`. */
export interface ScheduleLike {
  readonly name: string;
  lr(step: number): number;
  observe?(metric: number): void;
  state?(): unknown;
  loadState?(state: unknown): void;
}

export interface EvalResult {
  /** The metric that early stopping and plateau schedules watch (lower is better). */
  readonly loss: number;
  readonly [metric: string]: number;
}

export interface TrainerOptions<P, B, C> {
  /** Parameters: a tree of tensors, updated in place by the optimiser. */
  readonly params: P;
  readonly loss: LossFunction<P, B, C>;
  readonly data: DataSource<B>;
  readonly optimizer: Optimizer;
  /**
   * What computes each step's loss and gradients: the library's autodiff (default) or another
   * engine (`onnxruntimeEngine()` from @unroll/onnx: the step compiled into one onnxruntime graph).
   */
  readonly engine?: EngineFactory;
  readonly schedule?: ScheduleLike;
  /** Gradient clipping: by global norm and/or by value (norm first). */
  readonly clip?: { readonly maxNorm?: number; readonly value?: number };
  /**
   * What a non-finite loss or gradient norm does: "guard" (default) rolls back to the last good
   * state, lowers the learning rate and retries; "skip" drops the update; "error" stops.
   */
  readonly nonFinite?: "guard" | "skip" | "error";
  readonly guard?: { readonly lrFactor?: number; readonly maxRetries?: number };
  readonly evaluate?: { readonly every: number; readonly run: (params: P) => EvalResult | number };
  /** Stop after `patience` evaluations without an improvement of at least `minDelta`. */
  readonly earlyStopping?: { readonly patience: number; readonly minDelta?: number };
  /** Seed of the trainer's generator (default 0). */
  readonly seed?: number;
  /** Yield to the event loop at least this often (ms), so a UI or a signal handler can run. Default 50. */
  readonly yieldEveryMs?: number;
  /**
   * Awaited after every applied step (and its evaluation): where checkpoints are saved (see
   * `checkpointEvery`), so that the trainer itself needs no file system and runs in browsers.
   */
  readonly afterStep?: (trainer: Trainer<P, B, C>, event: StepEvent) => void | Promise<void>;
}

export interface StepEvent {
  readonly step: number;
  /** The step's loss (its `reportedLoss` when the loss function gives one). */
  readonly loss: number;
  /** Global gradient norm before clipping. */
  readonly gradNorm: number;
  readonly clipped: boolean;
  readonly lr: number;
  readonly tokens: number;
  readonly tokensPerSecond: number;
  readonly elapsedMs: number;
  /** Estimated time until `run` stops: at its step target or at the end of its time budget, whichever comes first; null with neither. */
  readonly etaMs: number | null;
}

export interface TrainerEvents {
  step: StepEvent;
  /** `best`: the best finite metric so far (NaN before any); a non-finite metric never `improved`. */
  eval: { readonly step: number; readonly metrics: EvalResult; readonly best: number; readonly improved: boolean };
  guard: { readonly step: number; readonly reason: string; readonly lr: number; readonly retry: number; readonly message: string };
  skip: { readonly step: number; readonly reason: string };
  stop: { readonly step: number; readonly reason: StopReason };
}

export type StopReason = "steps" | "time" | "data" | "early-stopping" | "stopped";

/** Everything that makes a resumed run continue exactly: what a checkpoint holds. */
export interface TrainerState {
  readonly step: number;
  readonly params: Readonly<Record<string, Tensor>>;
  readonly optimizer: OptimizerState;
  readonly schedule: unknown;
  readonly rng: RngState;
  readonly data: unknown;
  /** Carried state (truncated BPTT), by path. */
  readonly carry: Readonly<Record<string, Tensor>> | null;
  readonly trainer: {
    readonly lrFactor: number;
    readonly bestMetric: number | null;
    readonly evalsWithoutImprovement: number;
    readonly clippedSteps: number;
    readonly skippedSteps: number;
  };
}

export class TrainingError extends TensorError {
  constructor(message: string) {
    super("Trainer", message);
    this.name = "TrainingError";
  }
}

interface Snapshot<C> {
  readonly params: Float32Array[] | Float64Array[];
  readonly state: Omit<TrainerState, "params" | "carry">;
  readonly carry: C | undefined;
}

/**
 * A training loop as a library: batches -> loss -> gradients -> clipping -> optimiser -> events,
 * with evaluation, early stopping, a non-finite guard, and a state that round-trips through
 * checkpoints so that a stopped and resumed run follows the uninterrupted one step for step.
 */
export class Trainer<P, B, C = unknown> {
  readonly events = new Emitter<TrainerEvents>();
  private readonly options: TrainerOptions<P, B, C>;
  private readonly paramEntries: [string, Tensor][];
  private rng: Rng;
  private carry: C | undefined;
  private stepCount = 0;
  private lrFactor = 1;
  private bestMetric: number | null = null;
  private evalsWithoutImprovement = 0;
  private clippedSteps = 0;
  private skippedSteps = 0;
  private stopRequested = false;
  /** The optimiser's learning rate as given: the guard's factor multiplies it (or the schedule's). */
  private readonly baseLr: number;
  /** The engine computing loss and gradients (`options.engine`, the library's autodiff by default). */
  readonly engine: GradientEngine<P, B, C>;

  constructor(options: TrainerOptions<P, B, C>) {
    this.options = options;
    this.paramEntries = treeEntries(options.params);
    if (this.paramEntries.length === 0) throw new TrainingError("params has no tensors to train");
    this.rng = new Rng(options.seed ?? 0);
    this.baseLr = options.optimizer.lr;
    this.engine = (options.engine ?? libraryEngine).create(options.loss);
  }

  get step(): number {
    return this.stepCount;
  }

  /** Fraction of applied steps whose gradients were clipped. */
  get clipFraction(): number {
    return this.stepCount === 0 ? 0 : this.clippedSteps / this.stepCount;
  }

  /** Asks a running `run` to stop after the current step. */
  stop(): void {
    this.stopRequested = true;
  }


  /**
   * Trains until `steps` total steps (counting from step 0, so a resumed run keeps its target),
   * the time budget, the end of the data, early stopping or `stop()` / the abort signal.
   */
  async run(limits: { steps?: number; timeBudgetMs?: number; signal?: AbortSignal } = {}): Promise<StopReason> {
    const { steps = Infinity, timeBudgetMs = Infinity, signal } = limits;
    const start = performance.now();
    let lastYield = start;
    let windowStart = start;
    let windowTokens = 0;
    let windowSteps = 0;
    let throughput = 0;
    let stepTimeMs = 0;
    this.stopRequested = false;
    const mode = this.options.nonFinite ?? "guard";
    const maxRetries = this.options.guard?.maxRetries ?? 5;
    const factor = this.options.guard?.lrFactor ?? 0.5;
    let retries = 0;
    let snapshot: Snapshot<C> | null = null;

    const finish = (reason: StopReason): StopReason => {
      this.events.emit("stop", { step: this.stepCount, reason });
      return reason;
    };

    let skipsInARow = 0;
    for (;;) {
      if (performance.now() - lastYield >= (this.options.yieldEveryMs ?? 50)) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        lastYield = performance.now();
      }
      if (this.stepCount >= steps) return finish("steps");
      if (this.stopRequested || signal?.aborted) return finish("stopped");
      if (performance.now() - start >= timeBudgetMs) return finish("time");

      if (mode === "guard" && (snapshot === null || retries === 0)) snapshot = this.takeSnapshot();
      const t0 = performance.now();
      const batch = this.options.data.next();
      if (batch === null) return finish("data");
      const lr = (this.options.schedule ? this.options.schedule.lr(this.stepCount) : this.baseLr) * this.lrFactor;
      this.options.optimizer.lr = lr;
      const ctx: StepContext = { step: this.stepCount, rng: this.rng, training: true };
      const computed = this.engine.gradients(this.options.params, batch, this.carry, ctx);
      const { loss, grads, aux } = computed instanceof Promise ? await computed : computed;
      let g = grads;
      const clip = this.options.clip;
      let norm: number;
      let clipped = false;
      if (clip?.maxNorm !== undefined) {
        const r = clipGradNorm(g, clip.maxNorm);
        norm = r.norm;
        clipped = r.clipped;
        g = r.grads;
      } else {
        norm = globalNorm(g);
      }
      if (clip?.value !== undefined && Number.isFinite(norm)) g = clipGradValue(g, clip.value);

      if (!Number.isFinite(loss) || !Number.isFinite(norm)) {
        const reason = !Number.isFinite(loss) ? `loss is ${loss}` : `gradient norm is ${norm}`;
        // The step that failed: step events count from 1 (step N is the N-th applied update).
        const failed = this.stepCount + 1;
        if (mode === "error") {
          throw new TrainingError(`${reason} at step ${failed}; lower the learning rate, clip gradients (clip.maxNorm) or check the data`);
        }
        if (mode === "skip") {
          this.skippedSteps++;
          skipsInARow++;
          this.events.emit("skip", { step: failed, reason });
          if (skipsInARow > maxRetries) {
            throw new TrainingError(
              `${reason}: ${skipsInARow} batches in a row had non-finite values at step ${failed}, so training cannot go on; ` +
                "the parameters have diverged (lower the learning rate, clip gradients) or the data holds bad values",
            );
          }
          continue;
        }
        retries++;
        if (retries > maxRetries) {
          throw new TrainingError(
            `${reason} at step ${failed} again after ${maxRetries} rollbacks (learning rate lowered to ${lr}); ` +
              "the model diverges: lower the learning rate, clip gradients or check the data for bad values",
          );
        }
        this.restoreSnapshot(snapshot!);
        this.lrFactor *= factor;
        const message = `${reason} at step ${failed}: rolled back to step ${snapshot!.state.step} and lowered the learning rate by ${factor} (retry ${retries} of ${maxRetries})`;
        this.events.emit("guard", { step: failed, reason, lr: lr * factor, retry: retries, message });
        continue;
      }

      skipsInARow = 0;
      this.options.optimizer.step(this.options.params, g);
      this.carry = aux.carry === undefined ? undefined : noGrad(() => treeMap(aux.carry!, (t: Tensor) => detach(t)));
      this.stepCount++;
      if (clipped) this.clippedSteps++;
      if (retries > 0 && this.stepCount > snapshot!.state.step) retries = 0;

      const now = performance.now();
      const tokens = aux.tokens ?? 0;
      stepTimeMs = stepTimeMs === 0 ? now - t0 : 0.9 * stepTimeMs + 0.1 * (now - t0);
      windowTokens += tokens;
      windowSteps++;
      if (now - windowStart >= 1000 || windowSteps === 1) {
        throughput = windowTokens / Math.max(1e-9, (now - windowStart) / 1000);
        if (now - windowStart >= 1000) {
          windowStart = now;
          windowTokens = 0;
          windowSteps = 0;
        }
      }
      const stepEvent: StepEvent = {
        step: this.stepCount,
        loss: aux.reportedLoss ?? loss,
        gradNorm: norm,
        clipped,
        lr,
        tokens,
        tokensPerSecond: throughput,
        elapsedMs: now - start,
        etaMs: eta(Number.isFinite(steps) ? (steps - this.stepCount) * stepTimeMs : null, Number.isFinite(timeBudgetMs) ? timeBudgetMs - (now - start) : null),
      };
      this.events.emit("step", stepEvent);

      const ev = this.options.evaluate;
      const stopEarly = ev !== undefined && this.stepCount % ev.every === 0 && this.evaluateNow();
      if (this.options.afterStep) await this.options.afterStep(this, stepEvent);
      if (stopEarly) return finish("early-stopping");
    }
  }

  /** Runs the evaluation now; returns whether early stopping says to stop. */
  evaluateNow(): boolean {
    const ev = this.options.evaluate;
    if (!ev) throw new TrainingError("no evaluate option was given");
    const raw = noGrad(() => ev.run(this.options.params));
    const metrics: EvalResult = typeof raw === "number" ? { loss: raw } : raw;
    const minDelta = this.options.earlyStopping?.minDelta ?? 0;
    // A non-finite metric (a diverged model) is never an improvement, not even the first one.
    const improved = Number.isFinite(metrics.loss) && (this.bestMetric === null || metrics.loss < this.bestMetric - minDelta);
    if (improved) {
      this.bestMetric = metrics.loss;
      this.evalsWithoutImprovement = 0;
    } else {
      this.evalsWithoutImprovement++;
    }
    this.options.schedule?.observe?.(metrics.loss);
    this.events.emit("eval", { step: this.stepCount, metrics, best: this.bestMetric ?? NaN, improved });
    const patience = this.options.earlyStopping?.patience;
    return patience !== undefined && this.evalsWithoutImprovement >= patience;
  }

  /** The complete training state (copies): what `saveCheckpoint` writes and `restore` reads. */
  state(): TrainerState {
    return {
      ...this.stateWithoutParams(),
      params: Object.fromEntries(this.paramEntries.map(([path, t]) => [path, copy(t)])),
      carry: this.carry === undefined ? null : Object.fromEntries(treeEntries(this.carry).map(([p, t]) => [p, copy(t)])),
    };
  }

  private stateWithoutParams(): Omit<TrainerState, "params" | "carry"> {
    return {
      step: this.stepCount,
      optimizer: this.options.optimizer.stateDict(),
      schedule: this.options.schedule?.state?.() ?? null,
      rng: this.rng.state(),
      data: this.options.data.position(),
      trainer: {
        lrFactor: this.lrFactor,
        bestMetric: this.bestMetric,
        evalsWithoutImprovement: this.evalsWithoutImprovement,
        clippedSteps: this.clippedSteps,
        skippedSteps: this.skippedSteps,
      },
    };
  }

  /**
   * Continues from a saved state: parameters are overwritten in place (names and shapes must
   * match), then the optimiser, schedule, generator, data position and carried state. Everything
   * is checked before anything changes.
   */
  restore(state: TrainerState): void {
    // Names come from a file: Map lookups only (a tensor named "toString" is just a name).
    const problems = checkStateDict(new Map(this.paramEntries.map(([path, t]) => [path, { shape: t.shape, dtype: t.dtype }])), state.params);
    if (problems.length > 0) throw new TrainingError(`the saved parameters do not fit this model: ${problems.join("; ")}`);
    const saved = new Map(Object.entries(state.params));
    const rng = Rng.fromState(state.rng);
    this.options.optimizer.loadStateDict(state.optimizer);
    if (state.schedule !== null && state.schedule !== undefined) this.options.schedule?.loadState?.(state.schedule);
    this.options.data.seek(state.data);
    for (const [path, t] of this.paramEntries) t.data.set(saved.get(path)!.data);
    this.rng = rng;
    this.carry = state.carry ? (treeFromEntries(Object.entries(state.carry).map(([p, t]) => [p, copy(t)])) as C) : undefined;
    this.stepCount = state.step;
    this.lrFactor = state.trainer.lrFactor;
    this.bestMetric = state.trainer.bestMetric;
    this.evalsWithoutImprovement = state.trainer.evalsWithoutImprovement;
    this.clippedSteps = state.trainer.clippedSteps;
    this.skippedSteps = state.trainer.skippedSteps;
  }

  private takeSnapshot(): Snapshot<C> {
    return {
      params: this.paramEntries.map(([, t]) => t.data.slice()) as Float32Array[],
      state: this.stateWithoutParams(),
      carry: this.carry,
    };
  }

  private restoreSnapshot(s: Snapshot<C>): void {
    this.paramEntries.forEach(([, t], i) => t.data.set(s.params[i]!));
    this.options.optimizer.loadStateDict(s.state.optimizer);
    if (s.state.schedule !== null) this.options.schedule?.loadState?.(s.state.schedule);
    this.options.data.seek(s.state.data);
    this.rng = Rng.fromState(s.state.rng);
    this.carry = s.carry;
    this.stepCount = s.state.step;
  }
}

function copy(t: Tensor): Tensor {
  return noGrad(() => detach(t));
}

/** The earlier of the time to the step target and the time left in the budget (either may be absent). */
function eta(toSteps: number | null, toBudget: number | null): number | null {
  if (toSteps === null) return toBudget === null ? null : Math.max(0, toBudget);
  return toBudget === null ? toSteps : Math.max(0, Math.min(toSteps, toBudget));
}
