import { checkOptions, formatSignature } from "./signature.js";
import { pyRstrip, pySplit, formatFixed2 } from "./text.js";
import { applyBleuTokenizer, BLEU_TOKENIZERS, type BleuTokenizer } from "./tokenize.js";
import { checkBoolean, checkCorpusArgs, checkInteger, checkNonNegative, checkOneOf, checkSentenceArgs } from "./validate.js";

/**
 * How BLEU treats an n-gram order without matches (Chen and Cherry 2014, "A Systematic Comparison
 * of Smoothing Techniques for Sentence-Level BLEU"):
 * - "exp" (default, mteval-v13a's): the k-th order without matches gets precision 1 / (2^k * total);
 * - "floor": such an order gets `smoothValue` matches (default 0.1);
 * - "add-k": every order above 1 gets `smoothValue` (default 1) added to its matches and totals;
 * - "none": no smoothing, so one order without matches makes the score 0.
 */
export type BleuSmoothing = "exp" | "floor" | "add-k" | "none";

const SMOOTHINGS: readonly BleuSmoothing[] = ["exp", "floor", "add-k", "none"];

/** The default `smoothValue` of the methods that take one. */
const SMOOTH_DEFAULTS: Partial<Record<BleuSmoothing, number>> = { floor: 0.1, "add-k": 1 };

export interface BleuOptions {
  /** Lowercase hypotheses and references first (default false; the signature says `case:lc`). */
  readonly lowercase?: boolean;
  /** The tokenizer applied before counting words (default "13a"). */
  readonly tokenizer?: BleuTokenizer;
  /** The smoothing method (default "exp"). */
  readonly smoothing?: BleuSmoothing;
  /** The value of "floor" (default 0.1) and "add-k" (default 1); ignored by the others. */
  readonly smoothValue?: number;
  /** The largest n-gram order (default 4). sacreBLEU leaves it out of the signature, and so does this. */
  readonly maxNgramOrder?: number;
  /**
   * Average only over the orders for which the hypothesis has any n-gram, instead of always over
   * `maxNgramOrder` (a 3-word hypothesis then scores on 1- to 3-grams). Default false for
   * `corpusBleu` and true for `sentenceBleu`, as in sacreBLEU's `corpus_bleu` and `sentence_bleu`.
   */
  readonly effectiveOrder?: boolean;
}

export interface BleuScore {
  /** BLEU on a 0-100 scale. */
  readonly score: number;
  /** Matched n-grams of each order, 1 to `maxNgramOrder` (clipped by the reference counts). */
  readonly counts: readonly number[];
  /** Hypothesis n-grams of each order. */
  readonly totals: readonly number[];
  /** The (smoothed) precision of each order, 0-100; all 0 when nothing matched. */
  readonly precisions: readonly number[];
  /** The brevity penalty: 1 when the hypotheses are at least as long as the references. */
  readonly bp: number;
  /** Hypothesis words, summed over the corpus. */
  readonly sysLen: number;
  /** For each hypothesis, the length of its reference closest in length (the shorter on a tie), summed. */
  readonly refLen: number;
  /** `sysLen / refLen`, 0 when `refLen` is 0. */
  readonly ratio: number;
  /** sacreBLEU's signature, e.g. "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.5.1". */
  readonly signature: string;
}

/** sacreBLEU's log of a zero precision: a huge negative number rather than -Infinity. */
const LOG_OF_ZERO = -9999999999;

interface Settings {
  readonly lowercase: boolean;
  readonly tokenizer: BleuTokenizer;
  readonly smoothing: BleuSmoothing;
  readonly smoothValue: number;
  readonly maxOrder: number;
  readonly effectiveOrder: boolean;
}

