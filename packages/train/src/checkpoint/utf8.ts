// UTF-8 without TextEncoder/TextDecoder: those are not in the ES2022 library this package builds
// against, and a header of a few kilobytes does not need them. Both directions are strict: a lone
// surrogate cannot be encoded, and the decoder accepts exactly the well-formed sequences of RFC 3629
// (no overlong forms, no surrogates, nothing above U+10FFFF).

/** The UTF-8 bytes of `s`, or the index of the first lone surrogate in it. */
export function utf8Encode(s: string): Uint8Array | { readonly loneSurrogateAt: number } {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c > 0xdbff || next < 0xdc00 || next > 0xdfff) return { loneSurrogateAt: i };
      c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
      i++;
    }
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  return Uint8Array.from(out);
}

/** The string that the UTF-8 `bytes` encode, or the offset of the first byte that is not well formed. */
export function utf8Decode(bytes: Uint8Array): string | { readonly invalidAt: number } {
  const units: number[] = [];
  let text = "";
  let i = 0;
  while (i < bytes.length) {
    const b0 = bytes[i]!;
    let c: number;
    let n: number;
    if (b0 < 0x80) {
      c = b0;
      n = 1;
    } else {
      // Valid ranges for the second byte depend on the first (RFC 3629, section 4).
      let lo = 0x80;
      let hi = 0xbf;
      if (b0 >= 0xc2 && b0 <= 0xdf) n = 2;
      else if (b0 >= 0xe0 && b0 <= 0xef) {
        n = 3;
        if (b0 === 0xe0) lo = 0xa0;
        if (b0 === 0xed) hi = 0x9f;
      } else if (b0 >= 0xf0 && b0 <= 0xf4) {
        n = 4;
        if (b0 === 0xf0) lo = 0x90;
        if (b0 === 0xf4) hi = 0x8f;
      } else return { invalidAt: i };
      if (i + n > bytes.length) return { invalidAt: i };
      const b1 = bytes[i + 1]!;
      if (b1 < lo || b1 > hi) return { invalidAt: i };
      c = n === 2 ? b0 & 0x1f : n === 3 ? b0 & 0x0f : b0 & 0x07;
      c = (c << 6) | (b1 & 0x3f);
      for (let k = 2; k < n; k++) {
        const b = bytes[i + k]!;
        if (b < 0x80 || b > 0xbf) return { invalidAt: i };
        c = (c << 6) | (b & 0x3f);
      }
    }
    if (c >= 0x10000) units.push(0xd800 + ((c - 0x10000) >> 10), 0xdc00 + ((c - 0x10000) & 0x3ff));
    else units.push(c);
    if (units.length >= 4096) {
      text += String.fromCharCode(...units);
      units.length = 0;
    }
    i += n;
  }
  return text + String.fromCharCode(...units);
}
