import { apply, definePrimitive } from "../autodiff/primitive.js";
import { assertDType, type FloatDType } from "../dtype.js";
import { ShapeError, ValueRangeError } from "../errors.js";
import { formatShape, normalizeAxis, type Shape, shapesEqual } from "../shape.js";
import type { Tensor } from "../tensor.js";

function checkIndices(op: string, indices: Tensor, size: number, axis: number, against: Shape): void {
  assertDType(op, "indices", indices.dtype, ["int32"]);
  const d = indices.data;
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    if (v < 0 || v >= size) {
      throw new ValueRangeError(
        op,
        `index ${v} at position ${i} of indices ${formatShape(indices.shape)} is out of range for axis ${axis} of size ${size} (tensor ${formatShape(against)})`,
      );
    }
  }
}

function gatheredShape(shape: Shape, indices: Shape, axis: number): number[] {
  return [...shape.slice(0, axis), ...indices, ...shape.slice(axis + 1)];
}

export const Gather = definePrimitive<readonly [Tensor, Tensor], readonly [Tensor], { readonly axis: number }>({
  name: "Gather",
  infer: ([x, indices], { axis }) => {
    checkIndices("Gather", indices, x.shape[axis]!, axis, x.shape);
    return [{ shape: gatheredShape(x.shape, indices.shape, axis), dtype: x.dtype }];
  },
  kernel: (k, [x, indices], [out], { axis }) => k.gather(x, indices, axis, out),
  // Rows that were read several times receive the sum of their cotangents.
  vjp: ({ inputs: [x, indices], attrs: { axis } }, [g]) => [scatterAdd(indices, g!, axis, x.shape), null],
});

/**
 * Picks slices of `x` along `axis` by int32 `indices`: `gather(table, tokens)` is an embedding
 * lookup, `[V, E]` and `[B, T]` give `[B, T, E]`.
 */
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  return apply(Gather, [x, indices], { axis: normalizeAxis("Gather", axis, x.rank) })[0];
}

export const ScatterAdd = definePrimitive<readonly [Tensor, Tensor], readonly [Tensor], { readonly axis: number; readonly shape: Shape }>({
  name: "ScatterAdd",
  infer: ([indices, updates], { axis, shape }) => {
    checkIndices("ScatterAdd", indices, shape[axis]!, axis, shape);
    const expected = gatheredShape(shape, indices.shape, axis);
    if (!shapesEqual(updates.shape, expected)) {
      throw new ShapeError(
        "ScatterAdd",
        `updates have shape ${formatShape(updates.shape)} but indices ${formatShape(indices.shape)} into ${formatShape(shape)} along axis ${axis} need ${formatShape(expected)}`,
      );
    }
    return [{ shape, dtype: updates.dtype }];
  },
  kernel: (k, [indices, updates], [out], { axis }) => k.scatterAdd(indices, updates, axis, out),
  vjp: ({ inputs: [indices], attrs: { axis } }, [g]) => [null, gather(g!, indices, axis)],
});

/** Zeros of `shape` into which slices of `updates` are added at `indices` along `axis` (the adjoint of gather). */
export function scatterAdd(indices: Tensor, updates: Tensor, axis: number, shape: Shape): Tensor {
  return apply(ScatterAdd, [indices, updates], { axis: normalizeAxis("ScatterAdd", axis, shape.length), shape: [...shape] })[0];
}

export const OneHot = definePrimitive<readonly [Tensor], readonly [Tensor], { readonly depth: number; readonly dtype: FloatDType }>({
  name: "OneHot",
  infer: ([indices], { depth, dtype }) => {
    assertDType("OneHot", "indices", indices.dtype, ["int32"]);
    if (!Number.isInteger(depth) || depth < 0) throw new ValueRangeError("OneHot", `depth must be a non-negative integer, got ${depth}`);
    return [{ shape: [...indices.shape, depth], dtype }];
  },
  kernel: (k, [indices], [out]) => k.oneHot(indices, out),
});

/** One-hot rows of length `depth`; an index outside `[0, depth)` gives a row of zeros. */
export function oneHot(indices: Tensor, depth: number, dtype: FloatDType = "float32"): Tensor {
  return apply(OneHot, [indices], { depth, dtype })[0];
}
