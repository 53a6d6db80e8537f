import { ValueRangeError } from "@unroll/tensor";
import {
  type CharTokenizerJSON,
  checkId,
  describe,
  readHeader,
  readTokenList,
  readUnkId,
  type StreamDecoder,
  type Tokenizer,
  TOKENIZER_FORMAT,
  TOKENIZER_VERSION,
  TokenizerFormatError,
} from "./tokenizer.js";

export interface CharTokenizerOptions {
  /** What the unknown symbol decodes to (default U+FFFD, the replacement character). */
  readonly unknown?: string;
}

/** Calls `f(codePoint)` for each code point of `s`; a lone surrogate is a code point of its own. */
function forEachCodePoint(s: string, f: (cp: number) => void): void {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        f(0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00));
        i++;
        continue;
      }
    }
    f(c);
  }
}

/** The code point of a one-code-point string, else -1. */
function singleCodePoint(s: string): number {
  const cp = s.codePointAt(0);
  if (cp === undefined) return -1;
  return s.length === (cp > 0xffff ? 2 : 1) ? cp : -1;
}

/**
 * A character-level tokenizer (min-char-rnn's `char_to_ix` / `ix_to_char`): one token per Unicode
 * code point, not per UTF-16 unit, so an emoji or any character outside the BMP is one token; a lone
 * surrogate in the text is a symbol of its own (as `[...text]` splits it).
 *
 * Id layout from `fromText`: id 0 is the unknown symbol; ids 1..n are the distinct code points of the
 * text in increasing code point order. Tiny Shakespeare (char-rnn's corpus) has 65 distinct
 * characters, so its vocabulary is 65 + 1 = 66. Unseen characters encode to id 0, which decodes to the
 * `unknown` string.
 *
 * The maps are bijective: a character of the text equal to the `unknown` string itself is not given a
 * second id, it encodes to the unknown id (which decodes to the same text).
 */
export class CharTokenizer implements Tokenizer {
  readonly kind = "char" as const;
  readonly unkId: number;
  /** The text of each id: `tokens[id]`. */
  private readonly tokens: readonly string[];
  /** Code point -> id. */
  private readonly ids: Map<number, number>;

  private constructor(tokens: readonly string[], unkId: number) {
    this.tokens = tokens;
    this.unkId = unkId;
    this.ids = new Map();
    tokens.forEach((t, id) => {
      const cp = singleCodePoint(t);
      if (cp >= 0) this.ids.set(cp, id);
    });
  }

  /** Builds the vocabulary of the code points of `text` (layout: see the class comment). */
  static fromText(text: string, options: CharTokenizerOptions = {}): CharTokenizer {
    const unknown = options.unknown ?? "\uFFFD";
    if (typeof unknown !== "string") throw new ValueRangeError("CharTokenizer.fromText", `unknown must be a string, got ${describe(unknown)}`);
    const seen = new Set<number>();
    forEachCodePoint(text, (cp) => seen.add(cp));
    seen.delete(singleCodePoint(unknown));
    const symbols = [...seen].sort((a, b) => a - b).map((cp) => String.fromCodePoint(cp));
    return new CharTokenizer([unknown, ...symbols], 0);
  }

  /** Reads a tokenizer written by `toJSON` (see `tokenizerFromJSON` for any kind). */
  static fromJSON(json: unknown): CharTokenizer {
    const op = "CharTokenizer.fromJSON";
    const o = readHeader(op, json, "char");
    const tokens = readTokenList(op, o);
    const unkId = readUnkId(op, o, tokens.length);
    tokens.forEach((t, i) => {
      if (i !== unkId && singleCodePoint(t) < 0) {
        throw new TokenizerFormatError(op, `tokens[${i}] must be a single character (code point), got ${describe(t)}`);
      }
    });
    return new CharTokenizer([...tokens], unkId);
  }

  get vocabSize(): number {
    return this.tokens.length;
  }

  /** The `unknown` string that the unknown id decodes to. */
  get unknown(): string {
    return this.tokens[this.unkId]!;
  }

  /** The id of a one-character string, or the unknown id if it is not in the vocabulary. */
  idOf(char: string): number {
    const cp = singleCodePoint(char);
    return cp < 0 ? this.unkId : (this.ids.get(cp) ?? this.unkId);
  }

  encode(text: string): Int32Array {
    const out = new Int32Array(text.length);
    let n = 0;
    forEachCodePoint(text, (cp) => {
      out[n++] = this.ids.get(cp) ?? this.unkId;
    });
    return out.slice(0, n);
  }

  decode(ids: ArrayLike<number>): string {
    const parts: string[] = new Array<string>(ids.length);
    for (let i = 0; i < ids.length; i++) parts[i] = this.tokenText(ids[i]!);
    return parts.join("");
  }

  tokenText(id: number): string {
    checkId("CharTokenizer.tokenText", id, this.tokens.length);
    return this.tokens[id]!;
  }

  streamDecoder(): StreamDecoder {
    return { push: (id) => this.tokenText(id), flush: () => "" };
  }

  toJSON(): CharTokenizerJSON {
    return { format: TOKENIZER_FORMAT, version: TOKENIZER_VERSION, kind: "char", unkId: this.unkId, tokens: [...this.tokens] };
  }
}
