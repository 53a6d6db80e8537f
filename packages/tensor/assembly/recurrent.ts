// The fused recurrent scan in WebAssembly: the twin of src/backend/reference/recurrent.ts (which
// documents the equations and buffer layouts and is the oracle in tests). Every step's recurrent
// product runs through `gemm`; the weight gradient is one product over all steps. f32 throughout.
//
// Cells: 0 tanh RNN, 1 relu RNN, 2 LSTM (gates i,f,g,o), 3 GRU (gates r,z,n). All pointers are
// byte addresses of row-major f32 arrays in this module's memory (`lengths`: i32, 0 = no padding).

import { gemm } from "./parallel";
import { vsigmoid, vtanh } from "./vmath";

const TANH: i32 = 0;
const RELU: i32 = 1;
const LSTM: i32 = 2;
const GRU: i32 = 3;

@inline function f(p: usize, i: i32): f32 {
  return load<f32>(p + (<usize>i << 2));
}

@inline function put(p: usize, i: i32, v: f32): void {
  store<f32>(p + (<usize>i << 2), v);
}

@inline function sigmoid(x: f32): f32 {
  if (x >= 0) return 1 / (1 + Mathf.exp(-x));
  const e = Mathf.exp(x);
  return e / (1 + e);
}

@inline function real(lengths: usize, t: i32, b: i32): bool {
  return lengths == 0 || t < load<i32>(lengths + (<usize>b << 2));
}

/** Scan step t of example b reads time step len-1-t when reversed (padding stays in place). */
@inline function timeIndex(reverse: bool, lengths: usize, T: i32, t: i32, b: i32): i32 {
  if (!reverse) return t;
  const n = lengths == 0 ? T : load<i32>(lengths + (<usize>b << 2));
  return t < n ? n - 1 - t : t;
}

@inline function vload(p: usize, i: i32): v128 {
  return v128.load(p + (<usize>i << 2));
}

@inline function vstore(p: usize, i: i32, v: v128): void {
  v128.store(p + (<usize>i << 2), v);
}

/** One LSTM step for one example, four units at a time (H % 4 == 0). */
@inline function lstmRowSimd(
  H: i32, isReal: bool, xProj: usize, xo: i32, hp: usize, po: i32, bias: usize,
  gates: usize, go: i32, cPrev: usize, hPrev: usize, ho: i32, cells: usize, states: usize, so: i32, hs: usize, oo: i32,
): void {
  for (let j = 0; j < H; j += 4) {
    const i = vsigmoid(f32x4.add(f32x4.add(vload(xProj, xo + j), vload(hp, po + j)), vload(bias, j)));
    const fg = vsigmoid(f32x4.add(f32x4.add(vload(xProj, xo + H + j), vload(hp, po + H + j)), vload(bias, H + j)));
    const g = vtanh(f32x4.add(f32x4.add(vload(xProj, xo + 2 * H + j), vload(hp, po + 2 * H + j)), vload(bias, 2 * H + j)));
    const o = vsigmoid(f32x4.add(f32x4.add(vload(xProj, xo + 3 * H + j), vload(hp, po + 3 * H + j)), vload(bias, 3 * H + j)));
    vstore(gates, go + j, i);
    vstore(gates, go + H + j, fg);
    vstore(gates, go + 2 * H + j, g);
    vstore(gates, go + 3 * H + j, o);
    const cp = vload(cPrev, ho + j);
    const cNew = f32x4.add(f32x4.mul(fg, cp), f32x4.mul(i, g));
    const hNew = f32x4.mul(o, vtanh(cNew));
    if (isReal) {
      vstore(cells, so + j, cNew);
      vstore(states, so + j, hNew);
      vstore(hs, oo + j, hNew);
    } else {
      vstore(cells, so + j, cp);
      vstore(states, so + j, vload(hPrev, ho + j));
      vstore(hs, oo + j, f32x4.splat(0));
    }
  }
}

function gatesOf(cell: i32): i32 {
  return cell == LSTM ? 4 : cell == GRU ? 3 : 1;
}

