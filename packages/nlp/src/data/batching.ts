import { Rng, type RngState, Tensor, ValueRangeError } from "@unroll/tensor";
import type { DataSource } from "@unroll/train";

/** The target value that losses skip (`softmaxCrossEntropy(..., { ignoreIndex: -100 })`). */
export const IGNORE_INDEX = -100;

/**
 * A language-modelling batch, time first: `targets[t, b]` is the token that follows
 * `inputs[t, b]` in the text.
 */
export interface LmBatch {
  /** int32 `[T, B]` token ids. */
  readonly inputs: Tensor;
  /** int32 `[T, B]`: the next token of each input, or `IGNORE_INDEX` where nothing is scored. */
  readonly targets: Tensor;
  /** Column b does not continue column b of the previous batch: start from a fresh state. */
  readonly reset: boolean;
  readonly epoch: number;
  /** The batch's number within its epoch. */
  readonly index: number;
}

/** A `DataSource` of `LmBatch`es that knows its epoch length. */
export interface LmDataSource<P> extends DataSource<LmBatch> {
  readonly batchesPerEpoch: number;
  /** Targets (scored tokens) in one epoch. */
  readonly targetsPerEpoch: number;
  position(): P;
}

/** What to do with the part of an epoch that does not fill a whole batch. */
export type Remainder = "short" | "drop";

export interface StreamBatchOptions {
  /** B: parallel streams (columns). */
  readonly batchSize: number;
  /** T: time steps per batch (the truncated-BPTT length). */
  readonly window: number;
  /** Epochs before `next()` returns null (default: never). */
  readonly epochs?: number;
  /**
   * The last window of an epoch when the stream length L is not a multiple of T: "short" (default)
   * yields it with `L mod T` steps, so every target is read; "drop" skips it, so every batch has T
   * steps (char-rnn truncates its data the same way).
   */
  readonly remainder?: Remainder;
}

/** Position of `streamBatches`: the next batch is window `window` of epoch `epoch`. */
export interface StreamPosition {
  readonly epoch: number;
  readonly window: number;
}

/**
 * Batches for truncated BPTT with the state carried between batches (char-rnn's loader). The ids
 * are cut into B contiguous streams of L = floor((n - 1) / B) inputs: column b reads inputs
 * `ids[b*L ... (b+1)*L - 1]`, predicting `ids[b*L + 1 ... (b+1)*L]`, in consecutive windows of T
 * steps, so batch k+1 continues exactly where batch k stopped in every column and the model's
 * final state of one batch is the right initial state of the next. `reset` is true at the first
 * batch of every epoch.
 *
 * Each epoch predicts `ids[1 .. B*L]` exactly once, in order within each stream (with "short";
 * "drop" leaves out the last `L mod T` of each stream); the `n - 1 - B*L < B` ids after those are
 * never targets. Every epoch reads the same batches.
 */
export function streamBatches(ids: Int32Array, options: StreamBatchOptions): LmDataSource<StreamPosition> {
  const op = "streamBatches";
  const B = positiveInteger(op, "batchSize", options.batchSize);
  const T = positiveInteger(op, "window", options.window);
  const epochs = epochCount(op, options.epochs);
  const remainder = remainderOf(op, options.remainder);
  checkIds(op, ids);
  const L = Math.floor((ids.length - 1) / B);
  if (L < 1) throw new ValueRangeError(op, `need at least batchSize + 1 = ${B + 1} ids, got ${ids.length}`);
  const windows = remainder === "short" ? Math.ceil(L / T) : Math.floor(L / T);
  if (windows === 0) {
    throw new ValueRangeError(op, `streams of ${L} ids are shorter than one window of ${T} with remainder "drop"; use a smaller window or batchSize`);
  }
  const stepsPerEpoch = remainder === "short" ? L : windows * T;

  let epoch = 0;
  let window = 0;
  return {
    batchesPerEpoch: windows,
    targetsPerEpoch: B * stepsPerEpoch,
    next() {
      if (epoch >= epochs) return null;
      const start = window * T;
      const steps = Math.min(T, L - start);
      const inputs = new Int32Array(steps * B); // (T, B)
      const targets = new Int32Array(steps * B); // (T, B)
      for (let b = 0; b < B; b++) {
        const from = b * L + start;
        for (let t = 0; t < steps; t++) {
          inputs[t * B + b] = ids[from + t]!;
          targets[t * B + b] = ids[from + t + 1]!;
        }
      }
      const batch: LmBatch = { inputs: new Tensor(inputs, [steps, B]), targets: new Tensor(targets, [steps, B]), reset: window === 0, epoch, index: window };
      if (++window === windows) {
        window = 0;
        epoch++;
      }
      return batch;
    },
    position: () => ({ epoch, window }),
    seek(position) {
      const p = position as Partial<StreamPosition> | null;
      if (!isCount(p?.epoch) || !isCount(p.window) || p.window >= windows || p.epoch > epochs || (p.epoch === epochs && p.window !== 0)) {
        throw new TypeError(`${op}.seek: not a position of this source (${windows} windows per epoch): ${JSON.stringify(position)}`);
      }
      epoch = p.epoch;
      window = p.window;
    },
  };
}

