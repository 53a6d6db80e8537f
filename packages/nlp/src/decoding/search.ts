import { ValueRangeError } from "@unroll/tensor";

/**
 * Shared by greedy and beam search: the decoder interface, the option checks, the per-example
 * length limits, the log-softmax over rows with its masks, no-repeat-n-gram bans and the length
 * penalty. Nothing here knows about a model: a translation model, a captioner or an onnxruntime
 * session over an exported step graph all reach the searches through `Decoder`.
 */

export interface DecoderStepResult<S> {
  /** Next-token scores for each of the N rows, row-major N × V: logits (log-softmax is applied here). */
  readonly logits: ArrayLike<number>;
  readonly state: S;
  /** Optional attention weights of this step, N × sourceLength row-major (returned per hypothesis). */
  readonly attention?: ArrayLike<number>;
}

export interface Decoder<S> {
  /** One step for N rows: the previous token of each row and the state of the rows. */
  step(tokens: Int32Array, state: S): DecoderStepResult<S> | Promise<DecoderStepResult<S>>;
  /** The state whose row i is row `rows[i]` of `state` (reorders beams; replicates rows). */
  select(state: S, rows: Int32Array): S;
}

export interface Hypothesis {
  /** Without BOS and without the final EOS. */
  readonly tokens: number[];
  /** The ranking score (log-probability after the length penalty). */
  readonly score: number;
  /** Sum of token log-probabilities, EOS included when finished. */
  readonly logProb: number;
  /** Ended with EOS (false: stopped at the maximum length, or every token was forbidden). */
  readonly finished: boolean;
  /** One row per produced token (EOS included when finished), when the decoder returns attention. */
  readonly attention?: number[][];
}

/**
 * How finished hypotheses of different lengths are compared. `len` counts the produced tokens
 * and the EOS of a finished hypothesis (the EOS's log-probability is in `logProb`, so the score is
 * normalised over the same tokens it sums); an unfinished one counts its tokens only.
 * - none: `logProb` (favours short outputs);
 * - gnmt: `logProb / ((5 + len) / 6) ** alpha` (Wu et al. 2016; alpha around 0.6–1);
 * - average: `logProb / len`, the mean token log-probability.
 */
export type LengthPenalty = { kind: "none" } | { kind: "gnmt"; alpha: number } | { kind: "average" };

