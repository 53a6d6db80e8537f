import type { KernelTensor } from "../kernels.js";

function split(shape: readonly number[], axis: number): { outer: number; n: number; inner: number } {
  let outer = 1;
  for (let d = 0; d < axis; d++) outer *= shape[d]!;
  let inner = 1;
  for (let d = axis + 1; d < shape.length; d++) inner *= shape[d]!;
  return { outer, n: shape[axis]!, inner };
}

export function gather(x: KernelTensor, indices: KernelTensor, axis: number, out: KernelTensor): void {
  const { outer, n, inner } = split(x.shape, axis);
  const idx = indices.data;
  const m = idx.length;
  const xd = x.data;
  const o = out.data;
  for (let a = 0; a < outer; a++) {
    for (let j = 0; j < m; j++) {
      const src = (a * n + idx[j]!) * inner;
      const dst = (a * m + j) * inner;
      if (inner === 1) o[dst] = xd[src]!;
      else o.set(xd.subarray(src, src + inner), dst);
    }
  }
}

export function scatterAdd(indices: KernelTensor, updates: KernelTensor, axis: number, out: KernelTensor): void {
  const { outer, n, inner } = split(out.shape, axis);
  const idx = indices.data;
  const m = idx.length;
  const u = updates.data;
  const o = out.data;
  for (let a = 0; a < outer; a++) {
    for (let j = 0; j < m; j++) {
      const dst = (a * n + idx[j]!) * inner;
      const src = (a * m + j) * inner;
      for (let k = 0; k < inner; k++) o[dst + k] = o[dst + k]! + u[src + k]!;
    }
  }
}

export function oneHot(indices: KernelTensor, out: KernelTensor): void {
  const depth = out.shape[out.shape.length - 1]!;
  const idx = indices.data;
  const o = out.data;
  for (let i = 0; i < idx.length; i++) {
    const k = idx[i]!;
    if (k >= 0 && k < depth) o[i * depth + k] = 1;
  }
}
