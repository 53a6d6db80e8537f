import { noGrad, Tensor, ValueRangeError } from "@unroll/tensor";
import type { AgreementItem, GrammaticalNumber } from "./agreement.js";

/**
 * What the scorer needs of a model: next-token logits `[T, B, V]` for int32 ids `[T, B]` read
 * from a fresh state, each position seeing only the ids before it (a left-to-right LM).
 * `LanguageModel` is one.
 */
export interface AgreementModel<P> {
  forward(params: P, inputs: Tensor): { readonly logits: Tensor };
}

/** What the scorer needs of a tokenizer: `WordTokenizer` is one. */
export interface AgreementTokenizer {
  /** Word ids of a text, without whitespace (`WordTokenizer.encodeWords`). */
  encodeWords(text: string): Int32Array;
  /** The id of unknown words, or null where every word has its own id. */
  readonly unkId: number | null;
}

export interface ScoreAgreementOptions {
  /** Sentences per forward pass (default 256). */
  readonly batchSize?: number;
  /**
   * Text read before every prefix, as the model saw text before each sentence in training
   * (default ".": a sentence boundary; "" for none).
   */
  readonly context?: string;
}

/** One item's score: log-probabilities of the two verb forms at the position after the prefix. */
export interface AgreementScore {
  readonly item: AgreementItem;
  readonly logProbCorrect: number;
  readonly logProbWrong: number;
  /** `logProbCorrect > logProbWrong` (a tie counts as wrong). */
  readonly correct: boolean;
}

/** Accuracy over a group of items: `accuracy = correct / total` (NaN for an empty group). */
export interface AgreementAccuracy {
  readonly correct: number;
  readonly total: number;
  readonly accuracy: number;
}

export interface AgreementReport {
  readonly overall: AgreementAccuracy;
  /** One row per number of attractors present, ascending. */
  readonly byAttractors: readonly (AgreementAccuracy & { readonly attractors: number })[];
  /** One row per number of mismatching attractors present, ascending. */
  readonly byMismatches: readonly (AgreementAccuracy & { readonly mismatches: number })[];
  /** One row per (attractors, mismatches) present, ascending by attractors then mismatches. */
  readonly byCondition: readonly (AgreementAccuracy & { readonly attractors: number; readonly mismatches: number })[];
  /** By the subject's number: a model that always prefers one form scores 1 on one row, 0 on the other. */
  readonly byNumber: readonly (AgreementAccuracy & { readonly number: GrammaticalNumber })[];
  /** Scores of the items that were scored, in the order given. */
  readonly scores: readonly AgreementScore[];
  /**
   * Items left out because a word of theirs (prefix or verb form) encodes to the unknown id, or a
   * verb form is not exactly one token: restrict the generator to the tokenizer's vocabulary.
   */
  readonly skipped: number;
}

/**
 * The number-agreement probe: for each item, reads `context + prefix` with the model and compares
 * the log-probabilities the next position gives to the correct and the wrong verb form.
 *
 * Items are batched for speed: sorted by length (stable), `batchSize` per forward pass, each
 * column right-padded with a valid id up to the longest in its batch. The model is causal, so the
 * padding after a column's last word cannot change the logits read there (position `length - 1`);
 * no loss is computed, so nothing needs the ignore index. Log-probabilities are
 * `logit - logsumexp(logits)` over the vocabulary, in float64.
 */
