import { ShapeError } from "../errors.js";
import { add } from "../ops/arithmetic.js";
import { identity } from "../ops/layout.js";
import { formatShape, shapesEqual } from "../shape.js";
import { onesLike, type Tensor, zerosLike } from "../tensor.js";
import { Tape, withTape } from "./recording.js";
import { treeLeaves, treeMap } from "./tree.js";

/**
 * Backpropagation over a grad tape: walks the recorded applications in reverse, calling each
 * primitive's vjp and summing cotangents where a tensor fanned out. Returns the cotangent of
 * each `wrt` tensor (zeros where `root` does not depend on it), each in its own buffer. The vjps
 * run as ordinary primitive calls, so any tape still active (an outer trace) records the backward
 * pass too. Consumes the tape (it is empty afterwards): record again to differentiate again.
 */
export function backward(tape: Tape, root: Tensor, wrt: readonly Tensor[], seed: Tensor = onesLike(root)): Tensor[] {
  if (!shapesEqual(seed.shape, root.shape)) {
    throw new ShapeError("backward", `seed ${formatShape(seed.shape)} must have the root's shape ${formatShape(root.shape)}`);
  }
  const keep = new Set(wrt);
  const grads = new Map<Tensor, Tensor>([[root, seed]]);
  // The tape is consumed: each node is dropped once its vjp has run (its outputs feed only nodes
  // already processed), so the forward pass's intermediates are freed as backward proceeds
  // instead of all living until it ends.
  for (let node = tape.nodes.pop(); node !== undefined; tape.forget(node.outputs), node = tape.nodes.pop()) {
    const cotangents = node.outputs.map((o) => grads.get(o) ?? null);
    if (cotangents.every((c) => c === null)) continue;
    const needed = node.inputs.map((x) => tape.tracks(x));
    const inputGrads = node.primitive.vjp!(node, cotangents, needed) as readonly (Tensor | null)[];
    node.inputs.forEach((x, i) => {
      const g = inputGrads[i];
      if (!needed[i] || g === null || g === undefined) return;
      if (!shapesEqual(g.shape, x.shape) || g.dtype !== x.dtype) {
        throw new ShapeError(
          node.primitive.name,
          `vjp returned a ${g.dtype} ${formatShape(g.shape)} cotangent for a ${x.dtype} ${formatShape(x.shape)} input ${i} (a bug in the primitive)`,
        );
      }
      const prev = grads.get(x);
      grads.set(x, prev ? add(prev, g) : g);
    });
    // Cotangents of this node's outputs are complete and no longer needed: free them early.
    for (const o of node.outputs) if (!keep.has(o)) grads.delete(o);
  }
  // A vjp may pass a cotangent through unchanged (Add's `sumTo(g)`), so two inputs, or one tensor
  // listed twice, can hold the same gradient tensor. Copy repeats (Identity: a recorded primitive,
  // so traces still see the data flow) so that an in-place update of one never changes another.
  const returned = new Set<Tensor>();
  return wrt.map((w) => {
    let g = grads.get(w) ?? zerosLike(w);
    if (returned.has(g)) g = identity(g);
    returned.add(g);
    return g;
  });
}

function assertScalarLoss(what: string, loss: unknown): asserts loss is Tensor {
  const t = loss as Tensor;
  if (typeof t !== "object" || t === null || !("size" in t) || t.size !== 1) {
    const shape = typeof t === "object" && t !== null && "shape" in t ? formatShape(t.shape) : typeof loss;
    throw new ShapeError(what, `the function must return a scalar loss (one element), got ${shape}; reduce it with sum() or mean()`);
  }
}

export interface ValueAndGrad<P> {
  readonly value: Tensor;
  readonly grads: P;
}

export interface ValueAndGradWithAux<P, X> extends ValueAndGrad<P> {
  readonly aux: X;
}

/**
 * Turns `f(params, ...args) -> scalar loss` into a function that also returns the gradient of
 * the loss with respect to every tensor in `params`, in a tree of the same shape. Only `params`
 * are differentiated; `args` (data, targets, state) are constants. With `{ hasAux: true }`, `f`
 * returns `[loss, aux]` and `aux` (final RNN state, metrics) is passed through.
 */
export function valueAndGrad<P, A extends unknown[]>(
  f: (params: P, ...args: A) => Tensor,
): (params: P, ...args: A) => ValueAndGrad<P>;
export function valueAndGrad<P, A extends unknown[], X>(
  f: (params: P, ...args: A) => readonly [Tensor, X],
  options: { hasAux: true },
): (params: P, ...args: A) => ValueAndGradWithAux<P, X>;
export function valueAndGrad<P, A extends unknown[], X>(
  f: (params: P, ...args: A) => Tensor | readonly [Tensor, X],
  options: { hasAux?: boolean } = {},
): (params: P, ...args: A) => ValueAndGrad<P> | ValueAndGradWithAux<P, X> {
  return (params: P, ...args: A) => {
    const leaves = treeLeaves(params);
    const tape = new Tape("grad");
    for (const leaf of leaves) tape.watch(leaf);
    const result = withTape(tape, () => f(params, ...args));
    const [loss, aux] = options.hasAux ? (result as readonly [Tensor, X]) : [result as Tensor, undefined];
    assertScalarLoss("valueAndGrad", loss);
    const leafGrads = backward(tape, loss, leaves);
    const grads = treeMap(params, (_, i) => leafGrads[i]!);
    return options.hasAux ? { value: loss, grads, aux: aux as X } : { value: loss, grads };
  };
}

/** Like `valueAndGrad`, returning only the gradients. */
export function grad<P, A extends unknown[]>(f: (params: P, ...args: A) => Tensor): (params: P, ...args: A) => P {
  const vg = valueAndGrad(f);
  return (params: P, ...args: A) => vg(params, ...args).grads;
}

/**
 * Gradient accumulation over micro-batches: returns `total + grads` leaf by leaf (or `grads`
 * when `total` is undefined). Functional: no tensor is changed in place.
 */
export function accumulateGrads<P>(total: P | undefined, grads: P): P {
  if (total === undefined) return grads;
  const addends = treeLeaves(grads);
  const count = treeLeaves(total).length;
  if (count !== addends.length) {
    throw new ShapeError("accumulateGrads", `the trees differ: ${count} tensors in the total, ${addends.length} in the new gradients`);
  }
  return treeMap(total, (t, i) => add(t, addends[i]!));
}
