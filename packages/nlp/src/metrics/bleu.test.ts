// Expected values: fixtures/bleu-sacrebleu.json, a committed copy of ../shared/fixtures/bleu-sacrebleu.json
// (sacreBLEU 2.5.1 with its defaults; see ../shared/fixtures/README.md). The other expectations are
// worked out by hand from sacreBLEU's source (sacrebleu/metrics/bleu.py, tokenizers/tokenizer_13a.py,
// tokenizer_re.py, compat.py at tag v2.5.1), in the comments next to them.
import { existsSync } from "node:fs";
import { ValueRangeError } from "@unroll/tensor";
import { describe, expect, it } from "vitest";
import { corpusBleu, sentenceBleu, tokenize13a } from "./index.js";
import { COMMITTED_FIXTURE, SHARED_FIXTURE, corpusCases, fixturesToRun, readFixture, sentenceCases } from "./test-utils.js";

const TOL = 4; // digits: every fixture number must match to 1e-4 (toBeCloseTo(x, 4) allows < 5e-5)

describe("the fixture copy", () => {
  it("has the 22 cases the README describes", () => {
    const f = readFixture(COMMITTED_FIXTURE);
    expect(corpusCases(f)).toHaveLength(12);
    expect(sentenceCases(f)).toHaveLength(10);
    expect(f.tool).toContain("sacreBLEU 2.5.1");
  });

  it.runIf(existsSync(SHARED_FIXTURE))("equals ../shared/fixtures/bleu-sacrebleu.json (skipped without ../shared)", () => {
    expect(readFixture(COMMITTED_FIXTURE)).toEqual(readFixture(SHARED_FIXTURE));
  });
});

for (const { name, fixture } of fixturesToRun()) {
  describe(`corpusBleu on ${name}`, () => {
    corpusCases(fixture).forEach((c, i) => {
      it(`corpus case ${i} (${c.hypotheses.length} segments, ${c.references.length} reference stream(s))`, () => {
        const b = corpusBleu(c.hypotheses, c.references);
        expect(b.score).toBeCloseTo(c.bleu, TOL);
        expect(b.counts).toEqual(c.counts);
        expect(b.totals).toEqual(c.totals);
        expect(b.bp).toBeCloseTo(c.bp, TOL);
        expect(b.sysLen).toBe(c.sys_len);
        expect(b.refLen).toBe(c.ref_len);
        expect(b.signature).toBe(c.signature);
        // Unsmoothed orders are 100 * matches / total; nothing matched at all gives all zeros.
        const anyMatch = c.counts.some((k) => k > 0);
        c.counts.forEach((k, n) => {
          if (k > 0 || !anyMatch) expect(b.precisions[n]).toBeCloseTo(anyMatch ? (100 * k) / c.totals[n]! : 0, TOL);
        });
      });
    });
  });

  describe(`sentenceBleu on ${name}`, () => {
    sentenceCases(fixture).forEach((c, i) => {
      it(`sentence case ${i}: ${JSON.stringify(c.hypothesis)}`, () => {
        const b = sentenceBleu(c.hypothesis, c.references);
        expect(b.score).toBeCloseTo(c.bleu, TOL);
        // compat.sentence_bleu turns effective order on, and the signature says so.
        expect(b.signature).toBe(`nrefs:${c.references.length}|case:mixed|eff:yes|tok:13a|smooth:exp|version:2.5.1`);
      });
    });
  });
}

