import { allocate, type DataArray, type DType } from "../../dtype.js";
import type { KernelTensor } from "../kernels.js";
import type {
  RecurrentBackwardArgs,
  RecurrentBackwardOut,
  RecurrentCell,
  RecurrentForwardArgs,
  RecurrentForwardOut,
} from "../kernels.js";
import { cellBackward, cellForward, finalState } from "./cell-step.js";
import { gemmRowsByRows, transposeInto } from "./matmul.js";

// The fused recurrent scan in plain TypeScript: the oracle of faster kernels and the fallback.
// Buffer shapes are in comments; `t` indexes steps, `b` examples, `j` hidden units.

const GATES: Record<RecurrentCell, number> = { rnn_tanh: 1, rnn_relu: 1, lstm: 4, gru: 3 };

function dtypeOf(data: DataArray): DType {
  return data instanceof Float64Array ? "float64" : "float32";
}

/** The time step that scan step t of example b reads: backwards from its last real step when reversed. */
function timeIndex(reverse: boolean, lengths: KernelTensor | null, T: number, t: number, b: number): number {
  if (!reverse) return t;
  const n = lengths ? lengths.data[b]! : T;
  return t < n ? n - 1 - t : t;
}

/** `x W_ihᵀ + b_ih` for all steps at once: (T*B, I) · (I, GH). */
function inputProjection(args: RecurrentForwardArgs, T: number, B: number, GH: number): DataArray {
  const I = args.x.shape[2]!;
  const xProj = allocate(dtypeOf(args.x.data), T * B * GH);
  gemmRowsByRows(args.x.data, 0, args.weightIH.data, 0, xProj, 0, T * B, GH, I);
  const bias = args.biasIH.data;
  for (let r = 0; r < T * B; r++) for (let k = 0; k < GH; k++) xProj[r * GH + k] = xProj[r * GH + k]! + bias[k]!;
  return xProj;
}

export function recurrentForward(args: RecurrentForwardArgs, out: RecurrentForwardOut): void {
  const { cell, weightHH, biasHH, h0, c0, lengths, reverse } = args;
  const [T, B] = args.x.shape as [number, number];
  const GH = weightHH.shape[0]!;
  const H = GH / GATES[cell];
  const S = out.gates.shape[2]!;
  const x = inputProjection(args, T, B, GH);
  const W = weightHH.data; // (GH, H): rows are what h_prev · Wᵀ dots with
  const bias = biasHH.data;
  const hs = out.hs.data; // (T, B, H)
  // (T, B, H); a forward scan without padding writes its states into hs, where they are the same
  const states = out.states?.data ?? hs;
  const cells = out.cells?.data ?? null; // (T, B, H)
  const gates = out.gates.data; // (T, B, S)
  const hp = allocate(dtypeOf(x), B * GH); // (B, GH): h_prev · W_hhᵀ
  const padH = allocate(dtypeOf(x), H); // (H): a padded step's discarded new state
  const padC = cells ? allocate(dtypeOf(x), H) : null;
  let hPrev: DataArray = h0.data;
  let hPrevOff = 0;
  let cPrev: DataArray | null = c0?.data ?? null;
  let cPrevOff = 0;
  for (let t = 0; t < T; t++) {
    gemmRowsByRows(hPrev, hPrevOff, W, 0, hp, 0, B, GH, H);
    for (let b = 0; b < B; b++) {
      const real = lengths === null || t < lengths.data[b]!;
      const time = timeIndex(reverse, lengths, T, t, b);
      const xo = (time * B + b) * GH; // xProj[time, b, :]
      const po = b * GH; // hp[b, :]
      const so = (t * B + b) * H; // states[t, b, :] (scan order)
      const oo = (time * B + b) * H; // hs[time, b, :] (input time order)
      const go = (t * B + b) * S; // gates[t, b, :]
      const ho = hPrevOff + b * H; // h_prev[b, :]
      const rows = { x, xo, hp, po, bias, hPrev, ho, cPrev, co: cPrevOff + b * H, gates, go };
      if (real) cellForward(cell, H, rows, states, so, cells, so);
      else {
        // Padding: the state is carried on unchanged. The gates are computed all the same (backward
        // never reads them), so that every kernel writes the same gates tensor.
        cellForward(cell, H, rows, padH, 0, padC, 0);
        for (let j = 0; j < H; j++) states[so + j] = hPrev[ho + j]!;
        if (cells) for (let j = 0; j < H; j++) cells[so + j] = cPrev![cPrevOff + b * H + j]!;
      }
      for (let j = 0; j < H; j++) hs[oo + j] = real ? states[so + j]! : 0;
    }
    hPrev = states;
    hPrevOff = t * B * H;
    if (cells) {
      cPrev = cells;
      cPrevOff = t * B * H;
    }
  }
  // Final states: the carried state after the last step (its own last real step for padded examples).
  finalState(T, B * H, states, cells, h0.data, c0?.data ?? null, out);
}