export interface SearchOptions {
  readonly bos: number;
  readonly eos: number;
  /**
   * Maximum produced tokens (EOS excluded), absolute; and/or relative to each source length:
   * a * srcLength + b (fairseq's max_len_a/max_len_b), rounded down. The smaller applies. A
   * hypothesis may reach maxLength tokens and then still finish with EOS; one that would go on
   * past it is stopped there and returned with `finished: false`.
   */
  readonly maxLength?: number;
  readonly maxLengthA?: number;
  readonly maxLengthB?: number;
  /** One per example; needed by maxLengthA. */
  readonly sourceLengths?: readonly number[];
  /** EOS forbidden before this many tokens. */
  readonly minLength?: number;
  /** Ids never produced (pad, bos, unk...). It may not contain eos: nothing could finish. */
  readonly exclude?: readonly number[];
  /**
   * 0 (default): off. Otherwise no n-gram of this size occurs twice in a hypothesis: a token that
   * would complete an n-gram already present in the produced tokens (BOS not included) is
   * forbidden (fairseq/HF no_repeat_ngram_size). Shared with greedy so that beam size 1 is greedy.
   */
  readonly noRepeatNgram?: number;
  /** Checked before and after every decoder step: the search rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
}

/** The options after checking, with one length limit per example. */
export interface ResolvedSearch {
  readonly bos: number;
  readonly eos: number;
  /** Per example: produced tokens allowed (EOS excluded). */
  readonly maxLengths: Float64Array;
  readonly minLength: number;
  readonly exclude: Int32Array;
  readonly noRepeatNgram: number;
  readonly signal: AbortSignal | undefined;
}

export function isCount(x: unknown): x is number {
  return typeof x === "number" && Number.isInteger(x) && x >= 0;
}

/** Checks the options shared by the searches and resolves each example's maximum length. */
export function resolveSearch(op: string, options: SearchOptions, batch: number): ResolvedSearch {
  if (!isCount(batch)) throw new ValueRangeError(op, `batch must be a non-negative integer (the number of rows of the initial state), got ${batch}`);
  const { bos, eos, maxLength, maxLengthA, maxLengthB, sourceLengths, minLength = 0, exclude = [], noRepeatNgram = 0 } = options;
  if (!isCount(bos)) throw new ValueRangeError(op, `bos must be a non-negative integer token id, got ${bos}`);
  if (!isCount(eos)) throw new ValueRangeError(op, `eos must be a non-negative integer token id, got ${eos}`);
  if (maxLength !== undefined && !isCount(maxLength)) {
    throw new ValueRangeError(op, `maxLength must be a non-negative integer (produced tokens, EOS excluded), got ${maxLength}`);
  }
  if (maxLengthA !== undefined && !(maxLengthA >= 0 && Number.isFinite(maxLengthA))) {
    throw new ValueRangeError(op, `maxLengthA must be a finite number >= 0 (tokens per source token), got ${maxLengthA}`);
  }
  if (maxLengthB !== undefined && !isCount(maxLengthB)) throw new ValueRangeError(op, `maxLengthB must be a non-negative integer, got ${maxLengthB}`);
  if (maxLength === undefined && maxLengthA === undefined && maxLengthB === undefined) {
    throw new ValueRangeError(op, "no length limit: give maxLength, or maxLengthA/maxLengthB with sourceLengths, so that the search ends even if EOS never comes");
  }
  if (maxLengthA !== undefined && sourceLengths === undefined) {
    throw new ValueRangeError(op, "maxLengthA needs sourceLengths (one source length per example)");
  }
  if (sourceLengths !== undefined) {
    if (sourceLengths.length !== batch) {
      throw new ValueRangeError(op, `sourceLengths has ${sourceLengths.length} entries for a batch of ${batch}: give one source length per example`);
    }
    for (const n of sourceLengths) if (!isCount(n)) throw new ValueRangeError(op, `sourceLengths must be non-negative integers, got ${n}`);
  }
  if (!isCount(minLength)) throw new ValueRangeError(op, `minLength must be a non-negative integer, got ${minLength}`);
  if (!isCount(noRepeatNgram)) throw new ValueRangeError(op, `noRepeatNgram must be a non-negative integer (0: off), got ${noRepeatNgram}`);
  for (const id of exclude) {
    if (!isCount(id)) throw new ValueRangeError(op, `exclude must hold non-negative integer token ids, got ${id}`);
    if (id === eos) {
      throw new ValueRangeError(op, `exclude contains eos (${eos}): no hypothesis could finish. Remove it (use minLength to delay EOS; a model whose BOS is its EOS needs the id allowed)`);
    }
  }
  const maxLengths = new Float64Array(batch);
  for (let e = 0; e < batch; e++) {
    let limit = maxLength ?? Infinity;
    if (maxLengthA !== undefined || maxLengthB !== undefined) {
      const relative = Math.floor((maxLengthA ?? 0) * (sourceLengths?.[e] ?? 0) + (maxLengthB ?? 0));
      limit = Math.min(limit, relative);
    }
    maxLengths[e] = limit;
  }
  return { bos, eos, maxLengths, minLength, exclude: Int32Array.from(exclude), noRepeatNgram, signal: options.signal };
}

export function checkLengthPenalty(op: string, penalty: LengthPenalty | undefined): LengthPenalty {
  if (penalty === undefined) return { kind: "none" };
  switch (penalty.kind) {
    case "none":
    case "average":
      return penalty;
    case "gnmt":
      if (!Number.isFinite(penalty.alpha)) throw new ValueRangeError(op, `lengthPenalty gnmt needs a finite alpha (about 0.6 to 1), got ${penalty.alpha}`);
      return penalty;
    default:
      throw new ValueRangeError(op, `lengthPenalty.kind must be "none", "gnmt" or "average", got ${JSON.stringify((penalty as { kind: unknown }).kind)}`);
  }
}

function denominator(len: number, penalty: LengthPenalty): number {
  switch (penalty.kind) {
    case "none":
      return 1;
    case "gnmt":
      return ((5 + len) / 6) ** penalty.alpha;
    case "average":
      return Math.max(len, 1);
  }
}

/**
 * The ranking score of a hypothesis with `logProb` over `len` tokens (produced tokens, plus one
 * for the EOS of a finished hypothesis).
 */
export function applyLengthPenalty(logProb: number, len: number, penalty: LengthPenalty): number {
  return penalty.kind === "none" ? logProb : logProb / denominator(len, penalty);
}

/**
 * An upper bound on the score of every hypothesis that can still grow from a live beam with
 * `logProb` over `tokens` tokens when at most `maxLength` tokens may be produced. Log-probabilities
 * only fall as tokens are added (each is <= 0), and every penalty here divides by a positive
 * denominator of the final length, which is between `tokens` and `maxLength + 1` (the EOS): so
 * logProb / (the largest denominator in that range) bounds every descendant, for all three
 * penalties. It is exact as a bound, not tight: for `average` and gnmt the largest denominator is
 * at the maximum length, so those searches run longer before they can stop.
 */
export function scoreUpperBound(logProb: number, tokens: number, maxLength: number, penalty: LengthPenalty): number {
  if (penalty.kind === "none") return logProb;
  const longest = maxLength + 1;
  const d = Math.max(denominator(tokens, penalty), denominator(longest, penalty));
  return logProb / d;
}

/**
 * Reads a step's result for `rows` rows: checks the shapes, writes the Float64 log-softmax of each
 * row into `logProbs` with forbidden tokens at -Infinity, and copies the attention.
 */
export class StepScores {
  vocab = 0;
  logProbs = new Float64Array(0);
  /** This step's attention, rows × sourceLength (a fresh array each step: beam search keeps them). */
  attention: Float64Array | undefined;
  sourceLength = 0;
  private hasAttention: boolean | undefined;

