import { Tensor, ValueRangeError } from "@unroll/tensor";
import { type BucketedOptions, type BucketedPosition, type BucketedSource, bucketedBatches } from "../data/bucketed.js";
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
 * with `S` the longest source and `T` the longest target plus one, each rounded up to a multiple
 * of `lengthMultiple` (default 1: no rounding; more padding changes no loss or gradient, and a
 * compiled engine then needs fewer graphs).
 */
export function makeBatch(pairs: readonly EncodedPair[], lengthMultiple = 1): Seq2SeqBatch & { readonly tokens: number } {
  const B = pairs.length;
  if (B === 0) throw new ValueRangeError("makeBatch", "a batch needs at least one pair");
  if (!Number.isSafeInteger(lengthMultiple) || lengthMultiple < 1) throw new ValueRangeError("makeBatch", `lengthMultiple must be a positive integer, got ${lengthMultiple}`);
  let S = 0;
  let T = 0;
  for (const [i, p] of pairs.entries()) {
    if (p.src.length === 0) throw new ValueRangeError("makeBatch", `pair ${i} has an empty source sentence`);
    S = Math.max(S, p.src.length);
    T = Math.max(T, p.tgt.length + 1);
  }
  S = Math.ceil(S / lengthMultiple) * lengthMultiple;
  T = Math.ceil(T / lengthMultiple) * lengthMultiple;
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

export interface PairBatchOptions extends BucketedOptions {
  /** Pad each batch's lengths up to a multiple of this (see `makeBatch`; default 1). */
  readonly lengthMultiple?: number;
}

/** Position of `pairBatches`: batch `batch` of epoch `epoch`, the epoch's order drawn from `rng`. */
export type PairPosition = BucketedPosition;

export type PairDataSource = BucketedSource<Seq2SeqBatch & { readonly tokens: number }>;

/**
 * Shuffled training batches over pairs, every pair once per epoch, pairs of similar source then
 * target length in the same batch (see `bucketedBatches`); a resumed run reads the same batches.
 */
export function pairBatches(pairs: readonly EncodedPair[], options: PairBatchOptions): PairDataSource {
  return bucketedBatches(pairs, {
    ...options,
    op: "pairBatches",
    noun: "pairs",
    compare: (a, b) => a.src.length - b.src.length || a.tgt.length - b.tgt.length,
    build: (items) => makeBatch(items, options.lengthMultiple ?? 1),
  });
}

/** Fixed batches in file order (evaluation, translation): sentences of similar length are not regrouped. */
export function* inOrderBatches(pairs: readonly EncodedPair[], batchSize: number): Generator<Seq2SeqBatch & { readonly tokens: number }> {
  for (let i = 0; i < pairs.length; i += batchSize) yield makeBatch(pairs.slice(i, i + batchSize));
}
