import type { RecurrentCell, Tensor } from "@unroll/tensor";
import { OnnxExportError } from "../export/builder.js";
import type { Lowering } from "../export/lowering.js";
import { recurrentSequenceLowering } from "../export/recurrent.js";

// The fused LSTM scan of @unroll/cells (`RecurrentSequence`) and its backpropagation through time
// (`RecurrentSequenceGrad`) as ONNX for a compiled training step, written for onnxruntime's speed:
// - forward: the input projection of all steps as one Gemm, then per step one Gemm (h W_hhᵀ + the
//   step's projection), one Split, the gate activations and the cell update (11 nodes);
// - backward: the per-step factors of the gate derivatives computed for all steps at once, then per
//   step 10 nodes (the only sequential work: dh through W_hh and dc through f), and the weight
//   gradients as single products over all steps (dZᵀ X, dZᵀ H_prev), as the library's kernel has it.
// The saved activations never exist as the primitive's `gates`/`cells` outputs: the backward
// lowering reads the forward's per-step values by name (the pair is lowered in one export).
// Other scans (GRU, RNN, reverse, padded) are traced as their decomposition instead (see
// `fastScan`); a padded scan has no training lowering and fails, naming RecurrentSequenceGrad.

interface SequenceAttrs {
  readonly cell: RecurrentCell;
  readonly reverse: boolean;
  readonly hasLengths: boolean;
}

/** The scans this file lowers for training: LSTM, forward, unpadded. */
export function fastScan(attrs: SequenceAttrs): boolean {
  return attrs.cell === "lstm" && !attrs.reverse && !attrs.hasLengths;
}

function describe(attrs: SequenceAttrs): string {
  return `a ${attrs.hasLengths ? "padded (lengths) " : ""}${attrs.reverse ? "reverse " : ""}${attrs.cell} scan`;
}

/** What the forward lowering leaves for the backward one, by the forward's `gates` output. */
interface Saved {
  readonly T: number;
  readonly B: number;
  readonly H: number;
  /** x as [T*B, I]. */
  readonly x2: string;
  /** hs as [T*B, H]. */
  readonly hs2: string;
  /** Per step: the gates after their activations, the new cell, tanh of it, the previous cell. */
  readonly steps: readonly { i: string; f: string; g: string; o: string; c: string; tc: string; cPrev: string }[];
}