describe("tokenize13a", () => {
  // Each expectation follows tokenizer_13a.py then tokenizer_re.py rule by rule.
  it.each([
    // rule 1 splits off ASCII punctuation except ' , - .; "." "," then split off next to a non-digit
    ["Hello, world!", "Hello , world !"],
    ["It costs $3.50, ok.", "It costs $ 3.50 , ok ."],
    ["don't (x) 3,000.5 U.S.A.", "don't ( x ) 3,000.5 U . S . A ."],
    ["a.b 9. .9 1,000 a,b", "a . b 9 . . 9 1,000 a , b"],
    ["{a}[b]|c~d`e^f_g\\h/i@j#k%l*m+n=o;p:q", "{ a } [ b ] | c ~ d ` e ^ f _ g \\ h / i @ j # k % l * m + n = o ; p : q"],
    ["?!...", "? ! . . ."],
    // a dash splits off only after a digit
    ["well-known 1990-2000", "well-known 1990 - 2000"],
    ["5- x-", "5 - x-"],
    // entities are unescaped (in order: &amp;lt; becomes <), then split like the characters they stand for
    ["&quot;Hi&quot; &amp; bye &lt;3 &gt;", '" Hi " & bye < 3 >'],
    ["&amp;lt;", "<"],
    // <skipped> is dropped, "-\n" joins, other line breaks are spaces
    ["line-\nbreak and two\nlines <skipped>gone", "linebreak and two lines gone"],
    // non-ASCII punctuation is left alone
    ["What\u2019s up?", "What\u2019s up ?"],
    // Python's whitespace: NBSP, ideographic space, U+001C and U+0085 separate words; U+FEFF does not
    ["a\u00a0b\u3000c", "a b c"],
    ["a\u001cb\u0085c", "a b c"],
    ["a\ufeffb", "a\ufeffb"],
    ["  padded  ", "padded"],
    ["", ""],
  ])("%j -> %j", (input, expected) => {
    expect(tokenize13a(input)).toBe(expected);
  });
});

