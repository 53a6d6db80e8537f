// Host side of the fused attention decoder in WebAssembly (assembly/attention.ts): lays the
// operands out in the module's memory, runs the whole sequence in one call, copies the results
// back. Float32 only; float64 stays on the reference kernel, which is the oracle.

import type { AttentionDecoderBackwardArgs, AttentionDecoderBackwardOut, AttentionDecoderForwardArgs, AttentionDecoderForwardOut, RecurrentCell } from "../kernels.js";
import { referenceKernels } from "../reference/index.js";
import { copyIn, copyOut, f32, Layout } from "./layout.js";
import type { KernelsExports } from "./module.js";
import type { Residency } from "./resident.js";

const CELL_CODE: Record<RecurrentCell, number> = { rnn_tanh: 0, rnn_relu: 1, lstm: 2, gru: 3 };
const GATES: Record<RecurrentCell, number> = { rnn_tanh: 1, rnn_relu: 1, lstm: 4, gru: 3 };

export function wasmAttentionDecoderForward(wasm: KernelsExports, residency: Residency, args: AttentionDecoderForwardArgs, out: AttentionDecoderForwardOut): void {
  const { cell, x, weightIH, biasIH, weightHH, biasHH, h0, c0, values, keys, mask, weightQ, v } = args;
  if (![x, weightIH, biasIH, weightHH, biasHH, h0, c0, values, keys, mask, weightQ, v].every(f32)) {
    referenceKernels.attentionDecoderForward(args, out);
    return;
  }
  const [T, B, E] = x.shape as [number, number, number];
  const GH = weightHH.shape[0]!;
  const H = GH / GATES[cell];
  const [, S, D] = values.shape as [number, number, number];
  const A = weightQ.shape[0]!;
  const Sg = out.gates.shape[2]!;
  const L = new Layout();
  L.add("x", T * B * E);
  L.add("Wih", GH * (E + D), residency.addressOf(weightIH.data));
  L.add("bih", GH, residency.addressOf(biasIH.data));
  L.add("Whh", GH * H, residency.addressOf(weightHH.data));
  L.add("bhh", GH, residency.addressOf(biasHH.data));
  L.add("h0", B * H);
  L.add("c0", B * H);
  L.add("values", B * S * D);
  L.add("keys", S * B * A);
  L.add("mask", B * S);
  L.add("Wq", A * H, residency.addressOf(weightQ.data));
  L.add("v", A, residency.addressOf(v.data));
  L.add("hs", T * B * H);
  L.add("contexts", T * B * D);
  L.add("weights", T * B * S);
  L.add("hT", B * H);
  L.add("cT", B * H);
  L.add("cells", T * B * H);
  L.add("gates", T * B * Sg);
  L.add("q", B * A);
  L.add("input", B * (E + D));
  L.add("xProj", B * GH);
  L.add("hp", B * GH);
  const base = residency.callRegion(L.size);
  if (base === 0) {
    referenceKernels.attentionDecoderForward(args, out);
    return;
  }
  const a = (name: string): number => L.pinned[name] ?? base + L.at[name]!;
  const inputs = { x, Wih: weightIH, bih: biasIH, Whh: weightHH, bhh: biasHH, h0, values, keys, mask, Wq: weightQ, v, ...(c0 ? { c0 } : {}) };
  for (const [name, t] of Object.entries(inputs)) if (L.pinned[name] === undefined) copyIn(wasm, a(name), t.data as Float32Array);
  wasm.attentionDecoderForward(
    CELL_CODE[cell], T, B, E, S, D, A, H,
    a("x"), a("Wih"), a("bih"), a("Whh"), a("bhh"), a("h0"), a("c0"), a("values"), a("keys"), a("mask"), a("Wq"), a("v"),
    a("hs"), a("contexts"), a("weights"), a("hT"), a("cT"), a("cells"), a("gates"),
    a("q"), a("input"), a("xProj"), a("hp"),
  );
  copyOut(wasm, a("hs"), out.hs.data);
  copyOut(wasm, a("contexts"), out.contexts.data);
  copyOut(wasm, a("weights"), out.weights.data);
  copyOut(wasm, a("hT"), out.hT.data);
  if (out.cT) copyOut(wasm, a("cT"), out.cT.data);
  if (out.cells) copyOut(wasm, a("cells"), out.cells.data);
  copyOut(wasm, a("gates"), out.gates.data);
}

