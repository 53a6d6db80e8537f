import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BpeTokenizer } from "./index.js";
import { SAMPLE, smallAlphabetText, utf16String } from "./test-utils.js";

// A reference trainer written the slow, obvious way: recount every pair of every chunk occurrence
// before each merge. Bytes come from Node's UTF-8 encoder (so texts must be well formed) and chunks
// from GPT-2's pattern (openai/gpt-2 encoder.py). Ties go to the smaller (first id, second id).
const GPT2 = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

function mergeWord(word: number[], a: number, b: number, z: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < word.length; i++) {
    if (word[i] === a && word[i + 1] === b) {
      out.push(z);
      i++;
    } else out.push(word[i]!);
  }
  return out;
}

function referenceTrain(text: string, vocabSize: number, minFrequency: number): [number, number][] {
  let words = (text.match(GPT2) ?? []).map((c) => Array.from(Buffer.from(c, "utf8")));
  const merges: [number, number][] = [];
  while (256 + merges.length < vocabSize) {
    const counts = new Map<string, number>();
    for (const w of words) for (let i = 0; i + 1 < w.length; i++) counts.set(`${w[i]},${w[i + 1]}`, (counts.get(`${w[i]},${w[i + 1]}`) ?? 0) + 1);
    let best: [number, number] | null = null;
    let bestCount = 0;
    for (const [k, c] of counts) {
      const [a, b] = k.split(",").map(Number) as [number, number];
      if (c > bestCount || (c === bestCount && best !== null && (a < best[0] || (a === best[0] && b < best[1])))) {
        best = [a, b];
        bestCount = c;
      }
    }
    if (best === null || bestCount < minFrequency) break;
    const [a, b] = best;
    const z = 256 + merges.length;
    merges.push([a, b]);
    words = words.map((w) => mergeWord(w, a, b, z));
  }
  return merges;
}

/** Encodes by applying every merge in order to each chunk, as training rewrote the corpus. */
function referenceEncode(text: string, merges: [number, number][]): number[] {
  return (text.match(GPT2) ?? []).flatMap((c) => merges.reduce((w, [a, b], i) => mergeWord(w, a, b, 256 + i), Array.from(Buffer.from(c, "utf8"))));
}

