import { ValueRangeError } from "@unroll/tensor";
import {
  applyLengthPenalty,
  banRepeatedNgrams,
  checkLengthPenalty,
  type Decoder,
  type Hypothesis,
  isCount,
  type LengthPenalty,
  resolveSearch,
  rowOf,
  scoreUpperBound,
  type SearchOptions,
  StepScores,
} from "./search.js";

export interface BeamOptions extends SearchOptions {
  readonly beamSize: number;
  /** Default none. Applied to finished hypotheses (and to the bound of `earlyStop: false`). */
  readonly lengthPenalty?: LengthPenalty;
  /**
   * Default true: an example is done once beamSize hypotheses have finished. False: it goes on
   * while its best live beam could still beat the worst of the beamSize kept finished ones, judged
   * by `scoreUpperBound`, which is a true bound for every penalty here (none, gnmt with any alpha,
   * average) because it assumes the longest allowed length; with gnmt or average that usually means
   * running to the maximum length.
   */
  readonly earlyStop?: boolean;
  /**
   * Hypotheses returned per example (default 1, at most beamSize); fewer when fewer were found (a
   * tiny vocabulary, forbidden tokens).
   */
  readonly returnCount?: number;
}

/**
 * Batched beam search over any `Decoder` (sync or async steps).
 *
 * Rows are example-major, each example's beams in rank order: [ex0 beam0, ex0 beam1, ..., ex1
 * beam0, ...]. The first step runs on `initial` itself, one row per example, fed BOS: that is
 * the usual "replicate beamSize times with every beam but 0 at -Infinity" without computing the
 * beamSize - 1 copies whose candidates could never be chosen; the `select` after it replicates the
 * chosen rows. An example's rows can be fewer than beamSize (a tiny vocabulary, forbidden tokens),
 * and an example that is done drops out of the batch, so later steps compute fewer rows.
 *
 * Each step ranks, per example, every (beam, token) by the beam's log-probability plus the
 * token's, and keeps the best 2 × beamSize candidates (score, then lower token id, then lower
 * beam index: deterministic). In rank order, an EOS candidate among the first beamSize enters the
 * example's pool of finished hypotheses (at most beamSize, the best by penalised score); other
 * candidates become the next beams until there are beamSize. Because at most beamSize of the 2K
 * candidates are EOS, EOS never starves the live beams.
 *
 * At the maximum length a beam may still take EOS (when its EOS candidate ranks among the first
 * beamSize, as at any step); every other beam of that step is returned as it is, `finished: false`
 * (with beamSize 1: when EOS is not the best token, as in greedy search). Finished hypotheses are
 * ranked before unfinished ones: an unfinished hypothesis's score lacks its EOS log-probability
 * and its unknown continuation, so it is returned only when fewer than `returnCount` finished.
 */