describe("corpusBleu and sentenceBleu by hand", () => {
  it("scores a hypothesis equal to its reference 100", () => {
    const b = corpusBleu(["The cat sat on the mat."], [["The cat sat on the mat."]]);
    expect(b.score).toBeCloseTo(100, 10);
    expect(b.bp).toBe(1);
    expect(b.counts).toEqual([7, 6, 5, 4]); // The cat sat on the mat .
    expect(b.totals).toEqual([7, 6, 5, 4]);
    expect(sentenceBleu("Get ready, get set, go!", ["Get ready, get set, go!"]).score).toBeCloseTo(100, 10);
  });

  it("clips repeated words and takes the geometric mean of the four precisions", () => {
    // the x2 clipped to 1: 5/6; bigrams 3/5; trigrams 2/4; 4-grams 1/3; product 1/12.
    const b = corpusBleu(["the cat sat on the mat"], [["the cat sat on a mat"]]);
    expect(b.counts).toEqual([5, 3, 2, 1]);
    expect(b.totals).toEqual([6, 5, 4, 3]);
    expect(b.precisions[0]).toBeCloseTo(500 / 6, 10);
    expect(b.score).toBeCloseTo(100 / 12 ** 0.25, 10);
    expect(b.ratio).toBe(1);
  });

  it("applies the brevity penalty exp(1 - r/c)", () => {
    const b = corpusBleu(["a b c d"], [["a b c d e f"]]);
    expect(b.bp).toBeCloseTo(Math.exp(-0.5), 12);
    expect(b.score).toBeCloseTo(100 * Math.exp(-0.5), 10);
    expect(b.sysLen).toBe(4);
    expect(b.refLen).toBe(6);
    expect(b.ratio).toBeCloseTo(4 / 6, 12);
  });

  it("compares with the closest reference length, the shorter one on a tie", () => {
    // 3 words against 4 and 2: both 1 away, so 2 is used and there is no penalty.
    const b = sentenceBleu("a b c", ["a b c d", "a b"]);
    expect(b.refLen).toBe(2);
    expect(b.bp).toBe(1);
    expect(b.signature).toBe("nrefs:2|case:mixed|eff:yes|tok:13a|smooth:exp|version:2.5.1");
    expect(corpusBleu(["a b c d e"], [["a b c d e f g h"], ["a b c"]]).refLen).toBe(3); // 3 (2 away) not 8 (3 away)
  });

  it("clips by the largest count in any one reference", () => {
    // Unigrams: a clips at max(1, 2) = 2, b at 1; bigrams: "a b" from the first, "a a" from the second.
    const b = corpusBleu(["a a b"], [["a b"], ["a a"]]);
    expect(b.counts.slice(0, 2)).toEqual([3, 2]);
  });

  it("uses effective order in sentenceBleu but not in corpusBleu", () => {
    // 3 words: no 4-grams. Without effective order that precision is 0 and the score is 0.
    expect(corpusBleu(["a b c"], [["a b c"]]).score).toBe(0);
    expect(sentenceBleu("a b c", ["a b c"]).score).toBeCloseTo(100, 10);
    // With a brevity penalty: 3 words against 4.
    expect(sentenceBleu("a b c", ["a b c d"]).score).toBeCloseTo(100 * Math.exp(1 - 4 / 3), 10);
    const off = sentenceBleu("a b c", ["a b c"], { effectiveOrder: false });
    expect(off.score).toBe(0);
    expect(off.signature).toBe("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.5.1");
    expect(corpusBleu(["a b c"], [["a b c"]], { effectiveOrder: true }).score).toBeCloseTo(100, 10);
  });

  describe("smoothing (hypothesis a b c d e, reference a b x d e: 4/5, 2/4, 0/3, 0/2)", () => {
    const hyp = ["a b c d e"];
    const ref = [["a b x d e"]];
    it("exp (default) gives the k-th empty order 1 / (2^k total)", () => {
      const b = corpusBleu(hyp, ref);
      expect(b.precisions[2]).toBeCloseTo(100 / 6, 10);
      expect(b.precisions[3]).toBeCloseTo(100 / 8, 10);
      expect(b.score).toBeCloseTo((80 * 50 * (100 / 6) * 12.5) ** 0.25, 10);
      expect(b.signature).toBe("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.5.1");
    });
    it("floor gives empty orders 0.1 matches", () => {
      const b = corpusBleu(hyp, ref, { smoothing: "floor" });
      expect(b.precisions[2]).toBeCloseTo(10 / 3, 10);
      expect(b.score).toBeCloseTo((80 * 50 * (10 / 3) * 5) ** 0.25, 10);
      expect(b.signature).toBe("nrefs:1|case:mixed|eff:no|tok:13a|smooth:floor[0.10]|version:2.5.1");
      expect(corpusBleu(hyp, ref, { smoothing: "floor", smoothValue: 0.125 }).signature).toContain("smooth:floor[0.12]"); // Python rounds ties to even
    });
    it("add-k adds 1 to the matches and totals of orders 2 and up (in the returned counts too)", () => {
      const b = corpusBleu(hyp, ref, { smoothing: "add-k" });
      expect(b.counts).toEqual([4, 3, 1, 1]);
      expect(b.totals).toEqual([5, 5, 4, 3]);
      expect(b.score).toBeCloseTo((80 * 60 * 25 * (100 / 3)) ** 0.25, 10);
      expect(b.signature).toBe("nrefs:1|case:mixed|eff:no|tok:13a|smooth:add-k[1.00]|version:2.5.1");
    });
    it("none leaves empty orders at 0, so the score is 0", () => {
      const b = corpusBleu(hyp, ref, { smoothing: "none" });
      expect(b.score).toBe(0);
      expect(b.precisions).toEqual([80, 50, 0, 0]);
      expect(b.signature).toBe("nrefs:1|case:mixed|eff:no|tok:13a|smooth:none|version:2.5.1");
    });
  });

  it("scores an empty hypothesis 0 with brevity penalty 0", () => {
    const b = corpusBleu([""], [["a b c"]]);
    expect(b).toMatchObject({ score: 0, bp: 0, sysLen: 0, refLen: 3, counts: [0, 0, 0, 0], totals: [0, 0, 0, 0], precisions: [0, 0, 0, 0] });
    expect(corpusBleu([""], [[""]])).toMatchObject({ score: 0, bp: 1, sysLen: 0, refLen: 0, ratio: 0 });
    expect(sentenceBleu("   ", ["a"]).score).toBe(0);
  });

  it("lowercases with lowercase: true", () => {
    expect(sentenceBleu("THE CAT", ["the cat"]).score).toBe(0);
    const b = sentenceBleu("THE CAT", ["the cat"], { lowercase: true });
    expect(b.score).toBeCloseTo(100, 10);
    expect(b.signature).toBe("nrefs:1|case:lc|eff:yes|tok:13a|smooth:exp|version:2.5.1");
  });

  it("splits on whitespace only with tokenizer: none", () => {
    expect(sentenceBleu("Hello, world!", ["Hello , world !"]).score).toBeCloseTo(100, 10);
    const b = sentenceBleu("Hello, world!", ["Hello , world !"], { tokenizer: "none" });
    expect(b.score).toBe(0);
    expect(b.sysLen).toBe(2);
    expect(b.refLen).toBe(4);
    expect(b.signature).toBe("nrefs:1|case:mixed|eff:yes|tok:none|smooth:exp|version:2.5.1");
  });

  it("honours maxNgramOrder", () => {
    const b = corpusBleu(["a b c"], [["a b c"]], { maxNgramOrder: 2 });
    expect(b.score).toBeCloseTo(100, 10);
    expect(b.counts).toEqual([3, 2]);
    expect(b.signature).toBe("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.5.1");
  });
});

