// The fused attention decoder in WebAssembly: the twin of src/backend/reference/attention-decoder.ts
// (which documents the equations and layouts and is the oracle in tests). Each step's attention
// runs here (f32x4 lanes over the attention width and the memory width); the cell step is the
// recurrent scan of recurrent.ts over one step, so both kernels share one cell. f32 throughout;
// every pointer is the byte address of a row-major f32 array in this module's memory.
//
// Shapes: T steps, B examples, E input width, S source positions, D memory width, A attention
// width, H hidden units, GH = gates * H.

import { gemm } from "./parallel";
import { recurrentBackward, recurrentForward } from "./recurrent";
import { vtanh } from "./vmath";

const LSTM: i32 = 2;
const GRU: i32 = 3;

@inline function f(p: usize, i: i32): f32 {
  return load<f32>(p + (<usize>i << 2));
}

@inline function put(p: usize, i: i32, v: f32): void {
  store<f32>(p + (<usize>i << 2), v);
}

@inline function at(p: usize, i: i32): usize {
  return p + (<usize>i << 2);
}

@inline function vload(p: usize, i: i32): v128 {
  return v128.load(p + (<usize>i << 2));
}

@inline function vstore(p: usize, i: i32, v: v128): void {
  v128.store(p + (<usize>i << 2), v);
}

@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

function gatesOf(cell: i32): i32 {
  return cell == LSTM ? 4 : cell == GRU ? 3 : 1;
}

/** `e = vᵀ tanh(k + q)` over A values. */
@inline function score(k: usize, q: usize, v: usize, A: i32): f32 {
  let a = 0;
  let acc = f32x4.splat(0);
  for (; a + 4 <= A; a += 4) acc = f32x4.add(acc, f32x4.mul(vtanh(f32x4.add(vload(k, a), vload(q, a))), vload(v, a)));
  let e = hsum(acc);
  for (; a < A; a++) e += Mathf.tanh(f(k, a) + f(q, a)) * f(v, a);
  return e;
}

/** `y += w · x` over n values. */
@inline function axpy(y: usize, w: f32, x: usize, n: i32): void {
  let i = 0;
  const wv = f32x4.splat(w);
  for (; i + 4 <= n; i += 4) vstore(y, i, f32x4.add(vload(y, i), f32x4.mul(wv, vload(x, i))));
  for (; i < n; i++) put(y, i, f(y, i) + w * f(x, i));
}

/** `x · y` over n values. */
@inline function dot(x: usize, y: usize, n: i32): f32 {
  let i = 0;
  let acc = f32x4.splat(0);
  for (; i + 4 <= n; i += 4) acc = f32x4.add(acc, f32x4.mul(vload(x, i), vload(y, i)));
  let s = hsum(acc);
  for (; i < n; i++) s += f(x, i) * f(y, i);
  return s;
}

/** Rows of `a (R, E)` and `b (R, D)` side by side into `out (R, E + D)`. */
function joinRows(a: usize, b: usize, R: i32, E: i32, D: i32, out: usize): void {
  for (let r = 0; r < R; r++) {
    memory.copy(at(out, r * (E + D)), at(a, r * E), <usize>E << 2);
    memory.copy(at(out, r * (E + D) + E), at(b, r * D), <usize>D << 2);
  }
}

/**
 * Forward. In: x (T,B,E), Wih (GH,E+D), bih (GH), Whh (GH,H), bhh (GH), h0, c0 (B,H), values
 * (B,S,D), keys (S,B,A), mask (B,S), Wq (A,H), v (A). Out: hs (T,B,H), contexts (T,B,D), weights
 * (T,B,S), hT, cT (B,H), cells (T,B,H; LSTM), gates (T,B,4H for LSTM/GRU).
 * Scratch: q (B,A), input (B,E+D), xProj (B,GH), hp (B,GH).
 */
