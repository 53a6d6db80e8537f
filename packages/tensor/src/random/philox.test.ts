import { describe, expect, it } from "vitest";
import { philox4x32 } from "./philox.js";

// Known-answer vectors of Random123 (kat_vectors, "philox4x32 10"): counter, key, expected output.
const KAT: readonly {
  ctr: [number, number, number, number];
  key: [number, number];
  out: [number, number, number, number];
}[] = [
  { ctr: [0, 0, 0, 0], key: [0, 0], out: [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8] },
  {
    ctr: [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
    key: [0xffffffff, 0xffffffff],
    out: [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
  },
  {
    ctr: [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
    key: [0xa4093822, 0x299f31d0],
    out: [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
  },
];

describe("philox4x32", () => {
  it.each(KAT)("matches Random123's known answer for ctr $ctr key $key", ({ ctr, key, out }) => {
    const words = new Uint32Array(4);
    philox4x32(...ctr, ...key, words);
    expect([...words]).toEqual(out);
  });

  it("writes at the given offset and leaves the rest of the buffer alone", () => {
    const { ctr, key, out } = KAT[2]!;
    const words = new Uint32Array(8).fill(7);
    philox4x32(...ctr, ...key, words, 3);
    expect([...words]).toEqual([7, 7, 7, ...out, 7]);
  });

  it("is a pure function of counter and key", () => {
    const a = new Uint32Array(4);
    const b = new Uint32Array(4);
    philox4x32(1, 2, 3, 4, 5, 6, a);
    philox4x32(1, 2, 3, 4, 5, 6, b);
    expect([...a]).toEqual([...b]);
    // A one-bit change in the counter or the key changes every output word.
    const c = new Uint32Array(4);
    philox4x32(1, 2, 3, 5, 5, 6, c);
    const d = new Uint32Array(4);
    philox4x32(1, 2, 3, 4, 5, 7, d);
    for (let i = 0; i < 4; i++) {
      expect(c[i]).not.toBe(a[i]);
      expect(d[i]).not.toBe(a[i]);
    }
  });
});
