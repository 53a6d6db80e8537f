import type { KernelTensor } from "../kernels.js";
import { planBroadcast } from "./broadcast-plan.js";

function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d]!;
  }
  return s;
}

export function broadcastTo(x: KernelTensor, out: KernelTensor): void {
  const plan = planBroadcast(out.shape, [x.shape]);
  const off = plan.offsets[0]!;
  const s = plan.strides[0]!;
  const xd = x.data;
  const o = out.data;
  const n = plan.length;
  for (let r = 0; r < plan.rows; r++) {
    const oo = r * n;
    const xo = off[r]!;
    if (s === 0) o.fill(xd[xo]!, oo, oo + n);
    else o.set(xd.subarray(xo, xo + n), oo);
  }
}

export function transpose(x: KernelTensor, perm: readonly number[], out: KernelTensor): void {
  const rank = perm.length;
  const xd = x.data;
  const o = out.data;
  if (o.length === 0) return;
  if (rank === 0) {
    o[0] = xd[0]!; // a scalar: the odometer below needs an innermost axis
    return;
  }
  const xStrides = stridesOf(x.shape);
  // Input stride of each output axis; walk the output in order with an odometer.
  const src = perm.map((p) => xStrides[p]!);
  const dims = out.shape;
  if (rank === 2) {
    const R = dims[0]!;
    const C = dims[1]!;
    const s0 = src[0]!;
    const s1 = src[1]!;
    const B = 32;
    for (let i0 = 0; i0 < R; i0 += B) {
      for (let j0 = 0; j0 < C; j0 += B) {
        const iEnd = Math.min(i0 + B, R);
        const jEnd = Math.min(j0 + B, C);
        for (let i = i0; i < iEnd; i++) for (let j = j0; j < jEnd; j++) o[i * C + j] = xd[i * s0 + j * s1]!;
      }
    }
    return;
  }
  const inner = dims[rank - 1]!;
  const sInner = src[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  let xo = 0;
  for (let oo = 0; oo < o.length; oo += inner) {
    for (let j = 0; j < inner; j++) o[oo + j] = xd[xo + j * sInner]!;
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      xo += src[d]!;
      if (idx[d]! < dims[d]!) break;
      xo -= src[d]! * dims[d]!;
      idx[d] = 0;
    }
  }
}

export function concat(xs: readonly KernelTensor[], axis: number, out: KernelTensor): void {
  const shape = out.shape;
  let outer = 1;
  for (let d = 0; d < axis; d++) outer *= shape[d]!;
  let inner = 1;
  for (let d = axis + 1; d < shape.length; d++) inner *= shape[d]!;
  const outRow = shape[axis]! * inner;
  let at = 0;
  for (const x of xs) {
    const chunk = x.shape[axis]! * inner;
    for (let o = 0; o < outer; o++) {
      out.data.set(x.data.subarray(o * chunk, (o + 1) * chunk), o * outRow + at);
    }
    at += chunk;
  }
}

/** Copies a box between two row-major arrays: `count` of shape, from `srcStart` to `dstStart`. */
function copyBox(
  src: KernelTensor["data"],
  srcShape: readonly number[],
  srcStart: readonly number[],
  dst: KernelTensor["data"],
  dstShape: readonly number[],
  dstStart: readonly number[],
  count: readonly number[],
): void {
  const rank = count.length;
  if (count.some((c) => c === 0)) return;
  if (rank === 0) {
    dst[0] = src[0]!;
    return;
  }
  const ss = stridesOf(srcShape);
  const ds = stridesOf(dstShape);
  let so = 0;
  let dO = 0;
  for (let d = 0; d < rank; d++) {
    so += srcStart[d]! * ss[d]!;
    dO += dstStart[d]! * ds[d]!;
  }
  const inner = count[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  for (;;) {
    dst.set(src.subarray(so, so + inner), dO);
    let d = rank - 2;
    for (; d >= 0; d--) {
      idx[d]!++;
      so += ss[d]!;
      dO += ds[d]!;
      if (idx[d]! < count[d]!) break;
      so -= ss[d]! * count[d]!;
      dO -= ds[d]! * count[d]!;
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

export function slice(x: KernelTensor, starts: readonly number[], out: KernelTensor): void {
  copyBox(x.data, x.shape, starts, out.data, out.shape, out.shape.map(() => 0), out.shape);
}

export function pad(x: KernelTensor, before: readonly number[], value: number, out: KernelTensor): void {
  if (value !== 0) out.data.fill(value);
  copyBox(x.data, x.shape, x.shape.map(() => 0), out.data, out.shape, before, x.shape);
}
