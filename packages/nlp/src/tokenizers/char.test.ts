import { ValueRangeError } from "@unroll/tensor";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CharTokenizer } from "./index.js";
import { utf16String } from "./test-utils.js";

describe("CharTokenizer", () => {
  it("gives id 0 to the unknown symbol and 1..n to the characters in code point order", () => {
    const tok = CharTokenizer.fromText("hello");
    expect(tok.kind).toBe("char");
    expect(tok.vocabSize).toBe(5);
    expect(tok.unkId).toBe(0);
    // unk=0, e=1, h=2, l=3, o=4
    expect(Array.from(tok.encode("hello"))).toEqual([2, 1, 3, 3, 4]);
    expect(tok.toJSON().tokens).toEqual(["\ufffd", "e", "h", "l", "o"]);
    expect(tok.decode([4, 3, 1])).toBe("ole");
  });

  it("has 65 + 1 symbols for tiny Shakespeare's character set", () => {
    const shakespeare = "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    const tok = CharTokenizer.fromText(shakespeare.repeat(3));
    expect(tok.vocabSize).toBe(66);
    expect(tok.tokenText(1)).toBe("\n");
    expect(tok.tokenText(65)).toBe("z");
  });

  it("makes a character outside the BMP one token, and a lone surrogate its own symbol", () => {
    const tok = CharTokenizer.fromText("a\u{1F600}\ud800b");
    // Code point order: a (0x61), b (0x62), lone U+D800, U+1F600.
    expect(tok.toJSON().tokens).toEqual(["\ufffd", "a", "b", "\ud800", "\u{1F600}"]);
    expect(Array.from(tok.encode("\u{1F600}a\ud800"))).toEqual([4, 1, 3]);
    expect(tok.decode([3, 4])).toBe("\ud800\u{1F600}");
    // A lone low surrogate was not seen: unknown.
    expect(Array.from(tok.encode("\udc00"))).toEqual([0]);
  });

  it("encodes unseen characters as the unknown symbol, which decodes to the unknown string", () => {
    expect(Array.from(CharTokenizer.fromText("ab").encode("abc"))).toEqual([1, 2, 0]);
    expect(CharTokenizer.fromText("ab").decode([1, 0, 2])).toBe("a\ufffdb");
    const q = CharTokenizer.fromText("ab", { unknown: "?" });
    expect(q.decode(q.encode("a\u{1F600}cb"))).toBe("a??b");
    const drop = CharTokenizer.fromText("ab", { unknown: "" });
    expect(drop.decode(drop.encode("xaybz"))).toBe("ab");
  });

  it("gives no second id to a character equal to the unknown string", () => {
    const tok = CharTokenizer.fromText("a\ufffdb");
    expect(tok.vocabSize).toBe(3);
    expect(Array.from(tok.encode("\ufffd"))).toEqual([0]);
    expect(tok.decode(tok.encode("a\ufffdb"))).toBe("a\ufffdb");
  });

  it("round-trips any text made of characters in its vocabulary", () => {
    fc.assert(
      fc.property(utf16String(), fc.string({ unit: "binary", maxLength: 20 }), (s, extra) => {
        const tok = CharTokenizer.fromText(extra + s);
        const ids = tok.encode(s);
        expect(ids.length).toBe([...s].length);
        expect(tok.decode(ids)).toBe(s);
      }),
    );
  });

  it("has one symbol per distinct code point, plus the unknown symbol", () => {
    fc.assert(
      fc.property(utf16String(), (s) => {
        const distinct = new Set([...s]);
        distinct.delete("\ufffd");
        expect(CharTokenizer.fromText(s).vocabSize).toBe(distinct.size + 1);
        const cps = CharTokenizer.fromText(s).toJSON().tokens.slice(1).map((t) => t.codePointAt(0)!);
        for (let i = 1; i < cps.length; i++) expect(cps[i]!).toBeGreaterThan(cps[i - 1]!);
      }),
    );
  });

  it("replaces exactly the unseen characters of any text", () => {
    fc.assert(
      fc.property(utf16String(), utf16String(), (seen, s) => {
        const vocab = new Set([...seen]);
        const tok = CharTokenizer.fromText(seen, { unknown: "<?>" });
        const expected = [...s].map((c) => (vocab.has(c) ? c : "<?>")).join("");
        expect(tok.decode(tok.encode(s))).toBe(expected);
      }),
    );
  });

  it("decodes as the join of tokenText, and streams the same text", () => {
    const tok = CharTokenizer.fromText("ab\u{1F600}\ud800", { unknown: "<unk>" });
    fc.assert(
      fc.property(fc.array(fc.nat(tok.vocabSize - 1), { maxLength: 30 }), (ids) => {
        const text = tok.decode(ids);
        expect(ids.map((id) => tok.tokenText(id)).join("")).toBe(text);
        const d = tok.streamDecoder();
        expect(ids.map((id) => d.push(id)).join("") + d.flush()).toBe(text);
      }),
    );
  });

  it("rejects ids outside the vocabulary", () => {
    const tok = CharTokenizer.fromText("ab");
    expect(() => tok.decode([3])).toThrow(ValueRangeError);
    expect(() => tok.decode([3])).toThrow(/token id 3 is not in the vocabulary \[0, 3\)/);
    expect(() => tok.tokenText(-1)).toThrow(/token id -1/);
    expect(() => tok.decode([1.5])).toThrow(/token id 1.5/);
  });
});
