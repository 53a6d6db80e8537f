// Host side of the convolution kernels in WebAssembly (assembly/conv.ts): lays the operands out in
// the module's memory, writes the geometry block the kernels read, and streams the batch through
// the module in chunks of whole images (the module's memory never shrinks, and a CNN's first
// activations are tens of MiB). Float32 only; float64, and shapes beyond the kernels' scratch,
// stay on the reference kernels, which are the oracle.

import type { Conv2dParams, KernelTensor } from "../kernels.js";
import { referenceKernels } from "../reference/index.js";
import { copyIn, copyOut, f32, Layout } from "./layout.js";
import type { KernelsExports } from "./module.js";
import type { Residency } from "./resident.js";

/** Words of the geometry block (assembly/conv.ts's F_* fields). */
const GEOMETRY_WORDS = 32;
/** The micro-kernel's tile rows (assembly/gemm-params.ts MR): packed weights pad Cog or K to a multiple. */
const MR = 4;
/** Output channels per group above which the kernels' per-thread scratch is too small (see assembly/conv.ts). */
const MAX_GROUP_CHANNELS = 4096;

/**
 * Bytes of operands one call lays out in the module, about (a single image larger than this still
 * runs, alone): larger batches run as several calls over consecutive images.
 */
let chunkBytes = 8 * 2 ** 20;

/** Sets the bytes per convolution call (tests make chunks of an image or two); returns the previous value. */
export function setConvChunkBytes(bytes: number): number {
  const previous = chunkBytes;
  chunkBytes = bytes;
  return previous;
}

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
  readonly groups: number;
  /** Input channels per group. */
  readonly Cg: number;
  /** Output channels per group. */
  readonly Cog: number;
  /** Receptive-field length Cg·kH·kW. */
  readonly K: number;
  /**
   * The kernels' zero-padded copy of an image (assembly/conv.ts): Hp rows of sW column phases of U
   * floats each per channel, covering every receptive field.
   */
  readonly Hp: number;
  readonly U: number;
  readonly paddedImage: number;
  readonly p: Conv2dParams;
}

function geometry(input: readonly number[], weight: readonly number[], output: readonly number[], p: Conv2dParams): Geometry {
  const [N, C, H, W] = input as [number, number, number, number];
  const [Co, Cg, kH, kW] = weight as [number, number, number, number];
  const [, , Ho, Wo] = output as [number, number, number, number];
  const [sH, sW] = p.stride;
  const [dH, dW] = p.dilation;
  const [top, left] = p.pads;
  const Hp = Math.max(top + H, (Ho - 1) * sH + (kH - 1) * dH + 1);
  const U = Math.ceil(Math.max(left + W, (Wo - 1) * sW + (kW - 1) * dW + 1) / sW);
  return { N, C, H, W, Co, kH, kW, Ho, Wo, groups: p.groups, Cg, Cog: Co / p.groups, K: Cg * kH * kW, Hp, U, paddedImage: C * Hp * sW * U, p };
}

const roundUp = (x: number, m: number): number => Math.ceil(x / m) * m;

/** Writes the geometry block for `n` images and the operands' addresses (0 where unused). */
function writeGeometry(
  wasm: KernelsExports, at: number, g: Geometry, n: number,
  addresses: { input: number; input2?: number; packed?: number; bias?: number; out: number; accumulate?: boolean; padded: number; offsets: number },
): void {
  const [sH, sW] = g.p.stride;
  const [dH, dW] = g.p.dilation;
  const [top, left] = g.p.pads;
  const words = new Int32Array(wasm.memory.buffer, at, GEOMETRY_WORDS);
  words.set([
    n, g.C, g.H, g.W, g.Co, g.kH, g.kW, g.Ho, g.Wo, sH, sW, top, left, dH, dW, g.groups,
    addresses.input, addresses.input2 ?? 0, addresses.packed ?? 0, addresses.bias ?? 0, addresses.out, addresses.accumulate ? 1 : 0,
    g.Hp, g.U, addresses.padded, addresses.offsets,
  ]);
}

