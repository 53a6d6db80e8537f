// Generators shared by the tokenizer tests (excluded from the build with every test-utils.ts).
import fc from "fast-check";

/** Any sequence of UTF-16 code units, weighted towards surrogates (lone, paired or reversed). */
export const utf16String = (maxLength = 40): fc.Arbitrary<string> =>
  fc
    .array(fc.oneof(fc.integer({ min: 0xd800, max: 0xdfff }), fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0, max: 0xffff })), { maxLength })
    .map((units) => String.fromCharCode(...units));

/** Text over a few symbols (ASCII, 2-, 3- and 4-byte characters, whitespace), so that pairs repeat. */
export const smallAlphabetText = (maxLength = 120): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom("a", "b", "c", " ", "\n", "\u00e9", "\u20ac", "\u{1F600}", "1", "'", "!"), maxLength });

/** Some multilingual text: Latin, accents, Greek, CJK, emoji, digits, punctuation, whitespace runs. */
export const SAMPLE = [
  "The quick brown fox jumps over the lazy dog. It's 42 degrees!",
  "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e, na\u00efve fa\u00e7ade; \u00fcber Stra\u00dfe.",
  "\u039a\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1 \u03ba\u03cc\u03c3\u03bc\u03b5 \u2014 \u65e5\u672c\u8a9e\u306e\u6587\u7ae0\u3002",
  "Emoji: \u{1F600}\u{1F600} \u{1F680}\u{1F680}\u{1F680} \u{1F44D}\u{1F3FD}   \n\n\tend",
].join("\n");