export interface ShuffledWindowOptions {
  readonly batchSize: number;
  /** T: each example is T inputs and their T next tokens (T + 1 ids). */
  readonly window: number;
  /** Seeds the source's own generator (independent of the trainer's). */
  readonly seed: number;
  /** Epochs before `next()` returns null (default: never). */
  readonly epochs?: number;
  /**
   * The last batch of an epoch when the K windows are not a multiple of B: "short" (default)
   * yields it with `K mod B` columns; "drop" skips those windows for this epoch.
   */
  readonly remainder?: Remainder;
}

/**
 * Position of `shuffledWindows`: batch `batch` of epoch `epoch`, where the epoch's order is the
 * permutation drawn from the generator state `rng` (its state when the epoch began).
 */
export interface ShuffledPosition {
  readonly epoch: number;
  readonly batch: number;
  readonly rng: RngState;
}

/**
 * Independent random windows (nanoGPT-style training without carried state). The ids are cut
 * into K = floor((n - 1) / T) windows starting at 0, T, 2T, ...; each epoch visits all of them
 * once in an order drawn by Fisher-Yates from the source's own seeded `Rng`, B windows per batch,
 * so every id in `ids[1 .. K*T]` is a target exactly once per epoch. Each epoch draws a new
 * order; the generator's state at the start of the epoch is part of the position, so `seek`
 * redraws the same order. `reset` is true for every batch.
 */
export function shuffledWindows(ids: Int32Array, options: ShuffledWindowOptions): LmDataSource<ShuffledPosition> {
  const op = "shuffledWindows";
  const B = positiveInteger(op, "batchSize", options.batchSize);
  const T = positiveInteger(op, "window", options.window);
  const epochs = epochCount(op, options.epochs);
  const remainder = remainderOf(op, options.remainder);
  checkIds(op, ids);
  const K = Math.floor((ids.length - 1) / T);
  if (K < 1) throw new ValueRangeError(op, `need at least window + 1 = ${T + 1} ids, got ${ids.length}`);
  const batches = remainder === "short" ? Math.ceil(K / B) : Math.floor(K / B);
  if (batches === 0) {
    throw new ValueRangeError(op, `${K} windows of ${T} do not fill one batch of ${B} with remainder "drop"; use a smaller window or batchSize`);
  }

  let rng = new Rng(options.seed);
  let epochStart = rng.state();
  let order = permutation(K, rng);
  let epoch = 0;
  let batch = 0;
  return {
    batchesPerEpoch: batches,
    targetsPerEpoch: (remainder === "short" ? K : batches * B) * T,
    next() {
      if (epoch >= epochs) return null;
      const first = batch * B;
      const width = Math.min(B, K - first);
      const inputs = new Int32Array(T * width); // (T, B)
      const targets = new Int32Array(T * width); // (T, B)
      for (let c = 0; c < width; c++) {
        const from = order[first + c]! * T;
        for (let t = 0; t < T; t++) {
          inputs[t * width + c] = ids[from + t]!;
          targets[t * width + c] = ids[from + t + 1]!;
        }
      }
      const out: LmBatch = { inputs: new Tensor(inputs, [T, width]), targets: new Tensor(targets, [T, width]), reset: true, epoch, index: batch };
      if (++batch === batches) {
        batch = 0;
        epoch++;
        epochStart = rng.state();
        order = permutation(K, rng);
      }
      return out;
    },
    position: () => ({ epoch, batch, rng: epochStart }),
    seek(position) {
      const p = position as Partial<ShuffledPosition> | null;
      if (!isCount(p?.epoch) || !isCount(p.batch) || p.batch >= batches || p.epoch > epochs || (p.epoch === epochs && p.batch !== 0)) {
        throw new TypeError(`${op}.seek: not a position of this source (${batches} batches per epoch): ${JSON.stringify(position)}`);
      }
      rng = Rng.fromState(p.rng as RngState);
      epochStart = rng.state();
      order = permutation(K, rng);
      epoch = p.epoch;
      batch = p.batch;
    },
  };
}

/** A batch of `evaluationWindows`: `tokens` counts its targets that are not `IGNORE_INDEX`. */
export interface EvaluationBatch extends LmBatch {
  readonly tokens: number;
}

