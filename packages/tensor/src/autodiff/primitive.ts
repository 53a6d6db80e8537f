import { getKernels } from "../backend/active.js";
import type { Kernels } from "../backend/kernels.js";
import { allocate, type DType } from "../dtype.js";
import { type Shape, sizeOf } from "../shape.js";
import { Tensor } from "../tensor.js";
import { shared } from "../shared.js";
import { record } from "./recording.js";

export interface OutputSpec {
  readonly shape: Shape;
  readonly dtype: DType;
}

type Cotangents<T extends readonly Tensor[]> = { readonly [K in keyof T]: Tensor | null };

/** What a recorded application of a primitive holds, as the vector-Jacobian product sees it. */
export interface Application<I extends readonly Tensor[], O extends readonly Tensor[], A> {
  readonly inputs: I;
  readonly outputs: O;
  readonly attrs: A;
}

/**
 * A named operation: its attributes, the kernel it runs and its vector-Jacobian product, side by
 * side. The vjp is written with primitives too, so a recorded backward pass is itself a graph of
 * named primitives (replayable on another backend, exportable to ONNX).
 */
export interface Primitive<I extends readonly Tensor[], O extends readonly Tensor[], A> {
  /** Unique name; also the key of the primitive's ONNX lowering. */
  readonly name: string;
  /** Validates inputs and attributes (throwing errors that name the op and the shapes) and gives the outputs' shapes. */
  readonly infer: (inputs: I, attrs: A) => { readonly [K in keyof O]: OutputSpec };
  /** Computes the outputs, which arrive allocated and zero-filled, with the active kernel table. */
  readonly kernel: (k: Kernels, inputs: I, outputs: O, attrs: A) => void;
  /**
   * Cotangents of the inputs from cotangents of the outputs (null where an output has none).
   * `needed[i]` is false for inputs no gradient is wanted for; return null there to save work.
   * Absent for non-differentiable primitives (comparisons, argmax, one-hot).
   */
  readonly vjp?: (app: Application<I, O, A>, cotangents: Cotangents<O>, needed: readonly boolean[]) => Cotangents<I>;
  /**
   * For a fused primitive: the same computation in simpler primitives. Tests check that the two
   * agree, and an exporter can fall back to it.
   */
  readonly decompose?: (inputs: I, attrs: A) => O;
}

// Erased form for tapes and graphs, which hold applications of many primitives.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyPrimitive = Primitive<any, any, any>;

export function definePrimitive<I extends readonly Tensor[], O extends readonly Tensor[], A = Record<string, never>>(
  def: Primitive<I, O, A>,
): Primitive<I, O, A> {
  return Object.freeze({ ...def });
}

/** Runs a primitive on the active kernels and records it on the active tapes. */
export function apply<I extends readonly Tensor[], O extends readonly Tensor[], A>(
  primitive: Primitive<I, O, A>,
  inputs: I,
  attrs: A,
): O {
  const decompose = shared.decompose;
  if (decompose !== undefined && primitive.decompose !== undefined && decompose(primitive, attrs)) return primitive.decompose(inputs, attrs);
  const specs = primitive.infer(inputs, attrs) as readonly OutputSpec[];
  const outputs = specs.map((s) => new Tensor(allocate(s.dtype, sizeOf(s.shape)), s.shape)) as unknown as O;
  primitive.kernel(getKernels(), inputs, outputs, attrs);
  record(primitive, attrs, inputs, outputs);
  return outputs;
}

/**
 * Runs `fn` with the fused primitives that `which` accepts (given the primitive and the attributes
 * of each application; all that have one, by default) applied
 * as their `decompose`: the values are the same (tests hold every decomposition to its primitive),
 * and a trace or a backward pass then consists of the simpler primitives. An exporter uses it for a
 * fused primitive it has no lowering for (a compiled training step of a fused scan's backward).
 * `fn` must be synchronous.
 */
export function withDecomposition<T>(fn: () => T, which: (primitive: AnyPrimitive, attrs: unknown) => boolean = () => true): T {
  const saved = shared.decompose;
  shared.decompose = which as (p: { readonly name: string }, attrs: unknown) => boolean;
  try {
    const result = fn();
    if (result instanceof Promise) throw new TypeError("withDecomposition: pass a synchronous function; the setting cannot follow an await");
    return result;
  } finally {
    shared.decompose = saved;
  }
}