describe("BpeTokenizer", () => {
  const tok = BpeTokenizer.train(SAMPLE.repeat(3), { vocabSize: 400 });

  it("starts from the 256 bytes of UTF-8", () => {
    const bytes = BpeTokenizer.train("", { vocabSize: 300 });
    expect(bytes.vocabSize).toBe(256);
    expect(bytes.kind).toBe("bpe");
    expect(bytes.unkId).toBeNull();
    expect(Array.from(bytes.encode("a\u00e9\u{1F600}"))).toEqual([0x61, 0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80]);
    expect(Array.from(bytes.encode("\ud800"))).toEqual([0xed, 0xa0, 0x80]);
    expect(bytes.tokenText(0x41)).toBe("A");
    expect(bytes.tokenText(0xc3)).toBe("\ufffd");
  });

  it("learns the most frequent pair first, ties to the smaller ids", () => {
    // "aaab": (a,a) x2 -> 256; then (256,a) and (a,b) once each: (97,98) has the smaller first id.
    const t = BpeTokenizer.train("aaab", { vocabSize: 1000, minFrequency: 1 });
    expect(t.merges).toEqual([
      [97, 97],
      [97, 98],
      [256, 257],
    ]);
    expect(Array.from(t.encode("aaab"))).toEqual([258]);
    expect(Array.from(t.encode("aab aaa"))).toEqual([256, 98, 32, 256, 97]); // " aaa" starts with a space byte
    expect(Array.from(t.tokenBytes(258))).toEqual([97, 97, 97, 98]);
    expect(BpeTokenizer.train("aaab", { vocabSize: 1000 }).merges).toEqual([[97, 97]]); // minFrequency 2
  });

  it("learns the same merges as a full recount per merge", () => {
    fc.assert(
      fc.property(smallAlphabetText(), fc.integer({ min: 256, max: 300 }), fc.integer({ min: 1, max: 3 }), (text, vocabSize, minFrequency) => {
        const merges = referenceTrain(text, vocabSize, minFrequency);
        const t = BpeTokenizer.train(text, { vocabSize, minFrequency });
        expect(t.merges).toEqual(merges);
        expect(t.vocabSize).toBe(256 + merges.length);
        expect(Array.from(t.encode(text))).toEqual(referenceEncode(text, merges));
      }),
      { numRuns: 60 },
    );
  });

  it("encodes unseen text as applying the merges in order would", () => {
    fc.assert(
      fc.property(smallAlphabetText(), (s) => {
        expect(Array.from(tok.encode(s))).toEqual(referenceEncode(s, tok.merges));
      }),
    );
    const words = fc.string({ unit: fc.constantFrom(..."The quick brown fox caf\u00e9 \u{1F680}\u65e5"), maxLength: 60 });
    fc.assert(
      fc.property(words, (s) => {
        expect(Array.from(tok.encode(s))).toEqual(referenceEncode(s, tok.merges));
      }),
    );
  });

  it("trains and encodes long chunks (no spaces) as the reference does", () => {
    const letters = (min: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom("a", "b", "\u00e9", "\u00e0"), minLength: min, maxLength: 300 });
    fc.assert(
      fc.property(letters(30), letters(0), (text, other) => {
        const merges = referenceTrain(text, 300, 1);
        const t = BpeTokenizer.train(text, { vocabSize: 300, minFrequency: 1 });
        expect(t.merges).toEqual(merges);
        expect(Array.from(t.encode(text))).toEqual(referenceEncode(text, merges));
        expect(Array.from(t.encode(other))).toEqual(referenceEncode(other, merges));
      }),
      { numRuns: 40 },
    );
    // One chunk of 40,000 bytes.
    const dna = "ACGTTGCA".repeat(5000);
    const t = BpeTokenizer.train(dna, { vocabSize: 270 });
    expect(Array.from(t.encode(dna))).toEqual(referenceEncode(dna, t.merges));
  });

  it("is deterministic and reaches the vocabulary size asked for", () => {
    const text = SAMPLE.repeat(2);
    const a = BpeTokenizer.train(text, { vocabSize: 350 });
    const b = BpeTokenizer.train(text, { vocabSize: 350 });
    expect(a.vocabSize).toBe(350);
    expect(a.merges).toHaveLength(94);
    expect(b.merges).toEqual(a.merges);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    // A smaller vocabulary learns a prefix of the same merges.
    expect(BpeTokenizer.train(text, { vocabSize: 300 }).merges).toEqual(a.merges.slice(0, 44));
    // Compression: fewer tokens than bytes.
    expect(a.encode(text).length).toBeLessThan(Buffer.byteLength(text, "utf8") / 2);
  });

  it("merges across the bytes of multi-byte characters", () => {
    const emoji = tok.encode("\u{1F680}\u{1F680}\u{1F680}");
    expect(emoji.length).toBeLessThan(12);
    expect(tok.decode(emoji)).toBe("\u{1F680}\u{1F680}\u{1F680}");
    // Some learnt token holds part of a character only: decoded alone it shows U+FFFD.
    const partial = tok.merges.map((_, i) => 256 + i).filter((id) => tok.tokenText(id).includes("\ufffd"));
    expect(partial.length).toBeGreaterThan(0);
  });

  it("round-trips every string: well-formed, any code point, lone surrogates", () => {
    const check = (s: string): void => {
      expect(tok.decode(tok.encode(s))).toBe(s);
    };
    fc.assert(fc.property(fc.string({ unit: "binary" }), check));
    fc.assert(fc.property(fc.string({ unit: "grapheme" }), check));
    fc.assert(fc.property(utf16String(), check));
    for (const s of ["\ud800", "\udc00", "a\ud83d", "\ude00\ud83d", "\ud83d\ude00\ud83d", "it's \ud800's"]) check(s);
  });

  it("trains on text with lone surrogates and round-trips it", () => {
    fc.assert(
      fc.property(utf16String(60), utf16String(), (text, s) => {
        const t = BpeTokenizer.train(text.repeat(3), { vocabSize: 280 });
        expect(t.decode(t.encode(text))).toBe(text);
        expect(t.decode(t.encode(s))).toBe(s);
      }),
      { numRuns: 50 },
    );
  });

  it("streams the same text as decode, for any id sequence", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(tok.vocabSize - 1), { maxLength: 40 }), (ids) => {
        const d = tok.streamDecoder();
        expect(ids.map((id) => d.push(id)).join("") + d.flush()).toBe(tok.decode(ids));
      }),
    );
    // A token boundary inside a character holds the character back until it is whole.
    const d = tok.streamDecoder();
    expect(d.push(0xf0)).toBe("");
    expect(d.push(0x9f)).toBe("");
    expect(d.push(0x98)).toBe("");
    expect(d.push(0x80)).toBe("\u{1F600}");
    expect(d.push(0xe2)).toBe("");
    expect(d.flush()).toBe("\ufffd");
  });

  it("streams the original text back from its encoding", () => {
    fc.assert(
      fc.property(utf16String(), (s) => {
        const d = tok.streamDecoder();
        expect(Array.from(tok.encode(s), (id) => d.push(id)).join("") + d.flush()).toBe(s);
      }),
    );
  });

  it("refuses bad options and ids", () => {
    expect(() => BpeTokenizer.train("abc", { vocabSize: 255 })).toThrow(/vocabSize must be an integer in \[256/);
    expect(() => BpeTokenizer.train("abc", { vocabSize: 300.5 })).toThrow(/vocabSize/);
    expect(() => BpeTokenizer.train("abc", { vocabSize: 300, minFrequency: 0 })).toThrow(/minFrequency must be an integer >= 1/);
    expect(() => tok.decode([0, 400])).toThrow(/token id 400 is not in the vocabulary \[0, 400\)/);
    expect(() => tok.streamDecoder().push(-1)).toThrow(/token id -1/);
  });
});
