import { ValueRangeError } from "@unroll/tensor";
import {
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
  type WordTokenizerJSON,
} from "./tokenizer.js";

export interface WordTokenizerOptions {
  /** Lowercase every piece before counting and encoding (default false). */
  readonly lowercase?: boolean;
  /** Keep only pieces seen at least this many times (default 1). */
  readonly minFrequency?: number;
  /** The largest vocabulary, the unknown symbol included: the most frequent pieces are kept. */
  readonly maxVocab?: number;
  /** The text of the unknown symbol (default "<unk>"). */
  readonly unknown?: string;
  /**
   * A single space before a word or symbol belongs to that piece (" world", as GPT-2's
   * pre-tokenizer does) instead of being a token of its own: sentences encode to about half as
   * many tokens, still losslessly. For translation and captioning, where every step counts.
   * Default false.
   */
  readonly attachSpaces?: boolean;
}

// A word: letters, combining marks, digits and "_", with inner apostrophes ("don't", "o'er").
const WORD = String.raw`[\p{L}\p{M}\p{N}_]+(?:['\u2019][\p{L}\p{M}\p{N}_]+)*`;
// A whitespace run, a word, or any other single code point (punctuation, symbols, a lone surrogate).
// The alternatives cover every code point, so the pieces of a text concatenate back to it.
const PIECES = String.raw`\s+|${WORD}|[^]`;
const WHITESPACE = /^\s+$/u;

/** `s` as a literal in a `u`-mode pattern (where only syntax characters may be escaped). */
function escapeRegExp(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
}

/** The pieces of `text` under `re` (a global, sticky regex whose alternatives cover every code point). */
function split(re: RegExp, text: string): string[] {
  const out: string[] = [];
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) out.push(m[0]);
  return out;
}

// With attached spaces: " word", " ," or a whitespace run (which leaves its last space to a
// following piece when one follows).
const ATTACHED_PIECES = String.raw` ?${WORD}| ?[^\s]|\s+?(?= \S)|\s+`;

const PLAIN = new RegExp(PIECES, "guy");
const PLAIN_ATTACHED = new RegExp(ATTACHED_PIECES, "guy");

/**
 * A word-level tokenizer. Text is split into pieces: whitespace runs, words (letters, marks, digits,
 * "_" with inner apostrophes), and single other characters (each punctuation mark is its own piece).
 * Whitespace runs are tokens like any other ("\n\n" and " " are two tokens), so
 * `decode(encode(s)) === s` whenever every piece of `s` is in the vocabulary (with `lowercase`,
 * `decode(encode(s))` is the pieces of `s` lowercased one by one). A piece outside the vocabulary
 * encodes to the unknown id, which decodes to the `unknown` text.
 *
 * The unknown text itself stands for the unknown id: a piece equal to it encodes to the unknown id
 * (which decodes to the same text), and where it is not a single piece (the default "<unk>"), its
 * literal occurrences in a text are matched before anything else, so a corpus already marked with
 * "<unk>" (Penn Treebank) round-trips. With `attachSpaces`, where the pieces carry their leading
 * space, the unknown id decodes with a space before it after the first piece ("police are <unk>"):
 * most pieces it stands for had one, and a reader (or BLEU's tokeniser) should see a word of its own.
 *
 * Id layout from `fit`: id 0 is the unknown symbol; then the pieces by decreasing frequency, ties in
 * code-unit order of the text. `words(text)` is the piece sequence without the whitespace runs, for
 * word-level models and probes; `encodeWords` gives its ids.
 */
export class WordTokenizer implements Tokenizer {
  readonly kind = "word" as const;
  readonly unkId: number;
  readonly lowercase: boolean;
  readonly attachSpaces: boolean;
  private readonly tokens: readonly string[];
  private readonly ids: Map<string, number>;
  private readonly splitter: RegExp;

  private constructor(tokens: readonly string[], unkId: number, lowercase: boolean, attachSpaces: boolean) {
    this.tokens = tokens;
    this.unkId = unkId;
    this.lowercase = lowercase;
    this.attachSpaces = attachSpaces;
    this.ids = new Map(tokens.map((t, id) => [t, id]));
    this.splitter = WordTokenizer.splitterFor(tokens[unkId]!, attachSpaces);
  }

  private static splitterFor(unknown: string, attachSpaces: boolean): RegExp {
    const pieces = attachSpaces ? ATTACHED_PIECES : PIECES;
    const plain = split(attachSpaces ? PLAIN_ATTACHED : PLAIN, unknown);
    if (unknown === "" || (plain.length === 1 && plain[0] === unknown)) return new RegExp(pieces, "guy");
    return new RegExp(`${escapeRegExp(unknown)}|${pieces}`, "guy");
  }

