import { allocate, type FloatDType } from "../dtype.js";
import { ValueRangeError } from "../errors.js";
import { assertValidShape, type Shape, sizeOf } from "../shape.js";
import { Tensor } from "../tensor.js";
import { detLog, detSinCos2Pi } from "./detmath.js";
import { philox4x32 } from "./philox.js";

const TWO_POW_32 = 4294967296;
const INV_2_POW_24 = 1 / 16777216;
const INV_2_POW_32 = 1 / TWO_POW_32;

/** What `Rng.state()` returns and `Rng.fromState` accepts: plain JSON. */
export interface RngState {
  readonly algorithm: "philox4x32-10";
  /** The 64-bit key as two uint32 words, low first. */
  readonly key: readonly [number, number];
  /** Number of 128-bit blocks drawn so far. */
  readonly counter: number;
}

function isUint32(x: unknown): boolean {
  return Number.isInteger(x) && (x as number) >= 0 && (x as number) < TWO_POW_32;
}

/** The largest `dtype` value strictly below the finite number `x`. */
function floatBelow(x: number, dtype: FloatDType): number {
  if (dtype === "float64") {
    const v = new Float64Array([x]);
    const bits = new BigInt64Array(v.buffer);
    if (x === 0) bits[0] = -9223372036854775807n; // -0 is not below 0: the negative denormal
    else bits[0] = bits[0]! + (x > 0 ? -1n : 1n);
    return v[0]!;
  }
  const v = new Float32Array([x]);
  if (v[0]! < x) return v[0]!;
  const bits = new Int32Array(v.buffer);
  if (v[0] === 0) bits[0] = -2147483647; // the negative float32 denormal
  else bits[0] = bits[0]! + (v[0]! > 0 ? -1 : 1);
  return v[0]!;
}

function checkSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new ValueRangeError("Rng", `seed must be a non-negative safe integer, got ${seed}`);
  }
}

/**
 * A seeded, reproducible random generator: Philox4x32-10 over a block counter. Each draw starts on
 * a fresh block and advances the counter by the blocks it used, so a run's random numbers depend
 * only on the seed and the sequence of draws, on every platform. The state is two key words and a
 * counter, and round-trips through JSON for exact resumes.
 */
export class Rng {
  private readonly k0: number;
  private readonly k1: number;
  private counter: number;

  constructor(seed: number) {
    checkSeed(seed);
    this.k0 = seed % TWO_POW_32 >>> 0;
    this.k1 = Math.floor(seed / TWO_POW_32) >>> 0;
    this.counter = 0;
  }

  static fromState(state: RngState): Rng {
    if (
      state?.algorithm !== "philox4x32-10" ||
      !Array.isArray(state.key) ||
      state.key.length !== 2 ||
      !isUint32(state.key[0]) ||
      !isUint32(state.key[1]) ||
      !Number.isSafeInteger(state.counter) ||
      state.counter < 0
    ) {
      throw new ValueRangeError("Rng.fromState", `not a philox4x32-10 state: ${JSON.stringify(state)}`);
    }
    const rng = new Rng(state.key[0] + state.key[1] * TWO_POW_32);
    rng.counter = state.counter;
    return rng;
  }

  state(): RngState {
    return { algorithm: "philox4x32-10", key: [this.k0, this.k1], counter: this.counter };
  }

  /** `n` raw uint32 words. */
  uint32(n: number): Uint32Array {
    const blocks = Math.ceil(n / 4);
    const words = new Uint32Array(blocks * 4);
    for (let b = 0; b < blocks; b++) {
      const c = this.counter + b;
      philox4x32(c % TWO_POW_32 >>> 0, Math.floor(c / TWO_POW_32) >>> 0, 0, 0, this.k0, this.k1, words, b * 4);
    }
    this.counter += blocks;
    return n === words.length ? words : words.subarray(0, n);
  }

