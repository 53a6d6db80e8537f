// 2-D convolution by im2col and the matmul kernel's register-blocked product (gemmRowsByRows):
// per image and group, the receptive fields are copied into a matrix whose rows are contiguous
// over the reduction axis (C_in/groups · kH · kW), so every output is one dot product of two
// contiguous rows, accumulated in double precision. The backward passes are products of the
// same shapes: the input's gradient a product with the weight followed by col2im (a transposed
// convolution), the weight's a product with the receptive fields, summed over the batch.
// Depthwise convolutions (one input channel per group) run as direct loops instead.

import { allocate, type DataArray, type DType } from "../../dtype.js";
import type { Conv2dParams, KernelTensor } from "../kernels.js";
import { gemmRowsByRows, transposeInto } from "./matmul.js";

/** The shapes of one convolution, read off its tensors. */
interface Geometry {
  readonly N: number;
  readonly C: number;
  readonly H: number;
  readonly W: number;
  readonly Co: number;
  readonly kH: number;
  readonly kW: number;
  readonly Ho: number;
  readonly Wo: number;
  /** Input channels per group. */
  readonly Cg: number;
  /** Output channels per group. */
  readonly Cog: number;
  /** Length of a receptive field: Cg · kH · kW. */
  readonly K: number;
  /** Output positions per plane: Ho · Wo. */
  readonly P: number;
  readonly p: Conv2dParams;
}

function geometry(input: readonly number[], weight: readonly number[], output: readonly number[], p: Conv2dParams): Geometry {
  const [N, C, H, W] = input as [number, number, number, number];
  const [Co, Cg, kH, kW] = weight as [number, number, number, number];
  const [, , Ho, Wo] = output as [number, number, number, number];
  return { N, C, H, W, Co, kH, kW, Ho, Wo, Cg, Cog: Co / p.groups, K: Cg * kH * kW, P: Ho * Wo, p };
}

function floatDType(data: DataArray): DType {
  return data instanceof Float64Array ? "float64" : "float32";
}

/**
 * Output positions `o` in `[lo, hi)` whose input coordinate `o * stride + offset` lies in `[0, size)`.
 */
function validRange(offset: number, stride: number, size: number, count: number): [number, number] {
  const lo = offset >= 0 ? 0 : Math.ceil(-offset / stride);
  const hi = size - 1 - offset < 0 ? 0 : Math.floor((size - 1 - offset) / stride) + 1;
  return [Math.min(lo, count), Math.min(Math.max(hi, lo), count)];
}

/**
 * Receptive fields of one image's group as rows: `rows[o * K + (c * kH + i) * kW + j]` is input
 * channel `c` at `(oh·sH - top + i·dH, ow·sW - left + j·dW)`, zero outside the image. `(P, K)`
 */
function im2colRows(x: DataArray, xo: number, g: Geometry, rows: DataArray): void {
  const { H, W, kH, kW, Ho, Wo, Cg, K } = g;
  const [sH, sW] = g.p.stride;
  const [dH, dW] = g.p.dilation;
  const [top, left] = g.p.pads;
  const plane = H * W;
  for (let oh = 0; oh < Ho; oh++) {
    const h0 = oh * sH - top;
    for (let ow = 0; ow < Wo; ow++) {
      const w0 = ow * sW - left;
      let q = (oh * Wo + ow) * K;
      const inside = h0 >= 0 && h0 + (kH - 1) * dH < H && w0 >= 0 && w0 + (kW - 1) * dW < W;
      for (let c = 0; c < Cg; c++) {
        const xc = xo + c * plane;
        for (let i = 0; i < kH; i++) {
          const h = h0 + i * dH;
          if (inside) {
            const r = xc + h * W + w0;
            for (let j = 0; j < kW; j++) rows[q++] = x[r + j * dW]!;
          } else if (h < 0 || h >= H) {
            for (let j = 0; j < kW; j++) rows[q++] = 0;
          } else {
            const r = xc + h * W;
            for (let j = 0; j < kW; j++) {
              const w = w0 + j * dW;
              rows[q++] = w >= 0 && w < W ? x[r + w]! : 0;
            }
          }
        }
      }
    }
  }
}

