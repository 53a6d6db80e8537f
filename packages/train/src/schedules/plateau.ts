import { check, checkLr, type Schedule } from "./schedule.js";

export interface ReduceOnPlateauOptions {
  /** The learning rate until the first reduction. */
  readonly lr: number;
  /** Multiplier applied at each reduction. */
  readonly factor?: number;
  /** Evaluations without improvement tolerated before reducing. */
  readonly patience?: number;
  /** How much better a metric must be to count as an improvement. */
  readonly threshold?: number;
  /** "rel": better than best * (1 -/+ threshold); "abs": better than best -/+ threshold. */
  readonly thresholdMode?: "rel" | "abs";
  /** Evaluations after a reduction during which bad evaluations are not counted. */
  readonly cooldown?: number;
  readonly minLr?: number;
  /** Whether lower ("min", a loss) or higher ("max", an accuracy) metrics are better. */
  readonly mode?: "min" | "max";
  /** A reduction smaller than this is skipped (PyTorch's `eps`). */
  readonly eps?: number;
}

/** What a checkpoint stores; JSON, with an infinite `best` written as "inf" or "-inf". */
export interface ReduceOnPlateauState {
  readonly format: "reduceOnPlateau";
  readonly version: 1;
  readonly settings: Readonly<Record<string, number | string>>;
  readonly lr: number;
  readonly best: number | "inf" | "-inf";
  readonly badEvaluations: number;
  readonly cooldownCounter: number;
  readonly evaluations: number;
}

/** A schedule driven by evaluations: `lr(step)` is the current rate whatever the step. */
export interface ReduceOnPlateau extends Schedule {
  /** Records an evaluation's metric; returns the learning rate from now on. */
  observe(metric: number): number;
  state(): ReduceOnPlateauState;
  /** Restores `state()`; a state for other settings or of another format throws and changes nothing. */
  loadState(state: unknown): void;
}

/**
 * PyTorch's ReduceLROnPlateau, step for step: after each evaluation the metric either improves
 * on the best so far by more than the threshold (and becomes the best), or counts as a bad
 * evaluation; during a cooldown the count is reset to 0. When the count exceeds `patience`, the
 * rate becomes `max(lr * factor, minLr)` (unless that changes it by `eps` or less), the cooldown
 * starts and the count is reset. A NaN metric is never an improvement.
 */
export function reduceOnPlateau(options: ReduceOnPlateauOptions): ReduceOnPlateau {
  const {
    lr: initialLr,
    factor = 0.1,
    patience = 10,
    threshold = 1e-4,
    thresholdMode = "rel",
    cooldown = 0,
    minLr = 0,
    mode = "min",
    eps = 1e-8,
  } = options;
  const name = "reduceOnPlateau";
  checkLr(name, "lr", initialLr);
  checkLr(name, "minLr", minLr);
  check(name, factor >= 0 && factor < 1, `factor must be in [0, 1), got ${factor}`);
  check(name, Number.isInteger(patience) && patience >= 0, `patience must be an integer >= 0, got ${patience}`);
  check(name, Number.isInteger(cooldown) && cooldown >= 0, `cooldown must be an integer >= 0, got ${cooldown}`);
  check(name, Number.isFinite(threshold) && threshold >= 0, `threshold must be a finite number >= 0, got ${threshold}`);
  check(name, Number.isFinite(eps) && eps >= 0, `eps must be a finite number >= 0, got ${eps}`);
  check(name, mode === "min" || mode === "max", `mode must be "min" or "max", got ${String(mode)}`);
  check(name, thresholdMode === "rel" || thresholdMode === "abs", `thresholdMode must be "rel" or "abs", got ${String(thresholdMode)}`);
  const settings = { factor, patience, threshold, thresholdMode, cooldown, minLr, mode, eps };
  const worst = mode === "min" ? Infinity : -Infinity;

  let lr = initialLr;
  let best = worst;
  let bad = 0;
  let cooldownCounter = 0;
  let evaluations = 0;

  // PyTorch's is_better, the same expressions in the same order.
  const isBetter = (a: number): boolean => {
    if (mode === "min") return thresholdMode === "rel" ? a < best * (1 - threshold) : a < best - threshold;
    return thresholdMode === "rel" ? a > best * (threshold + 1) : a > best + threshold;
  };

  return {
    name,
    lr: () => lr,
    observe(metric) {
      if (typeof metric !== "number") throw new TypeError(`${name}.observe: the metric must be a number, got ${typeof metric}`);
      evaluations++;
      if (isBetter(metric)) {
        best = metric;
        bad = 0;
      } else {
        bad++;
      }
      if (cooldownCounter > 0) {
        cooldownCounter--;
        bad = 0;
      }
      if (bad > patience) {
        const reduced = Math.max(lr * factor, minLr);
        if (lr - reduced > eps) lr = reduced;
        cooldownCounter = cooldown;
        bad = 0;
      }
      return lr;
    },
    state() {
      const b = best === Infinity ? "inf" : best === -Infinity ? "-inf" : best;
      return { format: name, version: 1, settings: { ...settings }, lr, best: b, badEvaluations: bad, cooldownCounter, evaluations };
    },
    loadState(raw) {
      const fail = (message: string): never => {
        throw new Error(`${name}.loadState: ${message}`);
      };
      if (typeof raw !== "object" || raw === null) fail("expected a state object");
      const s = raw as Partial<ReduceOnPlateauState>;
      if (s.format !== name) fail(`expected format '${name}', got '${String(s.format)}'`);
      if (s.version !== 1) fail(`unsupported version ${String(s.version)}; this build reads version 1`);
      const saved = s.settings ?? {};
      // Settings' names come from a file: own properties only.
      const own = (o: object, k: string): unknown => (Object.hasOwn(o, k) ? (o as Record<string, unknown>)[k] : undefined);
      const keys = new Set([...Object.keys(settings), ...Object.keys(saved)]);
      const diffs = [...keys]
        .filter((k) => own(settings, k) !== own(saved, k))
        .map((k) => `${k}: saved ${String(own(saved, k))}, here ${String(own(settings, k))}`);
      if (diffs.length > 0) fail(`the settings differ (${diffs.join("; ")})`);
      const count = (what: string, v: unknown): number =>
        typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : fail(`${what} must be an integer >= 0, got ${String(v)}`);
      const nextBad = count("badEvaluations", s.badEvaluations);
      const nextCooldown = count("cooldownCounter", s.cooldownCounter);
      const nextEvaluations = count("evaluations", s.evaluations);
      const nextLr = typeof s.lr === "number" && Number.isFinite(s.lr) && s.lr >= 0 ? s.lr : fail(`lr must be a finite number >= 0, got ${String(s.lr)}`);
      const nextBest =
        s.best === "inf" ? Infinity : s.best === "-inf" ? -Infinity : typeof s.best === "number" && !Number.isNaN(s.best) ? s.best : fail(`best must be a number, "inf" or "-inf", got ${String(s.best)}`);
      lr = nextLr;
      best = nextBest;
      bad = nextBad;
      cooldownCounter = nextCooldown;
      evaluations = nextEvaluations;
    },
  };
}
