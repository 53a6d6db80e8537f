/**
 * A learning-rate schedule: the learning rate for the update that follows `step` updates (so
 * `lr(0)` is the first one's). The trainer sets `optimizer.lr = schedule.lr(step)` before each step.
 * These are pure functions of the step, so a resumed run needs no schedule state.
 */
export interface Schedule {
  readonly name: string;
  lr(step: number): number;
}

/** Throws a RangeError naming the schedule unless `ok`. */
export function check(name: string, ok: boolean, message: string): void {
  if (!ok) throw new RangeError(`${name}: ${message}`);
}

export function checkLr(name: string, what: string, lr: number): void {
  check(name, typeof lr === "number" && Number.isFinite(lr) && lr >= 0, `${what} must be a finite number >= 0, got ${lr}`);
}

const isCount = (n: number): boolean => Number.isInteger(n) && n >= 0;

function checkStep(name: string, step: number): void {
  check(name, isCount(step), `step must be an integer >= 0, got ${step}`);
}

/** The same learning rate at every step. */
export function constant(lr: number): Schedule {
  checkLr("constant", "lr", lr);
  return {
    name: "constant",
    lr(step) {
      checkStep("constant", step);
      return lr;
    },
  };
}

export interface StepDecayOptions {
  readonly lr: number;
  /** Steps between decays. */
  readonly stepSize: number;
  /** Multiplier applied every `stepSize` steps. */
  readonly gamma: number;
}

/**
 * PyTorch's StepLR: `lr * gamma ^ floor(step / stepSize)`. Computed in closed form; PyTorch
 * multiplies by gamma once per decay, which differs from this in the last bits only.
 */
export function stepDecay(options: StepDecayOptions): Schedule {
  const { lr, stepSize, gamma } = options;
  const name = "stepDecay";
  checkLr(name, "lr", lr);
  check(name, Number.isInteger(stepSize) && stepSize > 0, `stepSize must be an integer > 0, got ${stepSize}`);
  check(name, Number.isFinite(gamma) && gamma >= 0, `gamma must be a finite number >= 0, got ${gamma}`);
  return {
    name,
    lr(step) {
      checkStep(name, step);
      return lr * gamma ** Math.floor(step / stepSize);
    },
  };
}

export interface ExponentialOptions {
  readonly lr: number;
  /** Multiplier applied every step. */
  readonly gamma: number;
}

/** PyTorch's ExponentialLR: `lr * gamma ^ step` (closed form, as for `stepDecay`). */
export function exponential(options: ExponentialOptions): Schedule {
  const { lr, gamma } = options;
  const name = "exponential";
  checkLr(name, "lr", lr);
  check(name, Number.isFinite(gamma) && gamma >= 0, `gamma must be a finite number >= 0, got ${gamma}`);
  return {
    name,
    lr(step) {
      checkStep(name, step);
      return lr * gamma ** step;
    },
  };
}

export interface CosineWithWarmupOptions {
  /** The peak learning rate, reached at the end of the warm-up. */
  readonly lr: number;
  readonly warmupSteps: number;
  /** Where the cosine reaches `minLr`; it stays there afterwards. */
  readonly totalSteps: number;
  readonly minLr?: number;
}

/**
 * Linear warm-up from 0, then half a cosine down to `minLr`, then `minLr` for good. With W the
 * warm-up steps and T the total steps:
 *
 *     lr(s) = lr * s / W                                                        s < W
 *     lr(s) = minLr + (lr - minLr) * (1 + cos(pi * min(1, (s - W) / (T - W)))) / 2      s >= W
 *
 * So lr(0) = 0 when W > 0, lr(W) = lr, lr(T) = minLr. With W = 0 this is PyTorch's
 * CosineAnnealingLR(T_max = T, eta_min = minLr) up to step T (PyTorch's curve then rises again);
 * the warm-up is that of Hugging Face's `get_cosine_schedule_with_warmup`.
 */
export function cosineWithWarmup(options: CosineWithWarmupOptions): Schedule {
  const { lr, warmupSteps, totalSteps, minLr = 0 } = options;
  const name = "cosineWithWarmup";
  checkLr(name, "lr", lr);
  checkLr(name, "minLr", minLr);
  check(name, minLr <= lr, `minLr (${minLr}) must not exceed lr (${lr})`);
  check(name, isCount(warmupSteps), `warmupSteps must be an integer >= 0, got ${warmupSteps}`);
  check(name, Number.isInteger(totalSteps) && totalSteps > warmupSteps, `totalSteps must be an integer > warmupSteps (${warmupSteps}), got ${totalSteps}`);
  return {
    name,
    lr(step) {
      checkStep(name, step);
      if (step < warmupSteps) return (lr * step) / warmupSteps;
      const progress = Math.min(1, (step - warmupSteps) / (totalSteps - warmupSteps));
      return minLr + ((lr - minLr) * (1 + Math.cos(Math.PI * progress))) / 2;
    },
  };
}
