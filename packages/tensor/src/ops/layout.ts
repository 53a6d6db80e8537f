import { apply, definePrimitive } from "../autodiff/primitive.js";
import { DTypeError, ShapeError } from "../errors.js";
import { assertValidShape, broadcastsTo, formatShape, normalizeAxis, type Shape, shapesEqual, sizeOf } from "../shape.js";
import { type Tensor, zerosLike } from "../tensor.js";
import { sumTo } from "./reduce.js";

// A copy: what operations that change nothing return, so that no result aliases its input.
export const Identity = definePrimitive<readonly [Tensor], readonly [Tensor]>({
  name: "Identity",
  infer: ([x]) => [{ shape: x.shape, dtype: x.dtype }],
  kernel: (_k, [x], [out]) => out.data.set(x.data),
  vjp: (_, [g]) => [g!],
});

/** A copy of `x` (recorded, differentiable): never the same buffer. */
export function identity(x: Tensor): Tensor {
  return apply(Identity, [x], {})[0];
}

export const Reshape = definePrimitive<readonly [Tensor], readonly [Tensor], { readonly shape: Shape }>({
  name: "Reshape",
  infer: ([x], { shape }) => [{ shape, dtype: x.dtype }],
  kernel: (_k, [x], [out]) => out.data.set(x.data),
  vjp: ({ inputs: [x] }, [g]) => [reshape(g!, x.shape)],
});

/** Same data, new shape (one dimension may be -1: inferred). Returns a copy, never a view. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const holes = shape.filter((d) => d === -1).length;
  if (holes > 1) throw new ShapeError("Reshape", `only one dimension may be -1, got ${formatShape(shape)}`);
  let resolved = [...shape];
  if (holes === 1) {
    const known = sizeOf(shape.filter((d) => d !== -1));
    if (known === 0 || x.size % known !== 0) {
      throw new ShapeError("Reshape", `cannot reshape ${formatShape(x.shape)} (${x.size} elements) to ${formatShape(shape)}`);
    }
    resolved = shape.map((d) => (d === -1 ? x.size / known : d));
  }
  assertValidShape("Reshape", resolved);
  if (sizeOf(resolved) !== x.size) {
    throw new ShapeError("Reshape", `cannot reshape ${formatShape(x.shape)} (${x.size} elements) to ${formatShape(shape)} (${sizeOf(resolved)} elements)`);
  }
  return apply(Reshape, [x], { shape: resolved })[0];
}

export const BroadcastTo = definePrimitive<readonly [Tensor], readonly [Tensor], { readonly shape: Shape }>({
  name: "BroadcastTo",
  infer: ([x], { shape }) => {
    assertValidShape("BroadcastTo", shape);
    if (!broadcastsTo(x.shape, shape)) {
      throw new ShapeError("BroadcastTo", `shape ${formatShape(x.shape)} does not broadcast to ${formatShape(shape)}`);
    }
    return [{ shape, dtype: x.dtype }];
  },
  kernel: (k, [x], [out]) => k.broadcastTo(x, out),
  vjp: ({ inputs: [x] }, [g]) => [sumTo(g!, x.shape)],
});

/** Repeats size-1 (or missing leading) axes to reach `shape`, NumPy rules. */
export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  return shapesEqual(x.shape, shape) ? identity(x) : apply(BroadcastTo, [x], { shape: [...shape] })[0];
}

function inversePermutation(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

export const Transpose = definePrimitive<readonly [Tensor], readonly [Tensor], { readonly perm: readonly number[] }>({
  name: "Transpose",
  infer: ([x], { perm }) => {
    const sorted = [...perm].sort((a, b) => a - b);
    if (perm.length !== x.rank || sorted.some((p, i) => p !== i)) {
      throw new ShapeError("Transpose", `perm [${perm.join(",")}] is not a permutation of the ${x.rank} axes of ${formatShape(x.shape)}`);
    }
    return [{ shape: perm.map((p) => x.shape[p]!), dtype: x.dtype }];
  },
  kernel: (k, [x], [out], { perm }) => k.transpose(x, perm, out),
  vjp: ({ attrs: { perm } }, [g]) => [transpose(g!, inversePermutation(perm))],
});

/**
 * Permutes axes: output axis i is input axis `perm[i]` (NumPy/ONNX `transpose`, PyTorch
 * `permute`). Without `perm` the axes are reversed.
 */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  const p = perm ? perm.map((a) => normalizeAxis("Transpose", a, x.rank)) : x.shape.map((_, i) => x.rank - 1 - i);
  return apply(Transpose, [x], { perm: p })[0];
}

