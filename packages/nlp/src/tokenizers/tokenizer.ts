import { TensorError, ValueRangeError } from "@unroll/tensor";

/** The format tag of every serialised tokenizer. */
export const TOKENIZER_FORMAT = "unroll-tokenizer";
/** The serialisation version this library writes and reads. */
export const TOKENIZER_VERSION = 1;

/** Fields every serialised tokenizer carries. */
export interface TokenizerJSONHeader {
  readonly format: typeof TOKENIZER_FORMAT;
  readonly version: typeof TOKENIZER_VERSION;
}

/**
 * A character tokenizer: `tokens[id]` is the text of token `id`, every one a single code point except
 * `tokens[unkId]`, the text the unknown symbol decodes to.
 */
export interface CharTokenizerJSON extends TokenizerJSONHeader {
  readonly kind: "char";
  readonly unkId: number;
  readonly tokens: readonly string[];
}

/** A word tokenizer: `tokens[id]` is the text of token `id` (a word, a punctuation mark or a whitespace run). */
export interface WordTokenizerJSON extends TokenizerJSONHeader {
  readonly kind: "word";
  readonly unkId: number;
  readonly lowercase: boolean;
  /** Single spaces belong to the following piece (absent: false). */
  readonly attachSpaces?: boolean;
  readonly tokens: readonly string[];
}

/**
 * A byte-level BPE tokenizer: ids 0..255 are the bytes, and `merges[i] = [a, b]` defines token
 * `256 + i` as the bytes of `a` followed by the bytes of `b` (a, b < 256 + i). `pretokenizer` names
 * the rule that splits text into chunks before merging.
 */
export interface BpeTokenizerJSON extends TokenizerJSONHeader {
  readonly kind: "bpe";
  readonly pretokenizer: "gpt2";
  readonly merges: readonly (readonly [number, number])[];
}

export type TokenizerJSON = CharTokenizerJSON | WordTokenizerJSON | BpeTokenizerJSON;
export type TokenizerKind = TokenizerJSON["kind"];

/** Maps text to token ids and back; serialises with the model (see `tokenizerFromJSON`). */
export interface Tokenizer {
  readonly kind: TokenizerKind;
  /** Number of ids: every id lies in `[0, vocabSize)`. */
  readonly vocabSize: number;
  /** The id of the unknown symbol, or null where every text can be encoded (BPE). */
  readonly unkId: number | null;
  encode(text: string): Int32Array;
  /** The text of `ids`; throws a ValueRangeError for an id outside `[0, vocabSize)`. */
  decode(ids: ArrayLike<number>): string;
  /**
   * The text of one token. For char and word tokenizers `decode(ids)` is the join of `tokenText`;
   * a BPE token is bytes, possibly part of a character, and `tokenText` is that token decoded alone.
   */
  tokenText(id: number): string;
  /** Incremental decoding: the pushes and the flush together give `decode` of all ids pushed. */
  streamDecoder(): StreamDecoder;
  toJSON(): TokenizerJSON;
}

export interface StreamDecoder {
  /** Adds one id; returns the text it completes (for BPE, possibly "" until a character is whole). */
  push(id: number): string;
  /** Ends the stream; returns what was held back (U+FFFD for an unfinished BPE character). */
  flush(): string;
}

/**
 * A serialised tokenizer that cannot be read: not an object, a foreign format tag, a version or kind
 * this library does not read, or fields that are missing, malformed or inconsistent.
 */
export class TokenizerFormatError extends TensorError {
  constructor(op: string, message: string) {
    super(op, message);
    this.name = "TokenizerFormatError";
  }
}

/** A short, printable description of a JSON value for error messages. */
export function describe(v: unknown): string {
  if (v === undefined) return "missing";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (v === null) return "null";
  if (typeof v === "object") return "an object";
  return String(v);
}

/**
 * Checks the header of a serialised tokenizer and returns it as a record. `expected` restricts the
 * kind (a class's `fromJSON`); without it any kind this library reads is accepted.
 */
export function readHeader(op: string, json: unknown, expected?: TokenizerKind): Record<string, unknown> & { kind: TokenizerKind } {
  if (typeof json === "string") {
    throw new TokenizerFormatError(op, "expected the parsed tokenizer object, got a string: pass JSON.parse(text)");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new TokenizerFormatError(op, `expected a tokenizer object, got ${describe(json)}`);
  }
  const o = json as Record<string, unknown>;
  if (o["format"] !== TOKENIZER_FORMAT) {
    throw new TokenizerFormatError(op, `not a serialised tokenizer: format is ${describe(o["format"])}, expected "${TOKENIZER_FORMAT}"`);
  }
  if (o["version"] !== TOKENIZER_VERSION) {
    throw new TokenizerFormatError(op, `tokenizer has version ${describe(o["version"])}; this library reads version ${TOKENIZER_VERSION}`);
  }
  const kind = o["kind"];
  if (kind !== "char" && kind !== "word" && kind !== "bpe") {
    throw new TokenizerFormatError(op, `unknown tokenizer kind ${describe(kind)}; expected "char", "word" or "bpe"`);
  }
  if (expected !== undefined && kind !== expected) {
    throw new TokenizerFormatError(op, `this is a ${kind} tokenizer, not a ${expected} tokenizer: use tokenizerFromJSON`);
  }
  return o as Record<string, unknown> & { kind: TokenizerKind };
}

/** Reads `o.tokens`: a non-empty array of distinct strings. */
export function readTokenList(op: string, o: Record<string, unknown>): string[] {
  const tokens = o["tokens"];
  if (!Array.isArray(tokens) || tokens.length === 0) {
    throw new TokenizerFormatError(op, `tokens must be a non-empty array of strings, got ${describe(tokens)}`);
  }
  const seen = new Map<string, number>();
  tokens.forEach((t: unknown, i) => {
    if (typeof t !== "string") throw new TokenizerFormatError(op, `tokens[${i}] must be a string, got ${describe(t)}`);
    const before = seen.get(t);
    if (before !== undefined) throw new TokenizerFormatError(op, `tokens[${i}] repeats tokens[${before}] (${describe(t)}): the vocabulary must map text to one id`);
    seen.set(t, i);
  });
  return tokens as string[];
}

/** Reads `o.unkId`: an integer index into a vocabulary of `size` ids. */
export function readUnkId(op: string, o: Record<string, unknown>, size: number): number {
  const u = o["unkId"];
  if (typeof u !== "number" || !Number.isInteger(u) || u < 0 || u >= size) {
    throw new TokenizerFormatError(op, `unkId must be an integer in [0, ${size}), got ${describe(u)}`);
  }
  return u;
}

/** Throws unless `id` is an integer in `[0, size)`. */
export function checkId(op: string, id: number, size: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= size) {
    throw new ValueRangeError(op, `token id ${id} is not in the vocabulary [0, ${size})`);
  }
}