/** The adjoint of `im2colRows`: adds every row entry back onto the input position it was read from. */
function col2imRowsAdd(rows: DataArray, g: Geometry, dx: DataArray, xo: number): void {
  const { H, W, kH, kW, Ho, Wo, Cg, K } = g;
  const [sH, sW] = g.p.stride;
  const [dH, dW] = g.p.dilation;
  const [top, left] = g.p.pads;
  const plane = H * W;
  for (let oh = 0; oh < Ho; oh++) {
    const h0 = oh * sH - top;
    for (let ow = 0; ow < Wo; ow++) {
      const w0 = ow * sW - left;
      let q = (oh * Wo + ow) * K;
      for (let c = 0; c < Cg; c++) {
        const xc = xo + c * plane;
        for (let i = 0; i < kH; i++) {
          const h = h0 + i * dH;
          if (h < 0 || h >= H) {
            q += kW;
            continue;
          }
          const r = xc + h * W;
          for (let j = 0; j < kW; j++, q++) {
            const w = w0 + j * dW;
            if (w >= 0 && w < W) dx[r + w] = dx[r + w]! + rows[q]!;
          }
        }
      }
    }
  }
}

/**
 * Receptive fields of one image's group as columns: `cols[k * P + o]`, the transpose of
 * `im2colRows`, whose rows are contiguous over output positions (stride 1 reads the input in runs). `(K, P)`
 */
function im2colColumns(x: DataArray, xo: number, g: Geometry, cols: DataArray): void {
  const { H, W, kH, kW, Ho, Wo, Cg, P } = g;
  const [sH, sW] = g.p.stride;
  const [dH, dW] = g.p.dilation;
  const [top, left] = g.p.pads;
  const plane = H * W;
  let k = 0;
  for (let c = 0; c < Cg; c++) {
    const xc = xo + c * plane;
    for (let i = 0; i < kH; i++) {
      const [ohLo, ohHi] = validRange(i * dH - top, sH, H, Ho);
      for (let j = 0; j < kW; j++, k++) {
        const row = k * P;
        const wOff = j * dW - left;
        const [owLo, owHi] = validRange(wOff, sW, W, Wo);
        cols.fill(0, row, row + ohLo * Wo);
        for (let oh = ohLo; oh < ohHi; oh++) {
          const o = row + oh * Wo;
          const r = xc + (oh * sH + i * dH - top) * W + wOff;
          cols.fill(0, o, o + owLo);
          if (sW === 1) for (let ow = owLo; ow < owHi; ow++) cols[o + ow] = x[r + ow]!;
          else for (let ow = owLo; ow < owHi; ow++) cols[o + ow] = x[r + ow * sW]!;
          cols.fill(0, o + owHi, o + Wo);
        }
        cols.fill(0, row + ohHi * Wo, row + P);
      }
    }
  }
}

// Depthwise convolutions (one input channel per group: C_in/groups = 1, MobileNet's 3x3 layers)
// by direct loops: a product per group would have one row, all overhead and no reuse.

function depthwiseForward(x: KernelTensor, weight: KernelTensor, bias: KernelTensor | null, g: Geometry, out: KernelTensor): void {
  const { N, C, H, W, Co, kH, kW, Ho, Wo, Cog, P } = g;
  const [sH, sW] = g.p.stride;
  const [dH, dW] = g.p.dilation;
  const [top, left] = g.p.pads;
  const xs = x.data;
  const ws = weight.data;
  const ys = out.data;
  // The output positions each kernel column reads inside the image: [owLo[j], owHi[j]).
  const owLo = new Int32Array(kW);
  const owHi = new Int32Array(kW);
  for (let j = 0; j < kW; j++) [owLo[j], owHi[j]] = validRange(j * dW - left, sW, W, Wo);
  const acc = new Float64Array(Wo); // one output row, accumulated in double precision
  for (let n = 0; n < N; n++) {
    for (let co = 0; co < Co; co++) {
      const xo = (n * C + Math.floor(co / Cog)) * H * W; // the group's one input channel
      const wo = co * kH * kW;
      const yo = (n * Co + co) * P;
      const b = bias ? bias.data[co]! : 0;
      for (let oh = 0; oh < Ho; oh++) {
        acc.fill(b);
        // y[oh, ow] = b + Σ_{i, j} w[i, j] · x[oh·sH - top + i·dH, ow·sW - left + j·dW], a row at a time
        for (let i = 0; i < kH; i++) {
          const h = oh * sH - top + i * dH;
          if (h < 0 || h >= H) continue;
          for (let j = 0; j < kW; j++) {
            const wv = ws[wo + i * kW + j]!;
            const r = xo + h * W + j * dW - left;
            const hi = owHi[j]!;
            if (sW === 1) for (let ow = owLo[j]!; ow < hi; ow++) acc[ow] = acc[ow]! + wv * xs[r + ow]!;
            else for (let ow = owLo[j]!; ow < hi; ow++) acc[ow] = acc[ow]! + wv * xs[r + ow * sW]!;
          }
        }
        const o = yo + oh * Wo;
        for (let ow = 0; ow < Wo; ow++) ys[o + ow] = acc[ow]!;
      }
    }
  }
}

