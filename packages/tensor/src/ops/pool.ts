import { apply, definePrimitive, type Primitive } from "../autodiff/primitive.js";
import type { Pool2dParams } from "../backend/kernels.js";
import { assertDType } from "../dtype.js";
import { ShapeError, ValueRangeError } from "../errors.js";
import { formatShape, shapesEqual } from "../shape.js";
import { fromArray, type Tensor } from "../tensor.js";
import { add, div } from "./arithmetic.js";
import { gather } from "./indexing.js";
import { broadcastTo, reshape, squeeze } from "./layout.js";
import { checkWindow, outputSize2d, pair, type Pair, requireNCHW, type Size2d } from "./window.js";

function checkPool(op: string, p: Pool2dParams): void {
  pair(op, "kernel", p.kernel, 1);
  checkWindow(op, p.stride, p.pads, p.dilation);
  const [kH, kW] = p.kernel;
  const [top, left, bottom, right] = p.pads;
  if (Math.max(top, bottom) > Math.floor(kH / 2) || Math.max(left, right) > Math.floor(kW / 2)) {
    throw new ValueRangeError(
      op,
      `padding [${p.pads.join(",")}] is more than half the ${kH}x${kW} kernel (at most ${Math.floor(kH / 2)} along H and ` +
        `${Math.floor(kW / 2)} along W, PyTorch's limit); use a larger kernel or less padding`,
    );
  }
}

function pooledShape(op: string, x: Tensor, p: Pool2dParams): number[] {
  requireNCHW(op, x);
  const [Ho, Wo] = outputSize2d(op, x.shape, p.kernel, p.stride, p.pads, p.dilation, "window");
  return [x.shape[0]!, x.shape[1]!, Ho, Wo];
}

/** Checks a pooling gradient's cotangent against the forward output an `inputSize` input gives. */
function checkPoolCotangent(op: string, g: Tensor, inputSize: Pair, p: Pool2dParams): number[] {
  requireNCHW(op, g, "cotangent");
  pair(op, "inputSize", inputSize, 1);
  const input = [g.shape[0]!, g.shape[1]!, inputSize[0], inputSize[1]];
  const expected = [g.shape[0]!, g.shape[1]!, ...outputSize2d(op, input, p.kernel, p.stride, p.pads, p.dilation, "window")];
  if (!shapesEqual(g.shape, expected)) {
    throw new ShapeError(op, `cotangent ${formatShape(g.shape)} does not match the pooled output ${formatShape(expected)} of an input ${formatShape(input)}`);
  }
  return input;
}

/**
 * Max pooling of `x` `[N, C, H, W]` -> `[y, indices]`, both `[N, C, H_out, W_out]`: `indices`
 * (int32) holds each maximum's position `h·W + w` in its plane, PyTorch's `return_indices`; ties
 * go to the first in the window's row-major order. Padding is never the maximum. The vjp sends
 * each cotangent to its maximum (`MaxPool2dGrad`).
 */
export const MaxPool2d = definePrimitive<readonly [Tensor], readonly [Tensor, Tensor], Pool2dParams>({
  name: "MaxPool2d",
  infer: ([x], p) => {
    checkPool("MaxPool2d", p);
    const shape = pooledShape("MaxPool2d", x, p);
    return [
      { shape, dtype: x.dtype },
      { shape, dtype: "int32" },
    ];
  },
  kernel: (k, [x], [out, indices], p) => k.maxPool2d(x, p, out, indices),
  vjp: ({ inputs: [x], outputs: [, indices] }, [g]) => [g === null ? null : maxPool2dGrad(g, indices, [x.shape[2]!, x.shape[3]!])],
});

/**
 * The gradient of `MaxPool2d`: `g` `[N, C, H_out, W_out]` added at `indices` into zeros
 * `[N, C, inputSize]`. Its own vjp gathers the cotangent back at the indices.
 */