/**
 * Forward scan. In: x (T,B,I), Wih (GH,I), bih (GH), W (GH,H), bias (GH), h0 (B,H), c0 (B,H)
 * (LSTM), lengths (B). Out: hs (T,B,H) in input time order; states, cells (LSTM) (T,B,H) and
 * gates (T,B,S) in scan order (S = 4H for LSTM/GRU); hT, cT (B,H). Scratch: xProj (T,B,GH), hp (B,GH).
 */
export function recurrentForward(
  cell: i32, T: i32, B: i32, I: i32, H: i32, reverse: bool,
  x: usize, Wih: usize, bih: usize, W: usize, bias: usize, h0: usize, c0: usize, lengths: usize,
  hs: usize, states: usize, cells: usize, gates: usize, hT: usize, cT: usize, xProj: usize, hp: usize,
): void {
  const GH = gatesOf(cell) * H;
  const S = cell == LSTM || cell == GRU ? 4 * H : 0;
  // The input side of every step in one product: xProj = x · W_ihᵀ + b_ih, (T*B, I) · (I, GH).
  gemm(false, true, T * B, GH, I, x, I, Wih, I, xProj, GH, false);
  for (let r = 0; r < T * B; r++) {
    for (let k = 0; k < GH; k++) put(xProj, r * GH + k, f(xProj, r * GH + k) + f(bih, k));
  }
  let hPrev = h0;
  let cPrev = c0;
  for (let t = 0; t < T; t++) {
    gemm(false, true, B, GH, H, hPrev, H, W, H, hp, GH, false); // hp = h_prev · Wᵀ
    for (let b = 0; b < B; b++) {
      const isReal = real(lengths, t, b);
      const time = timeIndex(reverse, lengths, T, t, b);
      const xo = (time * B + b) * GH;
      const po = b * GH;
      const so = (t * B + b) * H;
      const oo = (time * B + b) * H;
      const go = (t * B + b) * S;
      const ho = b * H;
      if (cell == LSTM && (H & 3) == 0) {
        lstmRowSimd(H, isReal, xProj, xo, hp, po, bias, gates, go, cPrev, hPrev, ho, cells, states, so, hs, oo);
        continue;
      }
      for (let j = 0; j < H; j++) {
        const prev = f(hPrev, ho + j);
        let hNew: f32;
        if (cell == TANH) {
          hNew = Mathf.tanh(f(xProj, xo + j) + f(hp, po + j) + f(bias, j));
        } else if (cell == RELU) {
          const a = f(xProj, xo + j) + f(hp, po + j) + f(bias, j);
          hNew = a > 0 ? a : (a == a ? <f32>0 : a);
        } else if (cell == LSTM) {
          const i = sigmoid(f(xProj, xo + j) + f(hp, po + j) + f(bias, j));
          const fg = sigmoid(f(xProj, xo + H + j) + f(hp, po + H + j) + f(bias, H + j));
          const g = Mathf.tanh(f(xProj, xo + 2 * H + j) + f(hp, po + 2 * H + j) + f(bias, 2 * H + j));
          const o = sigmoid(f(xProj, xo + 3 * H + j) + f(hp, po + 3 * H + j) + f(bias, 3 * H + j));
          put(gates, go + j, i);
          put(gates, go + H + j, fg);
          put(gates, go + 2 * H + j, g);
          put(gates, go + 3 * H + j, o);
          const cp = f(cPrev, ho + j);
          const cNew = fg * cp + i * g;
          put(cells, so + j, isReal ? cNew : cp);
          hNew = o * Mathf.tanh(cNew);
        } else {
          const r = sigmoid(f(xProj, xo + j) + f(hp, po + j) + f(bias, j));
          const z = sigmoid(f(xProj, xo + H + j) + f(hp, po + H + j) + f(bias, H + j));
          const hn = f(hp, po + 2 * H + j) + f(bias, 2 * H + j);
          const n = Mathf.tanh(f(xProj, xo + 2 * H + j) + r * hn);
          put(gates, go + j, r);
          put(gates, go + H + j, z);
          put(gates, go + 2 * H + j, n);
          put(gates, go + 3 * H + j, hn);
          hNew = n + z * (prev - n);
        }
        put(states, so + j, isReal ? hNew : prev);
        put(hs, oo + j, isReal ? hNew : 0);
      }
    }
    hPrev = states + (<usize>(t * B * H) << 2);
    if (cell == LSTM) cPrev = cells + (<usize>(t * B * H) << 2);
  }
  memory.copy(hT, hPrev, <usize>(B * H) << 2);
  if (cell == LSTM) memory.copy(cT, cPrev, <usize>(B * H) << 2);
}