function depthwiseBackwardInput(dOut: KernelTensor, weight: KernelTensor, g: Geometry, out: KernelTensor): void {
  const { N, C, H, W, Co, kH, kW, Ho, Wo, Cog, P } = g;
  const [sH, sW] = g.p.stride;
  const [dH, dW] = g.p.dilation;
  const [top, left] = g.p.pads;
  const gs = dOut.data;
  const ws = weight.data;
  const dx = out.data;
  for (let n = 0; n < N; n++) {
    for (let co = 0; co < Co; co++) {
      const xo = (n * C + Math.floor(co / Cog)) * H * W;
      const wo = co * kH * kW;
      const yo = (n * Co + co) * P;
      // forward: y[oh, ow] += w[i, j] · x[oh·sH - top + i·dH, ow·sW - left + j·dW], so each x receives w · dy
      for (let i = 0; i < kH; i++) {
        const [ohLo, ohHi] = validRange(i * dH - top, sH, H, Ho);
        for (let j = 0; j < kW; j++) {
          const [owLo, owHi] = validRange(j * dW - left, sW, W, Wo);
          const wv = ws[wo + i * kW + j]!;
          for (let oh = ohLo; oh < ohHi; oh++) {
            const r = xo + (oh * sH + i * dH - top) * W + j * dW - left;
            const o = yo + oh * Wo;
            for (let ow = owLo; ow < owHi; ow++) dx[r + ow * sW] = dx[r + ow * sW]! + wv * gs[o + ow]!;
          }
        }
      }
    }
  }
}

function depthwiseBackwardWeight(x: KernelTensor, dOut: KernelTensor, g: Geometry, out: KernelTensor): void {
  const { N, C, H, W, Co, kH, kW, Ho, Wo, Cog, P } = g;
  const [sH, sW] = g.p.stride;
  const [dH, dW] = g.p.dilation;
  const [top, left] = g.p.pads;
  const xs = x.data;
  const gs = dOut.data;
  const total = new Float64Array(Co * kH * kW); // summed over the batch in double precision
  for (let n = 0; n < N; n++) {
    for (let co = 0; co < Co; co++) {
      const xo = (n * C + Math.floor(co / Cog)) * H * W;
      const yo = (n * Co + co) * P;
      // dw[i, j] = Σ_{oh, ow} dy[oh, ow] · x[oh·sH - top + i·dH, ow·sW - left + j·dW]
      for (let i = 0; i < kH; i++) {
        const [ohLo, ohHi] = validRange(i * dH - top, sH, H, Ho);
        for (let j = 0; j < kW; j++) {
          const [owLo, owHi] = validRange(j * dW - left, sW, W, Wo);
          let s = 0;
          for (let oh = ohLo; oh < ohHi; oh++) {
            const r = xo + (oh * sH + i * dH - top) * W + j * dW - left;
            const o = yo + oh * Wo;
            for (let ow = owLo; ow < owHi; ow++) s += gs[o + ow]! * xs[r + ow * sW]!;
          }
          total[(co * kH + i) * kW + j] = total[(co * kH + i) * kW + j]! + s;
        }
      }
    }
  }
  out.data.set(total);
}