export const MaxPool2dGrad = definePrimitive<readonly [Tensor, Tensor], readonly [Tensor], { readonly inputSize: Pair }>({
  name: "MaxPool2dGrad",
  infer: ([g, indices], { inputSize }) => {
    requireNCHW("MaxPool2dGrad", g, "cotangent");
    pair("MaxPool2dGrad", "inputSize", inputSize, 1);
    assertDType("MaxPool2dGrad", "indices", indices.dtype, ["int32"]);
    if (!shapesEqual(indices.shape, g.shape)) {
      throw new ShapeError("MaxPool2dGrad", `indices ${formatShape(indices.shape)} must have the cotangent's shape ${formatShape(g.shape)}`);
    }
    const plane = inputSize[0] * inputSize[1];
    const d = indices.data;
    for (let i = 0; i < d.length; i++) {
      if (d[i]! < 0 || d[i]! >= plane) {
        throw new ValueRangeError("MaxPool2dGrad", `index ${d[i]} at position ${i} is outside a ${inputSize[0]}x${inputSize[1]} plane (valid: 0..${plane - 1})`);
      }
    }
    return [{ shape: [g.shape[0]!, g.shape[1]!, inputSize[0], inputSize[1]], dtype: g.dtype }];
  },
  kernel: (k, [g, indices], [out]) => k.maxPool2dBackward(g, indices, out),
  // dx[n, c].flat[indices[n, c, o]] += g[n, c, o], so d g[n, c, o] = h[n, c].flat[indices[n, c, o]]:
  // a gather from the flattened h at indices offset by each plane's start.
  vjp: ({ inputs: [g, indices], attrs: { inputSize } }, [h], needed) => {
    if (!needed[0]) return [null, null];
    const [N, C] = [g.shape[0]!, g.shape[1]!];
    const plane = inputSize[0] * inputSize[1];
    const starts = fromArray(Array.from({ length: N * C }, (_, i) => i * plane), { shape: [N, C, 1, 1], dtype: "int32" });
    return [gather(reshape(h!, [-1]), add(indices, starts), 0), null];
  },
});

function maxPool2dGrad(g: Tensor, indices: Tensor, inputSize: Pair): Tensor {
  return apply(MaxPool2dGrad, [g, indices], { inputSize })[0];
}

interface AvgPoolAttrs extends Pool2dParams {
  readonly countIncludePad: boolean;
}

/**
 * Average pooling of `x` `[N, C, H, W]`, PyTorch's `avg_pool2d` (ceil mode off, no divisor
 * override): each window's sum over its size, padding counted when `countIncludePad`, else over
 * the real elements it covers. Linear: the vjp (`AvgPool2dGrad`) spreads each cotangent evenly.
 */
export const AvgPool2d: Primitive<readonly [Tensor], readonly [Tensor], AvgPoolAttrs> = definePrimitive<readonly [Tensor], readonly [Tensor], AvgPoolAttrs>({
  name: "AvgPool2d",
  infer: ([x], p) => {
    checkPool("AvgPool2d", p);
    if (p.dilation[0] !== 1 || p.dilation[1] !== 1) {
      throw new ValueRangeError("AvgPool2d", `average pooling has no dilation (got ${p.dilation.join("x")}), as in PyTorch`);
    }
    return [{ shape: pooledShape("AvgPool2d", x, p), dtype: x.dtype }];
  },
  kernel: (k, [x], [out], p) => k.avgPool2d(x, p, p.countIncludePad, out),
  vjp: ({ inputs: [x], attrs }, [g]) => [apply(AvgPool2dGrad, [g!], { ...attrs, inputSize: [x.shape[2]!, x.shape[3]!] })[0]],
});

type AvgPoolGradAttrs = AvgPoolAttrs & { readonly inputSize: Pair };

/** The gradient of `AvgPool2d`: `g` `[N, C, H_out, W_out]` -> `[N, C, inputSize]`. Its vjp is `AvgPool2d` (the pair are adjoint). */
export const AvgPool2dGrad: Primitive<readonly [Tensor], readonly [Tensor], AvgPoolGradAttrs> = definePrimitive<readonly [Tensor], readonly [Tensor], AvgPoolGradAttrs>({
  name: "AvgPool2dGrad",
  infer: ([g], p) => {
    checkPool("AvgPool2dGrad", p);
    return [{ shape: checkPoolCotangent("AvgPool2dGrad", g, p.inputSize, p), dtype: g.dtype }];
  },
  kernel: (k, [g], [out], p) => k.avgPool2dBackward(g, p, p.countIncludePad, out),
  vjp: ({ attrs }, [h]) => [
    apply(AvgPool2d, [h!], { kernel: attrs.kernel, stride: attrs.stride, pads: attrs.pads, dilation: attrs.dilation, countIncludePad: attrs.countIncludePad })[0],
  ],
});

/**
 * Mean over each plane: `x` `[N, C, H, W]` -> `[N, C, 1, 1]` (ONNX's GlobalAveragePool, PyTorch's
 * `adaptive_avg_pool2d(x, 1)`). vjp: `dx = broadcast(dy / (H·W))`.
 */
