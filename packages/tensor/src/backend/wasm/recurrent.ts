// Host side of the fused recurrent scan in WebAssembly (assembly/recurrent.ts): lays the operands
// out in the module's memory, runs the scan, copies the results back. Float32 only; float64 (and
// anything beyond wasm32's 4 GiB) stays on the reference kernels, which are the oracle.

import type {
  KernelTensor,
  RecurrentBackwardArgs,
  RecurrentBackwardOut,
  RecurrentCell,
  RecurrentForwardArgs,
  RecurrentForwardOut,
} from "../kernels.js";
import { referenceKernels } from "../reference/index.js";
import type { KernelsExports } from "./module.js";
import { copyIn, copyOut, f32, Layout } from "./layout.js";
import type { Residency } from "./resident.js";

const CELL_CODE: Record<RecurrentCell, number> = { rnn_tanh: 0, rnn_relu: 1, lstm: 2, gru: 3 };

/**
 * Bytes of operands one scan call lays out in the module, about: longer sequences run as several
 * calls over consecutive chunks of scan steps with the state carried between them. The module's memory
 * never shrinks, so a whole sequence's layout would stay allocated after the call (in a W1
 * training step, 23 MiB instead of 4), and wasm32 caps it at 4 GiB.
 */
let chunkBytes = 4 * 2 ** 20;

/** Sets the bytes per scan call (tests make chunks of a step or two); returns the previous value. */
export function setScanChunkBytes(bytes: number): number {
  const previous = chunkBytes;
  chunkBytes = bytes;
  return previous;
}

/**
 * Steps per call. Padded reversed scans stay in one call: each example's time index runs back from
 * its own length, so a chunk of scan steps is no contiguous range of input times.
 */
function chunkSteps(T: number, reverse: boolean, padded: boolean, bytesPerStep: number): number {
  if ((reverse && padded) || T === 0) return Math.max(T, 1);
  return Math.max(1, Math.min(T, Math.floor(chunkBytes / bytesPerStep)));
}

/**
 * First input time of the chunk of scan steps [t0, t0 + n): the same for a forward scan; for a
 * reversed one (unpadded), scan step t reads time T - 1 - t, so the chunk reads [T - t0 - n, T - t0).
 */
function inputStart(reverse: boolean, T: number, t0: number, n: number): number {
  return reverse ? T - t0 - n : t0;
}

/** Lengths seen from step `t0` on: an example of length L has max(0, L - t0) real steps left. */
function lengthsFrom(lengths: KernelTensor | null, t0: number): Int32Array | null {
  if (!lengths) return null;
  return t0 === 0 ? (lengths.data as Int32Array) : Int32Array.from(lengths.data, (L) => Math.max(0, L - t0));
}

