// Expectations follow the rules documented on cocoTokenize, which restate what Stanford's
// PTBTokenizer (-preserveLines -lowerCase) and pycocoevalcap's PUNCTUATIONS filter do to captions.
import { describe, expect, it } from "vitest";
import { cocoTokenize } from "./index.js";
import { fixturesToRun } from "./test-utils.js";

describe("cocoTokenize", () => {
  it.each([
    // lowercase, final period and "!" dropped
    ["A kite.", "a kite"],
    ["Say cheese!", "say cheese"],
    // sentence periods inside a caption go too
    ["Queen. Can move in any direction.", "queen can move in any direction"],
    // , : ; ? drop, but not between digits
    ["Rook. Can move forward, back; left?", "rook can move forward back left"],
    ["1,000 at 4:45, a,b", "1,000 at 4:45 a b"],
    // brackets become -lrb- -rrb- (pycocoevalcap's filter only knows "-LRB-"), $ and % are words
    ["A Canadian dollar ($1.00).", "a canadian dollar -lrb- $ 1.00 -rrb-"],
    ["[x] {y}", "-lsb- x -rsb- -lcb- y -rcb-"],
    ["50% off", "50 % off"],
    // clitics split and stay; curly apostrophes are apostrophes
    ["It\u2019s a plumber\u2019s wrench, isn't it?", "it 's a plumber 's wrench is n't it"],
    ["I'm sure they'll say we've gone, you'd think", "i 'm sure they 'll say we 've gone you 'd think"],
    // quotes, dashes and ellipses drop; a hyphen inside a word stays
    ["\u201cSchool Crossing\u201d.", "school crossing"],
    ['A "ginger" \'root\'.', "a ginger root"],
    ["Venus\u2014the second planet \u2013 and -- more - well-known\u2026", "venus the second planet and more well-known"],
    ["wait... what", "wait what"],
    // acronyms and common abbreviations keep their period; numbers keep their point
    ["The U.S. flag, e.g. Mr. Smith's.", "the u.s. flag e.g. mr. smith 's"],
    ["Pi is 3.14. The letter Z.", "pi is 3.14 the letter z"],
    // line breaks are spaces, runs of spaces collapse
    ["two\nlines  here\t", "two lines here"],
    ["", ""],
  ])("%j -> %j", (input, expected) => {
    expect(cocoTokenize(input)).toBe(expected);
  });

  it("leaves already tokenised captions (every fixture caption) unchanged", () => {
    for (const { fixture } of fixturesToRun()) {
      for (const c of fixture.cases) {
        for (const h of Object.values(c.candidates)) expect(cocoTokenize(h)).toBe(h);
        for (const refs of Object.values(c.references)) for (const r of refs) expect(cocoTokenize(r)).toBe(r);
      }
    }
  });

  it("is idempotent", () => {
    for (const s of ["A man (in a hat) isn't here!", "It costs $3.50, or 1,000 yen", "The dogs' ball; a U.S. brand."]) {
      const once = cocoTokenize(s);
      expect(cocoTokenize(once)).toBe(once);
    }
  });
});