describe("bad input", () => {
  const message = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(ValueRangeError);
      return (e as Error).message;
    }
    throw new Error("expected a ValueRangeError");
  };

  it("names a reference stream whose length differs from the hypotheses", () => {
    const m = message(() => corpusBleu(["a", "b", "c"], [["a", "b", "c"], ["a", "b"]]));
    expect(m).toContain("corpusBleu: references[1] has 2 reference(s) but there are 3 hypotheses");
    expect(m).toContain("transpose");
  });

  it("catches references given per hypothesis instead of as streams", () => {
    expect(message(() => corpusBleu(["a", "b"], [["a"], ["b"]]))).toContain("references[0] has 1 reference(s) but there are 2 hypotheses");
    expect(message(() => corpusBleu(["a"], ["a"] as unknown as string[][]))).toContain("pass [refs], not refs");
  });

  it("names entries that are not strings", () => {
    expect(message(() => corpusBleu(["a", 3 as unknown as string], [["a", "b"]]))).toContain('hypotheses[1] must be a string, got number 3; use "" for an empty output');
    expect(message(() => corpusBleu(["a"], [[null as unknown as string]]))).toContain("references[0][0] must be a string, got null");
    expect(message(() => sentenceBleu(undefined as unknown as string, ["a"]))).toContain("hypothesis must be a string");
    expect(message(() => sentenceBleu("a", "a" as unknown as string[]))).toContain("pass [reference]");
    expect(message(() => sentenceBleu("a", [1 as unknown as string]))).toContain("references[0] must be a string");
  });

  it("refuses empty inputs and bad options", () => {
    expect(message(() => corpusBleu([], [[]]))).toContain("hypotheses is empty");
    expect(message(() => corpusBleu(["a"], []))).toContain("references must be a non-empty array of reference streams");
    expect(message(() => sentenceBleu("a", []))).toContain("references must be a non-empty array");
    expect(message(() => corpusBleu(["a"], [["a"]], { tokenizer: "intl" as "13a" }))).toContain('options.tokenizer must be one of "13a", "none"');
    expect(message(() => corpusBleu(["a"], [["a"]], { smoothing: "add-one" as "exp" }))).toContain("options.smoothing must be one of");
    expect(message(() => corpusBleu(["a"], [["a"]], { maxNgramOrder: 0 }))).toContain("options.maxNgramOrder must be an integer >= 1");
    expect(message(() => corpusBleu(["a"], [["a"]], { smoothValue: -1 }))).toContain("options.smoothValue must be a finite number >= 0");
  });
});
