// Elementwise kernels, reductions, softmax and softmax cross-entropy over f32 arrays: the twins of
// src/backend/reference/{elementwise,reduce,softmax}.ts (the oracles in tests). Vector loops run
// over whole f32x4 lanes: the host pads every operand region to 64 bytes, so the last lanes of an
// array read and write inside its own padding.

import { vexpFull, vsigmoidFull, vtanhFull } from "./vmath";

@inline function vload(p: usize, i: i32): v128 {
  return v128.load(p + (<usize>i << 2));
}

@inline function vstore(p: usize, i: i32, v: v128): void {
  v128.store(p + (<usize>i << 2), v);
}

@inline function f(p: usize, i: i32): f32 {
  return load<f32>(p + (<usize>i << 2));
}

@inline function put(p: usize, i: i32, v: f32): void {
  store<f32>(p + (<usize>i << 2), v);
}

// Unary op codes (src/backend/wasm/elementwise.ts maps the names).
const NEG: i32 = 0;
const EXP: i32 = 1;
const LOG: i32 = 2;
const SQRT: i32 = 3;
const TANH: i32 = 4;
const SIGMOID: i32 = 5;
const RELU: i32 = 6;
const ABS: i32 = 7;
const SIGN: i32 = 8;

/** The ops without a loop of their own in `unaryF32` (exp, tanh and sigmoid have one). */
@inline function unaryLanes(op: i32, v: v128): v128 {
  switch (op) {
    case NEG: return f32x4.neg(v);
    case LOG: return f32x4(Mathf.log(f32x4.extract_lane(v, 0)), Mathf.log(f32x4.extract_lane(v, 1)), Mathf.log(f32x4.extract_lane(v, 2)), Mathf.log(f32x4.extract_lane(v, 3)));
    case SQRT: return f32x4.sqrt(v);
    // max(NaN, 0) is NaN and max(-0, 0) is 0, as the reference's relu
    case RELU: return f32x4.max(v, f32x4.splat(0.0));
    case ABS: return f32x4.abs(v);
    case SIGN: {
      // 1 or -1 by sign; 0, -0 and NaN pass through
      const one = v128.or(f32x4.splat(1.0), v128.and(v, f32x4.splat(-0.0)));
      return v128.bitselect(v, one, v128.or(f32x4.eq(v, f32x4.splat(0.0)), f32x4.ne(v, v)));
    }
    default: return v;
  }
}

/** out[i] = op(x[i]) for i < n; one loop per op, so that each loop body is straight-line code. */
export function unaryF32(op: i32, x: usize, out: usize, n: i32): void {
  switch (op) {
    case EXP:
      for (let i = 0; i < n; i += 4) vstore(out, i, vexpFull(vload(x, i)));
      break;
    case TANH:
      for (let i = 0; i < n; i += 4) vstore(out, i, vtanhFull(vload(x, i)));
      break;
    case SIGMOID:
      for (let i = 0; i < n; i += 4) vstore(out, i, vsigmoidFull(vload(x, i)));
      break;
    default:
      for (let i = 0; i < n; i += 4) vstore(out, i, unaryLanes(op, vload(x, i)));
  }
}

/**
 * out[i] = x[i] < min ? min : x[i] > max ? max : x[i] (the reference's clamp, bit for bit: NaN and
 * -0 pass through, min wins where both tests hold), over whole f32x4 lanes. `min` and `max` are the
 * host's bounds rounded to f32, which orders every f32 value as the unrounded bounds do.
 */
export function clampF32(x: usize, out: usize, n: i32, min: f32, max: f32): void {
  const lo = f32x4.splat(min);
  const hi = f32x4.splat(max);
  for (let i = 0; i < n; i += 4) {
    const v = vload(x, i);
    const r = v128.bitselect(hi, v, f32x4.gt(v, hi));
    vstore(out, i, v128.bitselect(lo, r, f32x4.lt(v, lo)));
  }
}

const ADD: i32 = 0;
const SUB: i32 = 1;
const MUL: i32 = 2;
const DIV: i32 = 3;
const GREATER: i32 = 4;
const GREATER_EQUAL: i32 = 5;
const LESS: i32 = 6;
const LESS_EQUAL: i32 = 7;
const EQUAL: i32 = 8;
const NOT_EQUAL: i32 = 9;