export function conv2d(x: KernelTensor, weight: KernelTensor, bias: KernelTensor | null, params: Conv2dParams, out: KernelTensor): void {
  const g = geometry(x.shape, weight.shape, out.shape, params);
  const { N, C, H, W, Co, Cg, Cog, K, P } = g;
  if (out.data.length === 0) return;
  if (Cg === 1) return depthwiseForward(x, weight, bias, g, out);
  const rows = allocate(floatDType(out.data), P * K);
  for (let n = 0; n < N; n++) {
    for (let grp = 0; grp < params.groups; grp++) {
      im2colRows(x.data, (n * C + grp * Cg) * H * W, g, rows);
      // out[n, grp] (Cog, P) = weight[grp] (Cog, K) · rowsᵀ
      gemmRowsByRows(weight.data, grp * Cog * K, rows, 0, out.data, (n * Co + grp * Cog) * P, Cog, P, K);
    }
    if (bias) {
      for (let co = 0; co < Co; co++) {
        const b = bias.data[co]!;
        const o = (n * Co + co) * P;
        for (let q = o; q < o + P; q++) out.data[q] = out.data[q]! + b;
      }
    }
  }
}

export function conv2dBackwardInput(dOut: KernelTensor, weight: KernelTensor, params: Conv2dParams, out: KernelTensor): void {
  const g = geometry(out.shape, weight.shape, dOut.shape, params);
  const { N, C, H, W, Co, Cg, Cog, K, P } = g;
  if (out.data.length === 0) return;
  if (Cg === 1) return depthwiseBackwardInput(dOut, weight, g, out);
  const dtype = floatDType(out.data);
  // weight[grp]ᵀ, one (K, Cog) block per group
  const weightT = allocate(dtype, params.groups * K * Cog);
  for (let grp = 0; grp < params.groups; grp++) transposeInto(weight.data, grp * Cog * K, Cog, K, weightT.subarray(grp * K * Cog));
  const dOutT = allocate(dtype, P * Cog); // (P, Cog)
  const rows = allocate(dtype, P * K); // (P, K)
  for (let n = 0; n < N; n++) {
    for (let grp = 0; grp < params.groups; grp++) {
      // forward: out[n, grp] = weight[grp] · rowsᵀ, so d rows (P, K) = dOut[n, grp]ᵀ (P, Cog) · weight[grp] (Cog, K)
      transposeInto(dOut.data, (n * Co + grp * Cog) * P, Cog, P, dOutT);
      gemmRowsByRows(dOutT, 0, weightT, grp * K * Cog, rows, 0, P, K, Cog);
      col2imRowsAdd(rows, g, out.data, (n * C + grp * Cg) * H * W);
    }
  }
}

export function conv2dBackwardWeight(x: KernelTensor, dOut: KernelTensor, params: Conv2dParams, out: KernelTensor): void {
  const g = geometry(x.shape, out.shape, dOut.shape, params);
  const { N, C, H, W, Co, Cg, Cog, K, P } = g;
  if (out.data.length === 0) return;
  if (Cg === 1) return depthwiseBackwardWeight(x, dOut, g, out);
  const cols = allocate(floatDType(out.data), K * P); // (K, P)
  const block = new Float64Array(Cog * K); // one image's contribution, (Cog, K)
  const total = new Float64Array(Co * K); // summed over the batch in double precision
  for (let n = 0; n < N; n++) {
    for (let grp = 0; grp < params.groups; grp++) {
      im2colColumns(x.data, (n * C + grp * Cg) * H * W, g, cols);
      // forward: out[n, grp] = weight[grp] · rowsᵀ, so d weight[grp] += dOut[n, grp] (Cog, P) · cols (K, P)ᵀ
      gemmRowsByRows(dOut.data, (n * Co + grp * Cog) * P, cols, 0, block, 0, Cog, K, P);
      const o = grp * Cog * K;
      for (let q = 0; q < Cog * K; q++) total[o + q] = total[o + q]! + block[q]!;
    }
  }
  out.data.set(total);
}