export function attentionDecoderForward(
  cell: i32, T: i32, B: i32, E: i32, S: i32, D: i32, A: i32, H: i32,
  x: usize, Wih: usize, bih: usize, Whh: usize, bhh: usize, h0: usize, c0: usize,
  values: usize, keys: usize, mask: usize, Wq: usize, v: usize,
  hs: usize, contexts: usize, weights: usize, hT: usize, cT: usize, cells: usize, gates: usize,
  q: usize, input: usize, xProj: usize, hp: usize,
): void {
  const Sg = cell == LSTM || cell == GRU ? 4 * H : 0;
  let hPrev = h0;
  let cPrev = c0;
  memory.fill(contexts, 0, <usize>(T * B * D) << 2);
  for (let t = 0; t < T; t++) {
    gemm(false, true, B, A, H, hPrev, H, Wq, H, q, A, false); // q = h_{t-1} · W_qᵀ
    for (let b = 0; b < B; b++) {
      const wo = (t * B + b) * S;
      let max: f32 = -Infinity;
      for (let s = 0; s < S; s++) {
        const e = score(at(keys, (s * B + b) * A), at(q, b * A), v, A);
        const sc: f32 = f(mask, b * S + s) != 0 ? e : -Infinity;
        put(weights, wo + s, sc);
        if (sc > max) max = sc;
      }
      let total: f32 = 0;
      for (let s = 0; s < S; s++) {
        const w: f32 = max == -Infinity ? 0 : Mathf.exp(f(weights, wo + s) - max);
        put(weights, wo + s, w);
        total += w;
      }
      const co = (t * B + b) * D;
      for (let s = 0; s < S; s++) {
        const w: f32 = total > 0 ? f(weights, wo + s) / total : 0;
        put(weights, wo + s, w);
        if (w != 0) axpy(at(contexts, co), w, at(values, (b * S + s) * D), D);
      }
    }
    // The cell on [x_t; ctx_t]: one step of the recurrent scan, writing hs[t], gates[t], cells[t].
    joinRows(at(x, t * B * E), at(contexts, t * B * D), B, E, D, input);
    const ht = at(hs, t * B * H);
    const ct = cell == LSTM ? at(cells, t * B * H) : 0;
    recurrentForward(cell, 1, B, E + D, H, false, input, Wih, bih, Whh, bhh, hPrev, cPrev, 0, ht, ht, ct, at(gates, t * B * Sg), hT, cT, xProj, hp);
    hPrev = ht;
    cPrev = ct;
  }
  if (T == 0) {
    memory.copy(hT, h0, <usize>(B * H) << 2);
    if (cell == LSTM) memory.copy(cT, c0, <usize>(B * H) << 2);
  }
}

/**
 * Backward. In: x, Wih, Whh, h0, c0, values, keys, Wq, v (as forward), hs, cells, gates, contexts,
 * weights (as forward wrote them; u = tanh(k + q) is recomputed), dhs (T,B,H), dcontexts (T,B,D), dweights (T,B,S, or 0),
 * dhT, dcT (B,H). Out (zero-filled by the host): dx (T,B,E), dWih (GH,E+D), dbih (GH), dWhh (GH,H),
 * dbhh (GH), dh0, dc0 (B,H), dValues (B,S,D), dKeys (S,B,A), dWq (A,H), dv (A). Scratch: gh, gc,
 * gh2, gc2 (the carried cotangents, two of each), and sGh, sGc, sPrev, sExtra, sPrevAll for the
 * recurrent scan's backward (B,H each); dA, dhp (B,GH); input, dInput (B,E+D); dq (B,A); dctx (D);
 * dalpha (S); q (B,A).
 */