export function recurrentBackward(args: RecurrentBackwardArgs, out: RecurrentBackwardOut): void {
  const { cell, weightHH, h0, c0, lengths, states, cells, gates, dhs, dhT, dcT, reverse } = args;
  const [T, B, H] = states.shape as [number, number, number];
  const GH = GATES[cell] * H;
  const S = gates.shape[2]!;
  const dtype = dtypeOf(states.data);
  const st = states.data; // (T, B, H)
  const cs = cells?.data ?? null; // (T, B, H)
  const gt = gates.data; // (T, B, S)
  const dOut = dhs.data; // (T, B, H)
  const dx = allocate(dtype, T * B * GH); // (T, B, GH): gradient of the input projection, input time order
  const dhp = allocate(dtype, T * B * GH); // (T, B, GH): cotangent of h_prev · W_hhᵀ + b_hh
  const Wt = allocate(dtype, H * GH); // (H, GH) = W_hhᵀ, for dh_prev = dhp · W_hh
  transposeInto(weightHH.data, 0, GH, H, Wt);
  const gh = Float64Array.from(dhT.data); // (B, H) cotangent of the carried h
  const gc = dcT ? Float64Array.from(dcT.data) : new Float64Array(B * H); // (B, H) carried c
  const dPrevFromW = allocate(dtype, B * H); // (B, H)
  const extra = new Float64Array(B * H); // GRU's direct z·h path
  const dNew = new Float64Array(H); // (H) d h_new of one example
  for (let t = T - 1; t >= 0; t--) {
    const prevH: DataArray = t === 0 ? h0.data : st;
    const prevHOff = t === 0 ? 0 : (t - 1) * B * H;
    const prevC: DataArray | null = cell === "lstm" ? (t === 0 ? c0!.data : cs) : null;
    const prevCOff = t === 0 ? 0 : (t - 1) * B * H;
    extra.fill(0);
    for (let b = 0; b < B; b++) {
      const real = lengths === null || t < lengths.data[b]!;
      const time = timeIndex(reverse, lengths, T, t, b);
      const so = (t * B + b) * H; // scan order
      const oo = (time * B + b) * H; // input time order
      const go = (t * B + b) * S;
      const xo = (time * B + b) * GH; // dx in input time order
      const po = (t * B + b) * GH; // dhp in scan order (paired with h_prev of the same scan step)
      if (!real) continue; // the state passes through unchanged: gh/gc carry on as they are
      const k = b * H;
      for (let j = 0; j < H; j++) {
        dNew[j] = gh[k + j]! + dOut[oo + j]!; // d h_new
        gh[k + j] = 0; // taken: the path to h_prev is added below
      }
      cellBackward(
        cell,
        H,
        { dh: dNew, dho: 0, hNew: st, cNew: cs, so, hPrev: prevH, ho: prevHOff + b * H, cPrev: prevC, co: prevCOff + b * H, gates: gt, go },
        dx,
        xo,
        dhp,
        po,
        gc,
        extra,
        k,
      );
    }
    // dh_prev = dhp_t · W_hh, (B, GH) · (GH, H), as rows of dhp_t against rows of W_hhᵀ.
    gemmRowsByRows(dhp, t * B * GH, Wt, 0, dPrevFromW, 0, B, H, GH);
    for (let k = 0; k < B * H; k++) gh[k] = gh[k]! + dPrevFromW[k]! + extra[k]!;
  }
  out.dh0.data.set(gh);
  if (out.dc0) out.dc0.data.set(gc);
  if (T === 0) return;
  // Weight gradients as one product over all steps: dW_hh = dhpᵀ · H_prev, (GH, T*B) · (T*B, H).
  const rows = T * B;
  const hPrevAll = allocate(dtype, rows * H); // (T*B, H): h_prev of every step
  hPrevAll.set(h0.data, 0);
  hPrevAll.set(st.subarray(0, (T - 1) * B * H), B * H);
  const dhpT = allocate(dtype, GH * rows); // (GH, T*B)
  transposeInto(dhp, 0, rows, GH, dhpT);
  const hPrevT = allocate(dtype, H * rows); // (H, T*B)
  transposeInto(hPrevAll, 0, rows, H, hPrevT);
  gemmRowsByRows(dhpT, 0, hPrevT, 0, out.dWeightHH.data, 0, GH, H, rows);
  const db = out.dBiasHH.data;
  for (let r = 0; r < rows; r++) for (let k = 0; k < GH; k++) db[k] = db[k]! + dhp[r * GH + k]!;
  // The input side: dW_ih = dxProjᵀ · x, (GH, T*B) · (T*B, I); db_ih = Σ dxProj; dx = dxProj · W_ih.
  const I = args.x.shape[2]!;
  const xT = allocate(dtype, I * rows); // (I, T*B)
  transposeInto(args.x.data, 0, rows, I, xT);
  const dxT = allocate(dtype, GH * rows); // (GH, T*B)
  transposeInto(dx, 0, rows, GH, dxT);
  gemmRowsByRows(dxT, 0, xT, 0, out.dWeightIH.data, 0, GH, I, rows);
  const dbih = out.dBiasIH.data;
  for (let r = 0; r < rows; r++) for (let k = 0; k < GH; k++) dbih[k] = dbih[k]! + dx[r * GH + k]!;
  if (out.dx) {
    const WihT = allocate(dtype, I * GH); // (I, GH)
    transposeInto(args.weightIH.data, 0, GH, I, WihT);
    gemmRowsByRows(dx, 0, WihT, 0, out.dx.data, 0, rows, I, GH);
  }
}
