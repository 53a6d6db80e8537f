import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Wtf8Decoder, wtf8Decode, wtf8Encode } from "./index.js";
import { utf16String } from "./test-utils.js";

const hex = (bytes: ArrayLike<number>): string => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");

describe("WTF-8", () => {
  it("encodes code points as UTF-8 and lone surrogates as 3-byte sequences", () => {
    const cases: [string, string][] = [
      ["", ""],
      ["a", "61"],
      ["\u00e9", "c3 a9"],
      ["\u20ac", "e2 82 ac"],
      ["\u{1F600}", "f0 9f 98 80"],
      ["\u{10FFFF}", "f4 8f bf bf"],
      ["\ud800", "ed a0 80"],
      ["\udfff", "ed bf bf"],
      ["\udc00\ud800", "ed b0 80 ed a0 80"], // reversed pair: two lone surrogates
      ["a\ud83d", "61 ed a0 bd"],
    ];
    for (const [s, bytes] of cases) {
      expect(hex(wtf8Encode(s))).toBe(bytes);
      expect(wtf8Decode(wtf8Encode(s))).toBe(s);
    }
  });

  it("agrees with Node's UTF-8 encoder on well-formed strings", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        expect(hex(wtf8Encode(s))).toBe(hex(Buffer.from(s, "utf8")));
      }),
    );
  });

  it("round-trips every sequence of UTF-16 code units", () => {
    fc.assert(fc.property(utf16String(), (s) => wtf8Decode(wtf8Encode(s)) === s));
  });

  it("replaces ill-formed bytes with U+FFFD per maximal subpart", () => {
    const cases: [number[], string][] = [
      [[0x80], "\ufffd"],
      [[0xe2, 0x82], "\ufffd"], // truncated at the end
      [[0xe2, 0x82, 0x41], "\ufffdA"],
      [[0xc0, 0x80], "\ufffd\ufffd"], // overlong
      [[0xf5, 0x41], "\ufffdA"],
      [[0xf4, 0x90, 0x80, 0x80], "\ufffd\ufffd\ufffd\ufffd"], // above U+10FFFF
      [[0xed, 0xa0, 0x80], "\ud800"], // a surrogate: WTF-8 accepts it
      [[0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80], "\ud83d\ude00"], // two halves in a row make a pair in UTF-16
    ];
    for (const [bytes, text] of cases) expect(wtf8Decode(bytes)).toBe(text);
  });

  it("decodes like TextDecoder on bytes that encode no surrogate", () => {
    const td = new TextDecoder("utf-8");
    const bytes = fc.uint8Array({ maxLength: 30 }).filter((b) => !b.some((x, i) => x === 0xed && (b[i + 1] ?? 0) >= 0xa0 && (b[i + 1] ?? 0) <= 0xbf));
    fc.assert(fc.property(bytes, (b) => wtf8Decode(b) === td.decode(b)));
  });

  it("decodes the same text whatever the pieces the bytes arrive in", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 30 }), fc.array(fc.nat(30)), (bytes, cuts) => {
        const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const d = new Wtf8Decoder();
        let text = "";
        let from = 0;
        for (const c of [...at, bytes.length]) {
          text += d.push(bytes, from, c);
          from = c;
        }
        text += d.flush();
        expect(text).toBe(wtf8Decode(bytes));
      }),
    );
  });
});
