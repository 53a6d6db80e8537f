import { allocate, type DataArray, type DType } from "../../dtype.js";
import type { AttentionDecoderBackwardArgs, AttentionDecoderBackwardOut, AttentionDecoderForwardArgs, AttentionDecoderForwardOut, RecurrentCell } from "../kernels.js";
import { cellBackward, cellForward, finalState } from "./cell-step.js";
import { gemmRowsByRows, transposeInto } from "./matmul.js";

// The fused attention decoder in plain TypeScript: the oracle of faster kernels and the fallback.
// Shapes in comments: T target steps, B examples, S source positions, D memory width, A attention
// width, H hidden units, GH = gates * H.

const GATES: Record<RecurrentCell, number> = { rnn_tanh: 1, rnn_relu: 1, lstm: 4, gru: 3 };

function dtypeOf(data: DataArray): DType {
  return data instanceof Float64Array ? "float64" : "float32";
}

/** `out (M, N) = aᵀ · b` for row-major `a (R, M)` and `b (R, N)`. */
function productTN(a: DataArray, b: DataArray, R: number, M: number, N: number, out: DataArray): void {
  const dtype = dtypeOf(a);
  const aT = allocate(dtype, M * R);
  transposeInto(a, 0, R, M, aT);
  const bT = allocate(dtype, N * R);
  transposeInto(b, 0, R, N, bT);
  gemmRowsByRows(aT, 0, bT, 0, out, 0, M, N, R);
}

/** `out (R, E + D)`: rows of `a (R, E)` from `ao` and `b (R, D)` from `bo`, side by side. */
function joinRows(a: DataArray, ao: number, b: DataArray, bo: number, R: number, E: number, D: number, out: DataArray): void {
  for (let r = 0; r < R; r++) {
    for (let e = 0; e < E; e++) out[r * (E + D) + e] = a[ao + r * E + e]!;
    for (let d = 0; d < D; d++) out[r * (E + D) + E + d] = b[bo + r * D + d]!;
  }
}

/** `Wᵀ` of a row-major `(rows, cols)` matrix. */
function transposed(w: DataArray, rows: number, cols: number): DataArray {
  const t = allocate(dtypeOf(w), rows * cols);
  transposeInto(w, 0, rows, cols, t);
  return t;
}

export function attentionDecoderForward(args: AttentionDecoderForwardArgs, out: AttentionDecoderForwardOut): void {
  const { cell, x, weightIH, biasIH, weightHH, biasHH, h0, c0, values, keys, mask, weightQ, v } = args;
  const [T, B, E] = x.shape as [number, number, number];
  const GH = weightHH.shape[0]!;
  const H = GH / GATES[cell];
  const [, S, D] = values.shape as [number, number, number];
  const A = weightQ.shape[0]!;
  const Sg = out.gates.shape[2]!;
  const dtype = dtypeOf(x.data);
  const M = values.data; // (B, S, D)
  const K = keys.data; // (S, B, A)
  const V = v.data; // (A)
  const hs = out.hs.data; // (T, B, H)
  const cells = out.cells?.data ?? null; // (T, B, H)
  const ctx = out.contexts.data; // (T, B, D)
  const alpha = out.weights.data; // (T, B, S)
  const q = allocate(dtype, B * A); // (B, A)
  const input = allocate(dtype, B * (E + D)); // (B, E + D): [x_t; ctx_t]
  const xin = allocate(dtype, B * GH); // (B, GH): [x_t; ctx_t] · W_ihᵀ + b_ih
  const hp = allocate(dtype, B * GH); // (B, GH): h_{t-1} · W_hhᵀ
  const scores = new Float64Array(S);
  let hPrev: DataArray = h0.data;
  let hPrevOff = 0;
  let cPrev: DataArray | null = c0?.data ?? null;
  let cPrevOff = 0;
  for (let t = 0; t < T; t++) {
    // e_{t,s} = vᵀ tanh(W_k m_s + W_q h_{t-1}); α_t = softmax over the real positions; ctx_t = Σ_s α m_s
    gemmRowsByRows(hPrev, hPrevOff, weightQ.data, 0, q, 0, B, A, H);
    for (let b = 0; b < B; b++) {
      let max = -Infinity;
      for (let s = 0; s < S; s++) {
        const ko = (s * B + b) * A;
        let e = 0;
        for (let a = 0; a < A; a++) e += Math.tanh(K[ko + a]! + q[b * A + a]!) * V[a]!;
        scores[s] = mask.data[b * S + s] !== 0 ? e : -Infinity;
        if (scores[s]! > max) max = scores[s]!;
      }
      const ao = (t * B + b) * S;
      let total = 0;
      for (let s = 0; s < S; s++) {
        const w = max === -Infinity ? 0 : Math.exp(scores[s]! - max);
        scores[s] = w;
        total += w;
      }
      for (let s = 0; s < S; s++) alpha[ao + s] = total > 0 ? scores[s]! / total : 0;
      const co = (t * B + b) * D;
      for (let s = 0; s < S; s++) {
        const w = alpha[ao + s]!;
        if (w === 0) continue;
        const mo = (b * S + s) * D;
        for (let d = 0; d < D; d++) ctx[co + d] = ctx[co + d]! + w * M[mo + d]!;
      }
    }
    // The cell reads [x_t; ctx_t].
    joinRows(x.data, t * B * E, ctx, t * B * D, B, E, D, input);
    gemmRowsByRows(input, 0, weightIH.data, 0, xin, 0, B, GH, E + D);
    for (let b = 0; b < B; b++) for (let k = 0; k < GH; k++) xin[b * GH + k] = xin[b * GH + k]! + biasIH.data[k]!;
    gemmRowsByRows(hPrev, hPrevOff, weightHH.data, 0, hp, 0, B, GH, H);
    for (let b = 0; b < B; b++) {
      const so = (t * B + b) * H;
      cellForward(
        cell,
        H,
        { x: xin, xo: b * GH, hp, po: b * GH, bias: biasHH.data, hPrev, ho: hPrevOff + b * H, cPrev, co: cPrevOff + b * H, gates: out.gates.data, go: (t * B + b) * Sg },
        hs,
        so,
        cells,
        so,
      );
    }
    hPrev = hs;
    hPrevOff = t * B * H;
    if (cells) {
      cPrev = cells;
      cPrevOff = t * B * H;
    }
  }
  finalState(T, B * H, hs, cells, h0.data, c0?.data ?? null, out);
}

