import type { RecurrentCell, Tensor } from "@unroll/tensor";
import { OnnxExportError } from "../export/builder.js";
import type { Lowering } from "../export/lowering.js";
import { recurrentSequenceLowering } from "../export/recurrent.js";
import { type ScanInput, scanInput, splitSteps, stepMask, writeHiddenStates } from "./scan.js";
import { gruBackward, gruForward, type GruSaved } from "./gru.js";

// The fused LSTM scan of @unroll/cells (`RecurrentSequence`) and its backpropagation through time
// (`RecurrentSequenceGrad`) as ONNX for a compiled training step, written for onnxruntime's speed:
// - forward: the input projection of all steps as one Gemm, then per step one Gemm (h W_hhᵀ + the
//   step's projection), one Split, the gate activations and the cell update (11 nodes);
// - backward: the per-step factors of the gate derivatives computed for all steps at once, then per
//   step 10 nodes (the only sequential work: dh through W_hh and dc through f), and the weight
//   gradients as single products over all steps (dZᵀ X, dZᵀ H_prev), as the library's kernel has it.
// The saved activations never exist as the primitive's `gates`/`cells` outputs: the backward
// lowering reads the forward's per-step values by name (the pair is lowered in one export).
// Padded batches (lengths) mask every step (the state kept and the output 0 outside an example's
// length, and the gradient passed through there); a padded reverse scan reverses each example
// within its length around a forward scan, as the inference lowering does. The GRU scan has the
// same treatment in gru.ts; plain RNN scans are traced as their decomposition instead (see
// `fastScan`), and a padded one fails, naming RecurrentSequenceGrad.

interface SequenceAttrs {
  readonly cell: RecurrentCell;
  readonly reverse: boolean;
  readonly hasLengths: boolean;
}

/** The scans this file (and gru.ts) lowers for training: LSTM and GRU, either direction, padded or not. */
export function fastScan(attrs: SequenceAttrs): boolean {
  return attrs.cell === "lstm" || attrs.cell === "gru";
}

function describe(attrs: SequenceAttrs): string {
  return `a ${attrs.hasLengths ? "padded (lengths) " : ""}${attrs.reverse ? "reverse " : ""}${attrs.cell} scan`;
}

interface Step {
  /** The gates after their activations, tanh of the new cell, the cell and hidden state the step started from. */
  readonly i: string;
  readonly f: string;
  readonly g: string;
  readonly o: string;
  readonly tc: string;
  readonly cPrev: string;
  readonly hPrev: string;
  /** Padded batches: 1 where the step is inside the example, as [B, 1] floats, and 1 minus it. */
  readonly inside: string | null;
  readonly outside: string | null;
}

/** What the forward lowering leaves for the backward one, by the forward's `gates` output. */
interface Saved extends ScanInput {
  /** Steps by position in the scanned x; `order` is the order they ran in. */
  readonly steps: readonly Step[];
}