export async function beamSearch<S>(decoder: Decoder<S>, initial: S, batch: number, options: BeamOptions): Promise<Hypothesis[][]> {
  const op = "beamSearch";
  const search = resolveSearch(op, options, batch);
  const { eos, maxLengths, noRepeatNgram, signal } = search;
  const K = options.beamSize;
  if (!isCount(K) || K < 1) throw new ValueRangeError(op, `beamSize must be a positive integer (1 is greedy), got ${K}`);
  const returnCount = options.returnCount ?? 1;
  if (!isCount(returnCount) || returnCount < 1 || returnCount > K) {
    throw new ValueRangeError(op, `returnCount must be an integer in [1, beamSize = ${K}], got ${returnCount}: raise beamSize to return more`);
  }
  const penalty = checkLengthPenalty(op, options.lengthPenalty);
  const earlyStop = options.earlyStop ?? true;
  if (typeof earlyStop !== "boolean") throw new ValueRangeError(op, `earlyStop must be true or false, got ${String(earlyStop)}`);

  /** Per example, best first by score; at most K. */
  const finished: Hypothesis[][] = Array.from({ length: batch }, () => []);
  /** Per example, beams stopped at the maximum length (or with every token forbidden). */
  const unfinished: Hypothesis[][] = Array.from({ length: batch }, () => []);
  const scores = new StepScores(op, search);
  // Attention of each step and, for the rows of step s >= 1, the row of step s - 1 each extends:
  // a finished hypothesis's attention is read back through these pointers.
  const stepAttention: Float64Array[] = [];
  const stepWidth: number[] = [];
  const stepParents: Int32Array[] = [new Int32Array(0)];

  const cap = 2 * K;
  const candScore = new Float64Array(cap);
  const candRow = new Int32Array(cap);
  const candToken = new Int32Array(cap);
  const maxRows = batch * K;
  const nextParent = new Int32Array(maxRows);
  const nextToken = new Int32Array(maxRows);
  const nextLogProb = new Float64Array(maxRows);
  const nextExample = new Int32Array(maxRows);
  /** Step stamp (t + 1) of rows that finished or stopped in step t, so none is returned twice. */
  const stamp = new Int32Array(maxRows);

  let rows = batch;
  let rowExample = Int32Array.from({ length: batch }, (_, i) => i);
  let rowLogProb = new Float64Array(batch);
  /** The produced tokens of each row, rows × t. */
  let history = new Int32Array(0);
  let tokens = new Int32Array(batch).fill(search.bos);
  let state = initial;

  /** Attention rows of the hypothesis held by `row` at step t (plus that step's row if `withCurrent`). */
  const attentionOf = (t: number, row: number, withCurrent: boolean): number[][] => {
    const out: number[][] = new Array<number[]>(t + (withCurrent ? 1 : 0));
    if (withCurrent) out[t] = rowOf(stepAttention[t]!, row, stepWidth[t]!);
    let r = row;
    for (let s = t; s >= 1; s--) {
      r = stepParents[s]![r]!;
      out[s - 1] = rowOf(stepAttention[s - 1]!, r, stepWidth[s - 1]!);
    }
    return out;
  };
  const hypothesis = (t: number, row: number, logProb: number, done: boolean): Hypothesis => {
    const len = t + (done ? 1 : 0);
    return {
      tokens: Array.from(history.subarray(row * t, (row + 1) * t)),
      score: applyLengthPenalty(logProb, len, penalty),
      logProb,
      finished: done,
      ...(scores.attention !== undefined ? { attention: attentionOf(t, row, done) } : {}),
    };
  };
  const addFinished = (e: number, t: number, row: number, logProb: number) => {
    const pool = finished[e]!;
    const score = applyLengthPenalty(logProb, t + 1, penalty);
    if (pool.length === K && !(score > pool[K - 1]!.score)) return;
    let i = pool.length;
    while (i > 0 && score > pool[i - 1]!.score) i--;
    pool.splice(i, 0, hypothesis(t, row, logProb, true));
    if (pool.length > K) pool.pop();
  };
  const stop = (e: number, t: number, row: number) => {
    stamp[row] = t + 1;
    unfinished[e]!.push(hypothesis(t, row, rowLogProb[row]!, false));
  };

  for (let t = 0; rows > 0; t++) {
    signal?.throwIfAborted();
    const result = await decoder.step(tokens, state);
    signal?.throwIfAborted();
    scores.read(result, rows, t);
    const V = scores.vocab;
    const lp = scores.logProbs;
    if (scores.attention !== undefined) {
      stepAttention.push(scores.attention);
      stepWidth.push(scores.sourceLength);
    }
    if (noRepeatNgram > 0) for (let r = 0; r < rows; r++) banRepeatedNgrams(lp, r * V, history, r * t, t, noRepeatNgram);

    let m = 0;
    for (let start = 0; start < rows; ) {
      const e = rowExample[start]!;
      let end = start + 1;
      while (end < rows && rowExample[end] === e) end++;
      const count = topCandidates(lp, V, rowLogProb, start, end, cap, candScore, candRow, candToken);
      const atMax = t >= maxLengths[e]!;
      const first = m;
      for (let i = 0; i < count && i < K; i++) {
        if (candToken[i] !== eos) continue;
        stamp[candRow[i]!] = t + 1;
        addFinished(e, t, candRow[i]!, candScore[i]!);
      }
      if (atMax || count === 0) {
        // At the maximum length only EOS may follow (or every token is forbidden): the beams that
        // did not just finish end here as they are.
        for (let r = start; r < end; r++) if (stamp[r] !== t + 1) stop(e, t, r);
      } else {
        for (let i = 0; i < count && m - first < K; i++) {
          if (candToken[i] === eos) continue;
          nextParent[m] = candRow[i]!;
          nextToken[m] = candToken[i]!;
          nextLogProb[m] = candScore[i]!;
          nextExample[m] = e;
          m++;
        }
      }
      const pool = finished[e]!;
      if (m > first && pool.length >= K) {
        // The next beams are in rank order: the first has the highest log-probability and so the highest bound.
        if (earlyStop || !(scoreUpperBound(nextLogProb[first]!, t + 1, maxLengths[e]!, penalty) > pool[K - 1]!.score)) m = first;
      }
      start = end;
    }
    if (m === 0) break;

    const parents = nextParent.slice(0, m);
    const width = t + 1;
    const nextHistory = new Int32Array(m * width);
    for (let j = 0; j < m; j++) {
      const p = parents[j]!;
      nextHistory.set(history.subarray(p * t, p * t + t), j * width);
      nextHistory[j * width + t] = nextToken[j]!;
    }
    let identity = m === rows;
    for (let j = 0; identity && j < m; j++) identity = parents[j] === j;
    // A step that kept every row in place needs no copy of the state.
    state = identity ? result.state : decoder.select(result.state, parents);
    stepParents.push(parents);
    history = nextHistory;
    tokens = nextToken.slice(0, m);
    rowLogProb = nextLogProb.slice(0, m);
    rowExample = nextExample.slice(0, m);
    rows = m;
  }

  return finished.map((pool, e) => {
    const out = pool.slice(0, returnCount);
    if (out.length < returnCount) {
      const rest = unfinished[e]!.slice().sort((a, b) => b.score - a.score);
      out.push(...rest.slice(0, returnCount - out.length));
    }
    return out;
  });
}

