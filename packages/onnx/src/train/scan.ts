import type { Tensor } from "@unroll/tensor";
import type { LoweringContext } from "../export/lowering.js";
import { reversal } from "../export/recurrent.js";

// What the LSTM and GRU training lowerings (recurrent.ts, gru.ts) share: the scanned input and the
// order of its steps, each step's padding mask, and the hidden states written as the scan's output.

export interface ScanInput {
  readonly T: number;
  readonly B: number;
  readonly H: number;
  /** x as [T*B, I] in scan positions (reversed within each length for a padded reverse scan). */
  readonly x2: string;
  /** The positions in the order the steps run. */
  readonly order: readonly number[];
  /** A padded reverse scan's reversal within each length (its own inverse). */
  readonly permute: ((v: string) => string) | null;
}

/** Inputs 0 (x) and 3 (W_hh) of a scan, with `lengths` the value name of its lengths (or null). */
export function scanInput(ctx: LoweringContext, reverse: boolean, lengths: string | null): ScanInput {
  const [x, , , weightHH] = ctx.node.inputs as readonly Tensor[];
  const [T, B, I] = x!.shape as [number, number, number];
  const H = weightHH!.shape[1]!;
  // A reverse scan over a padded batch reads each example from its own last step: reverse every
  // example within its length and scan forwards with masks. Without padding: run the steps backwards.
  const permute = reverse && lengths !== null ? reversal(ctx, lengths, T) : null;
  const xs = permute ? permute(ctx.input(0)) : ctx.input(0);
  const order = reverse && !permute ? Array.from({ length: T }, (_, k) => T - 1 - k) : Array.from({ length: T }, (_, k) => k);
  const [x2] = ctx.emit("Reshape", [xs, ctx.int64s([T * B, I])], 1);
  return { T, B, H, x2: x2!, order, permute };
}

/** `value` [T*B, n] split into its T steps of [B, n]. */
export function splitSteps(ctx: LoweringContext, value: string, T: number, B: number): string[] {
  return T === 1 ? [value] : ctx.emit("Split", [value, ctx.int64s(new Array<number>(T).fill(B))], T, { axis: 0 });
}

/** Step `p` of a padded batch: the [B, 1] mask (p < lengths), and 1 / 0 inside and outside as floats. */
export function stepMask(ctx: LoweringContext, p: number, lengths: string): { mask: string; inside: string; outside: string } {
  const dtype = ctx.node.outputs[0]!.dtype;
  const [less] = ctx.emit("Less", [ctx.scalar(p, "int32"), lengths], 1); // (B)
  const [mask] = ctx.emit("Unsqueeze", [less!, ctx.int64s([1])], 1); // (B, 1)
  const [inside] = ctx.emit("Cast", [mask!], 1, { to: dtype === "float64" ? 11 : 1 });
  const [outside] = ctx.emit("Sub", [ctx.scalar(1, dtype), inside!], 1);
  return { mask: mask!, inside: inside!, outside: outside! };
}

/** Writes the step outputs (by position) as output 0, hs [T, B, H] in the input's time order. */
export function writeHiddenStates(ctx: LoweringContext, s: ScanInput, outs: readonly string[]): void {
  const { T, B, H, permute } = s;
  const [hs2] = T === 1 ? [outs[0]!] : ctx.emit("Concat", outs, 1, { axis: 0 });
  if (permute) {
    const [hs3] = ctx.emit("Reshape", [hs2!, ctx.int64s([T, B, H])], 1);
    ctx.emit("Identity", [permute(hs3!)], [ctx.output(0)]);
  } else {
    ctx.emit("Reshape", [hs2!, ctx.int64s([T, B, H])], [ctx.output(0)]);
  }
}