/** The batches of `evaluationWindows`: iterate as often as needed. */
export interface EvaluationWindows extends Iterable<EvaluationBatch> {
  readonly batches: number;
  /** Every target of the split: `ids.length - 1`. */
  readonly tokens: number;
  /** Columns of every batch: `min(batchSize, ids.length - 1)`. */
  readonly streams: number;
}

/**
 * Batches that score every target of a split exactly once: `ids[1 .. n-1]`, each predicted from
 * the text before it in its stream. The n - 1 targets are cut into S = min(B, n - 1) contiguous
 * streams whose lengths differ by at most one (the first `(n - 1) mod S` streams are one longer),
 * read in windows of T with the state carried (`reset` on the first batch only):
 * - every batch has S columns (narrower than B only when the split has fewer than B targets);
 * - the last window is shorter in time when the stream length is not a multiple of T;
 * - in the last time step, the shorter streams' target is `IGNORE_INDEX` (-100), their input the
 *   real next id, so the model sees valid ids everywhere and the loss skips those entries.
 * Without a carried state the same batches score each window from a fresh state.
 */
export function evaluationWindows(ids: Int32Array, options: { batchSize: number; window: number }): EvaluationWindows {
  const op = "evaluationWindows";
  const B = positiveInteger(op, "batchSize", options.batchSize);
  const T = positiveInteger(op, "window", options.window);
  checkIds(op, ids);
  const N = ids.length - 1;
  if (N < 1) throw new ValueRangeError(op, `need at least 2 ids, got ${ids.length}`);
  const S = Math.min(B, N);
  const q = Math.floor(N / S);
  const r = N % S;
  const steps = q + (r > 0 ? 1 : 0);
  const windows = Math.ceil(steps / T);
  // Stream s scores targets ids[start(s) + 1 ..= start(s) + length(s)].
  const start = (s: number) => s * q + Math.min(s, r);
  const length = (s: number) => q + (s < r ? 1 : 0);

  function* iterate(): Generator<EvaluationBatch> {
    for (let w = 0; w < windows; w++) {
      const from = w * T;
      const len = Math.min(T, steps - from);
      const inputs = new Int32Array(len * S); // (T, S)
      const targets = new Int32Array(len * S); // (T, S)
      let tokens = 0;
      for (let s = 0; s < S; s++) {
        const base = start(s);
        const n = length(s);
        for (let t = 0; t < len; t++) {
          const i = from + t;
          inputs[t * S + s] = ids[base + i]!; // base + i <= N: a real id even where padded
          if (i < n) {
            targets[t * S + s] = ids[base + i + 1]!;
            tokens++;
          } else targets[t * S + s] = IGNORE_INDEX;
        }
      }
      yield { inputs: new Tensor(inputs, [len, S]), targets: new Tensor(targets, [len, S]), reset: w === 0, epoch: 0, index: w, tokens };
    }
  }
  return { batches: windows, tokens: N, streams: S, [Symbol.iterator]: iterate };
}

/** A uniform random permutation of 0..n-1 (Fisher-Yates on 53-bit draws from `rng`). */
export function permutation(n: number, rng: Rng): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (n < 2) return order;
  const words = rng.uint32(2 * (n - 1));
  for (let i = n - 1, k = 0; i > 0; i--, k += 2) {
    const u = ((words[k]! >>> 5) * 67108864 + (words[k + 1]! >>> 6)) / 9007199254740992;
    const j = Math.floor(u * (i + 1));
    const tmp = order[i]!;
    order[i] = order[j]!;
    order[j] = tmp;
  }
  return order;
}

function positiveInteger(op: string, name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new ValueRangeError(op, `${name} must be a positive integer, got ${value}`);
  return value;
}

function epochCount(op: string, value: number | undefined): number {
  if (value === undefined || value === Infinity) return Infinity;
  if (!Number.isSafeInteger(value) || value < 1) throw new ValueRangeError(op, `epochs must be a positive integer or Infinity, got ${value}`);
  return value;
}

function remainderOf(op: string, value: Remainder | undefined): Remainder {
  if (value === undefined) return "short";
  if (value !== "short" && value !== "drop") throw new ValueRangeError(op, `remainder must be "short" or "drop", got ${JSON.stringify(value)}`);
  return value;
}

function checkIds(op: string, ids: Int32Array): void {
  if (!(ids instanceof Int32Array)) throw new ValueRangeError(op, "ids must be an Int32Array of token ids (tokenizer.encode output)");
  for (let i = 0; i < ids.length; i++) {
    if (ids[i]! < 0) throw new ValueRangeError(op, `ids[${i}] = ${ids[i]} is negative; token ids are >= 0`);
  }
}

function isCount(x: unknown): x is number {
  return Number.isSafeInteger(x) && (x as number) >= 0;
}