  /** One number uniform in [0, 1) with 53 random bits. */
  random(): number {
    const w = this.uint32(2);
    return ((w[0]! >>> 5) * 67108864 + (w[1]! >>> 6)) / 9007199254740992;
  }

  /** Uniform in [low, high). */
  uniform(shape: Shape, low = 0, high = 1, dtype: FloatDType = "float32"): Tensor {
    assertValidShape("uniform", shape);
    if (!(high >= low)) throw new ValueRangeError("uniform", `high (${high}) must be >= low (${low})`);
    const n = sizeOf(shape);
    const words = this.uint32(n);
    const data = allocate(dtype, n);
    const span = high - low;
    // Rounding (to float32 above all) can carry low + span*u up to high itself, as with u = 1 - 2^-24
    // in [1, 2); such a value becomes the largest one below high, keeping the interval half-open.
    const top = Math.max(low, floatBelow(high, dtype));
    for (let i = 0; i < n; i++) {
      data[i] = low + span * ((words[i]! >>> 8) * INV_2_POW_24);
      if (data[i]! >= high) data[i] = top;
    }
    return new Tensor(data, shape);
  }

  /** Normal with the given mean and standard deviation (Box-Muller on pairs of words). */
  normal(shape: Shape, mean = 0, std = 1, dtype: FloatDType = "float32"): Tensor {
    assertValidShape("normal", shape);
    if (!(std >= 0)) throw new ValueRangeError("normal", `std must be >= 0, got ${std}`);
    const n = sizeOf(shape);
    const pairs = Math.ceil(n / 2);
    const words = this.uint32(pairs * 2);
    const data = allocate(dtype, n);
    for (let p = 0; p < pairs; p++) {
      const u1 = (words[2 * p]! + 1) * INV_2_POW_32; // (0, 1]: log is finite
      const u2 = words[2 * p + 1]! * INV_2_POW_32;
      const r = Math.sqrt(-2 * detLog(u1));
      const [s, c] = detSinCos2Pi(u2);
      data[2 * p] = mean + std * r * c;
      if (2 * p + 1 < n) data[2 * p + 1] = mean + std * r * s;
    }
    return new Tensor(data, shape);
  }

  /** 1 with probability `p`, else 0. */
  bernoulli(shape: Shape, p: number, dtype: FloatDType = "float32"): Tensor {
    if (!(p >= 0 && p <= 1)) throw new ValueRangeError("bernoulli", `probability must be in [0, 1], got ${p}`);
    const u = this.uniform(shape, 0, 1, "float64");
    const data = allocate(dtype, u.size);
    for (let i = 0; i < u.size; i++) data[i] = u.data[i]! < p ? 1 : 0;
    return new Tensor(data, shape);
  }

  /** Integers uniform in [low, high), as an int32 tensor. */
  randint(shape: Shape, low: number, high: number): Tensor {
    assertValidShape("randint", shape);
    if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low || low < -2147483648 || high > 2147483648) {
      throw new ValueRangeError("randint", `need integers low < high within int32, got [${low}, ${high})`);
    }
    const n = sizeOf(shape);
    const data = new Int32Array(n);
    const span = high - low;
    for (let i = 0; i < n; i++) data[i] = low + Math.floor(this.random() * span);
    return new Tensor(data, shape);
  }
}

export interface RandomOptions {
  seed: number;
  dtype?: FloatDType;
}

/** Uniform in [low, high) from a fresh generator seeded with `seed`. */
export function randomUniform(shape: Shape, options: RandomOptions & { low?: number; high?: number }): Tensor {
  return new Rng(options.seed).uniform(shape, options.low ?? 0, options.high ?? 1, options.dtype);
}

/** Normal(mean, std) from a fresh generator seeded with `seed`. */
export function randomNormal(shape: Shape, options: RandomOptions & { mean?: number; std?: number }): Tensor {
  return new Rng(options.seed).normal(shape, options.mean ?? 0, options.std ?? 1, options.dtype);
}
