import { apply, definePrimitive } from "../autodiff/primitive.js";
import type { Conv2dParams } from "../backend/kernels.js";
import { ShapeError, ValueRangeError } from "../errors.js";
import { formatShape } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { requireFloat } from "./operand.js";
import { sum } from "./reduce.js";
import { checkWindow, outputSize, outputSize2d, pair, type Pair, requireNCHW, requireSameDType, type Size2d } from "./window.js";

/** Attributes of `Conv2d`: the kernel's `Conv2dParams` (stride, pads `[top, left, bottom, right]`, dilation, groups). */
export type Conv2dAttrs = Conv2dParams;

function checkGroups(op: string, groups: number): void {
  if (!Number.isInteger(groups) || groups < 1) throw new ValueRangeError(op, `groups must be a positive integer, got ${groups}`);
}

/** Checks `weight` `[C_out, C_in/groups, kH, kW]` against `C_in` input channels; returns the kernel size. */
function checkWeight(op: string, weight: Tensor, inputChannels: number, groups: number, input: readonly number[]): Pair {
  requireFloat(op, weight, "weight");
  if (weight.rank !== 4) {
    throw new ShapeError(op, `weight must be [C_out, C_in/groups, kH, kW] (rank 4), got ${formatShape(weight.shape)}`);
  }
  const [Co, Cg, kH, kW] = weight.shape as [number, number, number, number];
  if (inputChannels % groups !== 0) {
    throw new ShapeError(op, `input ${formatShape(input)} has ${inputChannels} channels, which do not split into groups ${groups}; groups must divide C_in and C_out`);
  }
  if (Cg * groups !== inputChannels) {
    throw new ShapeError(
      op,
      `input ${formatShape(input)} has ${inputChannels} channels but weight ${formatShape(weight.shape)} with groups ${groups} expects ` +
        `${Cg * groups} (weight.shape[1] · groups); the weight must be [C_out, ${inputChannels / groups}, kH, kW]`,
    );
  }
  if (Co % groups !== 0) {
    throw new ShapeError(op, `weight ${formatShape(weight.shape)} has ${Co} output channels, which do not split into groups ${groups}`);
  }
  if (kH < 1 || kW < 1) throw new ShapeError(op, `weight ${formatShape(weight.shape)} has an empty kernel`);
  return [kH, kW];
}

function checkParams(op: string, p: Conv2dParams): void {
  checkWindow(op, p.stride, p.pads, p.dilation);
  checkGroups(op, p.groups);
}

/**
 * 2-D convolution of `x` `[N, C_in, H, W]` with `weight` `[C_out, C_in/groups, kH, kW]` and an
 * optional `bias` `[C_out]` (inputs `[x, weight]` or `[x, weight, bias]`), PyTorch's `conv2d`
 * (a cross-correlation): `y[n, o, i, j] = b[o] + Σ_{c, u, v} w[o, c, u, v] · x[n, g·C_in/groups + c,
 * i·sH - top + u·dH, j·sW - left + v·dW]` with `g` the group of `o`, zeros outside the input.
 * Its vjp is two named primitives, so a recorded backward pass stays a graph of convolutions:
 *   dx = Conv2dBackwardInput(dy, w)       (a transposed convolution)
 *   dw = Conv2dBackwardWeight(x, dy)      (receptive fields times dy, summed over the batch)
 *   db = Σ_{n, i, j} dy
 */
export const Conv2d = definePrimitive<readonly Tensor[], readonly [Tensor], Conv2dAttrs>({
  name: "Conv2d",
  infer: (inputs, p) => {
    if (inputs.length !== 2 && inputs.length !== 3) {
      throw new ShapeError("Conv2d", `takes [x, weight] or [x, weight, bias], got ${inputs.length} inputs`);
    }
    const [x, weight, bias] = inputs as [Tensor, Tensor, Tensor | undefined];
    checkParams("Conv2d", p);
    requireNCHW("Conv2d", x);
    const kernel = checkWeight("Conv2d", weight, x.shape[1]!, p.groups, x.shape);
    requireSameDType("Conv2d", x, weight, "weight");
    const Co = weight.shape[0]!;
    if (bias) {
      requireSameDType("Conv2d", x, bias, "bias");
      if (bias.rank !== 1 || bias.shape[0] !== Co) {
        throw new ShapeError("Conv2d", `bias must be [${Co}] (one per output channel of weight ${formatShape(weight.shape)}), got ${formatShape(bias.shape)}`);
      }
    }
    const [Ho, Wo] = outputSize2d("Conv2d", x.shape, kernel, p.stride, p.pads, p.dilation, "kernel");
    return [{ shape: [x.shape[0]!, Co, Ho, Wo], dtype: x.dtype }];
  },
  kernel: (k, inputs, [out], p) => k.conv2d(inputs[0]!, inputs[1]!, inputs[2] ?? null, p, out),
  vjp: ({ inputs, attrs }, [g], needed) => {
    const [x, weight] = inputs as [Tensor, Tensor];
    const dy = g!; // (N, C_out, H_out, W_out)
    const dx = needed[0] ? conv2dBackwardInput(dy, weight, [x.shape[2]!, x.shape[3]!], attrs) : null; // (N, C_in, H, W)
    const dw = needed[1] ? conv2dBackwardWeight(x, dy, [weight.shape[2]!, weight.shape[3]!], attrs) : null; // (C_out, C_in/groups, kH, kW)
    if (inputs.length === 2) return [dx, dw];
    return [dx, dw, needed[2] ? sum(dy, [0, 2, 3]) : null]; // (C_out)
  },
});

