import { banRepeatedNgrams, type Decoder, type Hypothesis, resolveSearch, rowOf, type SearchOptions, StepScores } from "./search.js";

/**
 * Greedy decoding of `batch` examples at once: each step takes the most likely allowed token of
 * every row (the lower id on ties). `initial` holds one row per example. An example stops when it
 * produces EOS (`finished`), when it has `maxLength` tokens and its next token would not be EOS,
 * or when every token is forbidden (both `finished: false`). Stopped examples leave the batch
 * (`select` with the rows still running), so later steps compute fewer rows. The score is the
 * log-probability: there is no choice between hypotheses for a length penalty to change.
 */
export async function greedySearch<S>(decoder: Decoder<S>, initial: S, batch: number, options: SearchOptions): Promise<Hypothesis[]> {
  const op = "greedySearch";
  const search = resolveSearch(op, options, batch);
  const { eos, maxLengths, noRepeatNgram, signal } = search;
  const results: Hypothesis[] = new Array<Hypothesis>(batch);
  const produced: number[][] = Array.from({ length: batch }, () => []);
  const attention: number[][][] = Array.from({ length: batch }, () => []);
  const logProb = new Float64Array(batch);
  const scores = new StepScores(op, search);

  let rows = batch;
  let rowExample = Int32Array.from({ length: batch }, (_, i) => i);
  let tokens = new Int32Array(batch).fill(search.bos);
  let state = initial;
  const finish = (e: number, finished: boolean, withAttention: boolean) => {
    results[e] = {
      tokens: produced[e]!,
      score: logProb[e]!,
      logProb: logProb[e]!,
      finished,
      ...(withAttention ? { attention: attention[e]! } : {}),
    };
  };

  for (let t = 0; rows > 0; t++) {
    signal?.throwIfAborted();
    const result = await decoder.step(tokens, state);
    signal?.throwIfAborted();
    scores.read(result, rows, t);
    const V = scores.vocab;
    const lp = scores.logProbs;
    const att = scores.attention;
    const keep = new Int32Array(rows);
    const next = new Int32Array(rows);
    let kept = 0;
    for (let r = 0; r < rows; r++) {
      const e = rowExample[r]!;
      const history = produced[e]!;
      const off = r * V;
      if (noRepeatNgram > 0) banRepeatedNgrams(lp, off, history, 0, history.length, noRepeatNgram);
      let best = -1;
      let bestLp = -Infinity;
      for (let v = 0; v < V; v++) {
        if (lp[off + v]! > bestLp) {
          bestLp = lp[off + v]!;
          best = v;
        }
      }
      if (best < 0 || (best !== eos && t >= maxLengths[e]!)) {
        finish(e, false, att !== undefined);
        continue;
      }
      logProb[e] = logProb[e]! + bestLp;
      if (att !== undefined) attention[e]!.push(rowOf(att, r, scores.sourceLength));
      if (best === eos) {
        finish(e, true, att !== undefined);
        continue;
      }
      history.push(best);
      keep[kept] = r;
      next[kept] = best;
      kept++;
    }
    if (kept === 0) break;
    const nextRows = keep.slice(0, kept);
    // A step where nothing stopped keeps the rows as they are: no copy of the state.
    state = kept === rows ? result.state : decoder.select(result.state, nextRows);
    const nextExample = new Int32Array(kept);
    for (let i = 0; i < kept; i++) nextExample[i] = rowExample[nextRows[i]!]!;
    rowExample = nextExample;
    tokens = next.slice(0, kept);
    rows = kept;
  }
  return results;
}
