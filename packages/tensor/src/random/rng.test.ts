import { describe, expect, it } from "vitest";
import { randomNormal, randomUniform, Rng, type RngState, ShapeError, ValueRangeError } from "../index.js";
import { philox4x32 } from "./philox.js";

const TWO_POW_32 = 2 ** 32;

/** Word `i` of the stream of key (k0, k1) from block `start`, computed here from the block function. */
function word(k0: number, k1: number, start: number, i: number): number {
  const block = start + Math.floor(i / 4);
  const out = new Uint32Array(4);
  philox4x32(block % TWO_POW_32, Math.floor(block / TWO_POW_32), 0, 0, k0, k1, out);
  return out[i % 4]!;
}

/** Standard normal CDF via erf (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7). */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

function meanStd(values: ArrayLike<number>): { mean: number; std: number } {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  const mean = s / values.length;
  let ss = 0;
  for (let i = 0; i < values.length; i++) ss += (values[i]! - mean) ** 2;
  return { mean, std: Math.sqrt(ss / values.length) };
}

describe("Rng reproducibility", () => {
  it("gives identical numbers for the same seed", () => {
    const a = new Rng(1234);
    const b = new Rng(1234);
    expect([...a.uniform([10]).data]).toEqual([...b.uniform([10]).data]);
    expect([...a.normal([7]).data]).toEqual([...b.normal([7]).data]);
    expect([...a.uint32(5)]).toEqual([...b.uint32(5)]);
    expect(a.random()).toBe(b.random());
  });

  it("gives different numbers for different seeds", () => {
    const a = [...new Rng(1).uint32(8)];
    const b = [...new Rng(2).uint32(8)];
    expect(a.filter((w, i) => w === b[i])).toEqual([]);
  });

  it("resumes the exact stream from a state that went through JSON", () => {
    const rng = new Rng(987654321);
    rng.uniform([13]);
    rng.normal([3]);
    const saved = JSON.parse(JSON.stringify(rng.state())) as RngState;
    const expected = [...rng.uniform([9]).data, ...rng.normal([5]).data, ...rng.uint32(6)];
    const resumed = Rng.fromState(saved);
    const got = [...resumed.uniform([9]).data, ...resumed.normal([5]).data, ...resumed.uint32(6)];
    expect(got).toEqual(expected);
    expect(resumed.state()).toEqual(rng.state());
  });

  it("describes its state as the key words and the number of blocks drawn", () => {
    const rng = new Rng(5);
    expect(rng.state()).toEqual({ algorithm: "philox4x32-10", key: [5, 0], counter: 0 });
    rng.uniform([5]); // 5 words: 2 blocks
    rng.normal([3]); // 2 pairs, 4 words: 1 block
    rng.uint32(0);
    rng.random(); // 2 words: 1 block
    expect(rng.state().counter).toBe(4);
  });

  it("puts seeds above 2^32 into the high key word", () => {
    const seed = 3 * TWO_POW_32 + 5;
    const rng = new Rng(seed);
    expect(rng.state().key).toEqual([5, 3]);
    const words = [...rng.uint32(6)];
    expect(words).toEqual([0, 1, 2, 3, 4, 5].map((i) => word(5, 3, 0, i)));
    expect(words).not.toEqual([...new Rng(5).uint32(6)]);
    const top = Number.MAX_SAFE_INTEGER;
    expect(new Rng(top).state().key).toEqual([0xffffffff, 0x1fffff]);
  });

  it("rejects invalid seeds and states", () => {
    for (const seed of [-1, 1.5, NaN, Infinity, 2 ** 53]) {
      expect(() => new Rng(seed), `seed ${seed}`).toThrow(ValueRangeError);
    }
    const good: RngState = { algorithm: "philox4x32-10", key: [1, 2], counter: 3 };
    expect(Rng.fromState(good).state()).toEqual(good);
    const bad: unknown[] = [
      null,
      {},
      { ...good, algorithm: "mt19937" },
      { ...good, key: [1] },
      { ...good, key: [-1, 0] },
      { ...good, key: [TWO_POW_32, 0] },
      { ...good, key: [0.5, 0] },
      { ...good, counter: -1 },
      { ...good, counter: 1.5 },
    ];
    for (const state of bad) {
      expect(() => Rng.fromState(state as RngState), JSON.stringify(state)).toThrow(ValueRangeError);
    }
  });
});