export function attentionDecoderBackward(args: AttentionDecoderBackwardArgs, out: AttentionDecoderBackwardOut): void {
  const { cell, x, weightIH, weightHH, h0, c0, values, keys, weightQ, v, hs, cells, gates, contexts, weights, dhs, dcontexts, dweights, dhT, dcT } = args;
  const [T, B, H] = hs.shape as [number, number, number];
  const E = x.shape[2]!;
  const GH = weightHH.shape[0]!;
  const [, S, D] = values.shape as [number, number, number];
  const A = weightQ.shape[0]!;
  const Sg = gates.shape[2]!;
  const dtype = dtypeOf(hs.data);
  const M = values.data; // (B, S, D)
  const V = v.data; // (A)
  const hsd = hs.data;
  const cs = cells?.data ?? null;
  const alpha = weights.data; // (T, B, S)
  const K = keys.data; // (S, B, A)
  const q = allocate(dtype, B * A); // (B, A): W_q h_{t-1}, recomputed
  const dA = allocate(dtype, T * B * GH); // (T, B, GH): d of the step's input projection [x_t; ctx_t] W_ihᵀ + b_ih
  const dhp = allocate(dtype, T * B * GH); // (T, B, GH): d of h_{t-1} W_hhᵀ + b_hh
  const dq = allocate(dtype, T * B * A); // (T, B, A): d of W_q h_{t-1}
  const dM = out.dValues.data; // (B, S, D), accumulated
  const dK = out.dKeys.data; // (S, B, A), accumulated
  const dv = out.dv.data; // (A), accumulated
  const WihT = transposed(weightIH.data, GH, E + D); // (E + D, GH)
  const WhhT = transposed(weightHH.data, GH, H); // (H, GH)
  const WqT = transposed(weightQ.data, A, H); // (H, A)
  const gh = Float64Array.from(dhT.data); // (B, H): d of the carried h
  const gc = dcT ? Float64Array.from(dcT.data) : new Float64Array(B * H); // (B, H): d of the carried c
  const extra = new Float64Array(B * H); // GRU's direct z·h path
  const dNew = new Float64Array(H);
  const dInput = allocate(dtype, B * (E + D)); // (B, E + D): dA_t · W_ih = [dx_t; d ctx_t from the cell]
  const dPrevW = allocate(dtype, B * H); // (B, H): dhp_t · W_hh
  const dPrevQ = allocate(dtype, B * H); // (B, H): dq_t · W_q
  const dctx = new Float64Array(D);
  const dAlpha = new Float64Array(S);
  for (let t = T - 1; t >= 0; t--) {
    const prevH: DataArray = t === 0 ? h0.data : hsd;
    const prevHOff = t === 0 ? 0 : (t - 1) * B * H;
    const prevC: DataArray | null = cell === "lstm" ? (t === 0 ? c0!.data : cs) : null;
    const prevCOff = t === 0 ? 0 : (t - 1) * B * H;
    extra.fill(0);
    // The cell: h_t = cell([x_t; ctx_t] W_ihᵀ + b_ih, h_{t-1} W_hhᵀ + b_hh).
    for (let b = 0; b < B; b++) {
      const k = b * H;
      for (let j = 0; j < H; j++) {
        dNew[j] = gh[k + j]! + dhs.data[(t * B + b) * H + j]!;
        gh[k + j] = 0;
      }
      const so = (t * B + b) * H;
      cellBackward(
        cell,
        H,
        { dh: dNew, dho: 0, hNew: hsd, cNew: cs, so, hPrev: prevH, ho: prevHOff + b * H, cPrev: prevC, co: prevCOff + b * H, gates: gates.data, go: (t * B + b) * Sg },
        dA,
        (t * B + b) * GH,
        dhp,
        (t * B + b) * GH,
        gc,
        extra,
        k,
      );
    }
    // ctx_t reaches the loss through the cell's input and directly (the output layer reads it).
    gemmRowsByRows(dA, t * B * GH, WihT, 0, dInput, 0, B, E + D, GH);
    gemmRowsByRows(prevH, prevHOff, weightQ.data, 0, q, 0, B, A, H);
    for (let b = 0; b < B; b++) {
      for (let e = 0; e < E; e++) out.dx.data[(t * B + b) * E + e] = dInput[b * (E + D) + e]!;
      for (let d = 0; d < D; d++) dctx[d] = dcontexts.data[(t * B + b) * D + d]! + dInput[b * (E + D) + E + d]!;
      const ao = (t * B + b) * S;
      // ctx = Σ_s α_s m_s: dα_s = dctx · m_s, dm_s += α_s dctx
      let weighted = 0;
      for (let s = 0; s < S; s++) {
        const mo = (b * S + s) * D;
        const w = alpha[ao + s]!;
        let da = dweights ? dweights.data[ao + s]! : 0;
        for (let d = 0; d < D; d++) {
          da += dctx[d]! * M[mo + d]!;
          dM[mo + d] = dM[mo + d]! + w * dctx[d]!;
        }
        dAlpha[s] = da;
        weighted += w * da;
      }
      // α = softmax(e): de_s = α_s (dα_s - Σ α dα); e_s = vᵀ u_s, u_s = tanh(k_s + q)
      for (let s = 0; s < S; s++) {
        const de = alpha[ao + s]! * (dAlpha[s]! - weighted);
        if (de === 0) continue;
        const ko = (s * B + b) * A;
        const qo = (t * B + b) * A;
        for (let a = 0; a < A; a++) {
          const u = Math.tanh(K[ko + a]! + q[b * A + a]!);
          const dpre = de * V[a]! * (1 - u * u);
          dv[a] = dv[a]! + de * u;
          dK[ko + a] = dK[ko + a]! + dpre;
          dq[qo + a] = dq[qo + a]! + dpre;
        }
      }
    }
    // h_{t-1} feeds the cell through W_hh and the query through W_q.
    gemmRowsByRows(dhp, t * B * GH, WhhT, 0, dPrevW, 0, B, H, GH);
    gemmRowsByRows(dq, t * B * A, WqT, 0, dPrevQ, 0, B, H, A);
    for (let i = 0; i < B * H; i++) gh[i] = gh[i]! + dPrevW[i]! + extra[i]! + dPrevQ[i]!;
  }
  out.dh0.data.set(gh);
  if (out.dc0) out.dc0.data.set(gc);
  if (T === 0) return;
  // The weights, each as one product over all steps: rows are (t, b).
  const rows = T * B;
  const hPrevAll = allocate(dtype, rows * H); // (T*B, H): h_{t-1} of every step
  hPrevAll.set(h0.data, 0);
  hPrevAll.set(hsd.subarray(0, (T - 1) * B * H), B * H);
  productTN(dhp, hPrevAll, rows, GH, H, out.dWeightHH.data); // dW_hh = dhpᵀ · H_prev
  const inputs = allocate(dtype, rows * (E + D)); // (T*B, E + D): [x_t; ctx_t] of every step
  joinRows(x.data, 0, contexts.data, 0, rows, E, D, inputs);
  productTN(dA, inputs, rows, GH, E + D, out.dWeightIH.data); // dW_ih = dAᵀ · [X, C]
  const dbih = out.dBiasIH.data;
  for (let r = 0; r < rows; r++) for (let k = 0; k < GH; k++) dbih[k] = dbih[k]! + dA[r * GH + k]!;
  productTN(dq, hPrevAll, rows, A, H, out.dWeightQ.data); // dW_q = dqᵀ · H_prev
  const db = out.dBiasHH.data;
  for (let r = 0; r < rows; r++) for (let k = 0; k < GH; k++) db[k] = db[k]! + dhp[r * GH + k]!;
}
