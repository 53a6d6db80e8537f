import type { Tensor } from "@unroll/tensor";
import { type Checkpoint, loadCheckpoint, saveCheckpoint } from "./checkpoint/checkpoint.js";
import type { StepEvent, Trainer, TrainerState } from "./trainer.js";
import { TrainingError } from "./trainer.js";

const CARRY = "carry";

/** A trainer state as a checkpoint: the carried state goes to the extra tensors under `carry.*`. */
export function checkpointFromState(state: TrainerState, extras: { config?: unknown; metrics?: unknown } = {}): Checkpoint {
  const extra: Record<string, Tensor> = {};
  for (const [path, t] of Object.entries(state.carry ?? {})) extra[path === "" ? CARRY : `${CARRY}.${path}`] = t;
  return {
    step: state.step,
    config: extras.config ?? null,
    params: state.params,
    optimizer: state.optimizer,
    schedule: state.schedule,
    rng: state.rng,
    data: state.data,
    metrics: extras.metrics ?? null,
    trainer: { ...state.trainer, hasCarry: state.carry !== null },
    extra,
  };
}

/** The inverse of `checkpointFromState`; refuses a checkpoint that was not written from a trainer. */
export function stateFromCheckpoint(c: Checkpoint): TrainerState {
  const t = c.trainer as (TrainerState["trainer"] & { hasCarry?: boolean }) | null | undefined;
  if (!t || typeof t !== "object" || !c.optimizer || !c.rng) {
    throw new TrainingError("this checkpoint holds weights but no training state (optimizer, generator, trainer counters); it cannot resume a run");
  }
  checkCounters(t);
  const carry: Record<string, Tensor> = {};
  for (const [key, tensor] of Object.entries(c.extra ?? {})) {
    if (key === CARRY) carry[""] = tensor;
    else if (key.startsWith(`${CARRY}.`)) carry[key.slice(CARRY.length + 1)] = tensor;
  }
  return {
    step: c.step,
    params: c.params,
    optimizer: c.optimizer,
    schedule: c.schedule ?? null,
    rng: c.rng,
    data: c.data ?? null,
    carry: t.hasCarry ? carry : null,
    trainer: {
      lrFactor: t.lrFactor,
      bestMetric: t.bestMetric,
      evalsWithoutImprovement: t.evalsWithoutImprovement,
      clippedSteps: t.clippedSteps,
      skippedSteps: t.skippedSteps,
    },
  };
}

function describe(v: unknown): string {
  return v === undefined ? "nothing" : typeof v === "string" ? JSON.stringify(v) : Array.isArray(v) ? "an array" : v !== null && typeof v === "object" ? "an object" : String(v);
}

/** The trainer counters of a checkpoint (checkpoint.json's "trainer"), which come from a file: checked field by field. */
function checkCounters(t: object): void {
  const o = t as Record<string, unknown>;
  const get = (key: string): unknown => (Object.hasOwn(o, key) ? o[key] : undefined);
  const fail = (key: string, what: string): never => {
    throw new TrainingError(`the checkpoint's trainer.${key} must be ${what}, got ${describe(get(key))}; the checkpoint was damaged or edited`);
  };
  const lrFactor = get("lrFactor");
  if (typeof lrFactor !== "number" || !Number.isFinite(lrFactor) || lrFactor <= 0) fail("lrFactor", "a positive number");
  const best = get("bestMetric");
  if (best !== null && !(typeof best === "number" && Number.isFinite(best))) fail("bestMetric", "a finite number or null");
  for (const key of ["evalsWithoutImprovement", "clippedSteps", "skippedSteps"]) {
    const v = get(key);
    if (!Number.isSafeInteger(v) || (v as number) < 0) fail(key, "a non-negative integer");
  }
  const hasCarry = get("hasCarry");
  if (hasCarry !== undefined && typeof hasCarry !== "boolean") fail("hasCarry", "true or false");
}

/** Saves the trainer's complete state atomically under `root` (see `saveCheckpoint`); returns the directory. */
export async function saveTrainerCheckpoint<P, B, C>(
  trainer: Trainer<P, B, C>,
  root: string,
  options: { config?: unknown; metrics?: unknown; keep?: number } = {},
): Promise<string> {
  return saveCheckpoint(root, checkpointFromState(trainer.state(), options), options.keep !== undefined ? { keep: options.keep } : {});
}

/**
 * Loads a checkpoint (a step directory, or a root through latest.json) and restores the trainer
 * from it; returns the checkpoint (its `config` says how the run was set up). Nothing changes if
 * the checkpoint is unreadable or does not fit the model.
 */
export async function resumeTrainer<P, B, C>(trainer: Trainer<P, B, C>, dirOrRoot: string): Promise<Checkpoint> {
  const checkpoint = await loadCheckpoint(dirOrRoot);
  trainer.restore(stateFromCheckpoint(checkpoint));
  return checkpoint;
}

/** An `afterStep` hook that saves a checkpoint every `every` steps. */
export function checkpointEvery<P, B, C>(
  root: string,
  every: number,
  options: { config?: unknown; keep?: number; onSaved?: (dir: string, step: number) => void } = {},
): (trainer: Trainer<P, B, C>, event: StepEvent) => Promise<void> {
  return async (trainer, event) => {
    if (event.step % every !== 0) return;
    const dir = await saveTrainerCheckpoint(trainer, root, options);
    options.onSaved?.(dir, event.step);
  };
}
