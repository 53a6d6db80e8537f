// Seeded inputs and initial weights shared by the JavaScript engines (unroll and both tfjs
// backends train on the same tokens from the same weights). The values do not change the speed;
// sharing them keeps the losses comparable across the JavaScript engines.

/** mulberry32: a small 32-bit generator, enough for benchmark data (not for the models' own randomness). */
export class DataRng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** `n` integers uniform in [0, high). */
  ints(n: number, high: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(this.next() * high);
    return out;
  }

  /** `n` floats uniform in [-bound, bound). */
  uniform(n: number, bound: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (2 * this.next() - 1) * bound;
    return out;
  }

  /** `n` standard normal floats (Box-Muller). */
  normal(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      const u = 1 - this.next();
      const v = this.next();
      const r = Math.sqrt(-2 * Math.log(u));
      out[i] = r * Math.cos(2 * Math.PI * v);
      if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
    }
    return out;
  }
}

/** Index drawn from a discrete distribution given by (unnormalised, non-negative) `probs`. */
export function sampleIndex(probs: ArrayLike<number>, u: number): number {
  let total = 0;
  for (let i = 0; i < probs.length; i++) total += probs[i]!;
  let acc = 0;
  const target = u * total;
  for (let i = 0; i < probs.length; i++) {
    acc += probs[i]!;
    if (target < acc) return i;
  }
  return probs.length - 1;
}