@inline function binaryLanes(op: i32, a: v128, b: v128): v128 {
  const one = f32x4.splat(1.0);
  switch (op) {
    case ADD: return f32x4.add(a, b);
    case SUB: return f32x4.sub(a, b);
    case MUL: return f32x4.mul(a, b);
    case DIV: return f32x4.div(a, b);
    case GREATER: return v128.and(f32x4.gt(a, b), one);
    case GREATER_EQUAL: return v128.and(f32x4.ge(a, b), one);
    case LESS: return v128.and(f32x4.lt(a, b), one);
    case LESS_EQUAL: return v128.and(f32x4.le(a, b), one);
    case EQUAL: return v128.and(f32x4.eq(a, b), one);
    case NOT_EQUAL: return v128.and(f32x4.ne(a, b), one);
    default: return a;
  }
}

/**
 * A broadcast binary op as the host's broadcast plan describes it: `rows` runs of `len` output
 * elements (out is contiguous), operand k's run r starting at element `offK[r]` (i32 arrays) and
 * advancing by `sK` (1, or 0 for an operand broadcast along the run). Rows are written in order,
 * so a row's last lanes may spill into the next row's start, which that row then overwrites.
 */
export function binaryF32(op: i32, rows: i32, len: i32, a: usize, offA: usize, sa: i32, b: usize, offB: usize, sb: i32, out: usize): void {
  for (let r = 0; r < rows; r++) {
    const pa = a + (<usize>load<i32>(offA + (<usize>r << 2)) << 2);
    const pb = b + (<usize>load<i32>(offB + (<usize>r << 2)) << 2);
    const po = out + (<usize>(r * len) << 2);
    if (sa != 0 && sb != 0) {
      for (let i = 0; i < len; i += 4) vstore(po, i, binaryLanes(op, vload(pa, i), vload(pb, i)));
    } else if (sa != 0) {
      const vb = v128.load32_splat(pb);
      for (let i = 0; i < len; i += 4) vstore(po, i, binaryLanes(op, vload(pa, i), vb));
    } else if (sb != 0) {
      const va = v128.load32_splat(pa);
      for (let i = 0; i < len; i += 4) vstore(po, i, binaryLanes(op, va, vload(pb, i)));
    } else {
      const v = binaryLanes(op, v128.load32_splat(pa), v128.load32_splat(pb));
      for (let i = 0; i < len; i += 4) vstore(po, i, v);
    }
  }
}

const SUM: i32 = 0;

