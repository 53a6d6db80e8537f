// Shared helpers for the tests: an independent pseudo-random source for inputs, naive reference
// implementations (index arithmetic written out, no library code) and assertion shorthands.
// Excluded from the build (tsconfig.build.json).
import { expect } from "vitest";
import { type DType, fromArray, gradcheck, type GradcheckOptions, type Tensor, type TensorError } from "./index.js";

/** mulberry32: a tiny seeded generator, independent of the library's Philox `Rng`. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function sizeOfShape(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

/** `n` values uniform in [low, high). */
export function randomValues(n: number, seed: number, low = -1, high = 1): number[] {
  const next = seededRandom(seed);
  return Array.from({ length: n }, () => low + (high - low) * next());
}

/**
 * Values uniform in [low, high) whose magnitude is at least `gap` (for inputs that must stay away
 * from a kink at 0: relu, abs, sign).
 */
export function valuesAwayFromZero(n: number, seed: number, gap = 0.1, high = 1): number[] {
  const next = seededRandom(seed);
  return Array.from({ length: n }, () => {
    const m = gap + (high - gap) * next();
    return next() < 0.5 ? -m : m;
  });
}

export interface RandomTensorOptions {
  low?: number;
  high?: number;
  dtype?: DType;
}

/** A tensor of the given shape with seeded uniform values. */
export function randomTensor(shape: readonly number[], seed: number, options: RandomTensorOptions = {}): Tensor {
  const values = randomValues(sizeOfShape(shape), seed, options.low ?? -1, options.high ?? 1);
  return fromArray(values, { shape, dtype: options.dtype ?? "float64" });
}

/** A float64 tensor from flat values. */
export function f64(values: readonly number[], shape: readonly number[]): Tensor {
  return fromArray(values, { shape, dtype: "float64" });
}

/** An int32 tensor from flat values. */
export function i32(values: readonly number[], shape: readonly number[] = [values.length]): Tensor {
  return fromArray(values, { shape, dtype: "int32" });
}

// --- naive index arithmetic -------------------------------------------------------------------

/** Row-major multi-index of flat position `i` in `shape`. */
export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    const n = shape[d]!;
    idx[d] = i % n;
    i = Math.floor(i / n);
  }
  return idx;
}

/** Flat position of a multi-index in `shape`. */
export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let flat = 0;
  for (let d = 0; d < shape.length; d++) flat = flat * shape[d]! + idx[d]!;
  return flat;
}

/** NumPy's broadcast result shape, or null when the shapes do not broadcast. */
export function naiveBroadcastShape(...shapes: (readonly number[])[]): number[] | null {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const v = s[s.length - rank + i] ?? 1;
      if (v === 1) continue;
      if (d !== 1 && d !== v) return null;
      d = v;
    }
    out.push(d);
  }
  return out;
}

/** Flat position in an input of shape `inShape` read for output multi-index `outIdx` under broadcasting. */
export function broadcastSource(outIdx: readonly number[], inShape: readonly number[]): number {
  const lead = outIdx.length - inShape.length;
  const idx = inShape.map((d, j) => (d === 1 ? 0 : outIdx[j + lead]!));
  return ravel(idx, inShape);
}

export interface Dense {
  shape: number[];
  data: number[];
}

export function dense(t: Tensor): Dense {
  return { shape: [...t.shape], data: Array.from(t.data) };
}

/** Elementwise `fn` over any number of broadcast operands, by per-element index arithmetic. */
export function naiveElementwise(inputs: readonly Dense[], fn: (...v: number[]) => number): Dense {
  const shape = naiveBroadcastShape(...inputs.map((x) => x.shape));
  if (shape === null) throw new Error("naiveElementwise: shapes do not broadcast");
  const data: number[] = [];
  for (let i = 0; i < sizeOfShape(shape); i++) {
    const idx = unravel(i, shape);
    data.push(fn(...inputs.map((x) => x.data[broadcastSource(idx, x.shape)]!)));
  }
  return { shape, data };
}

/** Reduces `axes` (non-negative, any order) of `x` with `fn` from `init`, by visiting every element. */
export function naiveReduce(
  x: Dense,
  axes: readonly number[],
  keepdims: boolean,
  fn: (acc: number, v: number) => number,
  init: number,
): Dense {
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const data = new Array<number>(sizeOfShape(kept)).fill(init);
  for (let i = 0; i < x.data.length; i++) {
    const idx = unravel(i, x.shape).map((v, d) => (axes.includes(d) ? 0 : v));
    const o = ravel(idx, kept);
    data[o] = fn(data[o]!, x.data[i]!);
  }
  const shape = keepdims ? kept : x.shape.filter((_, i) => !axes.includes(i));
  return { shape, data };
}

// --- assertions -------------------------------------------------------------------------------

