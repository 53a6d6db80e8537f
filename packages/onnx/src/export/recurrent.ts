import { GATE_COUNT } from "@unroll/cells";
import { formatShape, type RecurrentCell } from "@unroll/tensor";
import { DataType } from "../proto/onnx.js";
import { type Attributes, OnnxExportError } from "./builder.js";
import type { Lowering, LoweringContext } from "./lowering.js";

// The fused recurrent scan of @unroll/cells (`RecurrentSequence`: one layer, one direction) as
// ONNX. Inputs x [T,B,I], W_ih [G*H,I], b_ih, W_hh [G*H,H], b_hh, h0 [B,H], c0 (LSTM), lengths
// int32 [B] (optional); outputs hs [T,B,H] (input time order, zeros on padding), hT, states,
// gates, cT, cells. The last four but cT are saved activations for backpropagation; a graph that
// reads them cannot be exported.
//
// "operators": ONNX RNN/LSTM/GRU, which compute the same scan given
//   - the gate blocks reordered: PyTorch stacks LSTM gates i,f,g,o and ONNX i,o,f,c; GRU r,z,n and
//     ONNX z,r,h;
//   - GRU linear_before_reset=1: PyTorch applies the reset gate after the recurrent product,
//     n = tanh(W_in x + b_in + r * (W_hn h + b_hn));
//   - B = [b_ih, b_hh] per direction, lengths as sequence_lens (onnxruntime zeroes Y past each
//     example's length and reads a reverse direction backwards from the example's own last step);
//   - a num_directions axis of 1 added to the weights and states and squeezed from the outputs.
// The reordering is done by Split/Concat nodes on the weights, so that the initializers keep the
// parameters' own names and layout (state_dict); onnxruntime folds those nodes at load time.
//
// "unrolled": every step as Gemm/Add/Sigmoid/Tanh/Mul nodes, for runtimes without the recurrent
// operators. It needs a static sequence length (the one-step graph has T = 1).

interface SequenceAttrs {
  readonly cell: RecurrentCell;
  readonly reverse: boolean;
  readonly hasLengths: boolean;
}

const SAVED_OUTPUTS: readonly [number, string][] = [[2, "states"], [3, "gates"], [5, "cells"]];

/** Split into `parts` equal blocks along axis 0 (the gate blocks of a stacked weight or bias). */
function gateBlocks(ctx: LoweringContext, value: string, parts: number, H: number, axis: number): string[] {
  return ctx.emit("Split", [value, ctx.int64s(new Array<number>(parts).fill(H))], parts, { axis });
}

/** Reorders the gate blocks of a stacked weight or bias from PyTorch's order to ONNX's. */
function onnxGateOrder(ctx: LoweringContext, cell: RecurrentCell, value: string, H: number): string {
  if (cell === "rnn_tanh" || cell === "rnn_relu") return value;
  const blocks = gateBlocks(ctx, value, GATE_COUNT[cell], H, 0);
  const order = cell === "lstm" ? [0, 3, 1, 2] : [1, 0, 2]; // i,f,g,o -> i,o,f,g ; r,z,n -> z,r,n
  return ctx.emit("Concat", order.map((k) => blocks[k]!), 1, { axis: 0 })[0]!;
}

export const recurrentSequenceLowering: Lowering = (ctx) => {
  const { cell, reverse, hasLengths } = ctx.node.attrs as SequenceAttrs;
  const lstm = cell === "lstm";
  for (const [j, what] of SAVED_OUTPUTS) {
    if (j < ctx.node.outputs.length && ctx.used(j)) {
      throw new OnnxExportError(
        ctx.name,
        `the graph reads the recurrent scan's saved ${what} (output ${j}), which exist for backpropagation only; export an inference graph (hs, hT${lstm ? ", cT" : ""})`,
      );
    }
  }
  const H = ctx.node.inputs[3]!.shape[1]!;
  const io: Io = {
    x: ctx.input(0),
    wih: ctx.input(1),
    bih: ctx.input(2),
    whh: ctx.input(3),
    bhh: ctx.input(4),
    h0: ctx.input(5),
    c0: lstm ? ctx.input(6) : null,
    lengths: hasLengths ? ctx.input(lstm ? 7 : 6) : null,
  };
  if (ctx.recurrent === "unrolled") unrolled(ctx, cell, reverse, H, io);
  else operator(ctx, cell, reverse, H, io);
};

interface Io {
  readonly x: string;
  readonly wih: string;
  readonly bih: string;
  readonly whh: string;
  readonly bhh: string;
  readonly h0: string;
  readonly c0: string | null;
  readonly lengths: string | null;
}