/** A pair of lowerings sharing the forward's saved values (one pair per export). */
export function lstmTrainingLowerings(): { RecurrentSequence: Lowering; RecurrentSequenceGrad: Lowering } {
  const saved = new Map<Tensor, Saved>();

  const forward: Lowering = (ctx) => {
    const attrs = ctx.node.attrs as SequenceAttrs;
    const savedUsed = ctx.used(3) || (ctx.node.outputs.length > 5 && ctx.used(5));
    if (!savedUsed) {
      recurrentSequenceLowering(ctx);
      return;
    }
    if (!fastScan(attrs)) throw new OnnxExportError(ctx.name, `no training lowering for RecurrentSequenceGrad of ${describe(attrs)}`);
    const [x, , , weightHH] = ctx.node.inputs as readonly Tensor[];
    const [T, B, I] = x!.shape as [number, number, number];
    const H = weightHH!.shape[1]!;
    const [x2] = ctx.emit("Reshape", [ctx.input(0), ctx.int64s([T * B, I])], 1);
    const [xp] = ctx.emit("Gemm", [x2!, ctx.input(1), ctx.input(2)], 1, { transB: 1 }); // x W_ihᵀ + b_ih, all steps
    const [xpb] = ctx.emit("Add", [xp!, ctx.input(4)], 1); // + b_hh
    const projections = T === 1 ? [xpb!] : ctx.emit("Split", [xpb!, ctx.int64s(new Array<number>(T).fill(B))], T, { axis: 0 });
    let h = ctx.input(5);
    let c = ctx.input(6);
    const hs: string[] = [];
    const steps: Saved["steps"][number][] = [];
    for (let t = 0; t < T; t++) {
      const [z] = ctx.emit("Gemm", [h, ctx.input(3), projections[t]!], 1, { transB: 1 });
      const [zi, zf, zg, zo] = ctx.emit("Split", [z!, ctx.int64s([H, H, H, H])], 4, { axis: 1 });
      const [i] = ctx.emit("Sigmoid", [zi!], 1);
      const [f] = ctx.emit("Sigmoid", [zf!], 1);
      const [g] = ctx.emit("Tanh", [zg!], 1);
      const [o] = ctx.emit("Sigmoid", [zo!], 1);
      const [fc] = ctx.emit("Mul", [f!, c], 1);
      const [ig] = ctx.emit("Mul", [i!, g!], 1);
      const [cNext] = ctx.emit("Add", [fc!, ig!], 1);
      const [tc] = ctx.emit("Tanh", [cNext!], 1);
      const [hNext] = ctx.emit("Mul", [o!, tc!], 1);
      steps.push({ i: i!, f: f!, g: g!, o: o!, c: cNext!, tc: tc!, cPrev: c });
      hs.push(hNext!);
      h = hNext!;
      c = cNext!;
    }
    const [hs2] = T === 1 ? [hs[0]!] : ctx.emit("Concat", hs, 1, { axis: 0 });
    ctx.emit("Reshape", [hs2!, ctx.int64s([T, B, H])], [ctx.output(0)]);
    if (ctx.used(1)) ctx.emit("Identity", [h], [ctx.output(1)]);
    if (ctx.used(4)) ctx.emit("Identity", [c], [ctx.output(4)]);
    // The saved outputs are read by the backward lowering below through `saved`, not as values.
    ctx.output(3);
    if (ctx.node.outputs.length > 5) ctx.output(5);
    if (ctx.used(2)) throw new OnnxExportError(ctx.name, "the graph reads the scan's saved states, which this lowering does not write");
    saved.set(ctx.node.outputs[3]!, { T, B, H, x2: x2!, hs2: hs2!, steps });
  };

  const backward: Lowering = (ctx) => {
    const attrs = ctx.node.attrs as SequenceAttrs & { readonly withDx: boolean };
    // Inputs (LSTM, unpadded): x, weightIH, weightHH, h0, c0, states (= hs), gates, cells, dhs, dhT, dcT.
    const s = fastScan(attrs) ? saved.get(ctx.node.inputs[6]!) : undefined;
    if (s === undefined) {
      throw new OnnxExportError(ctx.name, `no training lowering for RecurrentSequenceGrad of ${describe(attrs)}`);
    }
    const { T, B, H, steps } = s;
    const cat = (names: readonly string[]): string => (names.length === 1 ? names[0]! : ctx.emit("Concat", names, 1, { axis: 0 })[0]!);
    const split = (value: string): string[] => (T === 1 ? [value] : ctx.emit("Split", [value, ctx.int64s(new Array<number>(T).fill(B))], T, { axis: 0 }));
    const one = ctx.scalar(1, ctx.node.inputs[1]!.dtype);
    const all = (k: "i" | "f" | "g" | "o" | "tc" | "cPrev"): string => cat(steps.map((st) => st[k]));
    const [I, F, G, O, TC, CP] = [all("i"), all("f"), all("g"), all("o"), all("tc"), all("cPrev")];
    const mul = (a: string, b: string): string => ctx.emit("Mul", [a, b], 1)[0]!;
    const sub = (a: string, b: string): string => ctx.emit("Sub", [a, b], 1)[0]!;
    const dsig = (y: string): string => mul(y, sub(one, y)); // σ' = y(1 - y)
    const dtanh = (y: string): string => sub(one, mul(y, y)); // tanh' = 1 - y²
    // Per-step factors, all steps at once ([T*B, H] each), split into steps.
    const A = split(mul(O, dtanh(TC))); // dc += dh * o * (1 - tanh²c)
    const Bo = split(mul(TC, dsig(O))); // dz_o = dh * tanh c * o(1 - o)
    const Ci = split(mul(G, dsig(I))); // dz_i = dc * g * i(1 - i)
    const Cf = split(mul(CP, dsig(F))); // dz_f = dc * c_prev * f(1 - f)
    const Cg = split(mul(I, dtanh(G))); // dz_g = dc * i * (1 - g²)
    const Fs = steps.map((st) => st.f);
    const [dhs2] = ctx.emit("Reshape", [ctx.input(8), ctx.int64s([T * B, H])], 1);
    const dhsT = split(dhs2!);
    let dhNext = ctx.input(9);
    let dcNext = ctx.input(10);
    const dZ: string[] = new Array<string>(T);
    for (let t = T - 1; t >= 0; t--) {
      const [dh] = ctx.emit("Add", [dhsT[t]!, dhNext], 1);
      const [dc] = ctx.emit("Add", [dcNext, mul(dh!, A[t]!)], 1);
      const dzo = mul(dh!, Bo[t]!);
      const dzi = mul(dc!, Ci[t]!);
      const dzf = mul(dc!, Cf[t]!);
      const dzg = mul(dc!, Cg[t]!);
      const [dz] = ctx.emit("Concat", [dzi, dzf, dzg, dzo], 1, { axis: 1 }); // [B, 4H], PyTorch's gate order
      dZ[t] = dz!;
      dhNext = ctx.emit("MatMul", [dz!, ctx.input(2)], 1)[0]!; // dz W_hh
      dcNext = mul(dc!, Fs[t]!);
    }
    const dZall = cat(dZ); // [T*B, 4H]
    ctx.emit("Gemm", [dZall, s.x2], [ctx.output(0)], { transA: 1 }); // dW_ih = dZᵀ X
    const [h0] = [ctx.input(3)];
    const hPrev = T === 1 ? h0 : ctx.emit("Concat", [h0, ctx.emit("Slice", [s.hs2, ctx.int64s([0]), ctx.int64s([(T - 1) * B]), ctx.int64s([0])], 1)[0]!], 1, { axis: 0 })[0]!;
    ctx.emit("Gemm", [dZall, hPrev], [ctx.output(2)], { transA: 1 }); // dW_hh = dZᵀ H_prev
    const [db] = ctx.emit("ReduceSum", [dZall, ctx.int64s([0])], 1, { keepdims: 0 });
    ctx.emit("Identity", [db!], [ctx.output(1)]);
    ctx.emit("Identity", [db!], [ctx.output(3)]);
    ctx.emit("Identity", [dhNext], [ctx.output(4)]);
    ctx.emit("Identity", [dcNext], [ctx.output(5)]);
    if (attrs.withDx) {
      const I0 = ctx.node.inputs[0]!.shape[2]!;
      const [dx2] = ctx.emit("MatMul", [dZall, ctx.input(1)], 1); // dZ W_ih
      ctx.emit("Reshape", [dx2!, ctx.int64s([T, B, I0])], [ctx.output(6)]);
    }
  };

  return { RecurrentSequence: forward, RecurrentSequenceGrad: backward };
}

