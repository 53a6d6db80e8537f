import { describe, expect, it } from "vitest";
import { detLog, detSinCos2Pi } from "./detmath.js";

// Deterministic probe points: a dense grid, the values normal() feeds detLog ((w + 1) / 2^32 for
// uint32 words w), powers of two, and the reduction boundaries around sqrt(1/2).
function logProbes(): number[] {
  const xs: number[] = [2 ** -32, 1, 0.5, 0.25, Math.SQRT1_2, 0.7071067811865475, 0.7071067811865477, 1 - 2 ** -53];
  const n = 100_000;
  for (let i = 1; i <= n; i++) xs.push(i / n);
  for (let w = 0; w < 2 ** 32; w += 65_537) xs.push((w + 1) * 2 ** -32);
  for (let e = 1; e <= 60; e++) xs.push(2 ** -e, 3 * 2 ** -(e + 2), 2 ** -e * (1 + 2 ** -20));
  return xs;
}

describe("detLog", () => {
  it("agrees with Math.log to a relative error below 4e-16 on (0, 1]", () => {
    let worst = 0;
    let worstAt = NaN;
    for (const x of logProbes()) {
      const expected = Math.log(x);
      const got = detLog(x);
      if (expected === 0) {
        expect(got).toBe(0);
        continue;
      }
      const rel = Math.abs(got - expected) / Math.abs(expected);
      if (rel > worst) {
        worst = rel;
        worstAt = x;
      }
    }
    expect(worst, `worst at x = ${worstAt}`).toBeLessThan(4e-16);
  });

  it("is exact at 1 and gives the ends of normal()'s input range", () => {
    expect(detLog(1)).toBe(0);
    // 2^-32: e = -32 exactly, so the result is -32 ln 2 to within an ulp.
    expect(Math.abs(detLog(2 ** -32) - -32 * Math.LN2)).toBeLessThanOrEqual(4e-15);
    expect(Number.isFinite(detLog(2 ** -32))).toBe(true);
  });
});

describe("detSinCos2Pi", () => {
  it("agrees with Math.sin/Math.cos of 2 pi u to 1e-15", () => {
    let worst = 0;
    const check = (u: number): void => {
      const [s, c] = detSinCos2Pi(u);
      worst = Math.max(worst, Math.abs(s - Math.sin(2 * Math.PI * u)), Math.abs(c - Math.cos(2 * Math.PI * u)));
    };
    const n = 100_000;
    for (let i = 0; i < n; i++) check(i / n);
    for (let w = 0; w < 2 ** 32; w += 65_537) check(w * 2 ** -32);
    for (let q = 0; q < 8; q++) {
      check(q / 8 + 2 ** -40);
      check(q / 8 - 2 ** -40 + (q === 0 ? 1 : 0));
    }
    check(1 - 2 ** -32);
    expect(worst).toBeLessThan(1e-15);
  });

  it("is exact at the quadrant boundaries", () => {
    // Compared with ===, which treats -0 as 0: the sign of an exact zero is irrelevant here.
    const exact: [number, number, number][] = [
      [0, 0, 1],
      [0.25, 1, 0],
      [0.5, 0, -1],
      [0.75, -1, 0],
    ];
    for (const [u, sin, cos] of exact) {
      const [s, c] = detSinCos2Pi(u);
      expect(s === sin, `sin(2 pi ${u}) = ${s}`).toBe(true);
      expect(c === cos, `cos(2 pi ${u}) = ${c}`).toBe(true);
    }
  });

  it("keeps sin^2 + cos^2 = 1", () => {
    for (let i = 0; i < 1000; i++) {
      const [s, c] = detSinCos2Pi((i * 0.618033988749895) % 1);
      expect(Math.abs(s * s + c * c - 1)).toBeLessThan(4e-16);
    }
  });
});
