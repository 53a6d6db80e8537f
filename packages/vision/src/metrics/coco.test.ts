// Expected values: fixtures/caption-coco.json, a committed copy of ../shared/fixtures/caption-coco.json
// (pycocoevalcap `Bleu(4)` and `Cider()`, rounded to 6 decimals; see fixtures/README.md). The other
// expectations are worked out by hand from pycocoevalcap's bleu/bleu_scorer.py and
// cider/cider_scorer.py, in the comments next to them.
import { existsSync } from "node:fs";
import { ValueRangeError } from "@unroll/tensor";
import { describe, expect, it } from "vitest";
import { ciderD, cocoBleu } from "./index.js";
import { COMMITTED_FIXTURE, SHARED_FIXTURE, fixturesToRun, readFixture } from "./test-utils.js";

/** The fixture rounds to 6 decimals, so a faithful score lies within half a unit of it (plus float noise). */
function expectFixture(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(5e-7 + 1e-12);
}

describe("the fixture copy", () => {
  it("has the 8 cases the README describes", () => {
    const f = readFixture(COMMITTED_FIXTURE);
    expect(f.cases).toHaveLength(8);
    expect(f.tool).toContain("pycocoevalcap");
    for (const c of f.cases) {
      expect(Object.keys(c.candidates)).toEqual(Object.keys(c.references));
      expect(c.cider_d_per_image).toHaveLength(Object.keys(c.candidates).length);
    }
  });

  it.runIf(existsSync(SHARED_FIXTURE))("equals ../shared/fixtures/caption-coco.json (skipped without ../shared)", () => {
    expect(readFixture(COMMITTED_FIXTURE)).toEqual(readFixture(SHARED_FIXTURE));
  });
});

for (const { name, fixture } of fixturesToRun()) {
  describe(`pycocoevalcap's numbers on ${name}`, () => {
    fixture.cases.forEach((c, i) => {
      const images = Object.keys(c.candidates).length;
      const refsPerImage = Object.values(c.references)[0]!.length;
      describe(`case ${i} (${images} images, ${refsPerImage} reference(s) each)`, () => {
        it("BLEU-1..4", () => {
          const b = cocoBleu(c.candidates, c.references);
          b.bleu.forEach((v, k) => expectFixture(v, c.bleu[k]!));
        });

        it("CIDEr-D, corpus and per image (in the fixture's image order)", () => {
          const d = ciderD(c.candidates, c.references);
          expectFixture(d.score, c.cider_d);
          expect([...d.perImage.keys()]).toEqual(Object.keys(c.candidates));
          [...d.perImage.values()].forEach((v, k) => expectFixture(v, c.cider_d_per_image[k]!));
        });

        it("the same without tokenising (the captions are tokenised already) and from Maps", () => {
          const hyps = new Map(Object.entries(c.candidates));
          const refs = new Map(Object.entries(c.references));
          const b = cocoBleu(hyps, refs, { tokenize: false });
          b.bleu.forEach((v, k) => expectFixture(v, c.bleu[k]!));
          expectFixture(ciderD(hyps, refs, { tokenize: false }).score, c.cider_d);
        });
      });
    });
  });
}