export const Concat = definePrimitive<readonly Tensor[], readonly [Tensor], { readonly axis: number }>({
  name: "Concat",
  infer: (xs, { axis }) => {
    const first = xs[0];
    if (!first) throw new ShapeError("Concat", "needs at least one tensor");
    let total = 0;
    for (const [i, x] of xs.entries()) {
      if (x.dtype !== first.dtype) throw new DTypeError("Concat", `tensor ${i} is ${x.dtype}, tensor 0 is ${first.dtype}`);
      const same = x.rank === first.rank && x.shape.every((d, j) => j === axis || d === first.shape[j]);
      if (!same) {
        throw new ShapeError(
          "Concat",
          `tensor ${i} has shape ${formatShape(x.shape)}, which does not match ${formatShape(first.shape)} outside axis ${axis}`,
        );
      }
      total += x.shape[axis]!;
    }
    return [{ shape: first.shape.map((d, j) => (j === axis ? total : d)), dtype: first.dtype }];
  },
  kernel: (k, xs, [out], { axis }) => k.concat(xs, axis, out),
  vjp: ({ inputs, attrs: { axis } }, [g], needed) => {
    let at = 0;
    return inputs.map((x, i) => {
      const start = at;
      at += x.shape[axis]!;
      return needed[i] ? slice(g!, [start], [at], [axis]) : null;
    });
  },
});

/** Joins tensors along an existing axis. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  const first = xs[0];
  if (!first) throw new ShapeError("Concat", "needs at least one tensor");
  if (xs.length === 1) return identity(first);
  return apply(Concat, xs, { axis: normalizeAxis("Concat", axis, first.rank) })[0];
}

/** Inserts a size-1 axis at `axis`. */
// Unsqueeze and Squeeze are Reshapes whose attributes name axes rather than sizes: a graph that
// uses them does not depend on the batch or sequence length it was recorded with (dynamic axes).
export const Unsqueeze = definePrimitive<readonly [Tensor], readonly [Tensor], { readonly axis: number }>({
  name: "Unsqueeze",
  infer: ([x], { axis }) => [{ shape: [...x.shape.slice(0, axis), 1, ...x.shape.slice(axis)], dtype: x.dtype }],
  kernel: (_k, [x], [out]) => out.data.set(x.data),
  vjp: ({ attrs: { axis } }, [g]) => [squeeze(g!, [axis])],
});

export const Squeeze = definePrimitive<readonly [Tensor], readonly [Tensor], { readonly axes: readonly number[] }>({
  name: "Squeeze",
  infer: ([x], { axes }) => [{ shape: x.shape.filter((_, i) => !axes.includes(i)), dtype: x.dtype }],
  kernel: (_k, [x], [out]) => out.data.set(x.data),
  vjp: ({ inputs: [x] }, [g]) => [reshape(g!, x.shape)],
});

/** Inserts a size-1 axis at `axis`. */
export function expandDims(x: Tensor, axis: number): Tensor {
  const a = normalizeAxis("expandDims", axis, x.rank + 1);
  return apply(Unsqueeze, [x], { axis: a })[0];
}

/** Removes size-1 axes (the given ones, or all). */
export function squeeze(x: Tensor, axes?: readonly number[]): Tensor {
  const drop = axes ? axes.map((a) => normalizeAxis("squeeze", a, x.rank)) : x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
  for (const a of drop) {
    if (x.shape[a] !== 1) throw new ShapeError("squeeze", `axis ${a} of ${formatShape(x.shape)} has size ${x.shape[a]}, not 1`);
  }
  return apply(Squeeze, [x], { axes: [...new Set(drop)].sort((a, b) => a - b) })[0];
}

/** Joins tensors of one shape along a new axis. */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  const first = xs[0];
  if (!first) throw new ShapeError("stack", "needs at least one tensor");
  for (const [i, x] of xs.entries()) {
    if (!shapesEqual(x.shape, first.shape)) {
      throw new ShapeError("stack", `tensor ${i} has shape ${formatShape(x.shape)}, tensor 0 has ${formatShape(first.shape)}`);
    }
  }
  const a = normalizeAxis("stack", axis, first.rank + 1);
  return concat(xs.map((x) => expandDims(x, a)), a);
}

interface SliceAttrs {
  /** Full-rank, resolved: `0 <= starts[i] <= ends[i] <= shape[i]`. */
  readonly starts: readonly number[];
  readonly ends: readonly number[];
}

export const Slice = definePrimitive<readonly [Tensor], readonly [Tensor], SliceAttrs>({
  name: "Slice",
  infer: ([x], { starts, ends }) => [{ shape: starts.map((s, i) => ends[i]! - s), dtype: x.dtype }],
  kernel: (k, [x], [out], { starts }) => k.slice(x, starts, out),
  // The adjoint of taking a box is putting the cotangent back in place, zeros around it.
  vjp: ({ inputs: [x], attrs: { starts, ends } }, [g]) => [
    pad(g!, starts, ends.map((e, i) => x.shape[i]! - e)),
  ],
});