  /** Builds a vocabulary from the pieces of `text` (layout and options: see the class comment). */
  static fit(text: string, options: WordTokenizerOptions = {}): WordTokenizer {
    const op = "WordTokenizer.fit";
    const { lowercase = false, minFrequency = 1, maxVocab, unknown = "<unk>", attachSpaces = false } = options;
    if (typeof attachSpaces !== "boolean") throw new ValueRangeError(op, `attachSpaces must be true or false, got ${describe(attachSpaces)}`);
    if (typeof unknown !== "string") throw new ValueRangeError(op, `unknown must be a string, got ${describe(unknown)}`);
    if (!Number.isInteger(minFrequency) || minFrequency < 1) throw new ValueRangeError(op, `minFrequency must be an integer >= 1, got ${minFrequency}`);
    if (maxVocab !== undefined && (!Number.isInteger(maxVocab) || maxVocab < 1)) {
      throw new ValueRangeError(op, `maxVocab must be an integer >= 1 (the unknown symbol counts), got ${maxVocab}`);
    }
    const counts = new Map<string, number>();
    for (let piece of split(WordTokenizer.splitterFor(unknown, attachSpaces), text)) {
      if (piece === unknown) continue;
      if (lowercase) piece = piece.toLowerCase();
      if (piece === unknown) continue;
      counts.set(piece, (counts.get(piece) ?? 0) + 1);
    }
    const kept = [...counts].filter(([, c]) => c >= minFrequency);
    kept.sort(([a, ca], [b, cb]) => cb - ca || (a < b ? -1 : a > b ? 1 : 0));
    const pieces = kept.slice(0, maxVocab === undefined ? undefined : maxVocab - 1).map(([p]) => p);
    return new WordTokenizer([unknown, ...pieces], 0, lowercase, attachSpaces);
  }

  /** Reads a tokenizer written by `toJSON` (see `tokenizerFromJSON` for any kind). */
  static fromJSON(json: unknown): WordTokenizer {
    const op = "WordTokenizer.fromJSON";
    const o = readHeader(op, json, "word");
    const tokens = readTokenList(op, o);
    const unkId = readUnkId(op, o, tokens.length);
    const lowercase = o["lowercase"];
    if (typeof lowercase !== "boolean") throw new TokenizerFormatError(op, `lowercase must be true or false, got ${describe(lowercase)}`);
    const attachSpaces = o["attachSpaces"] ?? false;
    if (typeof attachSpaces !== "boolean") throw new TokenizerFormatError(op, `attachSpaces must be true or false when present, got ${describe(attachSpaces)}`);
    tokens.forEach((t, i) => {
      if (i === unkId) return;
      const p = split(attachSpaces ? PLAIN_ATTACHED : PLAIN, t);
      if (p.length !== 1) throw new TokenizerFormatError(op, `tokens[${i}] must be one word, whitespace run or symbol, got ${describe(t)}`);
      if (lowercase && t.toLowerCase() !== t) throw new TokenizerFormatError(op, `tokens[${i}] (${describe(t)}) is not lowercase in a lowercasing tokenizer`);
    });
    return new WordTokenizer([...tokens], unkId, lowercase, attachSpaces);
  }

  get vocabSize(): number {
    return this.tokens.length;
  }

  /** The text the unknown id decodes to. */
  get unknown(): string {
    return this.tokens[this.unkId]!;
  }

  /** The pieces `encode` maps to ids, whitespace runs included (lowercased with `lowercase`). */
  pieces(text: string): string[] {
    const unknown = this.unknown;
    const out = split(this.splitter, text);
    if (this.lowercase) for (let i = 0; i < out.length; i++) if (out[i] !== unknown) out[i] = out[i]!.toLowerCase();
    return out;
  }

  /** The words and punctuation of `text` without the whitespace runs (lowercased with `lowercase`; attached spaces kept). */
  words(text: string): string[] {
    return this.pieces(text).filter((p) => !WHITESPACE.test(p));
  }

  /** The id of a piece, or the unknown id if it is not in the vocabulary. */
  idOf(piece: string): number {
    return this.ids.get(piece) ?? this.unkId;
  }

  encode(text: string): Int32Array {
    return Int32Array.from(this.pieces(text), (p) => this.idOf(p));
  }

  /** The ids of `words(text)`: the text without its whitespace, for word-level models. */
  encodeWords(text: string): Int32Array {
    return Int32Array.from(this.words(text), (p) => this.idOf(p));
  }

  decode(ids: ArrayLike<number>): string {
    const parts: string[] = new Array<string>(ids.length);
    for (let i = 0; i < ids.length; i++) parts[i] = this.pieceText(ids[i]!, i === 0);
    return parts.join("");
  }

  /** The text an id decodes to at its place (see the class comment for the unknown id with attached spaces). */
  private pieceText(id: number, first: boolean): string {
    const text = this.tokenText(id);
    return this.attachSpaces && id === this.unkId && !first ? ` ${text}` : text;
  }

  tokenText(id: number): string {
    checkId("WordTokenizer.tokenText", id, this.tokens.length);
    return this.tokens[id]!;
  }

  streamDecoder(): StreamDecoder {
    let first = true;
    return {
      push: (id) => {
        const text = this.pieceText(id, first);
        first = false;
        return text;
      },
      flush: () => "",
    };
  }

  toJSON(): WordTokenizerJSON {
    return {
      format: TOKENIZER_FORMAT,
      version: TOKENIZER_VERSION,
      kind: "word",
      unkId: this.unkId,
      lowercase: this.lowercase,
      ...(this.attachSpaces ? { attachSpaces: true } : {}),
      tokens: [...this.tokens],
    };
  }
}
