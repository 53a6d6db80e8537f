import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BpeTokenizer, CharTokenizer, type Tokenizer, tokenizerFromJSON, TokenizerFormatError, WordTokenizer } from "./index.js";
import { SAMPLE, utf16String } from "./test-utils.js";

const text = `${SAMPLE}\ud800 <unk> x\udc00`;
const tokenizers: [string, Tokenizer][] = [
  ["char", CharTokenizer.fromText(text)],
  ["char, custom unknown", CharTokenizer.fromText(text, { unknown: "[?]" })],
  ["word", WordTokenizer.fit(text)],
  ["word, lowercase", WordTokenizer.fit(text, { lowercase: true, unknown: "UNK" })],
  ["bpe", BpeTokenizer.train(text.repeat(2), { vocabSize: 320 })],
];

/** Through JSON text and back, as a model file stores it. */
const reload = (t: Tokenizer): Tokenizer => tokenizerFromJSON(JSON.parse(JSON.stringify(t.toJSON())));

describe("tokenizer serialisation", () => {
  it.each(tokenizers)("a %s tokenizer round-trips through JSON text with identical encodings", (_, t) => {
    const back = reload(t);
    expect(back.kind).toBe(t.kind);
    expect(back.vocabSize).toBe(t.vocabSize);
    expect(back.unkId).toBe(t.unkId);
    expect(back.toJSON()).toEqual(t.toJSON());
    expect(JSON.stringify(back)).toBe(JSON.stringify(t)); // JSON.stringify calls toJSON
    fc.assert(
      fc.property(fc.oneof(utf16String(), fc.string({ unit: "grapheme" }), fc.constantFrom(text)), (s) => {
        const ids = t.encode(s);
        expect(Array.from(back.encode(s))).toEqual(Array.from(ids));
        expect(back.decode(ids)).toBe(t.decode(ids));
      }),
      { numRuns: 50 },
    );
  });

  it("writes the format tag, version and kind", () => {
    for (const [, t] of tokenizers) {
      const json = t.toJSON();
      expect(json.format).toBe("unroll-tokenizer");
      expect(json.version).toBe(1);
      expect(json.kind).toBe(t.kind);
    }
  });

  it("rejects what is not a tokenizer with a clear error", () => {
    const good = tokenizers[0]![1].toJSON();
    const cases: [unknown, RegExp][] = [
      [null, /expected a tokenizer object, got null/],
      [[1, 2], /expected a tokenizer object, got an array/],
      [42, /expected a tokenizer object, got 42/],
      [JSON.stringify(good), /got a string: pass JSON.parse\(text\)/],
      [{ format: "unroll-checkpoint-pointer", version: 1 }, /not a serialised tokenizer: format is "unroll-checkpoint-pointer", expected "unroll-tokenizer"/],
      [{ name: "some-app", version: "1.0.0" }, /not a serialised tokenizer: format is missing/],
      [{ ...good, version: 2 }, /tokenizer has version 2; this library reads version 1/],
      [{ ...good, version: undefined }, /tokenizer has version missing/],
      [{ ...good, kind: "sentencepiece" }, /unknown tokenizer kind "sentencepiece"; expected "char", "word" or "bpe"/],
    ];
    for (const [json, message] of cases) {
      expect(() => tokenizerFromJSON(json)).toThrow(TokenizerFormatError);
      expect(() => tokenizerFromJSON(json)).toThrow(message);
    }
  });

  it("rejects a tokenizer of another kind in a class's fromJSON", () => {
    const bpe = tokenizers[4]![1].toJSON();
    expect(() => CharTokenizer.fromJSON(bpe)).toThrow(/CharTokenizer.fromJSON: this is a bpe tokenizer, not a char tokenizer/);
    expect(() => WordTokenizer.fromJSON(CharTokenizer.fromText("a").toJSON())).toThrow(/this is a char tokenizer, not a word tokenizer/);
    expect(() => BpeTokenizer.fromJSON(WordTokenizer.fit("a").toJSON())).toThrow(/this is a word tokenizer, not a bpe tokenizer/);
  });

  it("rejects corrupted character and word vocabularies", () => {
    const char = { format: "unroll-tokenizer", version: 1, kind: "char", unkId: 0, tokens: ["\ufffd", "a", "b"] };
    expect(CharTokenizer.fromJSON(char).decode([2, 1])).toBe("ba");
    const word = { format: "unroll-tokenizer", version: 1, kind: "word", unkId: 0, lowercase: false, tokens: ["<unk>", " ", "the"] };
    expect(WordTokenizer.fromJSON(word).decode([2, 1, 0])).toBe("the <unk>");
    const cases: [object, RegExp][] = [
      [{ ...char, tokens: undefined }, /tokens must be a non-empty array of strings, got missing/],
      [{ ...char, tokens: [] }, /tokens must be a non-empty array/],
      [{ ...char, tokens: ["\ufffd", "a", 7] }, /tokens\[2\] must be a string, got 7/],
      [{ ...char, tokens: ["\ufffd", "a", "a"] }, /tokens\[2\] repeats tokens\[1\] \("a"\)/],
      [{ ...char, tokens: ["\ufffd", "a", "ab"] }, /tokens\[2\] must be a single character \(code point\), got "ab"/],
      [{ ...char, unkId: 3 }, /unkId must be an integer in \[0, 3\), got 3/],
      [{ ...char, unkId: "0" }, /unkId must be an integer in \[0, 3\), got "0"/],
      [{ ...word, lowercase: "yes" }, /lowercase must be true or false, got "yes"/],
      [{ ...word, tokens: ["<unk>", "the cat"] }, /tokens\[1\] must be one word, whitespace run or symbol, got "the cat"/],
      [{ ...word, lowercase: true, tokens: ["<unk>", "The"] }, /tokens\[1\] \("The"\) is not lowercase/],
    ];
    for (const [json, message] of cases) {
      expect(() => tokenizerFromJSON(json)).toThrow(TokenizerFormatError);
      expect(() => tokenizerFromJSON(json)).toThrow(message);
    }
  });

  it("rejects corrupted BPE merges", () => {
    const bpe = { format: "unroll-tokenizer", version: 1, kind: "bpe", pretokenizer: "gpt2", merges: [[97, 98], [256, 99]] };
    expect(Array.from(tokenizerFromJSON(bpe).encode("abc ab"))).toEqual([257, 32, 256]);
    const cases: [object, RegExp][] = [
      [{ ...bpe, pretokenizer: "whitespace" }, /unknown pretokenizer "whitespace"; this library has "gpt2"/],
      [{ ...bpe, merges: "97 98" }, /merges must be an array of \[a, b\] id pairs, got "97 98"/],
      [{ ...bpe, merges: [[97, 98], [257, 99]] }, /merges\[1\] must be a pair of earlier token ids in \[0, 257\), got \[257,99\]/],
      [{ ...bpe, merges: [[97]] }, /merges\[0\] must be a pair of earlier token ids/],
      [{ ...bpe, merges: [[97, -1]] }, /merges\[0\] must be a pair/],
      [{ ...bpe, merges: [[97, 98.5]] }, /merges\[0\] must be a pair/],
      [{ ...bpe, merges: [{ a: 97, b: 98 }] }, /merges\[0\] must be a pair of earlier token ids in \[0, 256\), got an object/],
      [{ ...bpe, merges: [[97, 98], [256, 99], [97, 98]] }, /merges\[2\] repeats merges\[0\] \(\[97, 98\]\)/],
    ];
    for (const [json, message] of cases) {
      expect(() => tokenizerFromJSON(json)).toThrow(TokenizerFormatError);
      expect(() => tokenizerFromJSON(json)).toThrow(message);
    }
  });

  it("survives a JSON text with lone surrogates escaped", () => {
    const t = CharTokenizer.fromText("a\ud800");
    const json = JSON.stringify(t);
    expect(json).toContain("\\ud800"); // well-formed JSON.stringify escapes lone surrogates
    expect(tokenizerFromJSON(JSON.parse(json)).decode([2])).toBe("\ud800");
  });
});