/**
 * Images per call: as many as fit `chunkBytes` besides the fixed operands, a multiple of the
 * thread count where that leaves a chunk (the input gradient splits its work by images), at least 1.
 */
function imagesPerCall(N: number, fixedBytes: number, bytesPerImage: number, threads: number): number {
  let n = Math.max(1, Math.floor((chunkBytes - fixedBytes) / Math.max(1, bytesPerImage)));
  if (n >= threads) n -= n % threads;
  return Math.min(N, n);
}

function unsupported(g: Geometry): boolean {
  return g.Cog > MAX_GROUP_CHANNELS || g.Cog * g.K > 2 ** 26;
}

/** Float32 conv2d in WebAssembly; see `Kernels.conv2d`. */
export function wasmConv2d(
  wasm: KernelsExports, residency: Residency, threads: number,
  x: KernelTensor, weight: KernelTensor, bias: KernelTensor | null, params: Conv2dParams, out: KernelTensor,
): void {
  if (![x, weight, bias, out].every(f32)) return referenceKernels.conv2d(x, weight, bias, params, out);
  if (out.data.length === 0) return;
  const g = geometry(x.shape, weight.shape, out.shape, params);
  if (unsupported(g)) return referenceKernels.conv2d(x, weight, bias, params, out);
  const inImage = g.C * g.H * g.W;
  const outImage = g.Co * g.Ho * g.Wo;
  const fixed = 4 * (GEOMETRY_WORDS + g.Co * g.K + g.groups * roundUp(g.Cog, MR) * g.K + g.Co + g.K) + 7 * 64;
  const n = imagesPerCall(g.N, fixed, 4 * (inImage + outImage + g.paddedImage), threads);
  const L = new Layout();
  L.add("geometry", GEOMETRY_WORDS);
  L.add("weight", g.Co * g.K, residency.addressOf(weight.data));
  L.add("packed", g.groups * roundUp(g.Cog, MR) * g.K);
  L.add("bias", bias ? g.Co : 0, bias ? residency.addressOf(bias.data) : null);
  L.add("x", n * inImage);
  L.add("out", n * outImage);
  L.add("padded", n * g.paddedImage);
  L.add("offsets", g.K);
  const base = residency.callRegion(L.size);
  if (base === 0) return referenceKernels.conv2d(x, weight, bias, params, out);
  const a = (name: string): number => L.pinned[name] ?? base + L.at[name]!;
  if (L.pinned.weight === undefined) copyIn(wasm, a("weight"), weight.data as Float32Array);
  if (bias && L.pinned.bias === undefined) copyIn(wasm, a("bias"), bias.data as Float32Array);
  const xs = x.data as Float32Array;
  for (let n0 = 0; n0 < g.N; n0 += n) {
    const count = Math.min(n, g.N - n0);
    copyIn(wasm, a("x"), xs.subarray(n0 * inImage, (n0 + count) * inImage));
    writeGeometry(wasm, a("geometry"), g, count, {
      input: a("x"), packed: a("packed"), bias: bias ? a("bias") : 0, out: a("out"), padded: a("padded"), offsets: a("offsets"),
    });
    wasm.conv2dForwardF32(a("geometry"), a("weight"));
    copyOut(wasm, a("out"), out.data, n0 * outImage, count * outImage);
  }
}