function settings(op: string, options: BleuOptions | undefined, effectiveByDefault: boolean): Settings {
  checkOptions(op, options);
  const o = options ?? {};
  checkBoolean(op, "options.lowercase", o.lowercase);
  checkOneOf(op, "options.tokenizer", o.tokenizer, BLEU_TOKENIZERS);
  checkOneOf(op, "options.smoothing", o.smoothing, SMOOTHINGS);
  checkNonNegative(op, "options.smoothValue", o.smoothValue);
  checkInteger(op, "options.maxNgramOrder", o.maxNgramOrder, 1);
  checkBoolean(op, "options.effectiveOrder", o.effectiveOrder);
  const smoothing = o.smoothing ?? "exp";
  return {
    lowercase: o.lowercase ?? false,
    tokenizer: o.tokenizer ?? "13a",
    smoothing,
    smoothValue: o.smoothValue ?? SMOOTH_DEFAULTS[smoothing] ?? 0,
    maxOrder: o.maxNgramOrder ?? 4,
    effectiveOrder: o.effectiveOrder ?? effectiveByDefault,
  };
}

/** The words BLEU counts in a segment: lowercased (optionally), trailing whitespace dropped, tokenized, split. */
function words(s: Settings, segment: string): string[] {
  const text = s.lowercase ? segment.toLowerCase() : segment;
  return pySplit(applyBleuTokenizer(s.tokenizer, pyRstrip(text)));
}

/**
 * The n-gram counts of `tokens`, one map per order 1..maxOrder. Keys join the words with a space,
 * which no word contains, so distinct n-grams never share a key.
 */
