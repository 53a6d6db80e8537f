import { adagrad, adam, adamw, constant, cosineWithWarmup, type Optimizer, reduceOnPlateau, rmsprop, type ScheduleLike, sgd, stepDecay } from "@unroll/train";

/** An optimiser as a training config names it (plain JSON, from flags or a config file). */
export interface OptimizerSettings {
  readonly name?: "adam" | "adamw" | "sgd" | "rmsprop" | "adagrad";
  readonly lr?: number;
  readonly weightDecay?: number;
  readonly momentum?: number;
}

/** A learning-rate schedule as a training config names it. */
export interface ScheduleSettings {
  readonly name?: "constant" | "cosine" | "step" | "plateau";
  readonly warmupSteps?: number;
  readonly stepSize?: number;
  readonly gamma?: number;
  readonly minLr?: number;
  readonly patience?: number;
  readonly factor?: number;
}

/** The optimiser of a training recipe (`defaultLr` when the settings name none; Adam by default). */
export function buildOptimizer(o: OptimizerSettings = {}, defaultLr: number): Optimizer {
  const lr = o.lr ?? defaultLr;
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

/** The schedule of a training recipe around the learning rate `lr` (cosine needs the run's length: `totalSteps`). */
export function buildSchedule(s: ScheduleSettings = {}, lr: number, totalSteps: number | undefined): ScheduleLike {
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

/** What a resumed run may change: how long it runs and on which kernels; everything else is the run's own. */
export const RESUMABLE_SETTINGS = ["steps", "timeBudgetMinutes", "patience", "kernels", "threads"] as const;

/**
 * A resumed run's settings: the saved ones, so that it continues exactly, with those of
 * `RESUMABLE_SETTINGS` that `limits` gives taken from there.
 */
export function resumedConfig<C extends object>(saved: C, limits: Partial<C>): C {
  const out = { ...saved } as Record<string, unknown>;
  for (const key of RESUMABLE_SETTINGS) {
    const value = (limits as Record<string, unknown>)[key];
    if (value !== undefined) out[key] = value;
  }
  return out as C;
}