interface BackwardInputAttrs extends Conv2dParams {
  /** The forward input's `[H, W]` (several input sizes give one output size when strided). */
  readonly inputSize: Pair;
}

interface BackwardWeightAttrs extends Conv2dParams {
  /** The weight's `[kH, kW]`. */
  readonly kernelSize: Pair;
}

/** Checks that `dy` has the shape a convolution of an `[.., H, W]` input with this kernel gives. */
function checkCotangent(op: string, dy: Tensor, channels: number, size: Pair, kernel: Pair, p: Conv2dParams, what: string): void {
  const Ho = outputSize(size[0], p.pads[0], p.pads[2], kernel[0], p.stride[0], p.dilation[0]);
  const Wo = outputSize(size[1], p.pads[1], p.pads[3], kernel[1], p.stride[1], p.dilation[1]);
  if (dy.shape[1] !== channels || dy.shape[2] !== Ho || dy.shape[3] !== Wo) {
    throw new ShapeError(
      op,
      `cotangent ${formatShape(dy.shape)} does not match the output [${dy.shape[0]},${channels},${Ho},${Wo}] of a convolution of a ` +
        `${size[0]}x${size[1]} input with ${what} (stride ${p.stride.join("x")}, pads [${p.pads.join(",")}], dilation ${p.dilation.join("x")})`,
    );
  }
}

/**
 * The gradient of `Conv2d` with respect to its input, `dy` `[N, C_out, H_out, W_out]` and `weight`
 * -> `[N, C_in, H, W]`: the transposed convolution (ONNX ConvTranspose with the same weight).
 */
export const Conv2dBackwardInput = definePrimitive<readonly [Tensor, Tensor], readonly [Tensor], BackwardInputAttrs>({
  name: "Conv2dBackwardInput",
  infer: ([dy, weight], p) => {
    checkParams("Conv2dBackwardInput", p);
    pair("Conv2dBackwardInput", "inputSize", p.inputSize, 0);
    requireNCHW("Conv2dBackwardInput", dy, "cotangent");
    requireFloat("Conv2dBackwardInput", weight, "weight");
    requireSameDType("Conv2dBackwardInput", dy, weight, "weight");
    if (weight.rank !== 4) {
      throw new ShapeError("Conv2dBackwardInput", `weight must be [C_out, C_in/groups, kH, kW] (rank 4), got ${formatShape(weight.shape)}`);
    }
    const [Co, Cg, kH, kW] = weight.shape as [number, number, number, number];
    if (Co % p.groups !== 0) {
      throw new ShapeError("Conv2dBackwardInput", `weight ${formatShape(weight.shape)} has ${Co} output channels, which do not split into groups ${p.groups}`);
    }
    checkCotangent("Conv2dBackwardInput", dy, Co, p.inputSize, [kH, kW], p, `weight ${formatShape(weight.shape)}`);
    return [{ shape: [dy.shape[0]!, Cg * p.groups, p.inputSize[0], p.inputSize[1]], dtype: dy.dtype }];
  },
  kernel: (k, [dy, weight], [out], p) => k.conv2dBackwardInput(dy, weight, p, out),
  // dx = Cᵀ(dy; w) is linear in each: for a cotangent h of dx, <h, Cᵀ(dy; w)> = <conv(h; w), dy>,
  // so d dy = conv2d(h, w) and d w = Conv2dBackwardWeight(h, dy).
  vjp: ({ inputs: [dy, weight], attrs }, [h], needed) => [
    needed[0] ? apply(Conv2d, [h!, weight], convAttrs(attrs))[0] : null,
    needed[1] ? conv2dBackwardWeight(h!, dy, [weight.shape[2]!, weight.shape[3]!], attrs) : null,
  ],
});

/**
 * The gradient of `Conv2d` with respect to its weight, `x` `[N, C_in, H, W]` and `dy`
 * `[N, C_out, H_out, W_out]` -> `[C_out, C_in/groups, kH, kW]`, summed over the batch.
 */