function operator(ctx: LoweringContext, cell: RecurrentCell, reverse: boolean, H: number, io: Io): void {
  const lstm = cell === "lstm";
  const withDirection = (v: string): string => ctx.emit("Unsqueeze", [v, ctx.int64s([0])], 1)[0]!;
  const W = withDirection(onnxGateOrder(ctx, cell, io.wih, H)); // (1, G*H, I)
  const R = withDirection(onnxGateOrder(ctx, cell, io.whh, H)); // (1, G*H, H)
  const [bias] = ctx.emit("Concat", [onnxGateOrder(ctx, cell, io.bih, H), onnxGateOrder(ctx, cell, io.bhh, H)], 1, { axis: 0 });
  const B = withDirection(bias!); // (1, 2*G*H)
  const inputs = [io.x, W, R, B, io.lengths ?? "", withDirection(io.h0)];
  if (lstm) inputs.push(withDirection(io.c0!));
  const want = [ctx.used(0), ctx.used(1), lstm && ctx.used(4)];
  const names = want.map((w, k) => (w ? ctx.fresh(["Y", "Y_h", "Y_c"][k]!) : ""));
  const attributes: Attributes = {
    hidden_size: H,
    direction: reverse ? "reverse" : "forward",
    ...(cell === "gru" ? { linear_before_reset: 1 } : {}),
    ...(cell === "rnn_tanh" || cell === "rnn_relu" ? { activations: [cell === "rnn_relu" ? "Relu" : "Tanh"] } : {}),
  };
  const opType = lstm ? "LSTM" : cell === "gru" ? "GRU" : "RNN";
  // Trailing unused outputs are left out; inner ones are "" (ONNX optional outputs).
  while (names.length > 0 && names[names.length - 1] === "") names.pop();
  const [Y, Yh, Yc] = ctx.emit(opType, inputs, names, attributes);
  if (want[0]) ctx.emit("Squeeze", [Y!, ctx.int64s([1])], [ctx.output(0)]); // (T, 1, B, H) -> (T, B, H)
  // An example of length 0 keeps its initial state (onnxruntime returns zeros for it).
  let started: string | null = null;
  const final = (value: string, initial: string, j: number): void => {
    if (io.lengths === null) {
      ctx.emit("Squeeze", [value, ctx.int64s([0])], [ctx.output(j)]); // (1, B, H) -> (B, H)
      return;
    }
    started ??= ctx.emit("Unsqueeze", ctx.emit("Greater", [io.lengths, ctx.scalar(0, "int32")], 1).concat(ctx.int64s([1])), 1)[0]!; // (B, 1)
    const [squeezed] = ctx.emit("Squeeze", [value, ctx.int64s([0])], 1);
    ctx.emit("Where", [started, squeezed!, initial], [ctx.output(j)]);
  };
  if (want[1]) final(Yh!, io.h0, 1);
  if (want[2]) final(Yc!, io.c0!, 4);
}