/**
 * Backward scan. In: W (GH,H), h0, c0, lengths, states, cells, gates (as forward wrote them),
 * dhs (T,B,H, input time order), dhT, dcT (B,H). Out: dx (T,B,GH, the cotangent of xProj in input
 * time order), dW (GH,H), db (GH), dh0, dc0 (B,H). Scratch: dhp (T,B,GH, scan order), gh, gc,
 * dprev, extra (B,H), hPrevAll (T,B,H). The host may pass dhp = dx when the two coincide (a forward
 * scan of any cell but the GRU), and hPrevAll = h0 when h0 lies right before states (then the copies
 * into hPrevAll below copy each value onto itself). With `accumulate`, dW and db are added to
 * (a sequence scanned in chunks of time steps, the last chunk first), not overwritten.
 */
export function recurrentBackward(
  cell: i32, T: i32, B: i32, H: i32, reverse: bool,
  W: usize, h0: usize, c0: usize, lengths: usize, states: usize, cells: usize, gates: usize,
  dhs: usize, dhT: usize, dcT: usize,
  dx: usize, dW: usize, db: usize, dh0: usize, dc0: usize,
  dhp: usize, gh: usize, gc: usize, dprev: usize, extra: usize, hPrevAll: usize,
  accumulate: bool,
): void {
  const GH = gatesOf(cell) * H;
  const S = cell == LSTM || cell == GRU ? 4 * H : 0;
  const BH = B * H;
  memory.copy(gh, dhT, <usize>BH << 2);
  if (cell == LSTM && dcT != 0) memory.copy(gc, dcT, <usize>BH << 2);
  else memory.fill(gc, 0, <usize>BH << 2);
  memory.fill(dx, 0, <usize>(T * B * GH) << 2);
  memory.fill(dhp, 0, <usize>(T * B * GH) << 2);
  for (let t = T - 1; t >= 0; t--) {
    const prevH = t == 0 ? h0 : states + (<usize>((t - 1) * BH) << 2);
    const prevC = t == 0 ? c0 : cells + (<usize>((t - 1) * BH) << 2);
    memory.fill(extra, 0, <usize>BH << 2);
    for (let b = 0; b < B; b++) {
      if (!real(lengths, t, b)) continue; // the state passes through: gh and gc carry on unchanged
      const time = timeIndex(reverse, lengths, T, t, b);
      const so = (t * B + b) * H;
      const oo = (time * B + b) * H;
      const go = (t * B + b) * S;
      const xo = (time * B + b) * GH;
      const po = (t * B + b) * GH;
      if (cell == LSTM && (H & 3) == 0) {
        for (let j = 0; j < H; j += 4) {
          const k = b * H + j;
          const dNew = f32x4.add(vload(gh, k), vload(dhs, oo + j));
          vstore(gh, k, f32x4.splat(0));
          const i = vload(gates, go + j);
          const fg = vload(gates, go + H + j);
          const g = vload(gates, go + 2 * H + j);
          const o = vload(gates, go + 3 * H + j);
          const tc = vtanh(vload(cells, so + j));
          const one = f32x4.splat(1.0);
          const dc = f32x4.add(vload(gc, k), f32x4.mul(f32x4.mul(dNew, o), f32x4.sub(one, f32x4.mul(tc, tc))));
          const cp = vload(prevC, k);
          const dai = f32x4.mul(f32x4.mul(f32x4.mul(dc, g), i), f32x4.sub(one, i));
          const daf = f32x4.mul(f32x4.mul(f32x4.mul(dc, cp), fg), f32x4.sub(one, fg));
          const dag = f32x4.mul(f32x4.mul(dc, i), f32x4.sub(one, f32x4.mul(g, g)));
          const dao = f32x4.mul(f32x4.mul(f32x4.mul(dNew, tc), o), f32x4.sub(one, o));
          vstore(gc, k, f32x4.mul(dc, fg));
          vstore(dx, xo + j, dai);
          vstore(dx, xo + H + j, daf);
          vstore(dx, xo + 2 * H + j, dag);
          vstore(dx, xo + 3 * H + j, dao);
          vstore(dhp, po + j, dai);
          vstore(dhp, po + H + j, daf);
          vstore(dhp, po + 2 * H + j, dag);
          vstore(dhp, po + 3 * H + j, dao);
        }
        continue;
      }
      for (let j = 0; j < H; j++) {
        const k = b * H + j;
        const dNew = f(gh, k) + f(dhs, oo + j);
        put(gh, k, 0);
        if (cell == TANH) {
          const h = f(states, so + j);
          const da = dNew * (1 - h * h);
          put(dx, xo + j, da);
          put(dhp, po + j, da);
        } else if (cell == RELU) {
          const da: f32 = f(states, so + j) > 0 ? dNew : 0;
          put(dx, xo + j, da);
          put(dhp, po + j, da);
        } else if (cell == LSTM) {
          const i = f(gates, go + j);
          const fg = f(gates, go + H + j);
          const g = f(gates, go + 2 * H + j);
          const o = f(gates, go + 3 * H + j);
          const tc = Mathf.tanh(f(cells, so + j));
          const dc = f(gc, k) + dNew * o * (1 - tc * tc);
          const cp = f(prevC, k);
          const dai = dc * g * i * (1 - i);
          const daf = dc * cp * fg * (1 - fg);
          const dag = dc * i * (1 - g * g);
          const dao = dNew * tc * o * (1 - o);
          put(gc, k, dc * fg);
          put(dx, xo + j, dai);
          put(dx, xo + H + j, daf);
          put(dx, xo + 2 * H + j, dag);
          put(dx, xo + 3 * H + j, dao);
          put(dhp, po + j, dai);
          put(dhp, po + H + j, daf);
          put(dhp, po + 2 * H + j, dag);
          put(dhp, po + 3 * H + j, dao);
        } else {
          const r = f(gates, go + j);
          const z = f(gates, go + H + j);
          const n = f(gates, go + 2 * H + j);
          const hn = f(gates, go + 3 * H + j);
          const hp = f(prevH, k);
          const dan = dNew * (1 - z) * (1 - n * n);
          const daz = dNew * (hp - n) * z * (1 - z);
          const dar = dan * hn * r * (1 - r);
          put(extra, k, dNew * z);
          put(dx, xo + j, dar);
          put(dx, xo + H + j, daz);
          put(dx, xo + 2 * H + j, dan);
          put(dhp, po + j, dar);
          put(dhp, po + H + j, daz);
          put(dhp, po + 2 * H + j, dan * r);
        }
      }
    }
    // dh_prev = dhp_t · W_hh: (B, GH) · (GH, H)
    gemm(false, false, B, H, GH, dhp + (<usize>(t * B * GH) << 2), GH, W, H, dprev, H, false);
    for (let k = 0; k < BH; k++) put(gh, k, f(gh, k) + f(dprev, k) + f(extra, k));
  }
  memory.copy(dh0, gh, <usize>BH << 2);
  if (cell == LSTM) memory.copy(dc0, gc, <usize>BH << 2);
  if (T == 0) {
    if (!accumulate) {
      memory.fill(dW, 0, <usize>(GH * H) << 2);
      memory.fill(db, 0, <usize>GH << 2);
    }
    return;
  }
  // dW_hh = dhpᵀ · H_prev over all steps: (GH, T*B) · (T*B, H)
  memory.copy(hPrevAll, h0, <usize>BH << 2);
  memory.copy(hPrevAll + (<usize>BH << 2), states, <usize>((T - 1) * BH) << 2);
  gemm(true, false, GH, H, T * B, dhp, GH, hPrevAll, H, dW, H, accumulate);
  if (!accumulate) memory.fill(db, 0, <usize>GH << 2);
  for (let r = 0; r < T * B; r++) {
    for (let k = 0; k < GH; k++) put(db, k, f(db, k) + f(dhp, r * GH + k));
  }
}
