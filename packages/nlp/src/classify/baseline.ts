import { Rng, ValueRangeError } from "@unroll/tensor";
import { permutation } from "../data/batching.js";
import { type LabelledText, LabelSet } from "./data.js";

export interface BagOfWordsOptions {
  /** Words kept as features: the most frequent (default 20,000). */
  readonly maxVocab?: number;
  /** Words seen fewer times are dropped (default 2). */
  readonly minFrequency?: number;
  readonly epochs?: number;
  /** L2 penalty on the weights, per example (default 1e-4). */
  readonly l2?: number;
  /** Adam's learning rate (default 0.05). */
  readonly lr?: number;
  readonly batchSize?: number;
  readonly seed?: number;
  /** Per-class loss weights (in label order), as the RNN's `classWeights`. */
  readonly classWeights?: readonly number[];
}

/** A trained bag-of-words logistic regression: the baseline a sequence model must beat. */
export interface BagOfWordsModel {
  readonly labels: LabelSet;
  readonly features: number;
  predict(texts: readonly string[]): Int32Array;
}

/**
 * Multinomial logistic regression on a text's set of (lowercased) words, each present word one
 * feature of value 1/√n (n: distinct words of the text), trained with Adam on the mean
 * cross-entropy plus an L2 penalty: the standard strong baseline for text classification, which
 * sees which words occur but not their order.
 */
export function trainBagOfWords(examples: readonly LabelledText[], options: BagOfWordsOptions = {}): BagOfWordsModel {
  if (examples.length === 0) throw new ValueRangeError("trainBagOfWords", "there are no examples to train on");
  const labels = LabelSet.fit(examples.map((e) => e.label));
  // Words as the word tokenizer reads them, lowercased, without their place (no attached space).
  const counts = new Map<string, number>();
  for (const e of examples) for (const w of new Set(wordsOf(e.text))) counts.set(w, (counts.get(w) ?? 0) + 1);
  const kept = [...counts]
    .filter(([, n]) => n >= (options.minFrequency ?? 2))
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, options.maxVocab ?? 20_000);
  const index = new Map(kept.map(([w], i) => [w, i]));
  const V = Math.max(1, index.size);
  const C = labels.size;
  const featuresOf = (text: string): Int32Array => {
    const ids = new Set<number>();
    for (const w of wordsOf(text)) {
      const id = index.get(w);
      if (id !== undefined) ids.add(id);
    }
    return Int32Array.from(ids);
  };
  const rows = examples.map((e) => featuresOf(e.text));
  const y = Int32Array.from(examples, (e) => labels.id(e.label));
  const W = new Float64Array(V * C);
  const b = new Float64Array(C);
  const mW = new Float64Array(V * C);
  const vW = new Float64Array(V * C);
  const mB = new Float64Array(C);
  const vB = new Float64Array(C);
  const lr = options.lr ?? 0.05;
  const l2 = options.l2 ?? 1e-4;
  const beta1 = 0.9;
  const beta2 = 0.999;
  const batch = options.batchSize ?? 64;
  const weights = options.classWeights ?? new Array<number>(C).fill(1);
  const rng = new Rng(options.seed ?? 0);
  const logits = new Float64Array(C);
  let t = 0;
  const gW = new Float64Array(V * C);
  const gB = new Float64Array(C);
  const touched = new Uint8Array(V);
  for (let epoch = 0; epoch < (options.epochs ?? 10); epoch++) {
    const order = permutation(rows.length, rng);
    for (let start = 0; start < order.length; start += batch) {
      const idx = order.subarray(start, Math.min(order.length, start + batch));
      gB.fill(0);
      const seen: number[] = [];
      let total = 0;
      for (const i of idx) total += weights[y[i]!]!;
      for (const i of idx) {
        const f = rows[i]!;
        const value = f.length > 0 ? 1 / Math.sqrt(f.length) : 0;
        for (let c = 0; c < C; c++) logits[c] = b[c]!;
        for (const id of f) for (let c = 0; c < C; c++) logits[c]! += W[id * C + c]! * value;
        let max = -Infinity;
        for (let c = 0; c < C; c++) max = Math.max(max, logits[c]!);
        let z = 0;
        for (let c = 0; c < C; c++) z += logits[c] = Math.exp(logits[c]! - max);
        const w = weights[y[i]!]! / total;
        for (let c = 0; c < C; c++) {
          const d = w * (logits[c]! / z - (c === y[i] ? 1 : 0));
          gB[c]! += d;
          for (const id of f) {
            if (!touched[id]) {
              touched[id] = 1;
              seen.push(id);
            }
            gW[id * C + c]! += d * value;
          }
        }
      }
      // Adam on the rows this batch touched (lazy, as sparse Adam): the L2 term joins their gradient.
      t++;
      const c1 = 1 - beta1 ** t;
      const c2 = 1 - beta2 ** t;
      for (const id of seen) {
        touched[id] = 0;
        for (let c = 0; c < C; c++) {
          const k = id * C + c;
          const g = gW[k]! + l2 * W[k]!;
          gW[k] = 0;
          mW[k] = beta1 * mW[k]! + (1 - beta1) * g;
          vW[k] = beta2 * vW[k]! + (1 - beta2) * g * g;
          W[k]! -= (lr * (mW[k]! / c1)) / (Math.sqrt(vW[k]! / c2) + 1e-8);
        }
      }
      for (let c = 0; c < C; c++) {
        mB[c] = beta1 * mB[c]! + (1 - beta1) * gB[c]!;
        vB[c] = beta2 * vB[c]! + (1 - beta2) * gB[c]! * gB[c]!;
        b[c]! -= (lr * (mB[c]! / c1)) / (Math.sqrt(vB[c]! / c2) + 1e-8);
      }
    }
  }
  return {
    labels,
    features: V,
    predict(texts) {
      return Int32Array.from(texts, (text) => {
        const f = featuresOf(text);
        const value = f.length > 0 ? 1 / Math.sqrt(f.length) : 0;
        let best = 0;
        let bestScore = -Infinity;
        for (let c = 0; c < C; c++) {
          let s = b[c]!;
          for (const id of f) s += W[id * C + c]! * value;
          if (s > bestScore) {
            bestScore = s;
            best = c;
          }
        }
        return best;
      });
    },
  };
}

const WORD = /[\p{L}\p{M}\p{N}_]+(?:['\u2019][\p{L}\p{M}\p{N}_]+)*/gu;

function wordsOf(text: string): string[] {
  return (text.toLowerCase().match(WORD) ?? []);
}

/** The most frequent training class, predicted for everything: the floor any model must clear. */
export function majorityClass(examples: readonly LabelledText[]): { readonly label: string; readonly share: number } {
  const counts = new Map<string, number>();
  for (const e of examples) counts.set(e.label, (counts.get(e.label) ?? 0) + 1);
  const [label, n] = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]!;
  return { label, share: n / examples.length };
}
