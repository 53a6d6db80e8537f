import { ValueRangeError } from "@unroll/tensor";
import { checkOptions, formatSignature } from "./signature.js";
import { codePoints, pySplit, removePyWhitespace } from "./text.js";
import { checkBoolean, checkCorpusArgs, checkInteger, checkNonNegative, checkSentenceArgs } from "./validate.js";

export interface ChrfOptions {
  /** Character n-gram orders 1..charOrder (default 6). */
  readonly charOrder?: number;
  /** Word n-gram orders 1..wordOrder (default 0; 2 gives chrF++). */
  readonly wordOrder?: number;
  /** Weight of recall against precision in the F-score (default 2: recall counts twice as much). */
  readonly beta?: number;
  /** Lowercase hypotheses and references first (default false). */
  readonly lowercase?: boolean;
  /** Keep whitespace inside character n-grams (default false: it is removed first). */
  readonly whitespace?: boolean;
  /**
   * Average per-order F-scores with epsilon smoothing, like chrF++.py, Moses and NLTK (default
   * false: average precision and recall over the orders both sides have n-grams of, then take one
   * F-score, as sacreBLEU does by default; the signature says `eff:yes`).
   */
  readonly epsSmoothing?: boolean;
}

export interface ChrfScore {
  /** chrF on a 0-100 scale. */
  readonly score: number;
  /** sacreBLEU's signature, e.g. "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.5.1". */
  readonly signature: string;
}

interface Settings {
  readonly charOrder: number;
  readonly wordOrder: number;
  readonly beta: number;
  readonly lowercase: boolean;
  readonly whitespace: boolean;
  readonly epsSmoothing: boolean;
}

function settings(op: string, options: ChrfOptions | undefined): Settings {
  checkOptions(op, options);
  const o = options ?? {};
  checkInteger(op, "options.charOrder", o.charOrder, 0);
  checkInteger(op, "options.wordOrder", o.wordOrder, 0);
  checkNonNegative(op, "options.beta", o.beta);
  checkBoolean(op, "options.lowercase", o.lowercase);
  checkBoolean(op, "options.whitespace", o.whitespace);
  checkBoolean(op, "options.epsSmoothing", o.epsSmoothing);
  const s: Settings = {
    charOrder: o.charOrder ?? 6,
    wordOrder: o.wordOrder ?? 0,
    beta: o.beta ?? 2,
    lowercase: o.lowercase ?? false,
    whitespace: o.whitespace ?? false,
    epsSmoothing: o.epsSmoothing ?? false,
  };
  if (s.charOrder + s.wordOrder === 0) throw new ValueRangeError(op, "options.charOrder and options.wordOrder are both 0; at least one must be >= 1");
  return s;
}

// Python's string.punctuation, which chrF++ splits off the ends of words.
const PUNCTUATION = new Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");

/**
 * The words of chrF++: whitespace-separated, with one punctuation mark split off the end (or, if
 * none there, the start) of each word longer than one character, as in Popović's chrF++.py
 * ("(hi)" becomes "(hi" and ")").
 */
function chrfWords(text: string): string[] {
  const out: string[] = [];
  for (const w of pySplit(text)) {
    const chars = codePoints(w);
    const first = chars[0]!;
    const last = chars[chars.length - 1]!;
    if (chars.length === 1) out.push(w);
    else if (PUNCTUATION.has(last)) out.push(chars.slice(0, -1).join(""), last);
    else if (PUNCTUATION.has(first)) out.push(first, chars.slice(1).join(""));
    else out.push(w);
  }
  return out;
}

