// Options of 2-D windowed operations (convolution, pooling) as PyTorch takes them: an int or a
// pair [along H, along W], checked with errors that name the op, the option and the fix.

import { DTypeError, ShapeError, ValueRangeError } from "../errors.js";
import { formatShape, type Shape } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { requireFloat } from "./operand.js";

/** One size for both spatial axes, or `[along H, along W]`. */
export type Size2d = number | readonly [number, number];

export type Pair = readonly [number, number];
export type Pads = readonly [number, number, number, number];

/** Resolves an int or a pair into `[H, W]`, each an integer >= `min`. */
export function pair(op: string, what: string, value: Size2d, min: number): [number, number] {
  const v = typeof value === "number" ? [value, value] : value;
  const ok = Array.isArray(v) && v.length === 2 && v.every((d) => Number.isInteger(d) && d >= min);
  if (!ok) {
    const kind = min > 0 ? "a positive integer" : "a non-negative integer";
    throw new ValueRangeError(op, `${what} must be ${kind} or a pair [along H, along W] of them, got ${JSON.stringify(value)}`);
  }
  return [v[0]!, v[1]!];
}

/** Checks the attributes every window primitive shares (stride, dilation >= 1, pads >= 0). */
export function checkWindow(op: string, stride: Pair, pads: Pads, dilation: Pair): void {
  pair(op, "stride", stride, 1);
  pair(op, "dilation", dilation, 1);
  if (!(pads.length === 4 && pads.every((p) => Number.isInteger(p) && p >= 0))) {
    throw new ValueRangeError(op, `pads must be four non-negative integers [top, left, bottom, right], got ${JSON.stringify(pads)}`);
  }
}

/** PyTorch's output size (floor mode): `floor((size + before + after - dilation·(k-1) - 1) / stride) + 1`. */
export function outputSize(size: number, before: number, after: number, kernel: number, stride: number, dilation: number): number {
  return Math.floor((size + before + after - dilation * (kernel - 1) - 1) / stride) + 1;
}

/**
 * The output's `[H_out, W_out]`, or a ShapeError naming the sizes when the (dilated) window does
 * not fit the padded input once.
 */
export function outputSize2d(op: string, input: Shape, kernel: Pair, stride: Pair, pads: Pads, dilation: Pair, what: string): [number, number] {
  const [H, W] = [input[2]!, input[3]!];
  const Ho = outputSize(H, pads[0], pads[2], kernel[0], stride[0], dilation[0]);
  const Wo = outputSize(W, pads[1], pads[3], kernel[1], stride[1], dilation[1]);
  if (Ho < 1 || Wo < 1) {
    const eH = dilation[0] * (kernel[0] - 1) + 1;
    const eW = dilation[1] * (kernel[1] - 1) + 1;
    throw new ShapeError(
      op,
      `the ${what} spans ${eH}x${eW} (kernel ${kernel[0]}x${kernel[1]}, dilation ${dilation.join("x")}) but input ${formatShape(input)} ` +
        `padded by [top ${pads[0]}, left ${pads[1]}, bottom ${pads[2]}, right ${pads[3]}] is only ${H + pads[0] + pads[2]}x${W + pads[1] + pads[3]}: ` +
        `the output would be ${Ho}x${Wo}; pad the input, or use a smaller kernel or dilation`,
    );
  }
  return [Ho, Wo];
}

/** Requires a float `[N, C, H, W]` tensor. */
export function requireNCHW(op: string, x: Tensor, what = "input"): void {
  requireFloat(op, x, what);
  if (x.rank !== 4) {
    const hint = x.rank === 3 ? "; add a batch axis with expandDims(x, 0)" : "";
    throw new ShapeError(op, `${what} must be [N, C, H, W] (rank 4), got ${formatShape(x.shape)}${hint}`);
  }
}

export function requireSameDType(op: string, a: Tensor, b: Tensor, what: string): void {
  if (a.dtype !== b.dtype) {
    throw new DTypeError(op, `${what} is ${b.dtype} but the input is ${a.dtype}; convert one with cast()`);
  }
}