export function scoreAgreement<P>(
  model: AgreementModel<P>,
  params: P,
  tokenizer: AgreementTokenizer,
  items: readonly AgreementItem[],
  options: ScoreAgreementOptions = {},
): AgreementReport {
  const op = "scoreAgreement";
  const { batchSize = 256, context = "." } = options;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new ValueRangeError(op, `batchSize must be a positive integer, got ${batchSize}`);
  const unk = tokenizer.unkId;
  const known = (ids: Int32Array) => ids.every((id) => id !== unk);
  const contextIds = tokenizer.encodeWords(context);
  if (!known(contextIds)) throw new ValueRangeError(op, `the context ${JSON.stringify(context)} has a word outside the vocabulary`);

  interface Encoded {
    readonly index: number;
    readonly ids: Int32Array;
    readonly correct: number;
    readonly wrong: number;
  }
  const encoded: Encoded[] = [];
  let skipped = 0;
  items.forEach((item, index) => {
    const prefix = tokenizer.encodeWords(item.text);
    const correct = tokenizer.encodeWords(item.correct);
    const wrong = tokenizer.encodeWords(item.wrong);
    if (correct.length !== 1 || wrong.length !== 1 || correct[0] === wrong[0] || !known(prefix) || !known(correct) || !known(wrong)) {
      skipped++;
      return;
    }
    const ids = new Int32Array(contextIds.length + prefix.length);
    ids.set(contextIds);
    ids.set(prefix, contextIds.length);
    if (ids.length === 0) throw new ValueRangeError(op, `item ${index} has an empty prefix and there is no context to read`);
    encoded.push({ index, ids, correct: correct[0]!, wrong: wrong[0]! });
  });

  const logProbs = new Map<number, [number, number]>();
  const order = [...encoded].sort((a, b) => a.ids.length - b.ids.length);
  noGrad(() => {
    for (let start = 0; start < order.length; start += batchSize) {
      const batch = order.slice(start, start + batchSize);
      const B = batch.length;
      const T = batch[B - 1]!.ids.length; // sorted: the last is the longest
      const inputs = new Int32Array(T * B); // (T, B)
      batch.forEach((e, b) => {
        for (let t = 0; t < T; t++) inputs[t * B + b] = e.ids[Math.min(t, e.ids.length - 1)]!; // pad by repeating the last id
      });
      const { logits } = model.forward(params, new Tensor(inputs, [T, B]));
      if (logits.rank !== 3 || logits.shape[0] !== T || logits.shape[1] !== B) {
        throw new ValueRangeError(op, `the model returned logits [${logits.shape.join(",")}] for inputs [${T},${B}]; expected [${T},${B},V]`);
      }
      const V = logits.shape[2]!;
      const data = logits.data;
      batch.forEach((e, b) => {
        const row = ((e.ids.length - 1) * B + b) * V; // logits[length - 1, b, :]
        if (e.correct >= V || e.wrong >= V) throw new ValueRangeError(op, `verb ids ${e.correct}/${e.wrong} are outside the model's vocabulary of ${V}`);
        let max = -Infinity;
        for (let v = 0; v < V; v++) max = Math.max(max, data[row + v]!);
        let sum = 0;
        for (let v = 0; v < V; v++) sum += Math.exp(data[row + v]! - max);
        const logZ = max + Math.log(sum);
        logProbs.set(e.index, [data[row + e.correct]! - logZ, data[row + e.wrong]! - logZ]);
      });
    }
  });

  const scores: AgreementScore[] = encoded.map((e) => {
    const [logProbCorrect, logProbWrong] = logProbs.get(e.index)!;
    return { item: items[e.index]!, logProbCorrect, logProbWrong, correct: logProbCorrect > logProbWrong };
  });
  return {
    overall: accuracyOf(scores),
    byAttractors: groupBy(scores, (s) => s.item.attractors).map(([attractors, g]) => ({ attractors, ...accuracyOf(g) })),
    byMismatches: groupBy(scores, (s) => s.item.mismatches).map(([mismatches, g]) => ({ mismatches, ...accuracyOf(g) })),
    byCondition: groupBy(scores, (s) => s.item.attractors * 1000 + s.item.mismatches).map(([key, g]) => ({
      attractors: Math.floor(key / 1000),
      mismatches: key % 1000,
      ...accuracyOf(g),
    })),
    byNumber: (["singular", "plural"] as const)
      .map((number) => ({ number, ...accuracyOf(scores.filter((s) => s.item.number === number)) }))
      .filter((row) => row.total > 0),
    scores,
    skipped,
  };
}

function accuracyOf(scores: readonly AgreementScore[]): AgreementAccuracy {
  const correct = scores.filter((s) => s.correct).length;
  return { correct, total: scores.length, accuracy: correct / scores.length };
}

/** Groups by a numeric key, ascending. */
function groupBy<T>(list: readonly T[], key: (x: T) => number): [number, T[]][] {
  const groups = new Map<number, T[]>();
  for (const x of list) {
    const k = key(x);
    const g = groups.get(k);
    if (g) g.push(x);
    else groups.set(k, [x]);
  }
  return [...groups].sort(([a], [b]) => a - b);
}
