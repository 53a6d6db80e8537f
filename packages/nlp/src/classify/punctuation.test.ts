import { describe, expect, it } from "vitest";
import { formatTaggedTsv, mostFrequentTagBaseline, punctuationDataset, punctuationTagging } from "./punctuation.js";
import { parseTaggedTsv } from "./tagging.js";

describe("punctuationTagging", () => {
  it("tags each lowercased word with the strongest mark after it, in sequences of a fixed number of words", () => {
    const text = "Call me Ishmael. Some years ago—never mind how long precisely—having little money; what of it? Don't ask, sea-captain!";
    const [first, second] = punctuationTagging(text, { words: 8 });
    expect(first).toEqual({
      tokens: ["call", "me", "ishmael", "some", "years", "ago", "never", "mind"],
      tags: ["O", "O", "PERIOD", "O", "O", "COMMA", "O", "O"],
    });
    expect(second!.tokens).toEqual(["how", "long", "precisely", "having", "little", "money", "what", "of"]);
    expect(second!.tags).toEqual(["O", "O", "COMMA", "O", "O", "COMMA", "O", "O"]);
    const third = punctuationTagging(text, { words: 8 })[2]!;
    expect(third).toEqual({ tokens: ["it", "don't", "ask", "sea", "captain"], tags: ["QUESTION", "O", "COMMA", "O", "PERIOD"] });
  });

  it("writes what parseTaggedTsv reads back, and refuses a text with nothing to tag", () => {
    const sentences = punctuationTagging("One, two. Three? Four five six.", { words: 3 });
    expect(parseTaggedTsv(formatTaggedTsv(sentences))).toEqual(sentences);
    expect(() => punctuationTagging("...!")).toThrow(/the text has 0 words/);
    expect(() => punctuationTagging("a b", { words: 1 })).toThrow(/words must be an integer of at least 2/);
  });
});

describe("punctuationDataset", () => {
  it("splits the sequences into the text's first 80%, next 10% and last 10%, in order, and refuses fewer than 10", () => {
    const text = Array.from({ length: 100 }, (_, i) => `word${i} and more, then a stop.`).join(" ");
    const all = punctuationTagging(text, { words: 12 });
    const { train, dev, test } = punctuationDataset(text, { words: 12 });
    expect([...train, ...dev, ...test]).toEqual(all);
    expect([train.length, dev.length, test.length]).toEqual([Math.round(all.length * 0.8), Math.round(all.length * 0.9) - Math.round(all.length * 0.8), all.length - Math.round(all.length * 0.9)]);
    expect(() => punctuationDataset("one two three. four five.", { words: 2 })).toThrow(/makes 3 sequences of 2 words: too few/);
  });
});

describe("mostFrequentTagBaseline", () => {
  it("predicts each token's most frequent training tag, and the most frequent tag overall for unseen tokens", () => {
    const b = mostFrequentTagBaseline([
      { tokens: ["yes", "no", "yes"], tags: ["PERIOD", "O", "PERIOD"] },
      { tokens: ["yes", "so"], tags: ["O", "O"] },
    ]);
    expect(b.fallback).toBe("O");
    expect(b.predict(["yes", "no", "never"])).toEqual(["PERIOD", "O", "O"]);
  });
});
