import { describe, expect, it } from "vitest";
import { Rng, Tensor } from "@unroll/tensor";
import { LanguageModel } from "../model/index.js";
import { WordTokenizer } from "../tokenizers/index.js";
import { agreementItems, type AgreementItem, type AgreementModel, DEFAULT_AGREEMENT_LEXICON, scoreAgreement } from "./index.js";

const lex = DEFAULT_AGREEMENT_LEXICON;
const items = agreementItems({ seed: 11, perCount: 40 });
/** A tokenizer that knows every word of the items, and ".". */
const tokenizer = WordTokenizer.fit([". ", ...items.map((x) => `${x.text} ${x.correct} ${x.wrong}`)].join(" "), { lowercase: true });
const V = tokenizer.vocabSize;
const pluralNouns = new Set(lex.nouns.map((p) => p.plural));
const singularNouns = new Set(lex.nouns.map((p) => p.singular));

/**
 * A fake LM: at position t of column b, `prefer(history)` (the words read so far in that column)
 * picks a number, and the verb forms of that number get logit `margin`, every other token 0.
 */
function fakeModel(prefer: (history: string[]) => "singular" | "plural", margin = 2): AgreementModel<null> {
  const singularVerbs = new Set(lex.verbs.map((p) => p.singular));
  const pluralVerbs = new Set(lex.verbs.map((p) => p.plural));
  return {
    forward(_params, inputs) {
      const [T, B] = inputs.shape as [number, number];
      const logits = new Float32Array(T * B * V);
      for (let b = 0; b < B; b++) {
        const history: string[] = [];
        for (let t = 0; t < T; t++) {
          history.push(tokenizer.tokenText(inputs.data[t * B + b]!));
          const forms = prefer(history) === "plural" ? pluralVerbs : singularVerbs;
          for (let v = 0; v < V; v++) if (forms.has(tokenizer.tokenText(v))) logits[(t * B + b) * V + v] = margin;
        }
      }
      return { logits: new Tensor(logits, [T, B, V]) };
    },
  };
}

/** The number of the last noun in the history (singular when there is none). */
function lastNoun(history: string[]): "singular" | "plural" {
  return firstNoun([...history].reverse());
}

/** The number of the first noun (the subject): a perfect agreement model. */
function firstNoun(history: string[]): "singular" | "plural" {
  const noun = history.find((w) => pluralNouns.has(w) || singularNouns.has(w));
  return noun !== undefined && pluralNouns.has(noun) ? "plural" : "singular";
}

const fraction = (list: readonly AgreementItem[], f: (x: AgreementItem) => boolean) => list.filter(f).length / list.length;