describe("Rng stream mapping", () => {
  it("maps uniform value i to the top 24 bits of word i of block floor(i/4)", () => {
    const rng = new Rng(42);
    const first = rng.uniform([8]);
    expect(first.dtype).toBe("float32");
    expect(first.shape).toEqual([8]);
    for (let i = 0; i < 8; i++) expect(first.data[i]).toBe((word(42, 0, 0, i) >>> 8) / 2 ** 24);
    // Each draw starts on a fresh block: the next draw begins at block 2.
    const second = rng.uniform([3], -2, 6, "float64");
    for (let i = 0; i < 3; i++) expect(second.data[i]).toBe(-2 + 8 * ((word(42, 0, 2, i) >>> 8) / 2 ** 24));
  });

  it("maps normal pairs to Box-Muller of consecutive words", () => {
    const n = 1001; // odd: the last pair gives one value
    const z = new Rng(42).normal([n]).data;
    for (let p = 0; 2 * p < n; p++) {
      const u1 = (word(42, 0, 0, 2 * p) + 1) / TWO_POW_32;
      const u2 = word(42, 0, 0, 2 * p + 1) / TWO_POW_32;
      const r = Math.sqrt(-2 * Math.log(u1));
      const expected = [r * Math.cos(2 * Math.PI * u2), r * Math.sin(2 * Math.PI * u2)];
      for (let j = 0; j < 2 && 2 * p + j < n; j++) {
        const e = expected[j]!;
        expect(Math.abs(z[2 * p + j]! - e), `value ${2 * p + j}`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(e)));
      }
    }
    // The 1001 values used ceil(1002 / 4) = 251 blocks.
    const rng = new Rng(42);
    rng.normal([n]);
    expect(rng.state().counter).toBe(251);
  });

  it("scales and shifts normal samples by std and mean", () => {
    const base = new Rng(8).normal([64], 0, 1, "float64").data;
    const shifted = new Rng(8).normal([64], 3, 0.5, "float64").data;
    for (let i = 0; i < 64; i++) expect(shifted[i]).toBeCloseTo(3 + 0.5 * base[i]!, 12);
  });

  it("builds random() from 53 bits of two words", () => {
    const x = new Rng(9).random();
    const expected = ((word(9, 0, 0, 0) >>> 5) * 2 ** 26 + (word(9, 0, 0, 1) >>> 6)) / 2 ** 53;
    expect(x).toBe(expected);
  });

  it("randomUniform and randomNormal draw from a fresh generator", () => {
    expect([...randomUniform([6], { seed: 11, low: -1, high: 1 }).data]).toEqual([...new Rng(11).uniform([6], -1, 1).data]);
    const n = randomNormal([5], { seed: 11, mean: 2, std: 3, dtype: "float64" });
    expect(n.dtype).toBe("float64");
    expect([...n.data]).toEqual([...new Rng(11).normal([5], 2, 3, "float64").data]);
  });
});