function unrolled(ctx: LoweringContext, cell: RecurrentCell, reverse: boolean, H: number, io: Io): void {
  const x = ctx.node.inputs[0]!;
  const xDims = ctx.dims(x);
  const T = xDims[0]!;
  if (typeof T !== "number") {
    throw new OnnxExportError(
      ctx.name,
      `the unrolled lowering needs a static sequence length, but x has shape ${formatShape(xDims as never)} with a dynamic time axis "${T}"; ` +
        `export the one-step graph, or use lowering "operators"`,
    );
  }
  const dtype = x.dtype;
  const lstm = cell === "lstm";
  const G = GATE_COUNT[cell];
  // A reverse direction over a padded batch reads each example backwards from its own last step:
  // reverse every example within its length (a permutation of time, its own inverse), scan forwards
  // with masks, and reverse the outputs back. Without padding it is a scan from the last step.
  const permute = reverse && io.lengths !== null ? reversal(ctx, io.lengths, T) : null;
  const xs = permute ? permute(io.x) : io.x;
  const order = reverse && !permute ? Array.from({ length: T }, (_, s) => T - 1 - s) : Array.from({ length: T }, (_, s) => s);
  let zero: string | null = null;
  let h = io.h0;
  let c = io.c0;
  const outs: string[] = new Array<string>(T);
  order.forEach((p, s) => {
    const [xt] = ctx.emit("Gather", [xs, ctx.int64s([p], [])], 1, { axis: 0 }); // (B, I)
    const [xp] = ctx.emit("Gemm", [xt!, io.wih, io.bih], 1, { transB: 1 }); // (B, G*H) = x W_ihᵀ + b_ih
    const [hp] = ctx.emit("Gemm", [h, io.whh, io.bhh], 1, { transB: 1 }); // (B, G*H) = h W_hhᵀ + b_hh
    let hNext: string;
    let cNext: string | null = null;
    if (lstm) {
      const [z] = ctx.emit("Add", [xp!, hp!], 1);
      const [i, f, g, o] = gateBlocks(ctx, z!, G, H, 1);
      const [si] = ctx.emit("Sigmoid", [i!], 1);
      const [sf] = ctx.emit("Sigmoid", [f!], 1);
      const [tg] = ctx.emit("Tanh", [g!], 1);
      const [so] = ctx.emit("Sigmoid", [o!], 1);
      const [fc] = ctx.emit("Mul", [sf!, c!], 1);
      const [ig] = ctx.emit("Mul", [si!, tg!], 1);
      cNext = ctx.emit("Add", [fc!, ig!], 1)[0]!; // c' = f*c + i*g
      const [tc] = ctx.emit("Tanh", [cNext], 1);
      hNext = ctx.emit("Mul", [so!, tc!], 1)[0]!; // h' = o*tanh(c')
    } else if (cell === "gru") {
      const [xr, xz, xn] = gateBlocks(ctx, xp!, G, H, 1);
      const [hr, hz, hn] = gateBlocks(ctx, hp!, G, H, 1);
      const [r] = ctx.emit("Sigmoid", ctx.emit("Add", [xr!, hr!], 1), 1);
      const [z] = ctx.emit("Sigmoid", ctx.emit("Add", [xz!, hz!], 1), 1);
      const [rhn] = ctx.emit("Mul", [r!, hn!], 1);
      const [n] = ctx.emit("Tanh", ctx.emit("Add", [xn!, rhn!], 1), 1); // n = tanh(x_n + r*(W_hn h + b_hn))
      const [d] = ctx.emit("Sub", [h, n!], 1);
      const [zd] = ctx.emit("Mul", [z!, d!], 1);
      hNext = ctx.emit("Add", [n!, zd!], 1)[0]!; // h' = (1-z)*n + z*h
    } else {
      const [a] = ctx.emit("Add", [xp!, hp!], 1);
      hNext = ctx.emit(cell === "rnn_relu" ? "Relu" : "Tanh", [a!], 1)[0]!;
    }
    if (io.lengths !== null) {
      // Padding: step s is real for example b when s < lengths[b]; elsewhere keep the state, output 0.
      const [inside] = ctx.emit("Less", [ctx.scalar(s, "int32"), io.lengths], 1); // (B)
      const [m] = ctx.emit("Unsqueeze", [inside!, ctx.int64s([1])], 1); // (B, 1)
      zero ??= ctx.scalar(0, dtype);
      outs[p] = ctx.emit("Where", [m!, hNext, zero], 1)[0]!;
      h = ctx.emit("Where", [m!, hNext, h], 1)[0]!;
      if (cNext !== null) c = ctx.emit("Where", [m!, cNext, c!], 1)[0]!;
    } else {
      outs[p] = hNext;
      h = hNext;
      c = cNext;
    }
  });
  if (ctx.used(0)) {
    const steps = outs.map((o) => ctx.emit("Unsqueeze", [o, ctx.int64s([0])], 1)[0]!);
    if (permute) {
      const [scan] = ctx.emit("Concat", steps, 1, { axis: 0 });
      ctx.emit("Identity", [permute(scan!)], [ctx.output(0)]);
    } else {
      ctx.emit("Concat", steps, [ctx.output(0)], { axis: 0 });
    }
  }
  if (ctx.used(1)) ctx.emit("Identity", [h], [ctx.output(1)]);
  if (lstm && ctx.used(4)) ctx.emit("Identity", [c!], [ctx.output(4)]);
}

/**
 * Reverses every example of a time-first tensor `[T, B, ...]` within its own length (padding stays
 * in place): GatherElements along time with index[t, b] = t < len[b] ? len[b] - 1 - t : t.
 */
export function reversal(ctx: LoweringContext, lengths: string, T: number): (v: string) => string {
  const t = ctx.constant(DataType.INT32, [T, 1], Array.from({ length: T }, (_, i) => i)); // (T, 1)
  const [len] = ctx.emit("Unsqueeze", [lengths, ctx.int64s([0])], 1); // (1, B)
  const [inside] = ctx.emit("Less", [t, len!], 1); // (T, B)
  const [last] = ctx.emit("Sub", [len!, ctx.scalar(1, "int32")], 1);
  const [back] = ctx.emit("Sub", [last!, t], 1);
  const [index] = ctx.emit("Where", [inside!, back!, t], 1); // (T, B)
  const [index3] = ctx.emit("Unsqueeze", [index!, ctx.int64s([2])], 1); // (T, B, 1)
  return (v) => {
    const [shape] = ctx.emit("Shape", [v], 1);
    const [full] = ctx.emit("Expand", [index3!, shape!], 1);
    return ctx.emit("GatherElements", [v, full!], 1, { axis: 0 })[0]!;
  };
}