describe("scoreAgreement", () => {
  it("a model that always prefers the plural form scores the fraction of plural subjects, by group too", () => {
    const report = scoreAgreement(fakeModel(() => "plural"), null, tokenizer, items, { batchSize: 17 });
    expect(report.skipped).toBe(0);
    expect(report.overall.total).toBe(items.length);
    expect(report.overall.accuracy).toBeCloseTo(fraction(items, (x) => x.number === "plural"), 12);
    expect(report.byAttractors.map((r) => r.attractors)).toEqual([0, 1, 2]);
    for (const row of report.byAttractors) {
      const group = items.filter((x) => x.attractors === row.attractors);
      expect(row.total).toBe(group.length);
      expect(row.accuracy).toBeCloseTo(fraction(group, (x) => x.number === "plural"), 12);
    }
    expect(report.byNumber).toEqual([
      { number: "singular", correct: 0, total: items.length / 2, accuracy: 0 },
      { number: "plural", correct: items.length / 2, total: items.length / 2, accuracy: 1 },
    ]);
  });

  it("reports log-probabilities of the two forms under the softmax", () => {
    // Logits: `margin` on the k plural verb forms, 0 on the other V - k tokens.
    const margin = 2;
    const k = lex.verbs.length;
    const logZ = Math.log(k * Math.exp(margin) + (V - k));
    const report = scoreAgreement(fakeModel(() => "plural", margin), null, tokenizer, items.slice(0, 10));
    for (const s of report.scores) {
      const [forPlural, forSingular] = [margin - logZ, -logZ];
      expect(s.logProbCorrect).toBeCloseTo(s.item.number === "plural" ? forPlural : forSingular, 5);
      expect(s.logProbWrong).toBeCloseTo(s.item.number === "plural" ? forSingular : forPlural, 5);
    }
  });

  it("reads each sentence at its own last word, whatever the batching", () => {
    // A model attracted by the last noun is right exactly when the last attractor (if any) matches the subject.
    const expected = (x: AgreementItem) => x.attractors === 0 || x.attractorNumbers[x.attractors - 1] === x.number;
    for (const batchSize of [1, 7, 1000]) {
      const report = scoreAgreement(fakeModel(lastNoun), null, tokenizer, items, { batchSize });
      expect(report.scores.map((s) => s.correct)).toEqual(items.map(expected));
      for (const row of report.byCondition) {
        const group = items.filter((x) => x.attractors === row.attractors && x.mismatches === row.mismatches);
        expect(row.total).toBe(group.length);
        expect(row.accuracy).toBeCloseTo(fraction(group, expected), 12);
      }
    }
    const oracle = scoreAgreement(fakeModel(firstNoun), null, tokenizer, items, { batchSize: 9 });
    expect(oracle.overall).toEqual({ correct: items.length, total: items.length, accuracy: 1 });
    // The last-noun model fails every sentence whose last attractor mismatches: none of those with 1 mismatch of 1.
    const byMismatch = scoreAgreement(fakeModel(lastNoun), null, tokenizer, items).byCondition;
    expect(byMismatch.find((r) => r.attractors === 1 && r.mismatches === 1)!.accuracy).toBe(0);
    expect(byMismatch.find((r) => r.attractors === 1 && r.mismatches === 0)!.accuracy).toBe(1);
  });

  it("skips items with a word the tokenizer does not know, and counts them", () => {
    const partial = WordTokenizer.fit(
      [". ", ...items.map((x) => `${x.text} ${x.correct} ${x.wrong}`)].join(" ").replace(/\bseems?\b/g, "").replace(/\bcaptains\b/g, ""),
      { lowercase: true },
    );
    const hasUnknown = (x: AgreementItem) => x.correct.startsWith("seem") || x.prefix.includes("captains");
    const report = scoreAgreement(fakeModel(() => "plural"), null, partial, items);
    expect(report.skipped).toBe(items.filter(hasUnknown).length);
    expect(report.skipped).toBeGreaterThan(0);
    expect(report.scores.map((s) => s.item)).toEqual(items.filter((x) => !hasUnknown(x)));
  });

  it("with a real LSTM LM, batched and padded scores equal one sentence at a time", () => {
    const model = new LanguageModel({ vocabSize: V, cell: "lstm", hiddenSize: 16, embeddingSize: 8 });
    const params = model.init(new Rng(5));
    const some = items.filter((_, i) => i % 6 === 0);
    const batched = scoreAgreement(model, params, tokenizer, some, { batchSize: 64 });
    const single = scoreAgreement(model, params, tokenizer, some, { batchSize: 1 });
    expect(batched.scores).toHaveLength(some.length);
    batched.scores.forEach((s, i) => {
      expect(s.logProbCorrect).toBeCloseTo(single.scores[i]!.logProbCorrect, 4);
      expect(s.logProbWrong).toBeCloseTo(single.scores[i]!.logProbWrong, 4);
    });
    // Against the model's own forward pass on ". <prefix>" for one item.
    const item = some[some.length - 1]!;
    const ids = tokenizer.encodeWords(`. ${item.text}`);
    const { logits } = model.forward(params, new Tensor(ids, [ids.length, 1]));
    const row = Array.from(logits.data.subarray((ids.length - 1) * V, ids.length * V));
    const max = Math.max(...row);
    const logZ = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
    expect(batched.scores[some.length - 1]!.logProbCorrect).toBeCloseTo(row[tokenizer.idOf(item.correct)]! - logZ, 4);
  });

  it("refuses a bad batch size and a context it cannot encode", () => {
    expect(() => scoreAgreement(fakeModel(() => "plural"), null, tokenizer, items, { batchSize: 0 })).toThrow(/batchSize must be a positive integer/);
    expect(() => scoreAgreement(fakeModel(() => "plural"), null, tokenizer, items, { context: "zebra" })).toThrow(/context "zebra" has a word outside/);
  });
});