/** Asserts shape equality and elementwise closeness (`|a - e| <= atol + rtol |e|`; NaN matches NaN). */
export function expectClose(actual: Tensor, expected: Dense | { shape: readonly number[]; data: ArrayLike<number> }, atol = 1e-6, rtol = 1e-6): void {
  expect([...actual.shape]).toEqual([...expected.shape]);
  expect(actual.size).toBe(expected.data.length);
  for (let i = 0; i < actual.size; i++) {
    const a = actual.data[i]!;
    const e = expected.data[i]!;
    if (Number.isNaN(e)) {
      expect(a, `element ${i}`).toBeNaN();
      continue;
    }
    if (!Number.isFinite(e)) {
      expect(a, `element ${i}`).toBe(e);
      continue;
    }
    const tol = atol + rtol * Math.abs(e);
    if (!(Math.abs(a - e) <= tol)) {
      expect.fail(`element ${i} (index [${unravel(i, expected.shape).join(",")}]): got ${a}, expected ${e} (tolerance ${tol})`);
    }
  }
}

/** Runs `gradcheck` and asserts that it passed, showing its report otherwise. */
export function expectGradOk(f: (...inputs: Tensor[]) => Tensor, inputs: readonly Tensor[], options?: GradcheckOptions): void {
  const report = gradcheck(f, inputs, options);
  expect(report.checked).toBeGreaterThan(0);
  expect(report.ok, report.message).toBe(true);
}

/**
 * Asserts that `fn` throws an instance of `errorClass` whose message contains every fragment
 * (the operation's name, the shapes involved...), and returns the error.
 */
export function expectError<E extends TensorError>(
  fn: () => unknown,
  errorClass: abstract new (...args: never[]) => E,
  fragments: readonly string[],
): E {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, "expected an error to be thrown").toBeInstanceOf(errorClass);
  const message = (caught as Error).message;
  for (const f of fragments) expect(message).toContain(f);
  return caught as E;
}

/**
 * Batched `op(a) · op(b)` by the triple loop, batch axes broadcast (index arithmetic per batch),
 * summed in double precision.
 */
export function naiveMatmul(a: Dense, b: Dense, transA = false, transB = false): Dense {
  const ra = a.shape.length;
  const rb = b.shape.length;
  const [ar, ac] = [a.shape[ra - 2]!, a.shape[ra - 1]!];
  const [br, bc] = [b.shape[rb - 2]!, b.shape[rb - 1]!];
  const M = transA ? ac : ar;
  const K = transA ? ar : ac;
  const N = transB ? br : bc;
  if ((transB ? bc : br) !== K) throw new Error("naiveMatmul: inner sizes differ");
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const batch = naiveBroadcastShape(batchA, batchB);
  if (batch === null) throw new Error("naiveMatmul: batch shapes do not broadcast");
  const data: number[] = [];
  for (let t = 0; t < sizeOfShape(batch); t++) {
    const idx = unravel(t, batch);
    const aBase = broadcastSource(idx, batchA) * ar * ac;
    const bBase = broadcastSource(idx, batchB) * br * bc;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let p = 0; p < K; p++) {
          const av = a.data[aBase + (transA ? p * ac + i : i * ac + p)]!;
          const bv = b.data[bBase + (transB ? j * bc + p : p * bc + j)]!;
          s += av * bv;
        }
        data.push(s);
      }
    }
  }
  return { shape: [...batch, M, N], data };
}

// --- naive layout operations ------------------------------------------------------------------

/** `out.shape[k] = x.shape[perm[k]]`, element by element. */
export function naiveTranspose(x: Dense, perm: readonly number[]): Dense {
  const shape = perm.map((p) => x.shape[p]!);
  const data: number[] = [];
  for (let i = 0; i < sizeOfShape(shape); i++) {
    const o = unravel(i, shape);
    const src = new Array<number>(perm.length);
    perm.forEach((p, k) => (src[p] = o[k]!));
    data.push(x.data[ravel(src, x.shape)]!);
  }
  return { shape, data };
}

export function naiveConcat(parts: readonly Dense[], axis: number): Dense {
  const shape = [...parts[0]!.shape];
  shape[axis] = parts.reduce((s, p) => s + p.shape[axis]!, 0);
  const data: number[] = [];
  for (let i = 0; i < sizeOfShape(shape); i++) {
    const o = unravel(i, shape);
    let k = o[axis]!;
    let part = 0;
    while (k >= parts[part]!.shape[axis]!) k -= parts[part++]!.shape[axis]!;
    const src = [...o];
    src[axis] = k;
    data.push(parts[part]!.data[ravel(src, parts[part]!.shape)]!);
  }
  return { shape, data };
}

export function naiveSlice(x: Dense, starts: readonly number[], ends: readonly number[]): Dense {
  const shape = starts.map((s, i) => ends[i]! - s);
  const data: number[] = [];
  for (let i = 0; i < sizeOfShape(shape); i++) data.push(x.data[ravel(unravel(i, shape).map((v, d) => v + starts[d]!), x.shape)]!);
  return { shape, data };
}

export function naivePad(x: Dense, before: readonly number[], after: readonly number[], value: number): Dense {
  const shape = x.shape.map((d, i) => before[i]! + d + after[i]!);
  const data: number[] = [];
  for (let i = 0; i < sizeOfShape(shape); i++) {
    const src = unravel(i, shape).map((v, d) => v - before[d]!);
    const inside = src.every((v, d) => v >= 0 && v < x.shape[d]!);
    data.push(inside ? x.data[ravel(src, x.shape)]! : value);
  }
  return { shape, data };
}
