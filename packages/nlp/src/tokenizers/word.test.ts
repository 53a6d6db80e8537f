import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { WordTokenizer } from "./index.js";
import { utf16String } from "./test-utils.js";

describe("WordTokenizer", () => {
  it("splits text into words, single punctuation marks and whitespace runs", () => {
    const tok = WordTokenizer.fit("");
    expect(tok.pieces("Hello, world!  It's 42.\n\nCaf\u00e9 o\u2019er \u{1F600}\u{1F600}")).toEqual([
      "Hello", ",", " ", "world", "!", "  ", "It's", " ", "42", ".", "\n\n",
      "Caf\u00e9", " ", "o\u2019er", " ", "\u{1F600}", "\u{1F600}",
    ]);
    expect(tok.words("Hello, world!  It's 42.\n")).toEqual(["Hello", ",", "world", "!", "It's", "42", "."]);
    expect(tok.pieces("'tis dogs' e\u0301t\u00e9 snake_case")).toEqual(["'", "tis", " ", "dogs", "'", " ", "e\u0301t\u00e9", " ", "snake_case"]);
  });

  it("lays out the vocabulary: unknown first, then pieces by frequency, ties in code-unit order", () => {
    const tok = WordTokenizer.fit("the cat the dog the");
    expect(tok.toJSON().tokens).toEqual(["<unk>", " ", "the", "cat", "dog"]);
    expect(tok.unkId).toBe(0);
    expect(tok.vocabSize).toBe(5);
    expect(Array.from(tok.encode("the dog"))).toEqual([2, 1, 4]);
    expect(Array.from(tok.encodeWords("the  dog cat"))).toEqual([2, 4, 3]);
    expect(tok.idOf("cat")).toBe(3);
    expect(tok.idOf("bird")).toBe(0);
  });

  it("maps pieces outside the vocabulary to the unknown symbol", () => {
    const tok = WordTokenizer.fit("the cat the dog the", { minFrequency: 2 });
    expect(tok.toJSON().tokens).toEqual(["<unk>", " ", "the"]);
    expect(tok.decode(tok.encode("the cat, the dog"))).toBe("the <unk><unk> the <unk>");
    const small = WordTokenizer.fit("the cat the dog the", { maxVocab: 2, unknown: "?" });
    expect(small.toJSON().tokens).toEqual(["?", " "]);
    expect(small.decode(small.encode("the cat"))).toBe("? ?");
  });

  it("treats the unknown text as the unknown symbol, without breaking words", () => {
    const ptb = WordTokenizer.fit("a <unk> b <unk>");
    expect(ptb.toJSON().tokens).toEqual(["<unk>", " ", "a", "b"]);
    expect(ptb.pieces("a<unk>b")).toEqual(["a", "<unk>", "b"]);
    expect(ptb.decode(ptb.encode("b <unk> a"))).toBe("b <unk> a");
    const word = WordTokenizer.fit("unknown unk unk", { unknown: "unk" });
    expect(word.toJSON().tokens).toEqual(["unk", " ", "unknown"]);
    expect(Array.from(word.encode("unknown unk"))).toEqual([2, 1, 0]);
    const odd = "[UNK-1.*] \\ $^";
    const marked = WordTokenizer.fit(`x ${odd} y`, { unknown: odd });
    expect(marked.pieces(`y${odd}x`)).toEqual(["y", odd, "x"]);
    expect(marked.decode(marked.encode(`y ${odd}`))).toBe(`y ${odd}`);
  });

  it("lowercases pieces when asked", () => {
    const tok = WordTokenizer.fit("The the THE", { lowercase: true });
    expect(tok.toJSON().tokens).toEqual(["<unk>", "the", " "]);
    expect(tok.decode(tok.encode("THE The"))).toBe("the the");
    expect(tok.words("The CAT")).toEqual(["the", "cat"]);
    fc.assert(
      fc.property(fc.string({ unit: "binary-ascii" }), (s) => {
        const t = WordTokenizer.fit(s, { lowercase: true });
        expect(t.decode(t.encode(s))).toBe(s.toLowerCase());
      }),
    );
  });

  it("round-trips any text whose pieces are all in the vocabulary", () => {
    fc.assert(
      fc.property(utf16String(60), fc.string({ unit: "grapheme", maxLength: 30 }), (s, more) => {
        // U+0000 is a piece of its own, so s keeps its pieces inside the training text.
        const tok = WordTokenizer.fit(`${s}\u0000${more}`);
        expect(tok.pieces(s).join("")).toBe(s);
        for (const p of tok.pieces(s)) expect(tok.tokenText(tok.idOf(p))).toBe(p);
        expect(tok.decode(tok.encode(s))).toBe(s);
      }),
    );
  });

  it("words() is pieces() without the whitespace runs", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme-ascii" }), (s) => {
        const tok = WordTokenizer.fit(s);
        const words = tok.words(s);
        for (const w of words) expect(w).not.toMatch(/^\s+$/);
        expect(words.join("")).toBe(s.replace(/\s+/g, ""));
      }),
    );
  });

  it("decodes as the join of tokenText, and streams the same text", () => {
    const tok = WordTokenizer.fit("one two, three\n");
    fc.assert(
      fc.property(fc.array(fc.nat(tok.vocabSize - 1), { maxLength: 30 }), (ids) => {
        const text = tok.decode(ids);
        expect(ids.map((id) => tok.tokenText(id)).join("")).toBe(text);
        const d = tok.streamDecoder();
        expect(ids.map((id) => d.push(id)).join("") + d.flush()).toBe(text);
      }),
    );
  });

  it("refuses bad options and ids", () => {
    expect(() => WordTokenizer.fit("a", { minFrequency: 0 })).toThrow(/minFrequency must be an integer >= 1/);
    expect(() => WordTokenizer.fit("a", { maxVocab: 0 })).toThrow(/maxVocab must be an integer >= 1/);
    expect(() => WordTokenizer.fit("a b").decode([9])).toThrow(/token id 9 is not in the vocabulary \[0, 4\)/);
  });
});