export function wasmRecurrentForward(wasm: KernelsExports, residency: Residency, args: RecurrentForwardArgs, out: RecurrentForwardOut): void {
  const { cell, x, weightIH, biasIH, weightHH, biasHH, h0, c0, lengths, reverse } = args;
  if (![x, weightIH, biasIH, weightHH, biasHH, h0, c0, out.hs].every(f32)) {
    referenceKernels.recurrentForward(args, out);
    return;
  }
  const [T, B, I] = x.shape as [number, number, number];
  const GH = weightHH.shape[0]!;
  const H = h0.shape[1]!;
  const S = T * B > 0 ? out.gates.data.length / (T * B) : 0;
  const Tc = chunkSteps(T, reverse, lengths !== null, 4 * B * (I + GH + 3 * H + S));
  const L = new Layout();
  L.add("x", Tc * B * I);
  L.add("Wih", GH * I, residency.addressOf(weightIH.data));
  L.add("bih", GH, residency.addressOf(biasIH.data));
  L.add("xProj", Tc * B * GH);
  L.add("W", GH * H, residency.addressOf(weightHH.data));
  L.add("bias", GH, residency.addressOf(biasHH.data));
  L.add("h0", B * H);
  L.add("c0", B * H);
  L.add("lengths", B);
  L.add("hs", Tc * B * H);
  L.add("states", Tc * B * H);
  L.add("cells", Tc * B * H);
  L.add("gates", Tc * B * S);
  L.add("hT", B * H);
  L.add("cT", B * H);
  L.add("hp", B * GH);
  const base = residency.callRegion(L.size);
  if (base === 0) {
    referenceKernels.recurrentForward(args, out);
    return;
  }
  const a = (name: string): number => L.pinned[name] ?? base + L.at[name]!;
  // The weights once: the chunks' calls share the layout and never write them.
  for (const [name, t] of [["Wih", weightIH], ["bih", biasIH], ["W", weightHH], ["bias", biasHH]] as const) {
    if (L.pinned[name] === undefined) copyIn(wasm, a(name), t.data as Float32Array);
  }
  let hStart = h0.data as Float32Array;
  let cStart = c0 ? (c0.data as Float32Array) : null;
  for (let t0 = 0; t0 < Math.max(T, 1); t0 += Tc) {
    const n = Math.min(Tc, T - t0); // steps in this call (0 for an empty sequence)
    const u0 = inputStart(reverse, T, t0, n);
    copyIn(wasm, a("x"), (x.data as Float32Array).subarray(u0 * B * I, (u0 + n) * B * I));
    copyIn(wasm, a("h0"), hStart);
    if (cStart) copyIn(wasm, a("c0"), cStart);
    const ls = lengthsFrom(lengths, t0);
    if (ls) copyIn(wasm, a("lengths"), ls);
    wasm.recurrentForward(
      CELL_CODE[cell], n, B, I, H, reverse,
      a("x"), a("Wih"), a("bih"), a("W"), a("bias"), a("h0"), a("c0"), ls ? a("lengths") : 0,
      a("hs"), a("states"), a("cells"), a("gates"), a("hT"), a("cT"), a("xProj"), a("hp"),
    );
    copyOut(wasm, a("hs"), out.hs.data, u0 * B * H, n * B * H);
    if (out.states) copyOut(wasm, a("states"), out.states.data, t0 * B * H, n * B * H);
    copyOut(wasm, a("gates"), out.gates.data, t0 * B * S, n * B * S);
    if (out.cells) copyOut(wasm, a("cells"), out.cells.data, t0 * B * H, n * B * H);
    copyOut(wasm, a("hT"), out.hT.data);
    if (out.cT) copyOut(wasm, a("cT"), out.cT.data);
    hStart = out.hT.data as Float32Array;
    cStart = out.cT ? (out.cT.data as Float32Array) : null;
  }
}

