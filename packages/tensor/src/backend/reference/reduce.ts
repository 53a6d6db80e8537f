import type { DataArray } from "../../dtype.js";
import type { KernelTensor, ReduceOp } from "../kernels.js";

/**
 * Views `shape` as alternating kept/reduced blocks after merging neighbours of the same kind:
 * `[outer kept][reduced][inner kept]...`. Returns the merged sizes and which are reduced.
 */
export function mergeAxes(shape: readonly number[], axes: readonly number[]): { sizes: number[]; reduced: boolean[] } {
  const sizes: number[] = [];
  const reduced: boolean[] = [];
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d]!;
    if (n === 1) continue;
    const isReduced = axes.includes(d);
    const last = sizes.length - 1;
    if (last >= 0 && reduced[last] === isReduced) sizes[last] = sizes[last]! * n;
    else {
      sizes.push(n);
      reduced.push(isReduced);
    }
  }
  return { sizes, reduced };
}

function combine(op: ReduceOp, o: DataArray, oi: number, v: number): void {
  if (op === "sum") o[oi] = o[oi]! + v;
  else {
    const m = o[oi]!;
    if (v > m || v !== v) o[oi] = m !== m ? m : v; // NaN wins, as in PyTorch
  }
}

export function reduce(op: ReduceOp, x: KernelTensor, axes: readonly number[], out: KernelTensor): void {
  const xd = x.data;
  const o = out.data;
  if (op === "max") o.fill(-Infinity);
  else o.fill(0);
  if (xd.length === 0) return;
  const { sizes, reduced } = mergeAxes(x.shape, axes);
  // Common fast paths: everything reduced; rows reduced (last block); columns reduced (first block).
  if (sizes.length === 0 || (sizes.length === 1 && reduced[0])) {
    let acc = op === "sum" ? 0 : -Infinity;
    if (op === "sum") for (let i = 0; i < xd.length; i++) acc += xd[i]!;
    else for (let i = 0; i < xd.length; i++) {
      const v = xd[i]!;
      if (v > acc || v !== v) acc = acc !== acc ? acc : v;
    }
    o[0] = sizes.length === 0 ? xd[0]! : acc;
    return;
  }
  if (sizes.length === 1) {
    o.set(xd);
    return;
  }
  if (sizes.length === 2 && !reduced[0] && reduced[1]) {
    const rows = sizes[0]!;
    const len = sizes[1]!;
    for (let r = 0; r < rows; r++) {
      let acc = op === "sum" ? 0 : -Infinity;
      const base = r * len;
      if (op === "sum") for (let i = 0; i < len; i++) acc += xd[base + i]!;
      else for (let i = 0; i < len; i++) {
        const v = xd[base + i]!;
        if (v > acc || v !== v) acc = acc !== acc ? acc : v;
      }
      o[r] = acc;
    }
    return;
  }
  if (sizes.length === 2 && reduced[0] && !reduced[1]) {
    const rows = sizes[0]!;
    const len = sizes[1]!;
    if (op === "sum") {
      for (let r = 0; r < rows; r++) {
        const base = r * len;
        for (let i = 0; i < len; i++) o[i] = o[i]! + xd[base + i]!;
      }
    } else {
      for (let r = 0; r < rows; r++) for (let i = 0; i < len; i++) combine(op, o, i, xd[r * len + i]!);
    }
    return;
  }
  // General case: odometer over the merged blocks, output stride 0 on reduced blocks.
  const rank = sizes.length;
  const outStrides = new Array<number>(rank).fill(0);
  let s = 1;
  for (let d = rank - 1; d >= 0; d--) {
    if (!reduced[d]) {
      outStrides[d] = s;
      s *= sizes[d]!;
    }
  }
  const idx = new Array<number>(rank).fill(0);
  let oi = 0;
  for (let i = 0; i < xd.length; i++) {
    combine(op, o, oi, xd[i]!);
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      oi += outStrides[d]!;
      if (idx[d]! < sizes[d]!) break;
      oi -= outStrides[d]! * sizes[d]!;
      idx[d] = 0;
    }
  }
}

export function argmax(x: KernelTensor, axis: number, out: KernelTensor): void {
  const shape = x.shape;
  let outer = 1;
  for (let d = 0; d < axis; d++) outer *= shape[d]!;
  let inner = 1;
  for (let d = axis + 1; d < shape.length; d++) inner *= shape[d]!;
  const n = shape[axis]!;
  const xd = x.data;
  const o = out.data;
  for (let a = 0; a < outer; a++) {
    for (let c = 0; c < inner; c++) {
      const base = a * n * inner + c;
      let best = 0;
      let bestV = xd[base]!;
      for (let k = 1; k < n; k++) {
        const v = xd[base + k * inner]!;
        if (bestV !== bestV) break; // NaN is the maximum, as in PyTorch
        if (v > bestV || v !== v) {
          best = k;
          bestV = v;
        }
      }
      o[a * inner + c] = best;
    }
  }
}