/**
 * `x[starts[0]:ends[0], ...]` on the given `axes` (all leading axes when omitted). Negative
 * positions count from the end and bounds are clipped to the axis, as in NumPy.
 */
export function slice(x: Tensor, starts: readonly number[], ends: readonly number[], axes?: readonly number[]): Tensor {
  const ax = axes ? axes.map((a) => normalizeAxis("Slice", a, x.rank)) : starts.map((_, i) => i);
  if (starts.length !== ax.length || ends.length !== ax.length) {
    throw new ShapeError("Slice", `starts (${starts.length}), ends (${ends.length}) and axes (${ax.length}) must have the same length`);
  }
  const s = x.shape.map(() => 0);
  const e = [...x.shape];
  ax.forEach((a, i) => {
    const n = x.shape[a]!;
    const resolve = (v: number): number => Math.min(n, Math.max(0, v < 0 ? v + n : v));
    s[a] = resolve(starts[i]!);
    e[a] = Math.max(s[a]!, resolve(ends[i]!));
  });
  if (s.every((v) => v === 0) && e.every((v, i) => v === x.shape[i])) return identity(x);
  return apply(Slice, [x], { starts: s, ends: e })[0];
}

/** Splits along `axis` into `sections` equal parts, or into parts of the given sizes. */
export function split(x: Tensor, sections: number | readonly number[], axis = 0): Tensor[] {
  const a = normalizeAxis("split", axis, x.rank);
  const n = x.shape[a]!;
  let sizes: readonly number[];
  if (typeof sections === "number") {
    if (!Number.isInteger(sections) || sections <= 0 || n % sections !== 0) {
      throw new ShapeError("split", `axis ${a} of ${formatShape(x.shape)} (size ${n}) cannot be split into ${sections} equal parts`);
    }
    sizes = new Array<number>(sections).fill(n / sections);
  } else {
    sizes = sections;
    if (sizes.reduce((s, v) => s + v, 0) !== n || sizes.some((v) => !Number.isInteger(v) || v < 0)) {
      throw new ShapeError("split", `sizes [${sizes.join(",")}] do not add up to axis ${a} of ${formatShape(x.shape)} (size ${n})`);
    }
  }
  return [...apply(Split, [x], { axis: a, sizes: [...sizes] })];
}

// One node with several outputs, whose backward is one Concat: slicing each part separately would
// make backward pad every part's cotangent to the whole tensor (quadratic in the number of parts).
export const Split = definePrimitive<readonly [Tensor], readonly Tensor[], { readonly axis: number; readonly sizes: readonly number[] }>({
  name: "Split",
  infer: ([x], { axis, sizes }) => sizes.map((size) => ({ shape: x.shape.map((d, i) => (i === axis ? size : d)), dtype: x.dtype })),
  kernel: (k, [x], outputs, { axis, sizes }) => {
    let at = 0;
    outputs.forEach((out, i) => {
      k.slice(x, x.shape.map((_, j) => (j === axis ? at : 0)), out);
      at += sizes[i]!;
    });
  },
  vjp: ({ outputs, attrs: { axis } }, cotangents) => [
    concat(cotangents.map((g, i) => g ?? zerosLike(outputs[i]!)), axis),
  ],
});

interface PadAttrs {
  readonly before: readonly number[];
  readonly after: readonly number[];
  readonly value: number;
}

export const Pad = definePrimitive<readonly [Tensor], readonly [Tensor], PadAttrs>({
  name: "Pad",
  infer: ([x], { before, after }) => {
    if (before.length !== x.rank || after.length !== x.rank) {
      throw new ShapeError("Pad", `needs ${x.rank} before/after widths for shape ${formatShape(x.shape)}, got ${before.length} and ${after.length}`);
    }
    if ([...before, ...after].some((p) => !Number.isInteger(p) || p < 0)) {
      throw new ShapeError("Pad", `widths must be non-negative integers, got before [${before.join(",")}], after [${after.join(",")}]`);
    }
    return [{ shape: x.shape.map((d, i) => before[i]! + d + after[i]!), dtype: x.dtype }];
  },
  kernel: (k, [x], [out], { before, value }) => k.pad(x, before, value, out),
  vjp: ({ inputs: [x], attrs: { before } }, [g]) => [
    slice(g!, before, before.map((b, i) => b + x.shape[i]!)),
  ],
});

/** Surrounds `x` with `value`: `before[i]` elements ahead of axis i and `after[i]` behind it. */
export function pad(x: Tensor, before: readonly number[], after: readonly number[], value = 0): Tensor {
  if (before.every((b) => b === 0) && after.every((a) => a === 0)) return identity(x);
  return apply(Pad, [x], { before: [...before], after: [...after], value })[0];
}