export function wasmRecurrentBackward(wasm: KernelsExports, residency: Residency, args: RecurrentBackwardArgs, out: RecurrentBackwardOut): void {
  const { cell, x, weightIH, weightHH, h0, c0, lengths, states, cells, gates, dhs, dhT, dcT, reverse } = args;
  if (![x, weightIH, weightHH, h0, c0, states, cells, gates, dhs, dhT, dcT].every(f32)) {
    referenceKernels.recurrentBackward(args, out);
    return;
  }
  const [T, B, H] = states.shape as [number, number, number];
  const I = x.shape[2]!;
  const GH = weightHH.shape[0]!;
  const S = T * B > 0 ? gates.data.length / (T * B) : 0;
  // Two scratch buffers the scan can do without: when the scan runs forwards and the cell is not a
  // GRU, the cotangent of the recurrent product (dhp, scan order) equals dx (input time order)
  // value for value, so both names point at one buffer; and h0 laid out right before the states
  // is already the matrix of previous hidden states (hPrevAll) that dW_hh needs.
  const dhpIsDx = !reverse && cell !== "gru";
  const hPrevInPlace = (B * H * 4) % 64 === 0;
  const wantDx = out.dx !== null;
  const perStep = 3 * H + S + GH * (dhpIsDx ? 1 : 2) + (hPrevInPlace ? 0 : H) + I * (wantDx ? 2 : 1);
  const Tc = chunkSteps(T, reverse, lengths !== null, 4 * B * perStep);
  const L = new Layout();
  L.add("W", GH * H, residency.addressOf(weightHH.data));
  L.add("Wih", GH * I, residency.addressOf(weightIH.data));
  L.add("c0", B * H);
  L.add("lengths", B);
  L.add("h0", B * H);
  L.add("states", Tc * B * H);
  L.add("cells", Tc * B * H);
  L.add("gates", Tc * B * S);
  L.add("dhs", Tc * B * H);
  L.add("dhT", B * H);
  L.add("dcT", B * H);
  L.add("dx", Tc * B * GH);
  L.add("dW", GH * H);
  L.add("db", GH);
  L.add("dh0", B * H);
  L.add("dc0", B * H);
  if (!dhpIsDx) L.add("dhp", Tc * B * GH);
  L.add("gh", B * H);
  L.add("gc", B * H);
  L.add("dprev", B * H);
  L.add("extra", B * H);
  if (!hPrevInPlace) L.add("hPrevAll", Tc * B * H);
  L.add("x", Tc * B * I);
  L.add("dWih", GH * I);
  L.add("dbih", GH);
  if (wantDx) L.add("dxIn", Tc * B * I);
  const base = residency.callRegion(L.size);
  if (base === 0) {
    referenceKernels.recurrentBackward(args, out);
    return;
  }
  const a = (name: string): number => L.pinned[name] ?? base + L.at[name]!;
  const BH = B * H;
  const sData = states.data as Float32Array;
  const cData = cells ? (cells.data as Float32Array) : null;
  let dhCarry = dhT.data as Float32Array;
  let dcCarry = dcT ? (dcT.data as Float32Array) : null;
  // Chunks from the last to the first: the gradient flows backwards through time.
  const starts: number[] = [];
  for (let t0 = 0; t0 < Math.max(T, 1); t0 += Tc) starts.push(t0);
  // The weights once for all chunks.
  if (L.pinned.W === undefined) copyIn(wasm, a("W"), weightHH.data as Float32Array);
  if (L.pinned.Wih === undefined) copyIn(wasm, a("Wih"), weightIH.data as Float32Array);
  starts.reverse().forEach((t0, k) => {
    const n = Math.min(Tc, T - t0);
    copyIn(wasm, a("h0"), t0 === 0 ? (h0.data as Float32Array) : sData.subarray((t0 - 1) * BH, t0 * BH));
    if (c0) copyIn(wasm, a("c0"), t0 === 0 ? (c0.data as Float32Array) : cData!.subarray((t0 - 1) * BH, t0 * BH));
    const ls = lengthsFrom(lengths, t0);
    if (ls) copyIn(wasm, a("lengths"), ls);
    copyIn(wasm, a("states"), sData.subarray(t0 * BH, (t0 + n) * BH));
    if (cData) copyIn(wasm, a("cells"), cData.subarray(t0 * BH, (t0 + n) * BH));
    copyIn(wasm, a("gates"), (gates.data as Float32Array).subarray(t0 * B * S, (t0 + n) * B * S));
    const u0 = inputStart(reverse, T, t0, n);
    copyIn(wasm, a("dhs"), (dhs.data as Float32Array).subarray(u0 * BH, (u0 + n) * BH));
    copyIn(wasm, a("dhT"), dhCarry);
    if (dcCarry) copyIn(wasm, a("dcT"), dcCarry);
    const accumulate = k > 0; // the weight gradients sum over all steps: later chunks add their share in place
    wasm.recurrentBackward(
      CELL_CODE[cell], n, B, H, reverse,
      a("W"), a("h0"), a("c0"), ls ? a("lengths") : 0, a("states"), a("cells"), a("gates"),
      a("dhs"), a("dhT"), dcCarry ? a("dcT") : 0,
      a("dx"), a("dW"), a("db"), a("dh0"), a("dc0"),
      a(dhpIsDx ? "dx" : "dhp"), a("gh"), a("gc"), a("dprev"), a("extra"), a(hPrevInPlace ? "h0" : "hPrevAll"),
      accumulate,
    );
    // The input side of this chunk's input times [u0, u0 + n), from the chunk's dxProj in place:
    // dW_ih += dxProjᵀ · x, db_ih += Σ dxProj, dx = dxProj · W_ih.
    const rows = n * B;
    copyIn(wasm, a("x"), (x.data as Float32Array).subarray(u0 * B * I, (u0 + n) * B * I));
    wasm.gemm(true, false, GH, I, rows, a("dx"), GH, a("x"), I, a("dWih"), I, accumulate);
    wasm.reduceColumnsF32(0, rows, GH, a("dx"), a("dbih"), accumulate);
    if (wantDx) {
      wasm.gemm(false, false, rows, I, GH, a("dx"), GH, a("Wih"), I, a("dxIn"), I, false);
      copyOut(wasm, a("dxIn"), out.dx!.data, u0 * B * I, rows * I);
    }
    copyOut(wasm, a("dh0"), out.dh0.data);
    dhCarry = out.dh0.data as Float32Array;
    if (out.dc0) {
      copyOut(wasm, a("dc0"), out.dc0.data);
      dcCarry = out.dc0.data as Float32Array;
    }
  });
  copyOut(wasm, a("dW"), out.dWeightHH.data);
  copyOut(wasm, a("db"), out.dBiasHH.data);
  copyOut(wasm, a("dWih"), out.dWeightIH.data);
  copyOut(wasm, a("dbih"), out.dBiasIH.data);
}