export const GlobalAvgPool2d = definePrimitive<readonly [Tensor], readonly [Tensor]>({
  name: "GlobalAvgPool2d",
  infer: ([x]) => {
    requireNCHW("GlobalAvgPool2d", x);
    if (x.shape[2] === 0 || x.shape[3] === 0) {
      throw new ShapeError("GlobalAvgPool2d", `input ${formatShape(x.shape)} has empty planes: there is no mean to take`);
    }
    return [{ shape: [x.shape[0]!, x.shape[1]!, 1, 1], dtype: x.dtype }];
  },
  kernel: (k, [x], [out]) => {
    const [H, W] = [x.shape[2]!, x.shape[3]!];
    k.avgPool2d(x, { kernel: [H, W], stride: [1, 1], pads: [0, 0, 0, 0], dilation: [1, 1] }, true, out);
  },
  vjp: ({ inputs: [x] }, [g]) => [broadcastTo(div(g!, x.shape[2]! * x.shape[3]!), x.shape)],
});

export interface MaxPool2dOptions {
  /** Window size: an int or `[kH, kW]`. */
  readonly kernel: Size2d;
  /** Default: the kernel size (non-overlapping windows), as PyTorch. */
  readonly stride?: Size2d;
  /** Implicit -infinity padding on both sides, at most half the kernel. Default 0. */
  readonly padding?: Size2d;
  /** Default 1. */
  readonly dilation?: Size2d;
}

export interface AvgPool2dOptions {
  readonly kernel: Size2d;
  /** Default: the kernel size. */
  readonly stride?: Size2d;
  /** Implicit zero padding on both sides, at most half the kernel. Default 0. */
  readonly padding?: Size2d;
  /** Whether the zeros of the padding count in a window's divisor. Default true, as PyTorch. */
  readonly countIncludePad?: boolean;
}

function poolParams(op: string, options: MaxPool2dOptions): Pool2dParams {
  if (typeof options !== "object" || options === null || options.kernel === undefined) {
    throw new ValueRangeError(op, "needs options with a kernel size, e.g. { kernel: 2 } or { kernel: [3, 3], stride: 2, padding: 1 }");
  }
  const kernel = pair(op, "kernel", options.kernel, 1);
  const stride = pair(op, "stride", options.stride ?? kernel, 1);
  const [pH, pW] = pair(op, "padding", options.padding ?? 0, 0);
  const dilation = pair(op, "dilation", options.dilation ?? 1, 1);
  return { kernel, stride, pads: [pH, pW, pH, pW], dilation };
}

/**
 * Max pooling, PyTorch's `F.max_pool2d(x, kernel, stride, padding, dilation)` (ceil mode off):
 * `[N, C, H, W]` -> `[N, C, H_out, W_out]`, `H_out = floor((H + 2·pH - dH·(kH - 1) - 1) / sH) + 1`.
 * The gradient goes to each window's maximum (the first on ties, as PyTorch).
 */
export function maxPool2d(x: Tensor, options: MaxPool2dOptions): Tensor {
  return apply(MaxPool2d, [x], poolParams("MaxPool2d", options))[0];
}

/** `maxPool2d` and the int32 position `h·W + w` of each maximum in its plane (PyTorch's `return_indices`). */
export function maxPool2dWithIndices(x: Tensor, options: MaxPool2dOptions): [Tensor, Tensor] {
  const [y, indices] = apply(MaxPool2d, [x], poolParams("MaxPool2d", options));
  return [y, indices];
}

/** Average pooling, PyTorch's `F.avg_pool2d(x, kernel, stride, padding, count_include_pad=True)` (ceil mode off). */
export function avgPool2d(x: Tensor, options: AvgPool2dOptions): Tensor {
  const p = poolParams("AvgPool2d", options);
  return apply(AvgPool2d, [x], { ...p, countIncludePad: options.countIncludePad ?? true })[0];
}

/**
 * The mean of each channel's plane: `[N, C, H, W]` -> `[N, C, 1, 1]` by default (as ONNX's
 * GlobalAveragePool and PyTorch's `adaptive_avg_pool2d(x, 1)`), or `[N, C]` with
 * `{ keepdims: false }` (the pooled vector a classifier head reads).
 */
export function globalAvgPool2d(x: Tensor, options: { readonly keepdims?: boolean } = {}): Tensor {
  const [y] = apply(GlobalAvgPool2d, [x], {});
  return options.keepdims ?? true ? y : squeeze(y, [2, 3]);
}