export function attentionDecoderBackward(
  cell: i32, T: i32, B: i32, E: i32, S: i32, D: i32, A: i32, H: i32,
  x: usize, Wih: usize, Whh: usize, h0: usize, c0: usize, values: usize, keys: usize, Wq: usize, v: usize,
  hs: usize, cells: usize, gates: usize, contexts: usize, weights: usize,
  dhs: usize, dcontexts: usize, dweights: usize, dhT: usize, dcT: usize,
  dx: usize, dWih: usize, dbih: usize, dWhh: usize, dbhh: usize, dh0: usize, dc0: usize, dValues: usize, dKeys: usize, dWq: usize, dv: usize,
  gh: usize, gc: usize, gh2: usize, gc2: usize, sGh: usize, sGc: usize, sPrev: usize, sExtra: usize, sPrevAll: usize,
  dA: usize, dhp: usize, input: usize, dInput: usize, dq: usize, dctx: usize, dalpha: usize, q: usize,
): void {
  const GH = gatesOf(cell) * H;
  const Sg = cell == LSTM || cell == GRU ? 4 * H : 0;
  const BH = B * H;
  const ED = E + D;
  memory.copy(gh, dhT, <usize>BH << 2);
  if (cell == LSTM && dcT != 0) memory.copy(gc, dcT, <usize>BH << 2);
  else memory.fill(gc, 0, <usize>BH << 2);
  let carryH = gh;
  let carryC = gc;
  let nextH = gh2;
  let nextC = gc2;
  for (let t = T - 1; t >= 0; t--) {
    const prevH = t == 0 ? h0 : at(hs, (t - 1) * BH);
    const prevC: usize = cell != LSTM ? 0 : t == 0 ? c0 : at(cells, (t - 1) * BH);
    // The cell: dA (the cotangent of [x_t; ctx_t] W_ihᵀ + b_ih), dW_hh and db_hh added to, and the
    // carried state's cotangent through the cell into nextH (nextC).
    recurrentBackward(
      cell, 1, B, H, false, Whh, prevH, prevC, 0, at(hs, t * BH), cell == LSTM ? at(cells, t * BH) : 0, at(gates, t * B * Sg),
      at(dhs, t * BH), carryH, carryC, dA, dWhh, dbhh, nextH, nextC, dhp, sGh, sGc, sPrev, sExtra, sPrevAll, true,
    );
    // The input side: [dx_t; d ctx_t] = dA · W_ih; dW_ih += dAᵀ · [x_t; ctx_t]; db_ih += Σ dA.
    gemm(false, false, B, ED, GH, dA, GH, Wih, ED, dInput, ED, false);
    joinRows(at(x, t * B * E), at(contexts, t * B * D), B, E, D, input);
    gemm(true, false, GH, ED, B, dA, GH, input, ED, dWih, ED, true);
    for (let b = 0; b < B; b++) axpy(dbih, 1, at(dA, b * GH), GH);
    memory.fill(dq, 0, <usize>(B * A) << 2);
    gemm(false, true, B, A, H, prevH, H, Wq, H, q, A, false); // q = h_{t-1} · W_qᵀ, as forward had it
    for (let b = 0; b < B; b++) {
      memory.copy(at(dx, (t * B + b) * E), at(dInput, b * ED), <usize>E << 2);
      // ctx_t reaches the loss through the cell's input and directly (the output layer reads it).
      memory.copy(dctx, at(dcontexts, (t * B + b) * D), <usize>D << 2);
      axpy(dctx, 1, at(dInput, b * ED + E), D);
      const wo = (t * B + b) * S;
      // ctx = Σ_s α_s m_s: dα_s = dctx · m_s, dm_s += α_s dctx; then the softmax's backward.
      let weighted: f32 = 0;
      for (let s = 0; s < S; s++) {
        const m = at(values, (b * S + s) * D);
        const w = f(weights, wo + s);
        const da = (dweights != 0 ? f(dweights, wo + s) : 0) + dot(dctx, m, D);
        axpy(at(dValues, (b * S + s) * D), w, dctx, D);
        put(dalpha, s, da);
        weighted += w * da;
      }
      for (let s = 0; s < S; s++) {
        const de = f(weights, wo + s) * (f(dalpha, s) - weighted);
        if (de == 0) continue;
        const ks = at(keys, (s * B + b) * A);
        const qb = at(q, b * A);
        const k = at(dKeys, (s * B + b) * A);
        const qq = at(dq, b * A);
        let a = 0;
        const dev = f32x4.splat(de);
        const one = f32x4.splat(1);
        for (; a + 4 <= A; a += 4) {
          const uv = vtanh(f32x4.add(vload(ks, a), vload(qb, a)));
          const dpre = f32x4.mul(f32x4.mul(dev, vload(v, a)), f32x4.sub(one, f32x4.mul(uv, uv)));
          vstore(dv, a, f32x4.add(vload(dv, a), f32x4.mul(dev, uv)));
          vstore(k, a, f32x4.add(vload(k, a), dpre));
          vstore(qq, a, f32x4.add(vload(qq, a), dpre));
        }
        for (; a < A; a++) {
          const uu = Mathf.tanh(f(ks, a) + f(qb, a));
          const dpre = de * f(v, a) * (1 - uu * uu);
          put(dv, a, f(dv, a) + de * uu);
          put(k, a, f(k, a) + dpre);
          put(qq, a, f(qq, a) + dpre);
        }
      }
    }
    // h_{t-1} also made the query: nextH += dq · W_q; dW_q += dqᵀ · h_{t-1}.
    gemm(false, false, B, H, A, dq, A, Wq, H, nextH, H, true);
    gemm(true, false, A, H, B, dq, A, prevH, H, dWq, H, true);
    const th = carryH;
    carryH = nextH;
    nextH = th;
    const tc = carryC;
    carryC = nextC;
    nextC = tc;
  }
  memory.copy(dh0, carryH, <usize>BH << 2);
  if (cell == LSTM) memory.copy(dc0, carryC, <usize>BH << 2);
}
