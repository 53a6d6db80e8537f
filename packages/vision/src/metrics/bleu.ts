// BLEU-1..4 as the COCO caption evaluation computes it (pycocoevalcap bleu/bleu.py and
// bleu_scorer.py, `Bleu(4)`, `compute_score(option='closest')`). It is not sacreBLEU's BLEU (nlp's
// `corpusBleu`): no smoothing, but epsilons in every precision, so an order without n-grams still
// scores 1e-6 instead of 0, and all four scores come from one cumulative product.
import { captionCorpus, checkBoolean, checkOptions, ngramCounts, type CaptionHypotheses, type CaptionReferences, type CocoTokenizeOption } from "./inputs.js";

/** BLEU-1, BLEU-2, BLEU-3, BLEU-4. */
export type Bleu4 = readonly [number, number, number, number];

export type CocoBleuOptions = CocoTokenizeOption;

export interface CocoBleuScore {
  /** Corpus BLEU-1..4 in [0, 1] (pycocoevalcap's `Bleu_1` .. `Bleu_4`). */
  readonly bleu: Bleu4;
  /** BLEU-1..4 of each image alone, with its own brevity penalty (pycocoevalcap's per-image list). */
  readonly perImage: ReadonlyMap<string, Bleu4>;
  /** Matched n-grams of each order, clipped by their largest count in any one reference, summed. */
  readonly counts: Bleu4;
  /** Hypothesis n-grams of each order, summed. */
  readonly totals: Bleu4;
  /** Hypothesis words, summed. */
  readonly testLen: number;
  /** For each image, the length of its reference closest in length (the shorter on a tie), summed. */
  readonly refLen: number;
}

const N = 4;
// bleu_scorer.py's `small` and `tiny`: (correct + tiny) / (guess + small) never divides by zero,
// and makes an order with no n-grams at all score tiny / small = 1e-6 rather than 0.
const SMALL = 1e-9;
const TINY = 1e-15;

const tuple4 = (a: readonly number[]): Bleu4 => [a[0]!, a[1]!, a[2]!, a[3]!];


/** `min((abs(l - testlen), l) for l in reflen)[1]`: the closest length, the shorter on a tie. */
function closestRefLength(testLen: number, refLens: readonly number[]): number {
  let best = Infinity;
  let bestDiff = Infinity;
  for (const len of refLens) {
    const diff = Math.abs(len - testLen);
    if (diff < bestDiff || (diff === bestDiff && len < best)) {
      bestDiff = diff;
      best = len;
    }
  }
  return best;
}

/** BLEU-1..4 from counts, as `compute_score` does for the corpus and for each image alike. */
function scores(correct: readonly number[], guess: readonly number[], testLen: number, refLen: number): Bleu4 {
  const out: number[] = [];
  let product = 1;
  for (let k = 0; k < N; k++) {
    product *= (correct[k]! + TINY) / (guess[k]! + SMALL);
    out.push(product ** (1 / (k + 1)));
  }
  // With these epsilons even equal lengths give a ratio just under 1, so a perfect match scores
  // about 1 - 5e-10, as in the original.
  const ratio = (testLen + TINY) / (refLen + SMALL);
  if (ratio < 1) {
    const bp = Math.exp(1 - 1 / ratio);
    for (let k = 0; k < N; k++) out[k]! *= bp;
  }
  return tuple4(out);
}

/**
 * BLEU-1..4 of generated captions as pycocoevalcap's `Bleu(4)` scores them: for each image, the
 * hypothesis's n-grams (1 to 4) are matched against its references, each n-gram's count clipped
 * by its largest count in any one reference; matches, n-gram totals and lengths are summed over
 * the corpus; BLEU-k is the k-th root of the product of the first k precisions, each
 * (matches + 1e-15) / (total + 1e-9), times the brevity penalty exp(1 - refLen / testLen) when
 * the hypotheses are shorter, with each image's reference length the one closest to its
 * hypothesis's (the shorter on a tie). Scores are in [0, 1], not percentages.
 *
 * `hypotheses` maps each image id to one caption, `references` each image id to its reference
 * captions; both must hold the same ids. Captions go through `cocoTokenize` first unless
 * `options.tokenize` is false.
 *
 * Throws a `ValueRangeError` naming the image when an id is on one side only, a hypothesis is not
 * one string, or an image's references are not a non-empty array of strings.
 */
export function cocoBleu(hypotheses: CaptionHypotheses, references: CaptionReferences, options?: CocoBleuOptions): CocoBleuScore {
  const op = "cocoBleu";
  checkOptions(op, options);
  checkBoolean(op, "options.tokenize", options?.tokenize);
  const corpus = captionCorpus(op, hypotheses, references, options?.tokenize ?? true);

  const correct = new Array<number>(N).fill(0);
  const guess = new Array<number>(N).fill(0);
  let testLen = 0;
  let refLen = 0;
  const perImage = new Map<string, Bleu4>();
  corpus.ids.forEach((id, i) => {
    const refMax = ngramCounts([], N);
    const refLens: number[] = [];
    for (const ref of corpus.references[i]!) {
      refLens.push(ref.length);
      ngramCounts(ref, N).forEach((counts, n) => {
        const merged = refMax[n]!;
        for (const [key, c] of counts) if (c > (merged.get(key) ?? 0)) merged.set(key, c);
      });
    }
    const hyp = corpus.hypotheses[i]!;
    const imageCorrect = new Array<number>(N).fill(0);
    const imageGuess = new Array<number>(N).fill(0);
    ngramCounts(hyp, N).forEach((counts, n) => {
      imageGuess[n] = Math.max(0, hyp.length - n);
      for (const [key, c] of counts) imageCorrect[n]! += Math.min(c, refMax[n]!.get(key) ?? 0);
    });
    const imageRefLen = closestRefLength(hyp.length, refLens);
    perImage.set(id, scores(imageCorrect, imageGuess, hyp.length, imageRefLen));
    for (let n = 0; n < N; n++) {
      correct[n]! += imageCorrect[n]!;
      guess[n]! += imageGuess[n]!;
    }
    testLen += hyp.length;
    refLen += imageRefLen;
  });
  return {
    bleu: scores(correct, guess, testLen, refLen),
    perImage,
    counts: tuple4(correct),
    totals: tuple4(guess),
    testLen,
    refLen,
  };
}
