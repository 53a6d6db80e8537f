import { Rng, type RngState, Tensor, ValueRangeError } from "@unroll/tensor";
import type { DataSource } from "@unroll/train";
import { permutation } from "../data/batching.js";
import type { Seq2SeqBatch } from "./model.js";
import { Vocabulary } from "./vocabulary.js";

/** One encoded sentence pair: ids without start or end symbols. */
export interface EncodedPair {
  readonly src: Int32Array;
  readonly tgt: Int32Array;
}

/**
 * A padded, time-first batch of pairs: `src [S, B]` (0 pads), `srcLengths [B]`, `tgtIn [T, B]`
 * (start symbol + target, 0 pads) and `tgtOut [T, B]` (target + end symbol, -100 at padding),
 * with `T` the longest target plus one.
 */
export function makeBatch(pairs: readonly EncodedPair[]): Seq2SeqBatch & { readonly tokens: number } {
  const B = pairs.length;
  if (B === 0) throw new ValueRangeError("makeBatch", "a batch needs at least one pair");
  let S = 0;
  let T = 0;
  for (const [i, p] of pairs.entries()) {
    if (p.src.length === 0) throw new ValueRangeError("makeBatch", `pair ${i} has an empty source sentence`);
    S = Math.max(S, p.src.length);
    T = Math.max(T, p.tgt.length + 1);
  }
  const src = new Int32Array(S * B);
  const lengths = new Int32Array(B);
  const tgtIn = new Int32Array(T * B);
  const tgtOut = new Int32Array(T * B).fill(-100);
  let tokens = 0;
  pairs.forEach((p, b) => {
    lengths[b] = p.src.length;
    for (let s = 0; s < p.src.length; s++) src[s * B + b] = p.src[s]!;
    tgtIn[b] = Vocabulary.BOS;
    for (let t = 0; t < p.tgt.length; t++) {
      tgtIn[(t + 1) * B + b] = p.tgt[t]!;
      tgtOut[t * B + b] = p.tgt[t]!;
    }
    tgtOut[p.tgt.length * B + b] = Vocabulary.EOS;
    tokens += p.tgt.length + 1;
  });
  return {
    src: new Tensor(src, [S, B]),
    srcLengths: new Tensor(lengths, [B]),
    tgtIn: new Tensor(tgtIn, [T, B]),
    tgtOut: new Tensor(tgtOut, [T, B]),
    tokens,
  };
}

export interface PairBatchOptions {
  readonly batchSize: number;
  readonly seed?: number;
  /**
   * Sort pairs of similar length into the same batch, within pools of `bucketPool` batches
   * (default 50), so that little of each batch is padding; the batches are then shuffled.
   * 1 turns bucketing off (each batch a random draw).
   */
  readonly bucketPool?: number;
  /** Epochs before `next()` returns null (default: never). */
  readonly epochs?: number;
}

/** Position of `pairBatches`: batch `batch` of epoch `epoch`, the epoch's order drawn from `rng`. */
export interface PairPosition {
  readonly epoch: number;
  readonly batch: number;
  readonly rng: RngState;
}

export interface PairDataSource extends DataSource<Seq2SeqBatch & { readonly tokens: number }> {
  readonly batchesPerEpoch: number;
  position(): PairPosition;
}

/**
 * Shuffled training batches over pairs, every pair once per epoch. Each epoch draws an order
 * from the source's own seeded generator; pools of `bucketPool` batches are sorted by source
 * then target length and cut into batches, and the batches are shuffled. The generator's state at
 * the start of the epoch is the position, so a resumed run reads the same batches.
 */
export function pairBatches(pairs: readonly EncodedPair[], options: PairBatchOptions): PairDataSource {
  const op = "pairBatches";
  const B = options.batchSize;
  if (!Number.isSafeInteger(B) || B < 1) throw new ValueRangeError(op, `batchSize must be a positive integer, got ${B}`);
  const pool = options.bucketPool ?? 50;
  if (!Number.isSafeInteger(pool) || pool < 1) throw new ValueRangeError(op, `bucketPool must be a positive integer, got ${pool}`);
  const epochs = options.epochs ?? Infinity;
  if (epochs !== Infinity && (!Number.isSafeInteger(epochs) || epochs < 1)) throw new ValueRangeError(op, `epochs must be a positive integer, got ${epochs}`);
  if (pairs.length === 0) throw new ValueRangeError(op, "there are no pairs to train on");
  const batches = Math.ceil(pairs.length / B);

  const plan = (rng: Rng): Int32Array[] => {
    const order = permutation(pairs.length, rng);
    const cut: Int32Array[] = [];
    for (let start = 0; start < order.length; start += pool * B) {
      const chunk = Array.from(order.subarray(start, Math.min(order.length, start + pool * B)));
      if (pool > 1) chunk.sort((a, b) => pairs[a]!.src.length - pairs[b]!.src.length || pairs[a]!.tgt.length - pairs[b]!.tgt.length || a - b);
      for (let i = 0; i < chunk.length; i += B) cut.push(Int32Array.from(chunk.slice(i, i + B)));
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
      const out = makeBatch(Array.from(order[batch]!, (i) => pairs[i]!));
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
      const p = position as Partial<PairPosition> | null;
      const count = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
      if (!count(p?.epoch) || !count(p.batch) || p.batch >= batches || typeof p.rng !== "object" || p.rng === null) {
        throw new ValueRangeError(op, `the checkpoint's data position ${JSON.stringify(position)} is not a position of these ${pairs.length} pairs in batches of ${B} (${batches} per epoch): was the run trained on other data or another batch size?`);
      }
      rng = Rng.fromState(p.rng as RngState);
      epochStart = rng.state();
      order = plan(rng);
      epoch = p.epoch;
      batch = p.batch;
    },
  };
}

/** Fixed batches in file order (evaluation, translation): sentences of similar length are not regrouped. */
export function* inOrderBatches(pairs: readonly EncodedPair[], batchSize: number): Generator<Seq2SeqBatch & { readonly tokens: number }> {
  for (let i = 0; i < pairs.length; i += batchSize) yield makeBatch(pairs.slice(i, i + batchSize));
}