describe("Rng distributions", () => {
  // Bounds representable in float32: a float32 tensor cannot hold an unrepresentable low exactly.
  it("keeps uniform samples in [low, high)", () => {
    const rng = new Rng(3);
    for (const [low, high] of [
      [0, 1],
      [-2, 3],
      [1, 2],
      [0.5, 1],
      [-(2 ** -7), 2 ** -8],
    ] as const) {
      for (const dtype of ["float32", "float64"] as const) {
        const u = rng.uniform([20_000], low, high, dtype).data;
        let lo = Infinity;
        let hi = -Infinity;
        for (const v of u) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
        expect(lo).toBeGreaterThanOrEqual(low);
        expect(hi).toBeLessThan(high);
        // The samples fill the interval: both ends are approached within 1%.
        expect(lo - low).toBeLessThan(0.01 * (high - low));
        expect(high - hi).toBeLessThan(0.01 * (high - low));
      }
    }
  });

  it("does not round the largest uniform word up to high", () => {
    // Block 2330056 of seed 0 has word 2 = 0xffffff45: u = 1 - 2^-24, and 1 + u rounds to 2 in float32.
    const state: RngState = { algorithm: "philox4x32-10", key: [0, 0], counter: 2330056 };
    expect(word(0, 0, 2330056, 2) >>> 8).toBe(0xffffff);
    for (const [low, high] of [
      [1, 2],
      [0.5, 1],
      [0, 1],
      [-3, 5],
    ] as const) {
      for (const dtype of ["float32", "float64"] as const) {
        const v = Rng.fromState(state).uniform([4], low, high, dtype).data[2]!;
        expect(v, `[${low}, ${high}) ${dtype}`).toBeLessThan(high);
        expect(v).toBeGreaterThan(high - 1e-6 * (high - low));
      }
    }
    // And low itself is reachable: block 5366786 of seed 42 has word 1 = 0x00000081 (u = 0).
    expect(word(42, 0, 5366786, 1) >>> 8).toBe(0);
    const low = Rng.fromState({ algorithm: "philox4x32-10", key: [42, 0], counter: 5366786 }).uniform([2], 1, 2).data[1];
    expect(low).toBe(1);
  });

  it("gives normal samples with the right mean, std and distribution (200k samples)", () => {
    const n = 200_000;
    const z = new Rng(2024).normal([n]).data;
    const { mean, std } = meanStd(z);
    // Standard errors: 1/sqrt(n) = 0.0022 for the mean, 1/sqrt(2n) = 0.0016 for the std; 5 sigma.
    expect(Math.abs(mean)).toBeLessThan(0.011);
    expect(Math.abs(std - 1)).toBeLessThan(0.008);
    const edges = [-Infinity, -3, -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 3, Infinity];
    const counts = new Array<number>(edges.length - 1).fill(0);
    for (const v of z) {
      let b = 0;
      while (v >= edges[b + 1]!) b++;
      counts[b]!++;
    }
    for (let b = 0; b < counts.length; b++) {
      const p = normalCdf(edges[b + 1]!) - normalCdf(edges[b]!);
      const freq = counts[b]! / n;
      const tolerance = 5 * Math.sqrt((p * (1 - p)) / n) + 1e-6;
      expect(Math.abs(freq - p), `bin [${edges[b]}, ${edges[b + 1]}): ${freq} vs ${p}`).toBeLessThan(tolerance);
    }
    // Tails: |z| > 4 has probability 6.3e-5, about 13 samples; none beyond the Box-Muller bound 6.67.
    let tail = 0;
    let largest = 0;
    for (const v of z) {
      if (Math.abs(v) > 4) tail++;
      largest = Math.max(largest, Math.abs(v));
    }
    expect(tail).toBeGreaterThan(0);
    expect(tail).toBeLessThan(40);
    expect(largest).toBeLessThanOrEqual(Math.sqrt(-2 * Math.log(2 ** -32)));
  });

  it("gives uniform samples with the right mean and variance", () => {
    const n = 200_000;
    const { mean, std } = meanStd(new Rng(77).uniform([n], -1, 3).data);
    // mean 1 (se 1.155/sqrt(n) = 0.0026), std 4/sqrt(12) = 1.1547.
    expect(Math.abs(mean - 1)).toBeLessThan(0.013);
    expect(Math.abs(std - 4 / Math.sqrt(12))).toBeLessThan(0.01);
  });

  it("gives bernoulli ones with frequency p", () => {
    const n = 100_000;
    for (const p of [0.1, 0.5, 0.85]) {
      const b = new Rng(5).bernoulli([n], p).data;
      let ones = 0;
      let others = 0;
      for (const v of b) {
        if (v === 1) ones++;
        else if (v !== 0) others++;
      }
      expect(others).toBe(0);
      expect(Math.abs(ones / n - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n));
    }
    expect([...new Rng(5).bernoulli([50], 0).data]).toEqual(new Array<number>(50).fill(0));
    expect([...new Rng(5).bernoulli([50], 1).data]).toEqual(new Array<number>(50).fill(1));
    expect(new Rng(5).bernoulli([2], 0.5, "float64").dtype).toBe("float64");
    expect(() => new Rng(5).bernoulli([2], 1.5)).toThrow(ValueRangeError);
    expect(() => new Rng(5).bernoulli([2], NaN)).toThrow(ValueRangeError);
  });

  it("gives randint values in [low, high), every one of them, as int32", () => {
    const r = new Rng(6).randint([3, 2000], -3, 4);
    expect(r.dtype).toBe("int32");
    expect(r.shape).toEqual([3, 2000]);
    const counts = new Map<number, number>();
    for (const v of r.data) counts.set(v, (counts.get(v) ?? 0) + 1);
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([-3, -2, -1, 0, 1, 2, 3]);
    // 6000 draws over 7 values: 857 expected each, se 27.
    for (const c of counts.values()) expect(Math.abs(c - 6000 / 7)).toBeLessThan(150);
    // The int32 extremes are reachable without wrapping.
    const wide = new Rng(6).randint([1000], -(2 ** 31), 2 ** 31).data;
    let neg = 0;
    for (const v of wide) if (v < 0) neg++;
    expect(neg).toBeGreaterThan(400);
    expect(neg).toBeLessThan(600);
  });

  it("rejects invalid arguments before drawing anything", () => {
    const rng = new Rng(1);
    expect(() => rng.uniform([2], 1, 0)).toThrow(ValueRangeError);
    expect(() => rng.uniform([2], 0, NaN)).toThrow(ValueRangeError);
    expect(() => rng.normal([2], 0, -1)).toThrow(ValueRangeError);
    expect(() => rng.randint([2], 0, 0)).toThrow(ValueRangeError);
    expect(() => rng.randint([2], 0.5, 3)).toThrow(ValueRangeError);
    expect(() => rng.randint([2], 0, 2 ** 32)).toThrow(ValueRangeError);
    expect(() => rng.randint([2], -(2 ** 31) - 1, 0)).toThrow(ValueRangeError);
    for (const shape of [[-1], [1.5], [2, NaN]]) {
      expect(() => rng.uniform(shape)).toThrow(ShapeError);
      expect(() => rng.normal(shape)).toThrow(ShapeError);
      expect(() => rng.bernoulli(shape, 0.5)).toThrow(ShapeError);
      expect(() => rng.randint(shape, 0, 3)).toThrow(ShapeError);
    }
    expect(rng.state().counter).toBe(0);
  });

  it("handles empty and scalar shapes", () => {
    const rng = new Rng(2);
    expect(rng.uniform([0]).size).toBe(0);
    expect(rng.normal([3, 0]).shape).toEqual([3, 0]);
    expect(rng.state().counter).toBe(0);
    const s = rng.normal([]);
    expect(s.shape).toEqual([]);
    expect(s.item()).toBeCloseTo(Math.sqrt(-2 * Math.log((word(2, 0, 0, 0) + 1) / TWO_POW_32)) * Math.cos((2 * Math.PI * word(2, 0, 0, 1)) / TWO_POW_32), 5);
  });
});
