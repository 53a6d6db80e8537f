import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { codePointLength, DataError, loadText, splitText } from "./index.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "unroll-nlp-text-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, content: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

async function rejection(promise: Promise<unknown>): Promise<DataError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DataError);
  return error as DataError;
}

describe("loadText", () => {
  // 1-, 2-, 3- and 4-byte characters: "é" is C3 A9, "日" E6 97 A5, "🎉" F0 9F 8E 89.
  const text = "Zoë's café — 日本語 🎉 naïve\nsecond line ☃ 𝄞 end\n";

  it("decodes multi-byte characters split across every possible chunk boundary", async () => {
    const path = file("utf8.txt", text);
    for (const chunkBytes of [1, 2, 3, 4, 5, 7, 64, 65536]) {
      expect(await loadText(path, { chunkBytes })).toBe(text);
    }
  });

  it("drops a byte order mark and keeps CRLF line endings", async () => {
    const path = file("bom.txt", new Uint8Array([0xef, 0xbb, 0xbf, 0x61, 0x0d, 0x0a, 0x62]));
    expect(await loadText(path)).toBe("a\r\nb");
    expect(await loadText(path, { chunkBytes: 1 })).toBe("a\r\nb");
  });

  it("refuses a binary file, saying where the NUL byte is", async () => {
    const path = file("image.bin", new Uint8Array([0x61, 0x62, 0x0a, 0x63, 0x0a, 0x64, 0x00, 0x01, 0xff]));
    for (const chunkBytes of [1, 4, 65536]) {
      const error = await rejection(loadText(path, { chunkBytes }));
      expect(error.code).toBe("BINARY");
      expect(error.byteOffset).toBe(6);
      expect(error.message).toContain(JSON.stringify(path));
      expect(error.message).toContain("NUL byte at byte offset 6 (line 3)");
    }
  });

  it("refuses invalid UTF-8 with the offset of the first bad sequence, also when it starts in an earlier chunk", async () => {
    // "ab\n" then a 3-byte lead E6 97 cut short by "A": the bad sequence starts at offset 3, line 2.
    const path = file("latin.txt", new Uint8Array([0x61, 0x62, 0x0a, 0xe6, 0x97, 0x41, 0x42]));
    for (const chunkBytes of [1, 2, 4, 5, 65536]) {
      const error = await rejection(loadText(path, { chunkBytes }));
      expect(error.code).toBe("INVALID_UTF8");
      expect(error.byteOffset).toBe(3);
      expect(error.message).toContain(JSON.stringify(path));
      expect(error.message).toContain("invalid byte 0xE6 at byte offset 3 (line 2)");
    }
  });

  it("locates invalid UTF-8 after a BOM and multi-byte text", async () => {
    // BOM (3) + "é\n" (3) + "日" (3) + a lone Latin-1 "é" (E9) at offset 9, then "x".
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, 0xc3, 0xa9, 0x0a, 0xe6, 0x97, 0xa5, 0xe9, 0x78]);
    const path = file("mixed.txt", bytes);
    for (const chunkBytes of [1, 2, 3, 8, 65536]) {
      const error = await rejection(loadText(path, { chunkBytes }));
      expect(error.byteOffset).toBe(9);
      expect(error.message).toContain("invalid byte 0xE9 at byte offset 9 (line 2)");
    }
  });

  it("reports the offset of a stray 0xFF byte put anywhere between characters, for any chunk size", async () => {
    const encoder = new TextEncoder();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: "grapheme", minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 12 }),
        fc.nat(),
        fc.integer({ min: 1, max: 6 }),
        async (pieces, where, chunkBytes) => {
          const chars = pieces.map((p) => encoder.encode(p.replace(/\0/g, "x")));
          const k = where % (chars.length + 1); // insert before piece k
          const before = chars.slice(0, k).reduce((n, c) => n + c.length, 0);
          const bytes = new Uint8Array([...chars.slice(0, k).flatMap((c) => [...c]), 0xff, ...chars.slice(k).flatMap((c) => [...c])]);
          const error = await rejection(loadText(file("stray.txt", bytes), { chunkBytes }));
          expect(error.byteOffset).toBe(before);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("refuses a file that ends inside a character", async () => {
    const path = file("cut.txt", new Uint8Array([0x61, 0x0a, 0xf0, 0x9f, 0x8e]));
    const error = await rejection(loadText(path, { chunkBytes: 2 }));
    expect(error.code).toBe("INVALID_UTF8");
    expect(error.byteOffset).toBe(2);
    expect(error.message).toContain("ends inside a character (byte offset 2, line 2)");
  });

  it("refuses surrogates and overlong forms that lenient decoders would accept", async () => {
    const surrogate = file("surrogate.txt", new Uint8Array([0x61, 0xed, 0xa0, 0x80]));
    expect((await rejection(loadText(surrogate))).byteOffset).toBe(1);
    const overlong = file("overlong.txt", new Uint8Array([0x61, 0x62, 0xc0, 0xaf]));
    expect((await rejection(loadText(overlong))).byteOffset).toBe(2);
  });

  it("refuses an empty file and a file holding only a BOM", async () => {
    const empty = await rejection(loadText(file("empty.txt", "")));
    expect(empty.code).toBe("EMPTY");
    expect(empty.message).toMatch(/"[^"]*empty\.txt" is empty/);
    expect((await rejection(loadText(file("bom-only.txt", new Uint8Array([0xef, 0xbb, 0xbf]))))).code).toBe("EMPTY");
  });

  it("names a missing file", async () => {
    const path = join(dir, "no-such.txt");
    const error = await rejection(loadText(path));
    expect(error.code).toBe("NOT_FOUND");
    expect(error.message).toContain(`no such file: ${JSON.stringify(path)}`);
  });

  it("refuses a directory and a file above maxBytes", async () => {
    const sub = join(dir, "sub");
    mkdirSync(sub);
    expect((await rejection(loadText(sub))).code).toBe("NOT_A_FILE");
    const path = file("big.txt", "0123456789");
    const error = await rejection(loadText(path, { maxBytes: 9 }));
    expect(error.code).toBe("TOO_LARGE");
    expect(error.message).toContain("is 10 bytes, more than maxBytes = 9");
    expect(await loadText(path, { maxBytes: 10 })).toBe("0123456789");
  });

  it("round-trips random Unicode text for random chunk sizes", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 9 }), async (s, chunkBytes) => {
        const clean = s.replace(/\0/g, "x").replace(/^\uFEFF/, "x");
        const path = file("random.txt", clean);
        expect(await loadText(path, { chunkBytes })).toBe(clean);
      }),
      { numRuns: 60 },
    );
  });
});

