import { Rng } from "@unroll/tensor";
import type { Decoder, DecoderStepResult, LengthPenalty } from "./search.js";

/**
 * Test decoders as explicit tables: the logits of a row are a function of its example and the
 * tokens it has produced, so expected outputs can be worked out by hand or by enumeration.
 */
export type Table = (example: number, produced: readonly number[]) => ArrayLike<number>;

/** The state of the test decoder: per row, its example and every token fed to it (BOS first). */
export interface Rows {
  readonly example: readonly number[];
  readonly fed: readonly (readonly number[])[];
}

export interface TestDecoder extends Decoder<Rows> {
  /** The number of rows of each step, in order. */
  readonly rowsPerStep: number[];
  /** One row per example id, nothing fed yet. */
  initial(examples: readonly number[]): Rows;
}

export interface TestDecoderOptions {
  /** Steps return a Promise that settles on a later macrotask. */
  readonly async?: boolean;
  /** Return attention rows of this width encoding each row's produced prefix (see `encodePrefix`). */
  readonly attentionWidth?: number;
  /** Called with the step index at the start of each step. */
  readonly onStep?: (step: number) => void;
}

/** [prefix length, ...prefix, -1, -1, ...] cut or padded to `width`: identifies the row that attended. */
export function encodePrefix(prefix: readonly number[], width: number): number[] {
  const out = [prefix.length, ...prefix];
  while (out.length < width) out.push(-1);
  return out.slice(0, width);
}

export function tableDecoder(table: Table, options: TestDecoderOptions = {}): TestDecoder {
  const rowsPerStep: number[] = [];
  const compute = (tokens: Int32Array, state: Rows): DecoderStepResult<Rows> => {
    const n = tokens.length;
    if (state.example.length !== n || state.fed.length !== n) throw new Error(`test decoder: ${n} tokens for ${state.example.length} state rows`);
    for (let i = 1; i < n; i++) if (state.example[i]! < state.example[i - 1]!) throw new Error("test decoder: rows are not example-major");
    options.onStep?.(rowsPerStep.length);
    rowsPerStep.push(n);
    const fed = state.fed.map((f, i) => [...f, tokens[i]!]);
    const logits: number[] = [];
    const attention: number[] = [];
    for (let i = 0; i < n; i++) {
      const produced = fed[i]!.slice(1);
      logits.push(...Array.from(table(state.example[i]!, produced)));
      if (options.attentionWidth !== undefined) attention.push(...encodePrefix(produced, options.attentionWidth));
    }
    return {
      logits,
      state: { example: state.example, fed },
      ...(options.attentionWidth !== undefined ? { attention } : {}),
    };
  };
  return {
    rowsPerStep,
    initial: (examples) => ({ example: [...examples], fed: examples.map(() => []) }),
    step(tokens, state) {
      if (!options.async) return compute(tokens, state);
      return new Promise((resolve, reject) =>
        setTimeout(() => {
          try {
            resolve(compute(tokens, state));
          } catch (error) {
            reject(error instanceof Error ? error : new Error(String(error)));
          }
        }, 0),
      );
    },
    select(state, rows) {
      for (const r of rows) if (!(r >= 0 && r < state.example.length)) throw new Error(`test decoder: select row ${r} of ${state.example.length}`);
      return { example: Array.from(rows, (r) => state.example[r]!), fed: Array.from(rows, (r) => state.fed[r]!) };
    },
  };
}

/**
 * A Markov table: `probs[last]` is the next-token distribution after token `last` (the BOS id for
 * the first step), or per example `probs[example][last]`. Probability 0 is a logit of -Infinity.
 */
export function markov(probs: readonly (readonly number[])[], bos: number): Table {
  const logits = probs.map((row) => row.map(Math.log));
  return (_example, produced) => logits[produced.length === 0 ? bos : produced[produced.length - 1]!]!;
}

/** Random logits in [-spread, spread] depending on (example, last token); examples differ. */
export function randomMarkov(seed: number, examples: number, V: number, spread = 3): Table {
  const rng = new Rng(seed);
  const table = Array.from({ length: examples }, () => Array.from({ length: V }, () => Array.from({ length: V }, () => (2 * rng.random() - 1) * spread)));
  return (example, produced) => table[example]![produced.length === 0 ? V - 1 : produced[produced.length - 1]!]!;
}

/** Random logits that depend on the whole prefix (not Markov): a hash of it seeds the row. */
export function randomTree(seed: number, V: number, spread = 3): Table {
  return (example, produced) => {
    let h = (seed * 1_000_003 + example * 7919) >>> 0;
    for (const t of produced) h = (Math.imul(h ^ (t + 1), 2_654_435_761) + 97) >>> 0;
    const rng = new Rng(h);
    return Array.from({ length: V }, () => (2 * rng.random() - 1) * spread);
  };
}

export interface OracleOptions {
  readonly eos: number;
  readonly maxLength: number;
  readonly minLength?: number;
  readonly exclude?: readonly number[];
  readonly noRepeatNgram?: number;
  readonly penalty?: LengthPenalty;
}

export interface Scored {
  readonly tokens: number[];
  readonly logProb: number;
  readonly score: number;
}

