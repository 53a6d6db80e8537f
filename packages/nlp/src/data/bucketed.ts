import { Rng, type RngState, ValueRangeError } from "@unroll/tensor";
import type { DataSource } from "@unroll/train";
import { permutation } from "./batching.js";

export interface BucketedOptions {
  readonly batchSize: number;
  readonly seed?: number;
  /**
   * Sort examples of similar length into the same batch, within pools of `bucketPool` batches
   * (default 50), so that little of each batch is padding; the batches are then shuffled.
   * 1 turns bucketing off (each batch a random draw).
   */
  readonly bucketPool?: number;
  /** Epochs before `next()` returns null (default: never). */
  readonly epochs?: number;
}

/** Position of a bucketed source: batch `batch` of epoch `epoch`, the epoch's order drawn from `rng`. */
export interface BucketedPosition {
  readonly epoch: number;
  readonly batch: number;
  readonly rng: RngState;
}

export interface BucketedSource<B> extends DataSource<B> {
  readonly batchesPerEpoch: number;
  position(): BucketedPosition;
}

/**
 * Shuffled training batches over variable-length examples, every example once per epoch. Each
 * epoch draws an order from the source's own seeded generator; pools of `bucketPool` batches are
 * sorted by `compare` (their lengths) and cut into batches, and the batches are shuffled. The
 * generator's state at the start of the epoch is the position, so a resumed run reads the same
 * batches. Translation pairs and labelled sequences both batch this way.
 */
export function bucketedBatches<I, B>(
  items: readonly I[],
  options: BucketedOptions & {
    readonly op: string;
    /** What the items are called in messages ("pairs", "examples"). */
    readonly noun: string;
    readonly compare: (a: I, b: I) => number;
    readonly build: (items: I[]) => B;
  },
): BucketedSource<B> {
  const { op, noun } = options;
  const size = options.batchSize;
  if (!Number.isSafeInteger(size) || size < 1) throw new ValueRangeError(op, `batchSize must be a positive integer, got ${size}`);
  const pool = options.bucketPool ?? 50;
  if (!Number.isSafeInteger(pool) || pool < 1) throw new ValueRangeError(op, `bucketPool must be a positive integer, got ${pool}`);
  const epochs = options.epochs ?? Infinity;
  if (epochs !== Infinity && (!Number.isSafeInteger(epochs) || epochs < 1)) throw new ValueRangeError(op, `epochs must be a positive integer, got ${epochs}`);
  if (items.length === 0) throw new ValueRangeError(op, `there are no ${noun} to train on`);
  const batches = Math.ceil(items.length / size);

  const plan = (rng: Rng): Int32Array[] => {
    const order = permutation(items.length, rng);
    const cut: Int32Array[] = [];
    for (let start = 0; start < order.length; start += pool * size) {
      const chunk = Array.from(order.subarray(start, Math.min(order.length, start + pool * size)));
      if (pool > 1) chunk.sort((a, b) => options.compare(items[a]!, items[b]!) || a - b);
      for (let i = 0; i < chunk.length; i += size) cut.push(Int32Array.from(chunk.slice(i, i + size)));
    }
    const batchOrder = permutation(cut.length, rng);
    return Array.from(batchOrder, (i) => cut[i]!);
  };

  let rng = new Rng(options.seed ?? 0);
  let epochStart = rng.state();
  let order = plan(rng);
  let epoch = 0;
  let batch = 0;
  return {
    batchesPerEpoch: batches,
    next() {
      if (epoch >= epochs) return null;
      const out = options.build(Array.from(order[batch]!, (i) => items[i]!));
      if (++batch === batches) {
        batch = 0;
        epoch++;
        epochStart = rng.state();
        order = plan(rng);
      }
      return out;
    },
    position: () => ({ epoch, batch, rng: epochStart }),
    seek(position) {
      const p = position as Partial<BucketedPosition> | null;
      const count = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
      if (!count(p?.epoch) || !count(p.batch) || p.batch >= batches || typeof p.rng !== "object" || p.rng === null) {
        throw new ValueRangeError(
          op,
          `the checkpoint's data position ${JSON.stringify(position)} is not a position of these ${items.length} ${noun} in batches of ${size} (${batches} per epoch): was the run trained on other data or another batch size?`,
        );
      }
      rng = Rng.fromState(p.rng as RngState);
      epochStart = rng.state();
      order = plan(rng);
      epoch = p.epoch;
      batch = p.batch;
    },
  };
}
