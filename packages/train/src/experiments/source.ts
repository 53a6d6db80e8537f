import { Rng, type RngState, ValueRangeError } from "@unroll/tensor";
import type { DataSource } from "../data.js";
import type { SequenceBatch, Task } from "./tasks.js";

/**
 * An endless stream of fresh batches of `task`, drawn from a generator seeded with `seed`: the
 * same seed gives the same batches, and the position is the generator's state, so a trainer
 * checkpoint resumes the stream exactly.
 */
export function taskSource(task: Task, options: { readonly batchSize: number; readonly seed: number }): DataSource<SequenceBatch> {
  let rng = new Rng(options.seed);
  return {
    next: () => task.batch(rng, options.batchSize),
    position: () => rng.state(),
    seek(position) {
      try {
        rng = Rng.fromState(position as RngState);
      } catch {
        throw new ValueRangeError("taskSource.seek", `not a position of this source: ${JSON.stringify(position)}`);
      }
    },
  };
}

/** A fixed test set: one batch of `size` sequences from its own seed (use one the training stream does not). */
export function taskTestSet(task: Task, options: { readonly size: number; readonly seed: number }): SequenceBatch {
  return task.batch(new Rng(options.seed), options.size);
}
