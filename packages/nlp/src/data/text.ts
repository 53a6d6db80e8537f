/// <reference types="node" />
import { ValueRangeError } from "@unroll/tensor";
import { DataError } from "./errors.js";

/** The default `maxBytes` of `loadText`: 256 MiB, well below V8's longest string (2^29 - 24 units). */
export const DEFAULT_MAX_TEXT_BYTES = 256 * 1024 * 1024;

export interface LoadTextOptions {
  /**
   * Refuse files larger than this many bytes (default `DEFAULT_MAX_TEXT_BYTES`): a guard against
   * pointing the loader at a disk image. Raise it for larger corpora.
   */
  readonly maxBytes?: number;
  /** Bytes read at a time (default 64 KiB). The text is the same for every value. */
  readonly chunkBytes?: number;
}

/**
 * Reads a UTF-8 text file (Node only; the `node:fs` import happens inside, so this module also
 * loads in browsers). The file is read as a stream and decoded incrementally by a fatal
 * `TextDecoder`, so multi-byte characters split between chunks decode correctly and memory holds
 * the text, not a second copy of the bytes. A leading byte order mark is dropped; line endings are
 * kept as they are.
 *
 * Throws a `DataError` naming the file when it is missing, not a regular file, larger than
 * `maxBytes`, empty, binary (a NUL byte) or not UTF-8; the last two say at which byte offset and
 * line the offending bytes start.
 */
export async function loadText(path: string, options: LoadTextOptions = {}): Promise<string> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_TEXT_BYTES;
  const chunkBytes = options.chunkBytes ?? 65536;
  if (!(maxBytes >= 0)) throw new ValueRangeError("loadText", `maxBytes must be >= 0, got ${maxBytes}`);
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1) {
    throw new ValueRangeError("loadText", `chunkBytes must be a positive integer, got ${chunkBytes}`);
  }
  const fs = await import("node:fs");
  const name = JSON.stringify(path);

  let size: number;
  try {
    const stat = await fs.promises.stat(path);
    if (!stat.isFile()) {
      throw new DataError("NOT_A_FILE", `loadText: ${name} is not a regular file (a directory?); give the path of a text file`, { path });
    }
    size = stat.size;
  } catch (error) {
    throw fileError(path, error);
  }
  const tooLarge = (bytes: string) =>
    new DataError(
      "TOO_LARGE",
      `loadText: ${name} is ${bytes} bytes, more than maxBytes = ${maxBytes}; pass a larger maxBytes to read it`,
      { path },
    );
  if (size > maxBytes) throw tooLarge(String(size));

  const decoder = new TextDecoder("utf-8", { fatal: true });
  const parts: string[] = [];
  let offset = 0; // bytes before the current chunk
  let head: Uint8Array = new Uint8Array(0); // the file's first bytes (up to 3), to know whether a BOM was dropped
  let tail: Uint8Array = new Uint8Array(0); // the last (up to 3) bytes before the current chunk
  const stream = fs.createReadStream(path, { highWaterMark: chunkBytes });
  try {
    for await (const chunk of stream as AsyncIterable<Uint8Array>) {
      if (offset + chunk.length > maxBytes) throw tooLarge(`at least ${offset + chunk.length}`);
      if (head.length < 3) head = lastBytes(head, chunk.subarray(0, 3 - head.length), 3);
      let text: string;
      try {
        text = decoder.decode(chunk, { stream: true });
      } catch {
        // Bytes the decoder holds back (an unfinished character) belong to earlier chunks.
        const pending = offset - bomBefore(head, offset) - utf8Length(parts);
        const bytes = concat(tail.subarray(tail.length - pending), chunk);
        const bad = findInvalidUtf8(bytes);
        const at = offset - pending + (bad?.index ?? 0);
        const nul = chunk.indexOf(0);
        if (nul >= 0 && offset + nul < at) throw binaryError(path, offset + nul, parts, chunk.subarray(0, nul));
        throw invalidUtf8Error(path, at, bytes[bad?.index ?? 0], parts, chunk.subarray(0, Math.max(0, at - offset)));
      }
      const nul = chunk.indexOf(0);
      if (nul >= 0) throw binaryError(path, offset + nul, parts, chunk.subarray(0, nul));
      parts.push(text);
      tail = lastBytes(tail, chunk, 3);
      offset += chunk.length;
    }
  } catch (error) {
    if (error instanceof DataError) throw error;
    throw fileError(path, error);
  } finally {
    stream.destroy();
  }
  try {
    parts.push(decoder.decode());
  } catch {
    const pending = offset - bomBefore(head, offset) - utf8Length(parts);
    throw new DataError(
      "INVALID_UTF8",
      `loadText: ${name} is not UTF-8 text: it ends inside a character (byte offset ${offset - pending}, ` +
        `line ${lineOf(parts, new Uint8Array(0))}); the file may be truncated`,
      { path, byteOffset: offset - pending },
    );
  }
  const text = parts.length === 1 ? parts[0]! : parts.join("");
  if (text.length === 0) {
    throw new DataError("EMPTY", `loadText: ${name} is empty${offset > 0 ? " (only a byte order mark)" : ""}: there is no text to read`, { path });
  }
  return text;
}

