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
import type { Residency } from "./resident.js";

const CELL_CODE: Record<RecurrentCell, number> = { rnn_tanh: 0, rnn_relu: 1, lstm: 2, gru: 3 };

/** Assigns 64-byte-aligned byte addresses to named buffers of given element counts (4 bytes each). */
class Layout {
  private bytes = 0;
  readonly at: Record<string, number> = {};
  /** Buffers already in the module's memory (pinned weights), by absolute address. */
  readonly pinned: Record<string, number> = {};
  add(name: string, elements: number, pinnedAt: number | null = null): void {
    if (pinnedAt !== null) {
      this.pinned[name] = pinnedAt;
      return;
    }
    this.at[name] = this.bytes;
    this.bytes += Math.ceil((elements * 4) / 64) * 64;
  }
  get size(): number {
    return this.bytes;
  }
}

function f32(t: KernelTensor | null): t is KernelTensor & { data: Float32Array } {
  return t === null || t.data instanceof Float32Array;
}

function copyIn(wasm: KernelsExports, at: number, t: KernelTensor): void {
  if (t.data instanceof Int32Array) new Int32Array(wasm.memory.buffer, at, t.data.length).set(t.data);
  else new Float32Array(wasm.memory.buffer, at, t.data.length).set(t.data);
}

function copyOut(wasm: KernelsExports, at: number, t: KernelTensor): void {
  t.data.set(new Float32Array(wasm.memory.buffer, at, t.data.length));
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
  const L = new Layout();
  L.add("x", T * B * I);
  L.add("Wih", GH * I, residency.addressOf(weightIH.data));
  L.add("bih", GH, residency.addressOf(biasIH.data));
  L.add("xProj", T * B * GH);
  L.add("W", GH * H, residency.addressOf(weightHH.data));
  L.add("bias", GH, residency.addressOf(biasHH.data));
  L.add("h0", B * H);
  L.add("c0", B * H);
  L.add("lengths", B);
  L.add("hs", T * B * H);
  L.add("states", T * B * H);
  L.add("cells", T * B * H);
  L.add("gates", out.gates.data.length);
  L.add("hT", B * H);
  L.add("cT", B * H);
  L.add("hp", B * GH);
  const base = residency.callRegion(L.size);
  if (base === 0) {
    referenceKernels.recurrentForward(args, out);
    return;
  }
  const a = (name: string): number => L.pinned[name] ?? base + L.at[name]!;
  copyIn(wasm, a("x"), x);
  for (const [name, t] of [["Wih", weightIH], ["bih", biasIH], ["W", weightHH], ["bias", biasHH]] as const) {
    if (L.pinned[name] === undefined) copyIn(wasm, a(name), t);
  }
  copyIn(wasm, a("h0"), h0);
  if (c0) copyIn(wasm, a("c0"), c0);
  if (lengths) copyIn(wasm, a("lengths"), lengths);
  wasm.recurrentForward(
    CELL_CODE[cell], T, B, I, H, reverse,
    a("x"), a("Wih"), a("bih"), a("W"), a("bias"), a("h0"), a("c0"), lengths ? a("lengths") : 0,
    a("hs"), a("states"), a("cells"), a("gates"), a("hT"), a("cT"), a("xProj"), a("hp"),
  );
  copyOut(wasm, a("hs"), out.hs);
  copyOut(wasm, a("states"), out.states);
  copyOut(wasm, a("gates"), out.gates);
  copyOut(wasm, a("hT"), out.hT);
  if (out.cells) copyOut(wasm, a("cells"), out.cells);
  if (out.cT) copyOut(wasm, a("cT"), out.cT);
}

export function wasmRecurrentBackward(wasm: KernelsExports, residency: Residency, args: RecurrentBackwardArgs, out: RecurrentBackwardOut): void {
  const { cell, weightHH, h0, c0, lengths, states, cells, gates, dhs, dhT, dcT, reverse } = args;
  if (![weightHH, h0, c0, states, cells, gates, dhs, dhT, dcT].every(f32)) {
    referenceKernels.recurrentBackward(args, out);
    return;
  }
  const [T, B, H] = states.shape as [number, number, number];
  const GH = weightHH.shape[0]!;
  // Two scratch buffers the scan can do without, which keeps the module's memory (it never
  // shrinks) 10 MiB smaller in a W1 training step: when the scan runs forwards and the cell is not a
  // GRU, the cotangent of the recurrent product (dhp, scan order) equals dx (input time order)
  // value for value, so both names point at one buffer; and h0 laid out right before the states
  // is already the matrix of previous hidden states (hPrevAll) that dW_hh needs.
  const dhpIsDx = !reverse && cell !== "gru";
  const hPrevInPlace = (B * H * 4) % 64 === 0;
  const L = new Layout();
  L.add("W", GH * H, residency.addressOf(weightHH.data));
  L.add("c0", B * H);
  L.add("lengths", B);
  L.add("h0", B * H);
  L.add("states", T * B * H);
  L.add("cells", T * B * H);
  L.add("gates", gates.data.length);
  L.add("dhs", T * B * H);
  L.add("dhT", B * H);
  L.add("dcT", B * H);
  L.add("dx", T * B * GH);
  L.add("dW", GH * H);
  L.add("db", GH);
  L.add("dh0", B * H);
  L.add("dc0", B * H);
  if (!dhpIsDx) L.add("dhp", T * B * GH);
  L.add("gh", B * H);
  L.add("gc", B * H);
  L.add("dprev", B * H);
  L.add("extra", B * H);
  if (!hPrevInPlace) L.add("hPrevAll", T * B * H);
  const base = residency.callRegion(L.size);
  if (base === 0) {
    referenceKernels.recurrentBackward(args, out);
    return;
  }
  const a = (name: string): number => L.pinned[name] ?? base + L.at[name]!;
  if (L.pinned.W === undefined) copyIn(wasm, a("W"), weightHH);
  copyIn(wasm, a("h0"), h0);
  if (c0) copyIn(wasm, a("c0"), c0);
  if (lengths) copyIn(wasm, a("lengths"), lengths);
  copyIn(wasm, a("states"), states);
  if (cells) copyIn(wasm, a("cells"), cells);
  copyIn(wasm, a("gates"), gates);
  copyIn(wasm, a("dhs"), dhs);
  copyIn(wasm, a("dhT"), dhT);
  if (dcT) copyIn(wasm, a("dcT"), dcT);
  wasm.recurrentBackward(
    CELL_CODE[cell], T, B, H, reverse,
    a("W"), a("h0"), a("c0"), lengths ? a("lengths") : 0, a("states"), a("cells"), a("gates"),
    a("dhs"), a("dhT"), dcT ? a("dcT") : 0,
    a("dx"), a("dW"), a("db"), a("dh0"), a("dc0"),
    a(dhpIsDx ? "dx" : "dhp"), a("gh"), a("gc"), a("dprev"), a("extra"), a(hPrevInPlace ? "h0" : "hPrevAll"),
  );
  copyOut(wasm, a("dx"), out.dxProj);
  copyOut(wasm, a("dW"), out.dWeightHH);
  copyOut(wasm, a("db"), out.dBiasHH);
  copyOut(wasm, a("dh0"), out.dh0);
  if (out.dc0) copyOut(wasm, a("dc0"), out.dc0);
}