describe("cocoBleu by hand", () => {
  it("scores a hypothesis equal to its reference just under 1, as the original's epsilons make it", () => {
    // p_k = (c + 1e-15) / (g + 1e-9) with c = g = 4, 3, 2, 1, so p_k ~ 1 - 1e-9 / g; the lengths are
    // equal but ratio = (4 + 1e-15) / (4 + 1e-9) < 1, so BP = exp(1 - 1/ratio) ~ 1 - 2.5e-10 too.
    // BLEU-1 ~ 1 - 2.5e-10 - 2.5e-10; BLEU-4 ~ 1 - (1/4 + 1/3 + 1/2 + 1)e-9 / 4 - 2.5e-10.
    const b = cocoBleu({ img: "a b c d" }, { img: ["a b c d"] });
    expect(1 - b.bleu[0]).toBeCloseTo(5e-10, 13);
    expect(1 - b.bleu[3]).toBeCloseTo(((1 / 4 + 1 / 3 + 1 / 2 + 1) / 4 + 1 / 4) * 1e-9, 13);
    expect(b.counts).toEqual([4, 3, 2, 1]);
    expect(b.totals).toEqual([4, 3, 2, 1]);
    expect(b.testLen).toBe(4);
    expect(b.refLen).toBe(4);
  });

  it("gives an order without n-grams precision 1e-6, not 0 (a perfect 2-word caption)", () => {
    // p1 = p2 ~ 1, p3 = p4 = 1e-15 / 1e-9 = 1e-6: BLEU-3 = (1e-6)^(1/3) = 0.01, BLEU-4 = (1e-12)^(1/4) = 0.001.
    const b = cocoBleu({ img: "a b" }, { img: ["a b"] });
    expect(b.bleu[0]).toBeCloseTo(1, 8);
    expect(b.bleu[1]).toBeCloseTo(1, 8);
    expect(b.bleu[2]).toBeCloseTo(0.01, 9);
    expect(b.bleu[3]).toBeCloseTo(0.001, 9);
    expect(b.totals).toEqual([2, 1, 0, 0]);
  });

  it("takes the closest reference length, the shorter on a tie", () => {
    // 3 words against references of 2 and 4: a tie, so 2, and no brevity penalty (3 / 2 > 1).
    // Choosing 4 would give BP = exp(1 - 4/3) = 0.7165.
    const tie = cocoBleu({ img: "a b c" }, { img: ["a b c d", "a b"] });
    expect(tie.refLen).toBe(2);
    expect(tie.bleu[0]).toBeCloseTo(1, 8);
    // References of 1 and 4 words: 4 is closer (1 against 2), so BP = exp(1 - 4/3) and all 3 words match.
    const closer = cocoBleu({ img: "a b c" }, { img: ["a", "a b c d"] });
    expect(closer.refLen).toBe(4);
    expect(closer.bleu[0]).toBeCloseTo(Math.exp(-1 / 3), 8);
  });

  it("applies the brevity penalty exp(1 - refLen / testLen)", () => {
    // 2 matching words against a 4-word reference: BP = exp(1 - 4/2) = e^-1, p1 = p2 ~ 1.
    const b = cocoBleu({ img: "a b" }, { img: ["a b c d"] });
    expect(b.bleu[0]).toBeCloseTo(Math.exp(-1), 8);
    expect(b.bleu[1]).toBeCloseTo(Math.exp(-1), 8);
  });

  it("clips each n-gram's matches at its count in the reference", () => {
    // "the" four times against one "the": 1 match of 4, BLEU-1 = 1/4; no bigram matches, so BLEU-2 =
    // sqrt(1/4 * 1e-15 / 3) ~ 9e-9.
    const b = cocoBleu({ img: "the the the the" }, { img: ["the cat"] });
    expect(b.counts[0]).toBe(1);
    expect(b.bleu[0]).toBeCloseTo(0.25, 8);
    expect(b.bleu[1]).toBeLessThan(1e-7);
  });

  it("sums matches over the corpus rather than averaging image scores", () => {
    // Matches [4, 3, 2, 1] of totals [6, 4, 2, 1], 6 words against 6 (BP ~ 1):
    // BLEU-1 = 4/6, BLEU-2 = sqrt(4/6 * 3/4) = sqrt(1/2), BLEU-3 = (1/2)^(1/3), BLEU-4 = (1/2)^(1/4).
    // The per-image BLEU-1 are ~1 and ~0: their mean, 0.5, is not the corpus score.
    const b = cocoBleu({ one: "a b c d", two: "x y" }, { one: ["a b c d"], two: ["p q"] });
    expect(b.counts).toEqual([4, 3, 2, 1]);
    expect(b.totals).toEqual([6, 4, 2, 1]);
    expect(b.bleu[0]).toBeCloseTo(4 / 6, 8);
    expect(b.bleu[1]).toBeCloseTo(Math.sqrt(1 / 2), 8);
    expect(b.bleu[2]).toBeCloseTo(Math.cbrt(1 / 2), 8);
    expect(b.bleu[3]).toBeCloseTo(Math.pow(1 / 2, 1 / 4), 8);
    expect(b.perImage.get("one")![0]).toBeCloseTo(1, 8);
    expect(b.perImage.get("two")![0]).toBeCloseTo(0, 8);
  });

  it("scores an empty hypothesis 0, without NaN", () => {
    // testLen 0: ratio = 1e-15 / (2 + 1e-9), BP = exp(1 - 1/ratio) = exp(-2e15) = 0.
    const b = cocoBleu({ img: "" }, { img: ["a cat"] });
    expect(b.bleu).toEqual([0, 0, 0, 0]);
  });

  it("tokenises raw captions first unless told not to", () => {
    // "A kite." -> "a kite": a perfect match. Untokenised, "A" and "kite." match nothing.
    expect(cocoBleu({ img: "A kite." }, { img: ["a kite"] }).bleu[1]).toBeCloseTo(1, 8);
    expect(cocoBleu({ img: "A kite." }, { img: ["a kite"] }, { tokenize: false }).bleu[0]).toBeLessThan(1e-9);
  });

  it("splits untokenised captions on Python's whitespace, as precook's s.split() does", () => {
    // U+0085 and U+001C separate words in Python; U+FEFF does not, so "b\ufeffc" is one word that
    // matches nothing: 2 of 3 words match.
    const b = cocoBleu({ img: "a\u0085b\x1cc  " }, { img: ["a b c"] }, { tokenize: false });
    expect(b.testLen).toBe(3);
    expect(b.bleu[0]).toBeCloseTo(1, 8);
    const feff = cocoBleu({ img: "a b\ufeffc" }, { img: ["a b c"] }, { tokenize: false });
    expect(feff.testLen).toBe(2);
    expect(feff.counts[0]).toBe(1);
  });

  it("does not depend on the order of the images", () => {
    const refs = { a: ["a red ball on the floor"], b: ["two dogs play"], c: ["a green tree"] };
    const forward = cocoBleu(new Map([["a", "a red ball"], ["b", "two dogs"], ["c", "a tree"]]), refs);
    const backward = cocoBleu(new Map([["c", "a tree"], ["b", "two dogs"], ["a", "a red ball"]]), refs);
    expect(backward.bleu).toEqual(forward.bleu);
    expect([...backward.perImage.keys()]).toEqual(["c", "b", "a"]);
  });
});