/** Float32 gradient of conv2d with respect to its input in WebAssembly; see `Kernels.conv2dBackwardInput`. */
export function wasmConv2dBackwardInput(
  wasm: KernelsExports, residency: Residency, threads: number,
  dOut: KernelTensor, weight: KernelTensor, params: Conv2dParams, out: KernelTensor,
): void {
  if (![dOut, weight, out].every(f32)) return referenceKernels.conv2dBackwardInput(dOut, weight, params, out);
  if (out.data.length === 0) return;
  const g = geometry(out.shape, weight.shape, dOut.shape, params);
  if (unsupported(g)) return referenceKernels.conv2dBackwardInput(dOut, weight, params, out);
  const dyImage = g.Co * g.Ho * g.Wo;
  const dxImage = g.C * g.H * g.W;
  const fixed = 4 * (GEOMETRY_WORDS + g.Co * g.K + g.groups * roundUp(g.K, MR) * g.Cog + g.K) + 6 * 64;
  const n = imagesPerCall(g.N, fixed, 4 * (dyImage + dxImage + g.paddedImage), threads);
  const L = new Layout();
  L.add("geometry", GEOMETRY_WORDS);
  L.add("weight", g.Co * g.K, residency.addressOf(weight.data));
  L.add("packed", g.groups * roundUp(g.K, MR) * g.Cog);
  L.add("dy", n * dyImage);
  L.add("dx", n * dxImage);
  L.add("padded", n * g.paddedImage);
  L.add("offsets", g.K);
  const base = residency.callRegion(L.size);
  if (base === 0) return referenceKernels.conv2dBackwardInput(dOut, weight, params, out);
  const a = (name: string): number => L.pinned[name] ?? base + L.at[name]!;
  if (L.pinned.weight === undefined) copyIn(wasm, a("weight"), weight.data as Float32Array);
  const dys = dOut.data as Float32Array;
  for (let n0 = 0; n0 < g.N; n0 += n) {
    const count = Math.min(n, g.N - n0);
    copyIn(wasm, a("dy"), dys.subarray(n0 * dyImage, (n0 + count) * dyImage));
    writeGeometry(wasm, a("geometry"), g, count, { input: a("dy"), packed: a("packed"), out: a("dx"), padded: a("padded"), offsets: a("offsets") });
    wasm.conv2dBackwardInputF32(a("geometry"), a("weight"));
    copyOut(wasm, a("dx"), out.data, n0 * dxImage, count * dxImage);
  }
}

/** Float32 gradient of conv2d with respect to its weight in WebAssembly; see `Kernels.conv2dBackwardWeight`. */
export function wasmConv2dBackwardWeight(
  wasm: KernelsExports, residency: Residency, threads: number,
  x: KernelTensor, dOut: KernelTensor, params: Conv2dParams, out: KernelTensor,
): void {
  if (![x, dOut, out].every(f32)) return referenceKernels.conv2dBackwardWeight(x, dOut, params, out);
  if (out.data.length === 0) return;
  const g = geometry(x.shape, out.shape, dOut.shape, params);
  if (unsupported(g)) return referenceKernels.conv2dBackwardWeight(x, dOut, params, out);
  if (g.N === 0) return void out.data.fill(0); // no images: a zero gradient
  const xImage = g.C * g.H * g.W;
  const dyImage = g.Co * g.Ho * g.Wo;
  const fixed = 4 * (GEOMETRY_WORDS + g.Co * g.K + g.K) + 5 * 64;
  const n = imagesPerCall(g.N, fixed, 4 * (xImage + dyImage + g.paddedImage), threads);
  const L = new Layout();
  L.add("geometry", GEOMETRY_WORDS);
  L.add("dw", g.Co * g.K);
  L.add("x", n * xImage);
  L.add("dy", n * dyImage);
  L.add("padded", n * g.paddedImage);
  L.add("offsets", g.K);
  const base = residency.callRegion(L.size);
  if (base === 0) return referenceKernels.conv2dBackwardWeight(x, dOut, params, out);
  const a = (name: string): number => base + L.at[name]!;
  const xs = x.data as Float32Array;
  const dys = dOut.data as Float32Array;
  // The weight gradient sums over the images in order, chunk after chunk, in the module.
  for (let n0 = 0; n0 < g.N; n0 += n) {
    const count = Math.min(n, g.N - n0);
    copyIn(wasm, a("x"), xs.subarray(n0 * xImage, (n0 + count) * xImage));
    copyIn(wasm, a("dy"), dys.subarray(n0 * dyImage, (n0 + count) * dyImage));
    writeGeometry(wasm, a("geometry"), g, count, {
      input: a("x"), input2: a("dy"), out: a("dw"), accumulate: n0 > 0, padded: a("padded"), offsets: a("offsets"),
    });
    wasm.conv2dBackwardWeightF32(a("geometry"));
  }
  copyOut(wasm, a("dw"), out.data, 0, g.Co * g.K);
}