/**
 * The best `cap` (beam, token) candidates of rows [start, end): score = the row's log-probability
 * plus the token's, ordered by score, then lower token id, then lower row (beam index). Candidates
 * at -Infinity (forbidden) are left out. Written into the typed arrays, best first; returns how many.
 */
function topCandidates(
  lp: Float64Array,
  V: number,
  rowLogProb: Float64Array,
  start: number,
  end: number,
  cap: number,
  score: Float64Array,
  row: Int32Array,
  token: Int32Array,
): number {
  let count = 0;
  for (let r = start; r < end; r++) {
    const base = rowLogProb[r]!;
    const off = r * V;
    for (let v = 0; v < V; v++) {
      const s = base + lp[off + v]!;
      if (!(s > -Infinity)) continue;
      let i: number;
      if (count < cap) {
        i = count++;
      } else {
        const w = score[cap - 1]!;
        // Rows come in increasing order, so an equal score from a later row wins only with a lower token.
        if (s < w || (s === w && !(v < token[cap - 1]!))) continue;
        i = cap - 1;
      }
      while (i > 0) {
        const ps = score[i - 1]!;
        const pt = token[i - 1]!;
        if (!(s > ps || (s === ps && (v < pt || (v === pt && r < row[i - 1]!))))) break;
        score[i] = ps;
        token[i] = pt;
        row[i] = row[i - 1]!;
        i--;
      }
      score[i] = s;
      token[i] = v;
      row[i] = r;
    }
  }
  return count;
}