describe("ciderD by hand", () => {
  // With N images, an n-gram in the references of df of them weighs tf * (ln N - ln max(1, df));
  // L below is ln 2.

  it("scores identical 2-word captions 5: only orders 1 and 2 have n-grams", () => {
    // N = 2, every n-gram in one image's references: weights ln 2, cosines 1 for orders 1 and 2,
    // 0 for 3 and 4 (no n-grams), equal lengths: 10 * (1 + 1 + 0 + 0) / 4 = 5.
    const d = ciderD({ one: "a b", two: "c d" }, { one: ["a b"], two: ["c d"] });
    expect(d.perImage.get("one")).toBeCloseTo(5, 12);
    expect(d.perImage.get("two")).toBeCloseTo(5, 12);
    expect(d.score).toBeCloseTo(5, 12);
  });

  it("scores identical 4-word captions 10", () => {
    const d = ciderD({ one: "a b c d", two: "e f g h" }, { one: ["a b c d"], two: ["e f g h"] });
    expect(d.score).toBeCloseTo(10, 12);
  });

  it("scores a corpus of one image 0: every idf is ln 1", () => {
    expect(ciderD({ img: "a b c d" }, { img: ["a b c d"] }).score).toBe(0);
  });

  it("clips hypothesis weights at the reference's and penalises length in bigrams", () => {
    // N = 2; every n-gram here weighs tf * ln 2 = tf * L (df 1, or 0 for n-grams no reference has).
    // one: "a a b" against "a b". Order 1: h = {a: 2L, b: L}, r = {a: L, b: L};
    //   sum min(h, r) * r = 2L^2, |h| |r| = sqrt(5) L * sqrt(2) L: 2 / sqrt(10).
    //   Order 2: h = {"a a": L, "a b": L}, r = {"a b": L}: L^2 / (sqrt(2) L * L) = 1 / sqrt(2).
    //   Order 3: the reference has none: 0. Bigrams 2 against 1: delta 1, penalty exp(-1 / 72).
    //   Score: 10 * (2 / sqrt(10) + 1 / sqrt(2)) * exp(-1/72) / 4 = 3.302715.
    // two: "c" against "c d". Order 1: L^2 / (L * sqrt(2) L) = 1 / sqrt(2); no bigrams in the
    //   hypothesis: 0. Bigrams 0 against 1: penalty exp(-1/72). Score: 10 * exp(-1/72) / (4 sqrt(2)) = 1.743384.
    const d = ciderD({ one: "a a b", two: "c" }, { one: ["a b"], two: ["c d"] });
    const one = (10 * (2 / Math.sqrt(10) + 1 / Math.sqrt(2)) * Math.exp(-1 / 72)) / 4;
    const two = (10 * Math.exp(-1 / 72)) / (4 * Math.sqrt(2));
    expect(d.perImage.get("one")).toBeCloseTo(one, 12);
    expect(d.perImage.get("two")).toBeCloseTo(two, 12);
    expect(d.perImage.get("one")).toBeCloseTo(3.302715, 6);
    expect(d.perImage.get("two")).toBeCloseTo(1.743384, 6);
    expect(d.score).toBeCloseTo((one + two) / 2, 12);
  });

  it("gives no weight to an n-gram found in every image's references", () => {
    // "a" is in both images' references: weight ln 2 - ln 2 = 0. one: "a z" against "a x" then has
    // no weighted n-gram in common: 0 (BLEU-1 would be 1/2). two: "a y" against "a y": orders 1 and 2
    // have cosine 1 (y and "a y" weigh L): 5. Corpus: 2.5.
    const hyps = { one: "a z", two: "a y" };
    const refs = { one: ["a x"], two: ["a y"] };
    const d = ciderD(hyps, refs);
    expect(d.perImage.get("one")).toBe(0);
    expect(d.perImage.get("two")).toBeCloseTo(5, 12);
    expect(d.score).toBeCloseTo(2.5, 12);
    expect(cocoBleu(hyps, refs).perImage.get("one")![0]).toBeCloseTo(0.5, 8);
  });

  it("averages over an image's references and counts an image once per n-gram for df", () => {
    // one's references hold a, b, "a b", c, d, "c d"; two's c, d, "c d". So df(c) = df(d) = df("c d") = 2,
    // weight 0; a, b, "a b" weigh L. one: "a b" against "a b" gives [1, 1, 0, 0], against "c d" (all
    // weights 0, norm 0) nothing: 10 * (2 / 4) / 2 references = 2.5. two: "c d" weighs nothing: 0.
    const d = ciderD({ one: "a b", two: "c d" }, { one: ["a b", "c d"], two: ["c d"] });
    expect(d.perImage.get("one")).toBeCloseTo(2.5, 12);
    expect(d.perImage.get("two")).toBe(0);
    expect(d.score).toBeCloseTo(1.25, 12);
  });

  it("scores an empty hypothesis 0, without NaN", () => {
    const d = ciderD({ one: "", two: "a b" }, { one: ["a cat"], two: ["a b"] });
    expect(d.perImage.get("one")).toBe(0);
    expect(Number.isFinite(d.score)).toBe(true);
  });

  it("takes sigma and n as pycocoevalcap's Cider(n, sigma) does", () => {
    // With n = 2 identical 2-word captions score 10 * (1 + 1) / 2 = 10.
    expect(ciderD({ one: "a b", two: "c d" }, { one: ["a b"], two: ["c d"] }, { n: 2 }).score).toBeCloseTo(10, 12);
    // "a a b" against "a b" with sigma 1: the penalty is exp(-1/2) instead of exp(-1/72).
    const wide = ciderD({ one: "a a b", two: "c" }, { one: ["a b"], two: ["c d"] }).perImage.get("one")!;
    const narrow = ciderD({ one: "a a b", two: "c" }, { one: ["a b"], two: ["c d"] }, { sigma: 1 }).perImage.get("one")!;
    expect(narrow / wide).toBeCloseTo(Math.exp(-1 / 2) / Math.exp(-1 / 72), 12);
  });
});

