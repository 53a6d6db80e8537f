// 2-D max and average pooling over NCHW planes, forward and backward, by direct loops over each
// output's window (PyTorch's CPU kernels' order, so ties and divisors come out the same).

import type { KernelTensor, Pool2dParams } from "../kernels.js";

interface Planes {
  /** N · C planes. */
  readonly planes: number;
  readonly H: number;
  readonly W: number;
  readonly Ho: number;
  readonly Wo: number;
}

function planes(input: readonly number[], output: readonly number[]): Planes {
  const [N, C, H, W] = input as [number, number, number, number];
  const [, , Ho, Wo] = output as [number, number, number, number];
  return { planes: N * C, H, W, Ho, Wo };
}

export function maxPool2d(x: KernelTensor, p: Pool2dParams, out: KernelTensor, indices: KernelTensor): void {
  const { planes: NC, H, W, Ho, Wo } = planes(x.shape, out.shape);
  const [kH, kW] = p.kernel;
  const [sH, sW] = p.stride;
  const [dH, dW] = p.dilation;
  const [top, left] = p.pads;
  const xs = x.data;
  const ys = out.data;
  const is = indices.data;
  for (let nc = 0; nc < NC; nc++) {
    const xo = nc * H * W;
    let o = nc * Ho * Wo;
    for (let oh = 0; oh < Ho; oh++) {
      // The first row and column of the window inside the image (PyTorch starts its argmax there).
      let hStart = oh * sH - top;
      const hEnd = Math.min(hStart + (kH - 1) * dH + 1, H);
      while (hStart < 0) hStart += dH;
      for (let ow = 0; ow < Wo; ow++, o++) {
        let wStart = ow * sW - left;
        const wEnd = Math.min(wStart + (kW - 1) * dW + 1, W);
        while (wStart < 0) wStart += dW;
        let best = -Infinity;
        let at = hStart * W + wStart;
        for (let h = hStart; h < hEnd; h += dH) {
          for (let w = wStart; w < wEnd; w += dW) {
            const v = xs[xo + h * W + w]!;
            // Strictly greater: the first maximum wins ties; a NaN always wins (propagates).
            if (v > best || Number.isNaN(v)) {
              best = v;
              at = h * W + w;
            }
          }
        }
        ys[o] = best;
        is[o] = at;
      }
    }
  }
}

export function maxPool2dBackward(dOut: KernelTensor, indices: KernelTensor, out: KernelTensor): void {
  const { planes: NC, H, W, Ho, Wo } = planes(out.shape, dOut.shape);
  const plane = H * W;
  const gs = dOut.data;
  const is = indices.data;
  const dx = out.data;
  for (let nc = 0; nc < NC; nc++) {
    const xo = nc * plane;
    for (let o = nc * Ho * Wo, end = o + Ho * Wo; o < end; o++) {
      const at = is[o]!;
      if (at >= 0 && at < plane) dx[xo + at] = dx[xo + at]! + gs[o]!;
    }
  }
}

/**
 * Visits every output's window as PyTorch's `avg_pool2d` bounds it: `[h0, h1) x [w0, w1)` inside
 * the image and the divisor (the window clipped to the padded image, or to the image alone).
 */
function forEachWindow(
  p: Pool2dParams,
  g: Planes,
  countIncludePad: boolean,
  visit: (o: number, h0: number, h1: number, w0: number, w1: number, divisor: number) => void,
): void {
  const { H, W, Ho, Wo } = g;
  const [kH, kW] = p.kernel;
  const [sH, sW] = p.stride;
  const [top, left, bottom, right] = p.pads;
  for (let oh = 0; oh < Ho; oh++) {
    const hs = oh * sH - top;
    const he = Math.min(hs + kH, H + bottom);
    const h0 = Math.max(hs, 0);
    const h1 = Math.min(he, H);
    for (let ow = 0; ow < Wo; ow++) {
      const ws = ow * sW - left;
      const we = Math.min(ws + kW, W + right);
      const w0 = Math.max(ws, 0);
      const w1 = Math.min(we, W);
      const divisor = countIncludePad ? (he - hs) * (we - ws) : (h1 - h0) * (w1 - w0);
      visit(oh * Wo + ow, h0, h1, w0, w1, divisor);
    }
  }
}

export function avgPool2d(x: KernelTensor, p: Pool2dParams, countIncludePad: boolean, out: KernelTensor): void {
  const g = planes(x.shape, out.shape);
  const { planes: NC, H, W, Ho, Wo } = g;
  const xs = x.data;
  const ys = out.data;
  for (let nc = 0; nc < NC; nc++) {
    const xo = nc * H * W;
    const yo = nc * Ho * Wo;
    forEachWindow(p, g, countIncludePad, (o, h0, h1, w0, w1, divisor) => {
      if (h0 >= h1 || w0 >= w1) return; // a window wholly in the padding: 0, as PyTorch
      let s = 0;
      for (let h = h0; h < h1; h++) for (let w = w0, r = xo + h * W; w < w1; w++) s += xs[r + w]!;
      ys[yo + o] = s / divisor;
    });
  }
}

export function avgPool2dBackward(dOut: KernelTensor, p: Pool2dParams, countIncludePad: boolean, out: KernelTensor): void {
  const g = planes(out.shape, dOut.shape);
  const { planes: NC, H, W, Ho, Wo } = g;
  const gs = dOut.data;
  const dx = out.data;
  for (let nc = 0; nc < NC; nc++) {
    const xo = nc * H * W;
    const yo = nc * Ho * Wo;
    // forward: y[o] = Σ_window x / divisor, so each x in the window receives dOut[o] / divisor
    forEachWindow(p, g, countIncludePad, (o, h0, h1, w0, w1, divisor) => {
      if (h0 >= h1 || w0 >= w1) return;
      const share = gs[yo + o]! / divisor;
      for (let h = h0; h < h1; h++) for (let w = w0, r = xo + h * W; w < w1; w++) dx[r + w] = dx[r + w]! + share;
    });
  }
}
