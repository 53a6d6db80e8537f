import { isFloat } from "../dtype.js";
import { DTypeError } from "../errors.js";
import { shared } from "../shared.js";
import type { Tensor } from "../tensor.js";
import type { AnyPrimitive } from "./primitive.js";

/** One application of a primitive as a tape holds it. */
export interface RecordedNode {
  readonly primitive: AnyPrimitive;
  readonly attrs: unknown;
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly Tensor[];
}

/**
 * A tape records the applications that depend on the tensors it watches.
 * - "grad" tapes follow differentiable data flow only (float tensors through primitives that have
 *   a vjp): what backpropagation needs, and nothing for inference or data preparation.
 * - "trace" tapes follow all data flow (integer indices, comparisons, stop-gradient included):
 *   the whole computation as a graph, for inspection, replay and export.
 * Tapes nest: an outer trace sees the backward pass an inner `valueAndGrad` runs.
 */
export class Tape {
  readonly mode: "grad" | "trace";
  readonly nodes: RecordedNode[] = [];
  private readonly tracked = new Set<Tensor>();

  constructor(mode: "grad" | "trace") {
    this.mode = mode;
  }

  watch(t: Tensor): void {
    if (this.mode === "grad" && !isFloat(t.dtype)) {
      throw new DTypeError("valueAndGrad", `cannot differentiate with respect to a ${t.dtype} tensor; parameters must be float32 or float64`);
    }
    this.tracked.add(t);
  }

  tracks(t: Tensor): boolean {
    return this.tracked.has(t);
  }

  /** Stops tracking `tensors` (backward does this for each node it has finished with). */
  forget(tensors: readonly Tensor[]): void {
    for (const t of tensors) this.tracked.delete(t);
  }

  /** Records `node` if it depends on a watched tensor; returns whether it did. */
  offer(node: RecordedNode): boolean {
    if (this.mode === "grad" && node.primitive.vjp === undefined) return false;
    let depends = false;
    for (const x of node.inputs) {
      if (this.tracked.has(x)) {
        depends = true;
        break;
      }
    }
    if (!depends) return false;
    this.nodes.push(node);
    for (const y of node.outputs) if (this.mode === "trace" || isFloat(y.dtype)) this.tracked.add(y);
    return true;
  }
}

// The active tapes live in `shared` (one list per process, whichever copy of this package records).

export function record(primitive: AnyPrimitive, attrs: unknown, inputs: readonly Tensor[], outputs: readonly Tensor[]): void {
  const tapes = shared.tapes;
  if (tapes.length === 0) return;
  const node: RecordedNode = { primitive, attrs, inputs, outputs };
  for (const tape of tapes) tape.offer(node);
}

/** Runs `fn` with `tape` recording (on top of the tapes already active). */
export function withTape<T>(tape: Tape, fn: () => T): T {
  const saved = shared.tapes;
  shared.tapes = [...saved, tape];
  try {
    return fn();
  } finally {
    shared.tapes = saved;
  }
}

/**
 * Runs `fn` with no recording at all: for inference and for updates that must not be
 * differentiated. `fn` must be synchronous (recording state is not carried across `await`).
 */
export function noGrad<T>(fn: () => T): T {
  const saved = shared.tapes;
  shared.tapes = [];
  try {
    const result = fn();
    if (result instanceof Promise) {
      throw new TypeError("noGrad: pass a synchronous function; recording state cannot follow an await");
    }
    return result;
  } finally {
    shared.tapes = saved;
  }
}

/** Whether any tape is recording now. */
export function isRecording(): boolean {
  return shared.tapes.length > 0;
}
