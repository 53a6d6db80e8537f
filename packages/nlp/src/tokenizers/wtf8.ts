// WTF-8 ("wobbly transformation format", https://simonsapin.github.io/wtf-8/): UTF-8 generalised to
// encode any sequence of UTF-16 code units, lone surrogates included. A surrogate pair is encoded as
// its code point (4 bytes), exactly as UTF-8 does; a lone surrogate is encoded as its code point in
// 3 bytes (ED A0..BF xx), which UTF-8 forbids. So for every JavaScript string s,
// wtf8Decode(wtf8Encode(s)) === s, and for well-formed strings the bytes are plain UTF-8.
//
// The decoder is the WHATWG UTF-8 decoder (https://encoding.spec.whatwg.org/#utf-8-decoder) with one
// change: after ED the second byte may be A0..BF (a surrogate code point) as well as 80..9F. Bytes
// that are not WTF-8 (a stray continuation byte, a truncated or overlong sequence, C0/C1/F5..FF) become
// U+FFFD, one per maximal ill-formed subpart, as TextDecoder does; so on bytes that contain no encoded
// surrogate its output is exactly TextDecoder's. It is incremental, so that a byte-level tokenizer can
// decode a stream of tokens whose boundaries split characters.

/** The WTF-8 bytes of `s` (UTF-8 where `s` is well formed; lone surrogates take 3 bytes each). */
export function wtf8Encode(s: string): Uint8Array {
  // At most 3 bytes per UTF-16 code unit (a pair is 2 units -> 4 bytes).
  const out = new Uint8Array(s.length * 3);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
      }
    }
    if (c < 0x80) out[n++] = c;
    else if (c < 0x800) {
      out[n++] = 0xc0 | (c >> 6);
      out[n++] = 0x80 | (c & 0x3f);
    } else if (c < 0x10000) {
      out[n++] = 0xe0 | (c >> 12);
      out[n++] = 0x80 | ((c >> 6) & 0x3f);
      out[n++] = 0x80 | (c & 0x3f);
    } else {
      out[n++] = 0xf0 | (c >> 18);
      out[n++] = 0x80 | ((c >> 12) & 0x3f);
      out[n++] = 0x80 | ((c >> 6) & 0x3f);
      out[n++] = 0x80 | (c & 0x3f);
    }
  }
  return out.slice(0, n);
}

const REPLACEMENT = 0xfffd;

/**
 * An incremental WTF-8 decoder: `push` bytes, get back the text of every character completed so far;
 * `flush` ends the stream (an unfinished sequence becomes U+FFFD). Pushing the bytes in any pieces
 * gives the same text in total as decoding them at once.
 */
export class Wtf8Decoder {
  private needed = 0; // continuation bytes the current sequence still needs
  private codePoint = 0;
  private lower = 0x80; // the range the next continuation byte must lie in
  private upper = 0xbf;
  private units: number[] = [];

  /** Decodes `bytes` (in `[start, end)`), returning the characters they complete. */
  push(bytes: ArrayLike<number>, start = 0, end = bytes.length): string {
    for (let i = start; i < end; i++) this.byte(bytes[i]!);
    return this.take();
  }

  /** Ends the stream: returns U+FFFD if a sequence was left unfinished, else "". Resets the decoder. */
  flush(): string {
    if (this.needed !== 0) {
      this.reset();
      this.units.push(REPLACEMENT);
    }
    return this.take();
  }

  private reset(): void {
    this.needed = 0;
    this.codePoint = 0;
    this.lower = 0x80;
    this.upper = 0xbf;
  }

  private byte(b: number): void {
    if (this.needed === 0) {
      if (b <= 0x7f) this.units.push(b);
      else if (b >= 0xc2 && b <= 0xdf) {
        this.needed = 1;
        this.codePoint = b & 0x1f;
      } else if (b >= 0xe0 && b <= 0xef) {
        // UTF-8 would set upper = 0x9f after ED; WTF-8 admits ED A0..BF, the surrogates.
        if (b === 0xe0) this.lower = 0xa0;
        this.needed = 2;
        this.codePoint = b & 0x0f;
      } else if (b >= 0xf0 && b <= 0xf4) {
        if (b === 0xf0) this.lower = 0x90;
        if (b === 0xf4) this.upper = 0x8f;
        this.needed = 3;
        this.codePoint = b & 0x07;
      } else this.units.push(REPLACEMENT);
      return;
    }
    if (b < this.lower || b > this.upper) {
      // The sequence so far is a maximal ill-formed subpart: one U+FFFD, then `b` starts afresh.
      this.reset();
      this.units.push(REPLACEMENT);
      this.byte(b);
      return;
    }
    this.lower = 0x80;
    this.upper = 0xbf;
    this.codePoint = (this.codePoint << 6) | (b & 0x3f);
    if (--this.needed === 0) {
      const c = this.codePoint;
      this.codePoint = 0;
      if (c >= 0x10000) this.units.push(0xd800 + ((c - 0x10000) >> 10), 0xdc00 + ((c - 0x10000) & 0x3ff));
      else this.units.push(c);
    }
  }

  private take(): string {
    const units = this.units;
    if (units.length === 0) return "";
    this.units = [];
    let s = "";
    // String.fromCharCode takes its arguments on the stack: convert in bounded chunks.
    for (let i = 0; i < units.length; i += 8192) s += String.fromCharCode(...units.slice(i, i + 8192));
    return s;
  }
}

/** The string that WTF-8 `bytes` encode; ill-formed bytes become U+FFFD (see the file comment). */
export function wtf8Decode(bytes: ArrayLike<number>): string {
  const d = new Wtf8Decoder();
  return d.push(bytes) + d.flush();
}