describe("WordTokenizer with attached spaces", () => {
  it("gives a single space to the piece after it, so sentences take half the tokens, and round-trips", () => {
    const tok = WordTokenizer.fit("", { attachSpaces: true });
    expect(tok.pieces("Hello, world!  It's 42.\n\nNo")).toEqual(["Hello", ",", " world", "!", " ", " It's", " 42", ".", "\n\n", "No"]);
    expect(tok.pieces(" a\tb ")).toEqual([" a", "\t", "b", " "]);
    const fitted = WordTokenizer.fit("the cat saw the dog. the dog ran.", { attachSpaces: true });
    // " dog", " the" and "." twice each (ties in code-unit order), the rest once.
    expect(fitted.toJSON().tokens).toEqual(["<unk>", " dog", " the", ".", " cat", " ran", " saw", "the"]);
    expect(Array.from(fitted.encode("the dog ran."))).toEqual([7, 1, 5, 3]);
    expect(fitted.decode(fitted.encode("the cat ran."))).toBe("the cat ran.");
  });

  it("decodes an unknown word with a space before it (not glued to the word before), except at the start", () => {
    const tok = WordTokenizer.fit("police are here. police are", { attachSpaces: true });
    const ids = tok.encode("Police are bribed here.");
    expect(ids[0]).toBe(tok.unkId); // "Police": not in the vocabulary
    expect(tok.decode(ids)).toBe("<unk> are <unk> here.");
    const stream = tok.streamDecoder();
    expect(Array.from(ids, (id) => stream.push(id)).join("")).toBe("<unk> are <unk> here.");
    // Without attached spaces the space is a token of its own, and the unknown word takes none.
    const plain = WordTokenizer.fit("police are here");
    expect(plain.decode(plain.encode("police are bribed"))).toBe("police are <unk>");
  });

  it("serialises the setting and checks it on load", () => {
    const tok = WordTokenizer.fit("a b a", { attachSpaces: true });
    const json = tok.toJSON();
    expect(json.attachSpaces).toBe(true);
    const back = WordTokenizer.fromJSON(JSON.parse(JSON.stringify(json)));
    expect(back.attachSpaces).toBe(true);
    expect(Array.from(back.encode("b a"))).toEqual(Array.from(tok.encode("b a")));
    expect(() => WordTokenizer.fromJSON({ ...json, attachSpaces: "yes" })).toThrow(/attachSpaces must be true or false when present, got "yes"/);
    expect(() => WordTokenizer.fromJSON({ ...json, attachSpaces: false })).toThrow(/tokens\[\d\] must be one word/);
    expect("attachSpaces" in WordTokenizer.fit("a b").toJSON()).toBe(false);
  });

  it("decodes what it encodes for any text whose pieces it knows", () => {
    fc.assert(
      fc.property(utf16String(), (text) => {
        const tok = WordTokenizer.fit(text, { attachSpaces: true, unknown: "" });
        expect(tok.decode(tok.encode(text))).toBe(text);
      }),
      { seed: 7, numRuns: 300 },
    );
  });
});