describe("splitText", () => {
  it("puts the first 90% of the characters in train, the rest in validation", () => {
    expect(splitText("abcdefghij")).toEqual({ train: "abcdefghi", validation: "j" });
    expect(splitText("abcdefghij", { trainFraction: 0.5 })).toEqual({ train: "abcde", validation: "fghij" });
    expect(splitText("abc", { trainFraction: 0 })).toEqual({ train: "", validation: "abc" });
  });

  it("gives nanoGPT's shakespeare_char sizes for a text of 1,115,394 characters", () => {
    const { train, validation } = splitText("x".repeat(1_115_394));
    expect(train.length).toBe(1_003_854);
    expect(validation.length).toBe(111_540);
  });

  it("counts code points, so a surrogate pair is never cut", () => {
    // 10 code points, 5 of them astral (2 UTF-16 units each): 9 go to train.
    const text = "a🎉b😀c𝄞d🚀e🌍";
    expect(codePointLength(text)).toBe(10);
    expect(splitText(text)).toEqual({ train: "a🎉b😀c𝄞d🚀e", validation: "🌍" });
    expect(splitText("🎉🎉🎉🎉", { trainFraction: 0.5 })).toEqual({ train: "🎉🎉", validation: "🎉🎉" });
  });

  it("never splits a pair and loses nothing, for any text and fraction", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 60 }), fc.double({ min: 0, max: 1, noNaN: true }), (text, trainFraction) => {
        const { train, validation } = splitText(text, { trainFraction });
        expect(train + validation).toBe(text);
        expect([...train].length).toBe(Math.floor([...text].length * trainFraction));
        expect(train).not.toMatch(/[\uD800-\uDBFF]$/);
      }),
      { numRuns: 200 },
    );
  });

  it("rejects fractions outside [0, 1]", () => {
    expect(() => splitText("abc", { trainFraction: 1.5 })).toThrow(/trainFraction must be in \[0, 1\]/);
    expect(() => splitText("abc", { trainFraction: Number.NaN })).toThrow(/trainFraction/);
  });
});