  constructor(
    private readonly op: string,
    private readonly search: ResolvedSearch,
  ) {}

  read(result: DecoderStepResult<unknown>, rows: number, step: number): void {
    const { op, search } = this;
    const logits = result.logits;
    const total = logits.length;
    if (total === 0 || total % rows !== 0) {
      throw new ValueRangeError(op, `step ${step} returned ${total} logits for ${rows} rows: a step must return rows × vocabulary scores, row-major`);
    }
    const V = total / rows;
    if (this.vocab === 0) {
      this.vocab = V;
      const range = `use an id in [0, ${V - 1}]`;
      if (search.eos >= V) throw new ValueRangeError(op, `eos ${search.eos} is out of range of the vocabulary (${V} scores per row): ${range}`);
      if (search.bos >= V) throw new ValueRangeError(op, `bos ${search.bos} is out of range of the vocabulary (${V} scores per row): ${range}`);
      for (const id of search.exclude) {
        if (id >= V) throw new ValueRangeError(op, `exclude id ${id} is out of range of the vocabulary (${V} scores per row): ${range}`);
      }
    } else if (V !== this.vocab) {
      throw new ValueRangeError(op, `step ${step} returned ${V} scores per row, step 0 returned ${this.vocab}: the vocabulary size must stay the same`);
    }
    if (this.logProbs.length < total) this.logProbs = new Float64Array(total);
    const lp = this.logProbs;
    for (let r = 0; r < rows; r++) {
      const off = r * V;
      let max = -Infinity;
      for (let v = 0; v < V; v++) {
        const x = logits[off + v]!;
        if (x > max) max = x;
      }
      if (max === -Infinity) {
        lp.fill(-Infinity, off, off + V);
        continue;
      }
      let sum = 0;
      for (let v = 0; v < V; v++) sum += Math.exp(logits[off + v]! - max);
      if (Number.isNaN(sum)) {
        throw new ValueRangeError(op, `step ${step} row ${r} has NaN or +Infinity logits: scores must be finite (-Infinity forbids a token)`);
      }
      const lse = max + Math.log(sum);
      for (let v = 0; v < V; v++) lp[off + v] = logits[off + v]! - lse;
    }
    for (const id of search.exclude) for (let r = 0; r < rows; r++) lp[r * V + id] = -Infinity;
    if (step < search.minLength) for (let r = 0; r < rows; r++) lp[r * V + search.eos] = -Infinity;

    const attention = result.attention;
    const has = attention !== undefined;
    if (this.hasAttention === undefined) this.hasAttention = has;
    else if (this.hasAttention !== has) {
      throw new ValueRangeError(op, `step ${step} ${has ? "returned" : "did not return"} attention, earlier steps ${has ? "did not" : "did"}: return it at every step or never`);
    }
    if (attention === undefined) {
      this.attention = undefined;
      return;
    }
    if (attention.length % rows !== 0) {
      throw new ValueRangeError(op, `step ${step} returned ${attention.length} attention weights for ${rows} rows: attention must be rows × sourceLength, row-major`);
    }
    this.sourceLength = attention.length / rows;
    this.attention = Float64Array.from(attention);
  }
}

/**
 * Forbids, in the log-probabilities at `lp[off .. off + V)`, every token that would complete an
 * n-gram already present in `history[start .. start + length)`.
 */
export function banRepeatedNgrams(lp: Float64Array, off: number, history: ArrayLike<number>, start: number, length: number, n: number): void {
  if (n === 0 || length < n - 1) return;
  // The last n-1 tokens are the prefix of the n-gram the next token would complete.
  const prefix = start + length - (n - 1);
  for (let i = start; i + n - 1 < start + length; i++) {
    let same = true;
    for (let k = 0; k < n - 1; k++) {
      if (history[i + k] !== history[prefix + k]) {
        same = false;
        break;
      }
    }
    if (same) lp[off + history[i + n - 1]!] = -Infinity;
  }
}

/** The row `row` of an `n × width` matrix as a plain array. */
export function rowOf(matrix: Float64Array, row: number, width: number): number[] {
  return Array.from(matrix.subarray(row * width, (row + 1) * width));
}