export const Conv2dBackwardWeight = definePrimitive<readonly [Tensor, Tensor], readonly [Tensor], BackwardWeightAttrs>({
  name: "Conv2dBackwardWeight",
  infer: ([x, dy], p) => {
    checkParams("Conv2dBackwardWeight", p);
    pair("Conv2dBackwardWeight", "kernelSize", p.kernelSize, 1);
    requireNCHW("Conv2dBackwardWeight", x);
    requireNCHW("Conv2dBackwardWeight", dy, "cotangent");
    requireSameDType("Conv2dBackwardWeight", x, dy, "cotangent");
    const [N, C, H, W] = x.shape as [number, number, number, number];
    const Co = dy.shape[1]!;
    if (C % p.groups !== 0 || Co % p.groups !== 0 || dy.shape[0] !== N) {
      throw new ShapeError(
        "Conv2dBackwardWeight",
        `input ${formatShape(x.shape)} and cotangent ${formatShape(dy.shape)} must have one batch size and channels divisible by groups ${p.groups}`,
      );
    }
    checkCotangent("Conv2dBackwardWeight", dy, Co, [H, W], p.kernelSize, p, `a ${p.kernelSize.join("x")} kernel`);
    return [{ shape: [Co, C / p.groups, p.kernelSize[0], p.kernelSize[1]], dtype: x.dtype }];
  },
  kernel: (k, [x, dy], [out], p) => k.conv2dBackwardWeight(x, dy, p, out),
  // dw = Wᵀ(x; dy), linear in each: for a cotangent h of dw, <h, Wᵀ(x; dy)> = <conv(x; h), dy>,
  // so d x = Conv2dBackwardInput(dy, h) and d dy = conv2d(x, h).
  vjp: ({ inputs: [x, dy], attrs }, [h], needed) => [
    needed[0] ? conv2dBackwardInput(dy, h!, [x.shape[2]!, x.shape[3]!], attrs) : null,
    needed[1] ? apply(Conv2d, [x, h!], convAttrs(attrs))[0] : null,
  ],
});

function convAttrs(p: Conv2dParams): Conv2dAttrs {
  return { stride: p.stride, pads: p.pads, dilation: p.dilation, groups: p.groups };
}

/** The input gradient of a convolution: `dy` `[N, C_out, H_out, W_out]`, `weight` -> `[N, C_in, inputSize]`. */
export function conv2dBackwardInput(dy: Tensor, weight: Tensor, inputSize: Pair, params: Conv2dParams): Tensor {
  return apply(Conv2dBackwardInput, [dy, weight], { ...convAttrs(params), inputSize: [inputSize[0], inputSize[1]] })[0];
}

/** The weight gradient of a convolution: `x`, `dy` -> `[C_out, C_in/groups, kernelSize]`. */
export function conv2dBackwardWeight(x: Tensor, dy: Tensor, kernelSize: Pair, params: Conv2dParams): Tensor {
  return apply(Conv2dBackwardWeight, [x, dy], { ...convAttrs(params), kernelSize: [kernelSize[0], kernelSize[1]] })[0];
}

export interface Conv2dOptions {
  /** Default 1. */
  readonly stride?: Size2d;
  /**
   * Zeros added on both sides of H and W (default 0): an int, `[pH, pW]`, `"valid"` (0) or
   * `"same"` (stride 1 only; the output keeps the input's size, an odd total split with the extra
   * row/column at the bottom/right, as PyTorch).
   */
  readonly padding?: Size2d | "valid" | "same";
  /** Default 1. */
  readonly dilation?: Size2d;
  /** Default 1; `groups = C_in` (with `C_out` a multiple of it) is a depthwise convolution. */
  readonly groups?: number;
}

/** Resolves `conv2d`'s options for a `[kH, kW]` kernel into the primitive's attributes. */
export function conv2dParams(kernel: Pair, options: Conv2dOptions = {}): Conv2dParams {
  const op = "Conv2d";
  const stride = pair(op, "stride", options.stride ?? 1, 1);
  const dilation = pair(op, "dilation", options.dilation ?? 1, 1);
  const groups = options.groups ?? 1;
  checkGroups(op, groups);
  const padding = options.padding ?? 0;
  let pads: [number, number, number, number];
  if (padding === "valid") pads = [0, 0, 0, 0];
  else if (padding === "same") {
    if (stride[0] !== 1 || stride[1] !== 1) {
      throw new ValueRangeError(op, `padding "same" needs stride 1 (got stride ${JSON.stringify(options.stride)}), as in PyTorch; give the padding as numbers`);
    }
    const [tH, tW] = [dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)];
    pads = [Math.floor(tH / 2), Math.floor(tW / 2), tH - Math.floor(tH / 2), tW - Math.floor(tW / 2)];
  } else {
    const [pH, pW] = pair(op, "padding", padding, 0);
    pads = [pH, pW, pH, pW];
  }
  return { stride, pads, dilation, groups };
}

/**
 * 2-D convolution, PyTorch's `F.conv2d(x, weight, bias, stride, padding, dilation, groups)`:
 * `x` `[N, C_in, H, W]`, `weight` `[C_out, C_in/groups, kH, kW]`, `bias` `[C_out]` (optional) ->
 * `[N, C_out, H_out, W_out]` with `H_out = floor((H + 2·pH - dH·(kH - 1) - 1) / sH) + 1`.
 * Differentiable in all three; see `Conv2d`.
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, options: Conv2dOptions = {}): Tensor {
  const kernel: Pair = weight.rank === 4 ? [weight.shape[2]!, weight.shape[3]!] : [1, 1];
  const params = conv2dParams(kernel, options);
  return apply(Conv2d, bias ? [x, weight, bias] : [x, weight], params)[0];
}