/** Sum (in f64, as the reference) or max (NaN wins) of x[0..n), returned as f64. */
export function reduceAllF32(op: i32, x: usize, n: i32): f64 {
  const n4 = n & ~3;
  if (op == SUM) {
    let lo = f64x2.splat(0);
    let hi = f64x2.splat(0);
    for (let i = 0; i < n4; i += 4) {
      const v = vload(x, i);
      lo = f64x2.add(lo, f64x2.promote_low_f32x4(v));
      hi = f64x2.add(hi, f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1)));
    }
    let acc = f64x2.extract_lane(lo, 0) + f64x2.extract_lane(lo, 1) + f64x2.extract_lane(hi, 0) + f64x2.extract_lane(hi, 1);
    for (let i = n4; i < n; i++) acc += <f64>f(x, i);
    return acc;
  }
  let m = f32x4.splat(-Infinity);
  for (let i = 0; i < n4; i += 4) m = f32x4.max(m, vload(x, i));
  let acc = maxNaN(maxNaN(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), maxNaN(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
  for (let i = n4; i < n; i++) acc = maxNaN(acc, f(x, i));
  return <f64>acc;
}

@inline function maxNaN(a: f32, b: f32): f32 {
  return a != a ? a : b != b ? b : b > a ? b : a;
}

/** out[r] = reduce(x[r, 0..len)) for a row-major (rows, len) x. */
export function reduceRowsF32(op: i32, rows: i32, len: i32, x: usize, out: usize): void {
  for (let r = 0; r < rows; r++) put(out, r, <f32>reduceAllF32(op, x + (<usize>(r * len) << 2), len));
}

/**
 * out[i] = reduce over r of x[r, i] for a row-major (rows, len) x, row by row in f32 as the
 * reference; with `accumulate` out already holds the reduction of earlier rows.
 */
export function reduceColumnsF32(op: i32, rows: i32, len: i32, x: usize, out: usize, accumulate: bool): void {
  if (!accumulate) {
    const init = f32x4.splat(op == SUM ? 0.0 : -Infinity);
    for (let i = 0; i < len; i += 4) vstore(out, i, init);
  }
  // lanes past len compute garbage into out's padding; rows of x overlap the next row there, harmlessly
  for (let r = 0; r < rows; r++) {
    const px = x + (<usize>(r * len) << 2);
    if (op == SUM) for (let i = 0; i < len; i += 4) vstore(out, i, f32x4.add(vload(out, i), vload(px, i)));
    else for (let i = 0; i < len; i += 4) vstore(out, i, f32x4.max(vload(out, i), vload(px, i)));
  }
}

/**
 * acc[b] (+)= reduce over a and c of x[a, b, c] for a row-major (A, B, C) x, accumulated in f64
 * (`acc` holds B f64; with `accumulate` it already holds the reduction of earlier blocks of a):
 * the bias gradient of a convolution, a sum over the batch and the positions of each channel.
 */
export function reduceOuterInnerF32(op: i32, A: i32, B: i32, C: i32, x: usize, acc: usize, accumulate: bool): void {
  for (let a = 0; a < A; a++) {
    for (let b = 0; b < B; b++) {
      const part = reduceAllF32(op, x + (<usize>((a * B + b) * C) << 2), C);
      const p = acc + (<usize>b << 3);
      if (!accumulate && a == 0) store<f64>(p, part);
      else if (op == SUM) store<f64>(p, load<f64>(p) + part);
      else {
        const m = load<f64>(p);
        store<f64>(p, m != m ? m : part != part ? part : part > m ? part : m);
      }
    }
  }
}

/** Max of a row (NaN wins; all -inf gives 0 so that exp stays finite, as the reference). */
@inline function rowMax(p: usize, C: i32): f32 {
  const m = <f32>reduceAllF32(1, p, C);
  return m == -Infinity ? 0 : m;
}

/** Writes exp(x - max) of a row to `e` and returns their sum. */
@inline function rowExp(p: usize, C: i32, max: f32, e: usize): f32 {
  const C4 = C & ~3;
  const vm = f32x4.splat(max);
  let s = f32x4.splat(0);
  for (let i = 0; i < C4; i += 4) {
    const v = vexpFull(f32x4.sub(vload(p, i), vm));
    vstore(e, i, v);
    s = f32x4.add(s, v);
  }
  let sum = f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
  for (let i = C4; i < C; i++) {
    const v = Mathf.exp(f(p, i) - max);
    put(e, i, v);
    sum += v;
  }
  return sum;
}

/** Softmax (or log-softmax) of each row of a row-major (rows, C) x. */
export function softmaxRowsF32(rows: i32, C: i32, x: usize, out: usize, log: bool): void {
  for (let r = 0; r < rows; r++) {
    const p = x + (<usize>(r * C) << 2);
    const o = out + (<usize>(r * C) << 2);
    const max = rowMax(p, C);
    const sum = rowExp(p, C, max, o);
    if (log) {
      const shift = f32x4.splat(max + Mathf.log(sum));
      for (let i = 0; i < C; i += 4) vstore(o, i, f32x4.sub(vload(p, i), shift));
    } else {
      const inv = f32x4.splat(1 / sum);
      for (let i = 0; i < C; i += 4) vstore(o, i, f32x4.mul(vload(o, i), inv));
    }
  }
}

/**
 * Per-row loss logsumexp(x[r]) - x[r, t[r]] (0 where t[r] == ignore) for logits (rows, C) and i32
 * targets; `e` is a scratch row of C (+3) floats.
 */
export function softmaxCrossEntropyF32(rows: i32, C: i32, x: usize, targets: usize, ignore: i32, out: usize, e: usize): void {
  for (let r = 0; r < rows; r++) {
    const t = load<i32>(targets + (<usize>r << 2));
    if (t == ignore) {
      put(out, r, 0);
      continue;
    }
    const p = x + (<usize>(r * C) << 2);
    const max = rowMax(p, C);
    put(out, r, max + Mathf.log(rowExp(p, C, max, e)) - f(p, t));
  }
}

/** Its backward: dx[r] = (softmax(x[r]) - onehot(t[r])) · g[r], a zero row where t[r] == ignore. */
export function softmaxCrossEntropyBackwardF32(rows: i32, C: i32, x: usize, targets: usize, g: usize, ignore: i32, out: usize): void {
  for (let r = 0; r < rows; r++) {
    const t = load<i32>(targets + (<usize>r << 2));
    const p = x + (<usize>(r * C) << 2);
    const o = out + (<usize>(r * C) << 2);
    if (t == ignore) {
      for (let i = 0; i < C; i++) put(o, i, 0);
      continue;
    }
    const max = rowMax(p, C);
    const sum = rowExp(p, C, max, o);
    const gr = f(g, r);
    const scale = f32x4.splat(gr / sum);
    // rows are written in order: the last lanes spill into the next row, which rewrites them
    const C4 = C & ~3;
    for (let i = 0; i < C4; i += 4) vstore(o, i, f32x4.mul(vload(o, i), scale));
    for (let i = C4; i < C; i++) put(o, i, f(o, i) * (gr / sum));
    put(o, t, f(o, t) - gr);
  }
}
