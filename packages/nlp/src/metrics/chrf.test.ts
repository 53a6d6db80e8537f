// Expected values: fixtures/bleu-sacrebleu.json, a committed copy of ../shared/fixtures/bleu-sacrebleu.json
// (sacreBLEU 2.5.1's corpus_chrf with its defaults; see ../shared/fixtures/README.md). The other
// expectations are worked out by hand from sacrebleu/metrics/chrf.py (tag v2.5.1), except the two
// chrF++ numbers, which sacreBLEU 2.5.1's own code printed (CHRF(word_order=2)).
import { ValueRangeError } from "@unroll/tensor";
import { describe, expect, it } from "vitest";
import { corpusChrf, sentenceChrf } from "./index.js";
import { corpusCases, fixturesToRun } from "./test-utils.js";

const TOL = 4;

for (const { name, fixture } of fixturesToRun()) {
  describe(`corpusChrf on ${name}`, () => {
    corpusCases(fixture).forEach((c, i) => {
      it(`corpus case ${i} (${c.hypotheses.length} segments, ${c.references.length} reference stream(s))`, () => {
        const r = corpusChrf(c.hypotheses, c.references);
        expect(r.score).toBeCloseTo(c.chrf, TOL);
        expect(r.signature).toBe(`nrefs:${c.references.length}|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.5.1`);
      });
    });
  });
}

describe("chrF by hand", () => {
  it("scores a hypothesis equal to its reference 100", () => {
    expect(sentenceChrf("The cat sat on the mat.", ["The cat sat on the mat."]).score).toBeCloseTo(100, 10);
    expect(corpusChrf(["a", "bc"], [["a", "bc"]]).score).toBeCloseTo(100, 10);
  });

  it("averages precision and recall over the orders both sides have, then takes F2", () => {
    // "ab" vs "abc": order 1 P 2/2 R 2/3, order 2 P 1/1 R 1/2, orders 3+ have no hypothesis n-grams.
    // P = 1, R = 7/12, F2 = 5 P R / (4 P + R) = 7/11.
    const r = sentenceChrf("ab", ["abc"]);
    expect(r.score).toBeCloseTo(700 / 11, 10);
    expect(r.signature).toBe("nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.5.1");
  });

  it("averages per-order F-scores with epsSmoothing", () => {
    // Per order F2: 5/7, 5/9, then ~0 (order 3: recall 0) and ~1e-16 (orders 4-6), over 6 orders.
    const r = sentenceChrf("ab", ["abc"], { epsSmoothing: true });
    expect(r.score).toBeCloseTo((100 * (5 / 7 + 5 / 9)) / 6, 10);
    expect(r.signature).toBe("nrefs:1|case:mixed|eff:no|nc:6|nw:0|space:no|version:2.5.1");
  });

  it("counts code points, not UTF-16 units", () => {
    // [😀, 😀, x] vs [😀, x]: order 1 P 2/3 R 1, order 2 P 1/2 R 1; P = 7/12, R = 1, F2 = 35/40.
    expect(sentenceChrf("\u{1F600}\u{1F600}x", ["\u{1F600}x"]).score).toBeCloseTo(87.5, 10);
  });

  it("removes whitespace unless whitespace: true", () => {
    expect(sentenceChrf("a b", ["a  b"]).score).toBeCloseTo(100, 10);
    const r = sentenceChrf("a b", ["a  b"], { whitespace: true });
    expect(r.score).toBeLessThan(100);
    expect(r.signature).toBe("nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:yes|version:2.5.1");
  });

  it("lowercases with lowercase: true", () => {
    expect(sentenceChrf("ABC", ["abc"]).score).toBe(0);
    const r = sentenceChrf("ABC", ["abc"], { lowercase: true });
    expect(r.score).toBeCloseTo(100, 10);
    expect(r.signature).toBe("nrefs:1|case:lc|eff:yes|nc:6|nw:0|space:no|version:2.5.1");
  });

  it("ignores hypothesis n-grams of an order the segment's reference has none of", () => {
    // Segment 1 ("abc" vs "a") counts its bigrams neither as hypothesis nor as reference bigrams, so
    // the corpus has order 1: 5 hyp, 3 ref, 3 match; order 2: 1, 1, 1 (from "xy"); order 3: none.
    // P = (3/5 + 1) / 2 = 0.8, R = 1, F2 = 5 * 0.8 / (3.2 + 1) = 4 / 4.2.
    expect(corpusChrf(["abc", "xy"], [["a", "xy"]]).score).toBeCloseTo(400 / 4.2, 10);
  });

  it("scores an empty hypothesis 0", () => {
    expect(sentenceChrf("", ["abc"]).score).toBe(0);
    expect(corpusChrf([""], [[""]]).score).toBe(0);
  });

  it("takes, per segment, the reference it scores best against", () => {
    // Against "abc" alone the score is 7/11 (above); the second reference matches exactly.
    expect(sentenceChrf("ab", ["abc", "ab"]).score).toBeCloseTo(100, 10);
    expect(sentenceChrf("ab", ["xyz", "abc"]).score).toBeCloseTo(700 / 11, 10);
    expect(corpusChrf(["ab"], [["abc"], ["zz"]]).signature).toBe("nrefs:2|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.5.1");
  });

  it("adds word n-grams with wordOrder (chrF++), splitting punctuation off word ends", () => {
    // Printed by sacreBLEU 2.5.1: CHRF(word_order=2).corpus_score / .sentence_score.
    const r = corpusChrf(["The cat (hi) sat.", "A dog!"], [["The cat hi) sat .", "a dog!"]], { wordOrder: 2 });
    expect(r.score).toBeCloseTo(67.938094547208, 10);
    expect(r.signature).toBe("nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.5.1");
    expect(sentenceChrf("(hi) there,", ["hi there"], { wordOrder: 2 }).score).toBeCloseTo(41.92967108983681, 10);
    expect(sentenceChrf("(hi) there,", ["(hi) there,"], { wordOrder: 2 }).score).toBeCloseTo(100, 10);
  });

  it("throws ValueRangeError on bad input", () => {
    expect(() => corpusChrf(["a", "b"], [["a"]])).toThrow(ValueRangeError);
    expect(() => corpusChrf(["a", "b"], [["a"]])).toThrow("corpusChrf: references[0] has 1 reference(s) but there are 2 hypotheses");
    expect(() => sentenceChrf("a", [2 as unknown as string])).toThrow("sentenceChrf: references[0] must be a string");
    expect(() => sentenceChrf("a", ["a"], { charOrder: 0, wordOrder: 0 })).toThrow("at least one must be >= 1");
    expect(() => sentenceChrf("a", ["a"], { beta: Number.NaN })).toThrow("options.beta must be a finite number >= 0");
  });
});