function ngramCounts(tokens: readonly string[], maxOrder: number): Map<string, number>[] {
  const out: Map<string, number>[] = [];
  for (let n = 1; n <= maxOrder; n++) {
    const counts = new Map<string, number>();
    for (let i = 0; i + n <= tokens.length; i++) {
      const key = tokens.slice(i, i + n).join(" ");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    out.push(counts);
  }
  return out;
}

/** The reference length BLEU compares against: the closest to the hypothesis length, the shorter on a tie. */
function closestRefLength(hypLen: number, refLens: readonly number[]): number {
  let best = -1;
  let bestDiff = Infinity;
  for (const len of refLens) {
    const diff = Math.abs(hypLen - len);
    if (diff < bestDiff || (diff === bestDiff && len < best)) {
      bestDiff = diff;
      best = len;
    }
  }
  return best;
}

/** Sufficient statistics of a corpus (sums over its segments). */
interface Stats {
  sysLen: number;
  refLen: number;
  readonly correct: number[];
  readonly total: number[];
}

/**
 * Adds one segment's statistics to `stats`. With several references, an n-gram's count is clipped by
 * its largest count in any one reference, and the length compared is the closest reference's.
 */
function addSegment(s: Settings, stats: Stats, hypothesis: string, references: readonly string[]): void {
  const refMax = ngramCounts([], s.maxOrder);
  const refLens: number[] = [];
  for (const reference of references) {
    const tokens = words(s, reference);
    refLens.push(tokens.length);
    ngramCounts(tokens, s.maxOrder).forEach((counts, n) => {
      const merged = refMax[n]!;
      for (const [key, c] of counts) if (c > (merged.get(key) ?? 0)) merged.set(key, c);
    });
  }
  const hyp = words(s, hypothesis);
  stats.sysLen += hyp.length;
  stats.refLen += closestRefLength(hyp.length, refLens);
  ngramCounts(hyp, s.maxOrder).forEach((counts, n) => {
    const ref = refMax[n]!;
    for (const [key, c] of counts) {
      stats.total[n]! += c;
      stats.correct[n]! += Math.min(c, ref.get(key) ?? 0);
    }
  });
}

/** BLEU from corpus statistics, following sacreBLEU's `BLEU.compute_bleu` step for step. */
function scoreFromStats(s: Settings, stats: Stats, signature: string): BleuScore {
  const { sysLen, refLen } = stats;
  const correct = [...stats.correct];
  const total = [...stats.total];
  const bp = sysLen >= refLen ? 1 : sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0;
  const ratio = refLen > 0 ? sysLen / refLen : 0;
  const precisions = new Array<number>(s.maxOrder).fill(0);
  const result = (score: number): BleuScore => ({ score, counts: correct, totals: total, precisions, bp, sysLen, refLen, ratio, signature });

  // Nothing matched (an empty hypothesis included): 0, whatever the smoothing (sacreBLEU #141).
  if (correct.every((c) => c === 0)) return result(0);

  let expDivisor = 1;
  let order = s.maxOrder;
  for (let n = 0; n < s.maxOrder; n++) {
    // add-k changes the returned counts and totals too, as sacreBLEU's does.
    if (s.smoothing === "add-k" && n > 0) {
      correct[n]! += s.smoothValue;
      total[n]! += s.smoothValue;
    }
    // No n-grams of this order (the hypotheses are shorter than n): neither are longer ones. Without
    // effective order their precisions stay 0 and the score collapses to ~0.
    if (total[n] === 0) break;
    // Effective order counts the orders the hypothesis has n-grams of, matched or not.
    if (s.effectiveOrder) order = n + 1;
    if (correct[n] === 0) {
      if (s.smoothing === "exp") {
        expDivisor *= 2;
        precisions[n] = 100 / (expDivisor * total[n]!);
      } else if (s.smoothing === "floor") {
        precisions[n] = (100 * s.smoothValue) / total[n]!;
      }
    } else {
      precisions[n] = (100 * correct[n]!) / total[n]!;
    }
  }
  let logSum = 0;
  for (let n = 0; n < order; n++) {
    const p = precisions[n]!;
    logSum += p === 0 ? LOG_OF_ZERO : Math.log(p);
  }
  return result(bp * Math.exp(logSum / order));
}

function bleuSignature(s: Settings, nrefs: number): string {
  const smooth = s.smoothing === "floor" || s.smoothing === "add-k" ? `${s.smoothing}[${formatFixed2(s.smoothValue)}]` : s.smoothing;
  return formatSignature(nrefs, [
    ["case", s.lowercase ? "lc" : "mixed"],
    ["eff", s.effectiveOrder ? "yes" : "no"],
    ["tok", s.tokenizer],
    ["smooth", smooth],
  ]);
}

function corpusScore(s: Settings, hypotheses: readonly string[], references: readonly (readonly string[])[]): BleuScore {
  const stats: Stats = {
    sysLen: 0,
    refLen: 0,
    correct: new Array<number>(s.maxOrder).fill(0),
    total: new Array<number>(s.maxOrder).fill(0),
  };
  hypotheses.forEach((hypothesis, i) => addSegment(s, stats, hypothesis, references.map((stream) => stream[i]!)));
  return scoreFromStats(s, stats, bleuSignature(s, references.length));
}

/**
 * Corpus BLEU as sacreBLEU 2.5.1's `corpus_bleu` computes it (defaults: 13a tokenizer, mixed case,
 * exponential smoothing, 4-grams, no effective order). `references` are reference streams, as in
 * sacreBLEU: `references[k][i]` is the k-th reference of `hypotheses[i]`, so one reference per
 * hypothesis is `[refs]`. N-gram matches and lengths are summed over the corpus before the
 * precisions and the brevity penalty are taken, so this is not the mean of sentence scores.
 *
 * Throws a `ValueRangeError` when a stream's length differs from the number of hypotheses, an entry
 * is not a string, there are no hypotheses or no streams, or an option is out of range.
 */
export function corpusBleu(hypotheses: readonly string[], references: readonly (readonly string[])[], options?: BleuOptions): BleuScore {
  const op = "corpusBleu";
  checkCorpusArgs(op, hypotheses, references);
  return corpusScore(settings(op, options, false), hypotheses, references);
}

/**
 * Sentence BLEU as sacreBLEU 2.5.1's `sentence_bleu` computes it: the corpus formula on one
 * hypothesis, with effective order on by default (so a hypothesis of fewer than 4 words can score
 * above 0) and the signature saying `eff:yes`. `references` are this hypothesis's references (any
 * number, at least one).
 */
export function sentenceBleu(hypothesis: string, references: readonly string[], options?: BleuOptions): BleuScore {
  const op = "sentenceBleu";
  checkSentenceArgs(op, hypothesis, references);
  return corpusScore(settings(op, options, true), [hypothesis], references.map((r) => [r]));
}