/** Log-softmax written out plainly, independent of the module under test. */
export function logSoftmax(logits: ArrayLike<number>): number[] {
  const xs = Array.from(logits);
  const max = Math.max(...xs);
  if (max === -Infinity) return xs.map(() => -Infinity);
  const lse = max + Math.log(xs.reduce((a, x) => a + Math.exp(x - max), 0));
  return xs.map((x) => x - lse);
}

export function penalised(logProb: number, len: number, penalty: LengthPenalty = { kind: "none" }): number {
  if (penalty.kind === "gnmt") return logProb / Math.pow((5 + len) / 6, penalty.alpha);
  if (penalty.kind === "average") return logProb / Math.max(1, len);
  return logProb;
}

/** Whether the last n tokens of `seq` already occur as an n-gram earlier in it. */
export function repeatsLastNgram(seq: readonly number[], n: number): boolean {
  if (n === 0 || seq.length < n) return false;
  const last = seq.slice(-n).join(",");
  for (let i = 0; i + n < seq.length; i++) if (seq.slice(i, i + n).join(",") === last) return true;
  return false;
}

/**
 * Every finished sequence (at most maxLength tokens, then EOS) with its log-probability and
 * penalised score (EOS counted in the length), best first: the brute-force oracle for beam search.
 */
export function enumerateFinished(table: Table, example: number, options: OracleOptions): Scored[] {
  const { eos, maxLength, minLength = 0, exclude = [], noRepeatNgram = 0, penalty } = options;
  const out: Scored[] = [];
  const visit = (prefix: number[], logProb: number) => {
    const lp = logSoftmax(table(example, prefix));
    if (prefix.length >= minLength && lp[eos]! > -Infinity) {
      const total = logProb + lp[eos]!;
      out.push({ tokens: prefix, logProb: total, score: penalised(total, prefix.length + 1, penalty) });
    }
    if (prefix.length >= maxLength) return;
    lp.forEach((l, v) => {
      if (v === eos || exclude.includes(v) || !(l > -Infinity)) return;
      const next = [...prefix, v];
      if (repeatsLastNgram(next, noRepeatNgram)) return;
      visit(next, logProb + l);
    });
  };
  visit([], 0);
  return out.sort((a, b) => b.score - a.score);
}

export interface NaiveBeamOptions extends OracleOptions {
  readonly beamSize: number;
  readonly earlyStop?: boolean;
  readonly returnCount?: number;
}

/**
 * Beam search for one example written the slow, plain way (objects, sorts, no batching), to check
 * the typed-array bookkeeping of `beamSearch` where the beam is narrower than the candidates.
 */
export function naiveBeam(table: Table, example: number, options: NaiveBeamOptions): (Scored & { finished: boolean })[] {
  const { eos, maxLength, minLength = 0, exclude = [], noRepeatNgram = 0, penalty, beamSize: K, earlyStop = true, returnCount = 1 } = options;
  type Beam = { tokens: number[]; logProb: number };
  let beams: Beam[] = [{ tokens: [], logProb: 0 }];
  let finished: (Scored & { finished: boolean })[] = [];
  const unfinished: (Scored & { finished: boolean })[] = [];
  for (let t = 0; ; t++) {
    const candidates: { beam: number; token: number; logProb: number }[] = [];
    beams.forEach((b, beam) => {
      const lp = logSoftmax(table(example, b.tokens));
      lp.forEach((l, token) => {
        if (exclude.includes(token) || (token === eos && t < minLength)) return;
        if (token !== eos && repeatsLastNgram([...b.tokens, token], noRepeatNgram)) return;
        if (b.logProb + l > -Infinity) candidates.push({ beam, token, logProb: b.logProb + l });
      });
    });
    candidates.sort((x, y) => y.logProb - x.logProb || x.token - y.token || x.beam - y.beam);
    const top = candidates.slice(0, 2 * K);
    const ended = new Set<number>();
    top.forEach((c, rank) => {
      if (c.token !== eos || rank >= K) return;
      ended.add(c.beam);
      finished.push({ tokens: beams[c.beam]!.tokens, logProb: c.logProb, score: penalised(c.logProb, t + 1, penalty), finished: true });
      finished = finished.sort((x, y) => y.score - x.score).slice(0, K);
    });
    if (t >= maxLength || top.length === 0) {
      beams.forEach((b, i) => {
        if (!ended.has(i)) unfinished.push({ ...b, score: penalised(b.logProb, t, penalty), finished: false });
      });
      break;
    }
    const next = top
      .filter((c) => c.token !== eos)
      .slice(0, K)
      .map((c) => ({ tokens: [...beams[c.beam]!.tokens, c.token], logProb: c.logProb }));
    if (next.length === 0) break;
    if (finished.length >= K) {
      if (earlyStop) break;
      let bound = -Infinity;
      for (let len = t + 1; len <= maxLength + 1; len++) bound = Math.max(bound, penalised(next[0]!.logProb, len, penalty));
      if (bound <= finished[K - 1]!.score) break;
    }
    beams = next;
  }
  return [...finished, ...unfinished.sort((x, y) => y.score - x.score)].slice(0, returnCount);
}
