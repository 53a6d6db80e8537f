import type { Shape } from "../../shape.js";

/**
 * How to walk a broadcast: the output as `rows` contiguous runs of `length` elements, and for
 * each input the start offset of every run and the stride inside it (0 when that input is
 * broadcast along the run). Adjacent axes that every operand traverses contiguously are merged
 * first, so the same-shape case is one run and a bias add `[B,H] + [H]` is B runs of H.
 */
export interface BroadcastPlan {
  readonly rows: number;
  readonly length: number;
  readonly offsets: readonly Int32Array[];
  readonly strides: readonly number[];
}

export function planBroadcast(outShape: Shape, inShapes: readonly Shape[]): BroadcastPlan {
  const rank = outShape.length;
  const dims: number[] = [];
  const strides: number[][] = inShapes.map(() => []);
  const inStrides = inShapes.map((shape) => {
    const s = new Array<number>(rank).fill(0);
    let acc = 1;
    for (let d = shape.length - 1; d >= 0; d--) {
      const od = d + rank - shape.length;
      s[od] = shape[d] === 1 ? 0 : acc;
      acc *= shape[d]!;
    }
    return s;
  });
  for (let d = 0; d < rank; d++) {
    if (outShape[d] === 1) continue;
    dims.push(outShape[d]!);
    inStrides.forEach((s, k) => strides[k]!.push(s[d]!));
  }
  // Merge axis d into d+1 when every input walks them as one contiguous (or fully broadcast) axis.
  const mDims: number[] = [];
  const mStrides: number[][] = inShapes.map(() => []);
  for (let d = dims.length - 1; d >= 0; d--) {
    const n = dims[d]!;
    const last = mDims.length - 1;
    const mergeable =
      last >= 0 && strides.every((s, k) => s[d] === mStrides[k]![last]! * mDims[last]!);
    if (mergeable) {
      mDims[last] = mDims[last]! * n;
    } else {
      mDims.push(n);
      strides.forEach((s, k) => mStrides[k]!.push(s[d]!));
    }
  }
  mDims.reverse();
  mStrides.forEach((s) => s.reverse());
  const length = mDims.length > 0 ? mDims[mDims.length - 1]! : 1;
  const outer = mDims.slice(0, -1);
  let rows = 1;
  for (const d of outer) rows *= d;
  if (mDims.length === 0) rows = 1;
  for (const d of outShape) if (d === 0) rows = 0;
  const offsets = inShapes.map(() => new Int32Array(rows));
  if (rows > 0 && outer.length > 0) {
    const idx = new Array<number>(outer.length).fill(0);
    const cur = inShapes.map(() => 0);
    for (let r = 0; r < rows; r++) {
      for (let k = 0; k < cur.length; k++) offsets[k]![r] = cur[k]!;
      // odometer increment over the outer axes
      for (let d = outer.length - 1; d >= 0; d--) {
        idx[d]!++;
        for (let k = 0; k < cur.length; k++) cur[k] = cur[k]! + mStrides[k]![d]!;
        if (idx[d]! < outer[d]!) break;
        for (let k = 0; k < cur.length; k++) cur[k] = cur[k]! - mStrides[k]![d]! * outer[d]!;
        idx[d] = 0;
      }
    }
  }
  const inner = mDims.length - 1;
  return {
    rows,
    length: rows === 0 ? 0 : length,
    offsets,
    strides: mStrides.map((s) => (inner >= 0 ? s[inner]! : 0)),
  };
}