/** A pair of lowerings sharing the forward's saved values (one pair per export). */
export function lstmTrainingLowerings(): { RecurrentSequence: Lowering; RecurrentSequenceGrad: Lowering } {
  const saved = new Map<Tensor, Saved>();
  const savedGru = new Map<Tensor, GruSaved>();

  const forward: Lowering = (ctx) => {
    const attrs = ctx.node.attrs as SequenceAttrs;
    const savedUsed = ctx.used(3) || (ctx.node.outputs.length > 5 && ctx.used(5));
    if (!savedUsed) {
      recurrentSequenceLowering(ctx);
      return;
    }
    if (!fastScan(attrs)) throw new OnnxExportError(ctx.name, `no training lowering for RecurrentSequenceGrad of ${describe(attrs)}`);
    if (attrs.cell === "gru") {
      savedGru.set(ctx.node.outputs[3]!, gruForward(ctx, attrs.reverse, attrs.hasLengths));
      return;
    }
    const lengths = attrs.hasLengths ? ctx.input(7) : null;
    const scan = scanInput(ctx, attrs.reverse, lengths);
    const { T, B, H } = scan;
    const [bias] = ctx.emit("Add", [ctx.input(2), ctx.input(4)], 1); // b_ih + b_hh, added once in the Gemm
    const [xpb] = ctx.emit("Gemm", [scan.x2, ctx.input(1), bias!], 1, { transB: 1 }); // x W_ihᵀ + b_ih + b_hh, all steps
    const projections = splitSteps(ctx, xpb!, T, B);
    let h = ctx.input(5);
    let c = ctx.input(6);
    const outs: string[] = new Array<string>(T);
    const steps: Step[] = new Array<Step>(T);
    const zero = lengths !== null ? ctx.scalar(0, ctx.node.outputs[0]!.dtype) : null;
    for (const p of scan.order) {
      const [z] = ctx.emit("Gemm", [h, ctx.input(3), projections[p]!], 1, { transB: 1 });
      const [zi, zf, zg, zo] = ctx.emit("Split", [z!, ctx.int64s([H, H, H, H])], 4, { axis: 1 });
      const [i] = ctx.emit("Sigmoid", [zi!], 1);
      const [f] = ctx.emit("Sigmoid", [zf!], 1);
      const [g] = ctx.emit("Tanh", [zg!], 1);
      const [o] = ctx.emit("Sigmoid", [zo!], 1);
      const [fc] = ctx.emit("Mul", [f!, c], 1);
      const [ig] = ctx.emit("Mul", [i!, g!], 1);
      const [cNew] = ctx.emit("Add", [fc!, ig!], 1);
      const [tc] = ctx.emit("Tanh", [cNew!], 1);
      const [hNew] = ctx.emit("Mul", [o!, tc!], 1);
      if (lengths !== null) {
        // Inside example b's length the step runs; outside, the state is kept and the output is 0.
        const { mask, inside, outside } = stepMask(ctx, p, lengths);
        steps[p] = { i: i!, f: f!, g: g!, o: o!, tc: tc!, cPrev: c, hPrev: h, inside, outside };
        outs[p] = ctx.emit("Where", [mask, hNew!, zero!], 1)[0]!;
        h = ctx.emit("Where", [mask, hNew!, h], 1)[0]!;
        c = ctx.emit("Where", [mask, cNew!, c], 1)[0]!;
      } else {
        steps[p] = { i: i!, f: f!, g: g!, o: o!, tc: tc!, cPrev: c, hPrev: h, inside: null, outside: null };
        outs[p] = hNew!;
        h = hNew!;
        c = cNew!;
      }
    }
    writeHiddenStates(ctx, scan, outs);
    if (ctx.used(1)) ctx.emit("Identity", [h], [ctx.output(1)]);
    if (ctx.used(4)) ctx.emit("Identity", [c], [ctx.output(4)]);
    // The saved outputs are read by the backward lowering below through `saved`, not as values.
    ctx.output(2);
    ctx.output(3);
    ctx.output(5);
    saved.set(ctx.node.outputs[3]!, { ...scan, steps });
  };

  const backward: Lowering = (ctx) => {
    const attrs = ctx.node.attrs as SequenceAttrs & { readonly withDx: boolean };
    // Inputs (LSTM): x, weightIH, weightHH, h0, c0, [lengths], states, gates, cells, dhs, dhT, dcT.
    const at = attrs.hasLengths ? 1 : 0;
    if (attrs.cell === "gru") {
      // GRU inputs: x, weightIH, weightHH, h0, [lengths], states, gates, dhs, dhT.
      const g = savedGru.get(ctx.node.inputs[5 + at]!);
      if (g === undefined) throw new OnnxExportError(ctx.name, `no training lowering for RecurrentSequenceGrad of ${describe(attrs)}`);
      gruBackward(ctx, g, { hasLengths: attrs.hasLengths, withDx: attrs.withDx });
      return;
    }
    const s = fastScan(attrs) ? saved.get(ctx.node.inputs[6 + at]!) : undefined;
    if (s === undefined) throw new OnnxExportError(ctx.name, `no training lowering for RecurrentSequenceGrad of ${describe(attrs)}`);
    const { T, B, H, steps } = s;
    const cat = (names: readonly string[]): string => (names.length === 1 ? names[0]! : ctx.emit("Concat", names, 1, { axis: 0 })[0]!);
    const split = (value: string): string[] => splitSteps(ctx, value, T, B);
    const one = ctx.scalar(1, ctx.node.inputs[1]!.dtype);
    const all = (k: "i" | "f" | "g" | "o" | "tc" | "cPrev"): string => cat(steps.map((st) => st[k]));
    const [I, F, G, O, TC, CP] = [all("i"), all("f"), all("g"), all("o"), all("tc"), all("cPrev")];
    const mul = (a: string, b: string): string => ctx.emit("Mul", [a, b], 1)[0]!;
    const add = (a: string, b: string): string => ctx.emit("Add", [a, b], 1)[0]!;
    const sub = (a: string, b: string): string => ctx.emit("Sub", [a, b], 1)[0]!;
    const dsig = (y: string): string => mul(y, sub(one, y)); // σ' = y(1 - y)
    const dtanh = (y: string): string => sub(one, mul(y, y)); // tanh' = 1 - y²
    // Per-step factors, all steps at once ([T*B, H] each), split into steps.
    const A = split(mul(O, dtanh(TC))); // dc += dh * o * (1 - tanh²c)
    const Bo = split(mul(TC, dsig(O))); // dz_o = dh * tanh c * o(1 - o)
    const Ci = split(mul(G, dsig(I))); // dz_i = dc * g * i(1 - i)
    const Cf = split(mul(CP, dsig(F))); // dz_f = dc * c_prev * f(1 - f)
    const Cg = split(mul(I, dtanh(G))); // dz_g = dc * i * (1 - g²)
    const dhsIn = s.permute ? s.permute(ctx.input(8 + at)) : ctx.input(8 + at);
    const [dhs2] = ctx.emit("Reshape", [dhsIn, ctx.int64s([T * B, H])], 1);
    const dhsT = split(dhs2!);
    let dhNext = ctx.input(9 + at);
    let dcNext = ctx.input(10 + at);
    const dZ: string[] = new Array<string>(T);
    for (const p of [...s.order].reverse()) {
      const st = steps[p]!;
      let dh = add(dhsT[p]!, dhNext);
      let dcState = dcNext;
      let keepH: string | null = null;
      let keepC: string | null = null;
      if (st.inside !== null) {
        // Outside an example's length the step passed its state through: so does its gradient.
        keepH = mul(dhNext, st.outside!);
        keepC = mul(dcNext, st.outside!);
        dh = mul(dh, st.inside);
        dcState = mul(dcNext, st.inside);
      }
      const dc = add(dcState, mul(dh, A[p]!));
      const dzo = mul(dh, Bo[p]!);
      const dzi = mul(dc, Ci[p]!);
      const dzf = mul(dc, Cf[p]!);
      const dzg = mul(dc, Cg[p]!);
      const [dz] = ctx.emit("Concat", [dzi, dzf, dzg, dzo], 1, { axis: 1 }); // [B, 4H], PyTorch's gate order
      dZ[p] = dz!;
      dhNext = ctx.emit("MatMul", [dz!, ctx.input(2)], 1)[0]!; // dz W_hh
      dcNext = mul(dc, st.f);
      if (keepH !== null) {
        dhNext = add(dhNext, keepH);
        dcNext = add(dcNext, keepC!);
      }
    }
    const dZall = cat(dZ); // [T*B, 4H] by position
    ctx.emit("Gemm", [dZall, s.x2], [ctx.output(0)], { transA: 1 }); // dW_ih = dZᵀ X
    ctx.emit("Gemm", [dZall, cat(steps.map((st) => st.hPrev))], [ctx.output(2)], { transA: 1 }); // dW_hh = dZᵀ H_prev
    const [db] = ctx.emit("ReduceSum", [dZall, ctx.int64s([0])], 1, { keepdims: 0 });
    ctx.emit("Identity", [db!], [ctx.output(1)]);
    ctx.emit("Identity", [db!], [ctx.output(3)]);
    ctx.emit("Identity", [dhNext], [ctx.output(4)]);
    ctx.emit("Identity", [dcNext], [ctx.output(5)]);
    if (attrs.withDx) {
      const I0 = ctx.node.inputs[0]!.shape[2]!;
      const [dx2] = ctx.emit("MatMul", [dZall, ctx.input(1)], 1); // dZ W_ih
      const [dx3] = ctx.emit("Reshape", [dx2!, ctx.int64s([T, B, I0])], 1);
      ctx.emit("Identity", [s.permute ? s.permute(dx3!) : dx3!], [ctx.output(6)]);
    }
  };

  return { RecurrentSequence: forward, RecurrentSequenceGrad: backward };
}