export function wasmAttentionDecoderBackward(wasm: KernelsExports, residency: Residency, args: AttentionDecoderBackwardArgs, out: AttentionDecoderBackwardOut): void {
  const { cell, x, weightIH, weightHH, h0, c0, values, keys, weightQ, v, hs, cells, gates, contexts, weights, dhs, dcontexts, dweights, dhT, dcT } = args;
  if (![x, weightIH, weightHH, h0, c0, values, keys, weightQ, v, hs, cells, gates, contexts, weights, dhs, dcontexts, dweights, dhT, dcT].every(f32)) {
    referenceKernels.attentionDecoderBackward(args, out);
    return;
  }
  const [T, B, H] = hs.shape as [number, number, number];
  const E = x.shape[2]!;
  const GH = weightHH.shape[0]!;
  const [, S, D] = values.shape as [number, number, number];
  const A = weightQ.shape[0]!;
  const Sg = gates.shape[2]!;
  const BH = B * H;
  const L = new Layout();
  L.add("x", T * B * E);
  L.add("Wih", GH * (E + D), residency.addressOf(weightIH.data));
  L.add("Whh", GH * H, residency.addressOf(weightHH.data));
  L.add("h0", BH);
  L.add("c0", BH);
  L.add("values", B * S * D);
  L.add("keys", S * B * A);
  L.add("Wq", A * H, residency.addressOf(weightQ.data));
  L.add("v", A, residency.addressOf(v.data));
  L.add("hs", T * BH);
  L.add("cells", T * BH);
  L.add("gates", T * B * Sg);
  L.add("contexts", T * B * D);
  L.add("weights", T * B * S);
  L.add("dhs", T * BH);
  L.add("dcontexts", T * B * D);
  L.add("dweights", T * B * S);
  L.add("dhT", BH);
  L.add("dcT", BH);
  const sizes = [
    ["dx", T * B * E], ["dWih", GH * (E + D)], ["dbih", GH], ["dWhh", GH * H], ["dbhh", GH], ["dh0", BH], ["dc0", BH],
    ["dValues", B * S * D], ["dKeys", S * B * A], ["dWq", A * H], ["dv", A],
    ["gh", BH], ["gc", BH], ["gh2", BH], ["gc2", BH], ["sGh", BH], ["sGc", BH], ["sPrev", BH], ["sExtra", BH], ["sPrevAll", BH],
    ["dA", B * GH], ["dhp", B * GH], ["input", B * (E + D)], ["dInput", B * (E + D)], ["dq", B * A], ["dctx", D], ["dalpha", S], ["q", B * A],
  ] as const;
  for (const [name, n] of sizes) L.add(name, n);
  const base = residency.callRegion(L.size);
  if (base === 0) {
    referenceKernels.attentionDecoderBackward(args, out);
    return;
  }
  const a = (name: string): number => L.pinned[name] ?? base + L.at[name]!;
  const inputs = {
    x, Wih: weightIH, Whh: weightHH, h0, values, keys, Wq: weightQ, v, hs, gates, contexts, weights, dhs, dcontexts, dhT,
    ...(c0 ? { c0 } : {}), ...(cells ? { cells } : {}), ...(dweights ? { dweights } : {}), ...(dcT ? { dcT } : {}),
  };
  for (const [name, t] of Object.entries(inputs)) if (L.pinned[name] === undefined) copyIn(wasm, a(name), t.data as Float32Array);
  // The weight and memory gradients accumulate in the module: they start from zero.
  const accumulated = new Set(["dWih", "dbih", "dWhh", "dbhh", "dValues", "dKeys", "dWq", "dv"]);
  for (const [name, n] of sizes) if (accumulated.has(name)) new Float32Array(wasm.memory.buffer, a(name), n).fill(0);
  wasm.attentionDecoderBackward(
    CELL_CODE[cell], T, B, E, S, D, A, H,
    a("x"), a("Wih"), a("Whh"), a("h0"), a("c0"), a("values"), a("keys"), a("Wq"), a("v"),
    a("hs"), a("cells"), a("gates"), a("contexts"), a("weights"),
    a("dhs"), a("dcontexts"), dweights ? a("dweights") : 0, a("dhT"), dcT ? a("dcT") : 0,
    a("dx"), a("dWih"), a("dbih"), a("dWhh"), a("dbhh"), a("dh0"), a("dc0"), a("dValues"), a("dKeys"), a("dWq"), a("dv"),
    a("gh"), a("gc"), a("gh2"), a("gc2"), a("sGh"), a("sGc"), a("sPrev"), a("sExtra"), a("sPrevAll"),
    a("dA"), a("dhp"), a("input"), a("dInput"), a("dq"), a("dctx"), a("dalpha"), a("q"),
  );
  copyOut(wasm, a("dx"), out.dx.data);
  copyOut(wasm, a("dWih"), out.dWeightIH.data);
  copyOut(wasm, a("dbih"), out.dBiasIH.data);
  copyOut(wasm, a("dWhh"), out.dWeightHH.data);
  copyOut(wasm, a("dbhh"), out.dBiasHH.data);
  copyOut(wasm, a("dh0"), out.dh0.data);
  if (out.dc0) copyOut(wasm, a("dc0"), out.dc0.data);
  copyOut(wasm, a("dValues"), out.dValues.data);
  copyOut(wasm, a("dKeys"), out.dKeys.data);
  copyOut(wasm, a("dWq"), out.dWeightQ.data);
  copyOut(wasm, a("dv"), out.dv.data);
}
