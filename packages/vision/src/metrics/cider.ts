// CIDEr-D as the COCO caption evaluation computes it (pycocoevalcap cider/cider.py and
// cider_scorer.py, whose `Cider` is the D variant: clipped term weights, a Gaussian length
// penalty, scores times 10). Document frequencies come from the references of the corpus being
// scored, so the same caption scores differently in another corpus.
import { ValueRangeError } from "@unroll/tensor";
import { captionCorpus, checkBoolean, checkOptions, describe, ngramCounts, type CaptionHypotheses, type CaptionReferences, type CocoTokenizeOption } from "./inputs.js";

export interface CiderDOptions extends CocoTokenizeOption {
  /** The largest n-gram order (default 4, as `Cider(n=4)`). */
  readonly n?: number;
  /** The standard deviation of the length penalty, in words (default 6, as `Cider(sigma=6.0)`). */
  readonly sigma?: number;
}

export interface CiderDScore {
  /** The corpus CIDEr-D: the mean of the per-image scores (pycocoevalcap's `CIDEr`, 0 to 10 per image). */
  readonly score: number;
  /** Each image's CIDEr-D, in the hypotheses' order. */
  readonly perImage: ReadonlyMap<string, number>;
}

/** A caption's tf-idf vector per order, its norms, and its length as cider_scorer.py measures it. */
interface Vectors {
  readonly vec: Map<string, number>[];
  readonly norm: number[];
  readonly length: number;
}


/**
 * `counts2vec`: each n-gram weighs tf * (log(images) - log(max(1, df))), the raw count times its
 * idf (an n-gram no reference has gets df 1, the largest weight).
 */
function toVectors(counts: readonly Map<string, number>[], df: ReadonlyMap<string, number>, logImages: number): Vectors {
  const vec: Map<string, number>[] = [];
  const norm: number[] = [];
  let length = 0;
  counts.forEach((orderCounts, n) => {
    const v = new Map<string, number>();
    let sq = 0;
    for (const [ngram, tf] of orderCounts) {
      const w = tf * (logImages - Math.log(Math.max(1, df.get(ngram) ?? 0)));
      v.set(ngram, w);
      sq += w * w;
      // The original's `if n == 1` tests a 0-based order, so its "length" counts bigrams: words - 1,
      // or 0 for one word or none. Differences of it equal differences of word counts except when a
      // side is empty, where the similarity is 0 whatever the penalty; kept as written all the same.
      if (n === 1) length += tf;
    }
    vec.push(v);
    norm.push(Math.sqrt(sq));
  });
  return { vec, norm, length };
}

/** `sim`: per order, the clipped cosine sum(min(h, r) * r) / (|h| |r|), times the length penalty. */
function similarity(hyp: Vectors, ref: Vectors, sigma: number): number[] {
  const delta = hyp.length - ref.length;
  const penalty = Math.exp(-(delta * delta) / (2 * sigma * sigma));
  return hyp.vec.map((h, n) => {
    const r = ref.vec[n]!;
    let val = 0;
    for (const [ngram, w] of h) {
      const wr = r.get(ngram) ?? 0;
      val += Math.min(w, wr) * wr;
    }
    // An empty (or all-zero-weight) side leaves the sum undivided; it is 0 then anyway.
    if (hyp.norm[n] !== 0 && ref.norm[n] !== 0) val /= hyp.norm[n]! * ref.norm[n]!;
    return val * penalty;
  });
}

/**
 * CIDEr-D of generated captions as pycocoevalcap's `Cider()` scores them. Each caption becomes
 * one vector per n-gram order (1 to `n`), weighing each n-gram by its count times its inverse
 * document frequency, log(images / df), where df counts the images among whose references the
 * n-gram occurs. Those are this corpus's references, so a corpus of one image scores 0 (every
 * weight is log 1). For each reference, per order, the hypothesis weights are clipped at the
 * reference's (min(h, r) * r) and normalised like a cosine, and the result is multiplied by
 * exp(-delta^2 / (2 sigma^2)), delta being the difference in length (counted in bigrams, as the
 * original does). An image's score is 10 times the mean over orders, averaged over its
 * references; the corpus score is the mean over images. A hypothesis equal to its only reference
 * scores 10 when, at every order, it has an n-gram that some image's references lack.
 *
 * Inputs are those of `cocoBleu`: one hypothesis and at least one reference per image, the same
 * ids on both sides, captions tokenised with `cocoTokenize` unless `options.tokenize` is false.
 * Throws a `ValueRangeError` naming the image or the option at fault.
 */
export function ciderD(hypotheses: CaptionHypotheses, references: CaptionReferences, options?: CiderDOptions): CiderDScore {
  const op = "ciderD";
  checkOptions(op, options);
  checkBoolean(op, "options.tokenize", options?.tokenize);
  const maxN = options?.n ?? 4;
  const sigma = options?.sigma ?? 6;
  if (!(typeof maxN === "number" && Number.isInteger(maxN) && maxN >= 1)) {
    throw new ValueRangeError(op, `options.n must be an integer >= 1 (the largest n-gram order; CIDEr-D uses 4), got ${describe(maxN)}`);
  }
  if (!(typeof sigma === "number" && Number.isFinite(sigma) && sigma > 0)) {
    throw new ValueRangeError(op, `options.sigma must be a finite number > 0 (the length penalty's width in words; CIDEr-D uses 6), got ${describe(sigma)}`);
  }
  const corpus = captionCorpus(op, hypotheses, references, options?.tokenize ?? true);

  const refCounts = corpus.references.map((refs) => refs.map((r) => ngramCounts(r, maxN)));
  // `compute_doc_freq`: an image counts once per n-gram, however many of its references hold it.
  const df = new Map<string, number>();
  for (const refs of refCounts) {
    const seen = new Set<string>();
    for (const orders of refs) for (const counts of orders) for (const ngram of counts.keys()) seen.add(ngram);
    for (const ngram of seen) df.set(ngram, (df.get(ngram) ?? 0) + 1);
  }
  const logImages = Math.log(corpus.ids.length);

  const perImage = new Map<string, number>();
  let total = 0;
  corpus.ids.forEach((id, i) => {
    const hyp = toVectors(ngramCounts(corpus.hypotheses[i]!, maxN), df, logImages);
    const sum = new Array<number>(maxN).fill(0);
    for (const counts of refCounts[i]!) {
      similarity(hyp, toVectors(counts, df, logImages), sigma).forEach((v, n) => (sum[n]! += v));
    }
    const mean = sum.reduce((a, b) => a + b, 0) / maxN;
    const score = (mean / refCounts[i]!.length) * 10;
    perImage.set(id, score);
    total += score;
  });
  return { score: total / corpus.ids.length, perImage };
}