/** Counts of the n-grams of `units` (code points or words, joined by `sep`) of one order. */
function ngramCounts(units: readonly string[], n: number, sep: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= units.length; i++) {
    const key = units.slice(i, i + n).join(sep);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** The n-gram counts chrF compares: character orders 1..charOrder, then word orders 1..wordOrder. */
function allNgrams(s: Settings, segment: string): Map<string, number>[] {
  const text = s.lowercase ? segment.toLowerCase() : segment;
  // Characters are code points, as Python indexes a str; whitespace is Python's.
  const chars = codePoints(s.whitespace ? text : removePyWhitespace(text));
  const out: Map<string, number>[] = [];
  for (let n = 1; n <= s.charOrder; n++) out.push(ngramCounts(chars, n, ""));
  if (s.wordOrder > 0) {
    const words = chrfWords(text);
    for (let n = 1; n <= s.wordOrder; n++) out.push(ngramCounts(words, n, " "));
  }
  return out;
}

/**
 * [hypothesis n-grams, reference n-grams, matches] for each order, flattened. An order the
 * reference has no n-grams of counts no hypothesis n-grams either, as in sacreBLEU.
 */
function matchStats(hyp: readonly Map<string, number>[], ref: readonly Map<string, number>[]): number[] {
  const stats: number[] = [];
  hyp.forEach((h, n) => {
    const r = ref[n]!;
    let hypCount = 0;
    let refCount = 0;
    let matches = 0;
    for (const [key, c] of h) {
      hypCount += c;
      matches += Math.min(c, r.get(key) ?? 0);
    }
    for (const c of r.values()) refCount += c;
    stats.push(r.size > 0 ? hypCount : 0, refCount, matches);
  });
  return stats;
}

/** chrF (0-100) from flattened [hyp, ref, match] statistics, as sacreBLEU's `CHRF._compute_f_score`. */
function fScore(s: Settings, stats: readonly number[]): number {
  const eps = 1e-16;
  const factor = s.beta ** 2;
  const orders = s.charOrder + s.wordOrder;
  let epsSum = 0;
  let precSum = 0;
  let recSum = 0;
  let effective = 0;
  for (let i = 0; i < orders; i++) {
    const nHyp = stats[3 * i]!;
    const nRef = stats[3 * i + 1]!;
    const nMatch = stats[3 * i + 2]!;
    const prec = nHyp > 0 ? nMatch / nHyp : eps;
    const rec = nRef > 0 ? nMatch / nRef : eps;
    const denom = factor * prec + rec;
    epsSum += denom > 0 ? ((1 + factor) * prec * rec) / denom : eps;
    if (nHyp > 0 && nRef > 0) {
      precSum += prec;
      recSum += rec;
      effective++;
    }
  }
  if (s.epsSmoothing) return (100 * epsSum) / orders;
  const avgPrec = effective > 0 ? precSum / effective : 0;
  const avgRec = effective > 0 ? recSum / effective : 0;
  if (avgPrec + avgRec === 0) return 0;
  return (100 * ((1 + factor) * avgPrec * avgRec)) / (factor * avgPrec + avgRec);
}

function corpusScore(s: Settings, hypotheses: readonly string[], references: readonly (readonly string[])[]): ChrfScore {
  const orders = s.charOrder + s.wordOrder;
  const totals = new Array<number>(3 * orders).fill(0);
  hypotheses.forEach((hypothesis, i) => {
    const hyp = allNgrams(s, hypothesis);
    // With several references, a segment counts the statistics of the one it scores best against
    // (the first on a tie).
    let best: number[] = [];
    let bestScore = -1;
    for (const stream of references) {
      const stats = matchStats(hyp, allNgrams(s, stream[i]!));
      const f = fScore(s, stats);
      if (f > bestScore) {
        bestScore = f;
        best = stats;
      }
    }
    best.forEach((v, j) => (totals[j]! += v));
  });
  const signature = formatSignature(references.length, [
    ["case", s.lowercase ? "lc" : "mixed"],
    ["eff", s.epsSmoothing ? "no" : "yes"],
    ["nc", s.charOrder],
    ["nw", s.wordOrder],
    ["space", s.whitespace ? "yes" : "no"],
  ]);
  return { score: fScore(s, totals), signature };
}

/**
 * Corpus chrF as sacreBLEU 2.5.1's `corpus_chrf` computes it (defaults: character 6-grams, no word
 * n-grams, beta 2, whitespace removed, mixed case, effective-order averaging). No tokenizer is
 * applied. Character n-gram statistics are summed over the corpus before the F-score is taken.
 * `references` are reference streams, like `corpusBleu`'s: `references[k][i]` is the k-th reference
 * of `hypotheses[i]`.
 *
 * Throws a `ValueRangeError` on the same bad input as `corpusBleu`.
 */
export function corpusChrf(hypotheses: readonly string[], references: readonly (readonly string[])[], options?: ChrfOptions): ChrfScore {
  const op = "corpusChrf";
  checkCorpusArgs(op, hypotheses, references);
  return corpusScore(settings(op, options), hypotheses, references);
}

/** Sentence chrF as sacreBLEU 2.5.1's `sentence_chrf`: the corpus formula on one hypothesis and its references. */
export function sentenceChrf(hypothesis: string, references: readonly string[], options?: ChrfOptions): ChrfScore {
  const op = "sentenceChrf";
  checkSentenceArgs(op, hypothesis, references);
  return corpusScore(settings(op, options), [hypothesis], references.map((r) => [r]));
}
