/// <reference types="node" />
// The best checkpoint of a run (Node only): `<run>/best/` holds the checkpoint of the lowest
// validation loss so far, a checkpoint root of its own (`best/latest.json` and one step directory),
// so that everything that reads a run reads it too (`loadCheckpoint("<run>/best")`).
//
// It survives a crash and a resume as the run's own checkpoints do. When validation improves, the
// run's checkpoint of that step is saved first, marked `metrics.best` with the loss, then the same
// checkpoint as best/. A process killed between the two leaves a marked latest checkpoint and an
// older best/: the resume (`BestCheckpoint.open` with the checkpoint it continues from) copies the
// marked checkpoint into best/, so best/ is always the best model of the run's own history.

import type { Checkpoint } from "../checkpoint/checkpoint.js";
import { loadCheckpoint, saveCheckpoint } from "../checkpoint/checkpoint.js";
import { CheckpointError } from "../checkpoint/errors.js";
import { checkpointFromState } from "../trainer-checkpoint.js";
import type { Trainer } from "../trainer.js";
import { BEST_CHECKPOINT_DIR } from "./folder.js";
import { loadNode } from "./node.js";

/** The step and validation loss of the best checkpoint. */
export interface BestRecord {
  readonly step: number;
  readonly loss: number;
}

/** What a checkpoint's `metrics` say about it being a best one: its validation loss, or null. */
function bestLossOf(c: Checkpoint, file: string): number | null {
  const m = c.metrics as Record<string, unknown> | null | undefined;
  if (m === null || typeof m !== "object" || !Object.hasOwn(m, "best") || m.best !== true) return null;
  const loss = Object.hasOwn(m, "validation") ? m.validation : undefined;
  if (typeof loss !== "number" || !Number.isFinite(loss)) {
    throw new CheckpointError("BestCheckpoint", `metrics.validation must be a finite number for a best checkpoint, got ${JSON.stringify(loss)}`, { file });
  }
  return loss;
}

/** Keeps `<root>/best/`: see the top of this file. */
export class BestCheckpoint {
  private constructor(
    /** The run's checkpoint root. */
    readonly root: string,
    /** `<root>/best`. */
    readonly dir: string,
    private current: BestRecord | null,
    /** Whether opening copied the resumed checkpoint into best/ (a process killed between the two saves). */
    readonly repaired: boolean,
  ) {}

  /**
   * Opens the best checkpoint of the run in `root`. A resume passes the checkpoint it continues
   * from: if it is marked best and best/ does not hold it, it is copied there now. A best/ that
   * cannot be read is a CheckpointError naming the file.
   */
  static async open(root: string, options: { readonly resumed?: Checkpoint | null } = {}): Promise<BestCheckpoint> {
    const n = await loadNode();
    const dir = n.path.join(root, BEST_CHECKPOINT_DIR);
    const pointer = n.path.join(dir, "latest.json");
    const exists = await n.fs.stat(pointer).then(() => true, () => false);
    let current: BestRecord | null = null;
    if (exists) {
      const saved = await loadCheckpoint(dir);
      const loss = bestLossOf(saved, pointer);
      if (loss === null) throw new CheckpointError("BestCheckpoint", "holds a checkpoint that is not marked as a best one (metrics.best)", { file: pointer });
      current = { step: saved.step, loss };
    }
    const resumed = options.resumed ?? null;
    const resumedLoss = resumed === null ? null : bestLossOf(resumed, n.path.join(root, "latest.json"));
    if (resumed !== null && resumedLoss !== null && current?.step !== resumed.step) {
      await saveCheckpoint(dir, resumed, { keep: 1 });
      return new BestCheckpoint(root, dir, { step: resumed.step, loss: resumedLoss }, true);
    }
    return new BestCheckpoint(root, dir, current, false);
  }

  /** The best so far, or null before the first validation. */
  get best(): BestRecord | null {
    return this.current;
  }

  /** Whether a validation loss beats the best so far (a non-finite one never does). */
  improves(loss: number): boolean {
    return Number.isFinite(loss) && (this.current === null || loss < this.current.loss);
  }

  /**
   * Saves the trainer's state at its step as the run's checkpoint (marked best, with `loss`) and as
   * best/. `runCheckpointSaved`: the run's checkpoint of this step is written already (it cannot be
   * replaced atomically), so only best/ is written. Returns the run checkpoint's directory.
   */
  async save<P, B, C>(trainer: Trainer<P, B, C>, options: { readonly loss: number; readonly config?: unknown; readonly keep?: number; readonly runCheckpointSaved?: boolean }): Promise<void> {
    if (!Number.isFinite(options.loss)) throw new CheckpointError("BestCheckpoint", `a best checkpoint needs a finite validation loss, got ${options.loss}`);
    const checkpoint = checkpointFromState(trainer.state(), { config: options.config ?? null, metrics: { validation: options.loss, best: true } });
    if (!options.runCheckpointSaved) await saveCheckpoint(this.root, checkpoint, options.keep !== undefined ? { keep: options.keep } : {});
    await saveCheckpoint(this.dir, checkpoint, { keep: 1 });
    this.current = { step: checkpoint.step, loss: options.loss };
  }
}