/** `{ train, validation }` of `splitText`. */
export interface TextSplit {
  readonly train: string;
  readonly validation: string;
}

/**
 * The standard split of a character-level corpus (nanoGPT's `shakespeare_char`): the first
 * `floor(n * trainFraction)` characters train, the rest validate, where `n` counts code points
 * (Python's `len`), so a character outside the BMP is never cut in two. Tiny Shakespeare's
 * 1,115,394 characters give 1,003,854 + 111,540.
 */
export function splitText(text: string, options: { trainFraction?: number } = {}): TextSplit {
  const fraction = options.trainFraction ?? 0.9;
  if (!(fraction >= 0 && fraction <= 1)) {
    throw new ValueRangeError("splitText", `trainFraction must be in [0, 1], got ${fraction}`);
  }
  const cut = utf16Index(text, Math.floor(codePointLength(text) * fraction));
  return { train: text.slice(0, cut), validation: text.slice(cut) };
}

/** Number of code points (a surrogate pair counts once, a lone surrogate once). */
export function codePointLength(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++, n++) {
    if (isPair(text, i)) i++;
  }
  return n;
}

function isPair(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  if (c < 0xd800 || c > 0xdbff) return false;
  const d = text.charCodeAt(i + 1);
  return d >= 0xdc00 && d <= 0xdfff;
}

/** The UTF-16 index where code point number `k` starts. */
function utf16Index(text: string, k: number): number {
  let i = 0;
  for (let n = 0; n < k && i < text.length; n++) i += isPair(text, i) ? 2 : 1;
  return i;
}

/**
 * The first invalid UTF-8 sequence of `bytes` (WHATWG rules: no overlong forms, no surrogates,
 * nothing above U+10FFFF): its index, and whether it is merely unfinished at the end. Null if valid.
 */
export function findInvalidUtf8(bytes: Uint8Array): { index: number; truncated: boolean } | null {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else return { index: i, truncated: false };
    for (let k = 1; k <= need; k++) {
      if (i + k >= bytes.length) return { index: i, truncated: true };
      const c = bytes[i + k]!;
      if (c < lo || c > hi) return { index: i, truncated: false };
      lo = 0x80;
      hi = 0xbf;
    }
    i += need + 1;
  }
  return null;
}

function fileError(path: string, error: unknown): DataError {
  if (error instanceof DataError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const name = JSON.stringify(path);
  if (code === "ENOENT") {
    return new DataError("NOT_FOUND", `loadText: no such file: ${name}; check the path (relative paths start at ${process.cwd()})`, { path, cause: error });
  }
  if (code === "EISDIR") {
    return new DataError("NOT_A_FILE", `loadText: ${name} is a directory; give the path of a text file`, { path, cause: error });
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new DataError("UNREADABLE", `loadText: cannot read ${name}: ${reason}`, { path, cause: error });
}

function binaryError(path: string, at: number, parts: readonly string[], before: Uint8Array): DataError {
  return new DataError(
    "BINARY",
    `loadText: ${JSON.stringify(path)} looks like a binary file: NUL byte at byte offset ${at} (line ${lineOf(parts, before)}); ` +
      "loadText reads UTF-8 text",
    { path, byteOffset: at },
  );
}

function invalidUtf8Error(path: string, at: number, byte: number | undefined, parts: readonly string[], before: Uint8Array): DataError {
  const hex = byte === undefined ? "" : ` 0x${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  return new DataError(
    "INVALID_UTF8",
    `loadText: ${JSON.stringify(path)} is not UTF-8 text: invalid byte${hex} at byte offset ${at} (line ${lineOf(parts, before)}); ` +
      "convert it to UTF-8 first (e.g. iconv -f latin1 -t utf-8)",
    { path, byteOffset: at },
  );
}

/** 1-based line of the byte after the decoded `parts` and the raw bytes `before`. */
function lineOf(parts: readonly string[], before: Uint8Array): number {
  let lines = 1;
  for (const part of parts) {
    for (let i = part.indexOf("\n"); i >= 0; i = part.indexOf("\n", i + 1)) lines++;
  }
  for (const b of before) if (b === 0x0a) lines++;
  return lines;
}

/** Bytes of a byte order mark among the first `offset` bytes that the decoder dropped. */
function bomBefore(head: Uint8Array, offset: number): number {
  return offset >= 3 && head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
}

/** UTF-8 byte length of well-formed strings (decoder output has no lone surrogates). */
function utf8Length(parts: readonly string[]): number {
  let n = 0;
  for (const s of parts) {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) n += 1;
      else if (c < 0x800) n += 2;
      else if (c >= 0xd800 && c <= 0xdbff) {
        n += 4;
        i++;
      } else n += 3;
    }
  }
  return n;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** The last `k` bytes of `a` followed by `b`. */
function lastBytes(a: Uint8Array, b: Uint8Array, k: number): Uint8Array {
  if (b.length >= k) return b.slice(b.length - k);
  const joined = concat(a, b);
  return joined.slice(Math.max(0, joined.length - k));
}