describe("input errors name the problem and the fix", () => {
  const metrics = [
    ["cocoBleu", cocoBleu],
    ["ciderD", ciderD],
  ] as const;

  for (const [op, metric] of metrics) {
    const call = (h: unknown, r: unknown, o?: unknown) => () => (metric as (h: unknown, r: unknown, o?: unknown) => unknown)(h, r, o);

    it(`${op}: an image with a hypothesis but no references`, () => {
      expect(call({ a: "x", b: "y" }, { a: ["x"] })).toThrow(ValueRangeError);
      expect(call({ a: "x", b: "y" }, { a: ["x"] })).toThrow(`${op}: image "b" has a hypothesis but no references; add references["b"] or drop it from hypotheses`);
    });

    it(`${op}: images with references but no hypothesis`, () => {
      expect(call({ a: "x" }, { a: ["x"], b: ["y"], c: ["z"] })).toThrow(/image "b" \(and 1 more\) has references but no hypothesis; .*add a hypothesis \(""/);
    });

    it(`${op}: an empty reference list`, () => {
      expect(call({ a: "x" }, { a: [] })).toThrow(/references\["a"\] is empty; every image needs at least one reference caption/);
    });

    it(`${op}: references that are not lists of strings`, () => {
      expect(call({ a: "x" }, { a: "x" })).toThrow(/references\["a"\] must be an array of captions, got the string "x"; pass \[caption\]/);
      expect(call({ a: "x" }, { a: ["x", 3] })).toThrow(/references\["a"\]\[1\] must be a string, got number 3/);
    });

    it(`${op}: a hypothesis that is not one string`, () => {
      expect(call({ a: ["x", "y"] }, { a: ["x"] })).toThrow(/hypotheses\["a"\] is an array of length 2; .*exactly one hypothesis per image/);
      expect(call({ a: null }, { a: ["x"] })).toThrow(/hypotheses\["a"\] must be a string, got null; use "" for an empty caption/);
    });

    it(`${op}: no images, or captions not keyed by image id`, () => {
      expect(call({}, {})).toThrow(/hypotheses is empty/);
      expect(call(["x"], [["x"]])).toThrow(/hypotheses must be a Map or an object .* keyed by image id, got an array of length 1; key the captions by image id/);
      expect(call(new Map([[7, "x"]]), { 7: ["x"] })).toThrow(/hypotheses has the key number 7; image ids are strings, so key the Map by String\(id\)/);
      expect(call({ a: "x" }, undefined)).toThrow(/references must be a Map or an object/);
    });

    it(`${op}: options`, () => {
      expect(call({ a: "x" }, { a: ["x"] }, "ptb")).toThrow(/options must be an object/);
      expect(call({ a: "x" }, { a: ["x"] }, { tokenize: "yes" })).toThrow(/options.tokenize must be true or false/);
    });
  }

  it("ciderD: n and sigma", () => {
    const h = { a: "x" };
    const r = { a: ["x"] };
    expect(() => ciderD(h, r, { sigma: 0 })).toThrow(/options.sigma must be a finite number > 0/);
    expect(() => ciderD(h, r, { sigma: Number.NaN })).toThrow(/options.sigma must be a finite number > 0/);
    expect(() => ciderD(h, r, { n: 0 })).toThrow(/options.n must be an integer >= 1/);
    expect(() => ciderD(h, r, { n: 2.5 })).toThrow(/options.n must be an integer >= 1/);
  });
});
