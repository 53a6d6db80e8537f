import { formatShape } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { apply } from "./primitive.js";
import { type RecordedNode, Tape, withTape } from "./recording.js";

/**
 * A recorded computation: the primitives applied, in order, from the traced inputs to the
 * outputs. Tensors that nodes read but neither an input nor a node produced are constants
 * (parameters, literals). This is what an exporter or another backend consumes.
 */
export interface Graph {
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly Tensor[];
  readonly nodes: readonly RecordedNode[];
}

/**
 * Runs `f` on `inputs` and records every primitive that depends on them (integer indices,
 * comparisons and the backward pass of a `valueAndGrad` inside `f` included).
 */
export function trace<I extends readonly Tensor[], O extends Tensor | readonly Tensor[]>(
  f: (...inputs: I) => O,
  inputs: I,
): { graph: Graph; result: O } {
  const tape = new Tape("trace");
  for (const x of inputs) tape.watch(x);
  const late: Tensor[] = [];
  traces.push({ tape, late });
  let result: O;
  try {
    result = withTape(tape, () => f(...inputs));
  } finally {
    traces.pop();
  }
  const outputs = (Array.isArray(result) ? result : [result]) as readonly Tensor[];
  return { graph: { inputs: [...inputs, ...late], outputs, nodes: [...tape.nodes] }, result };
}

/** The traces running now, innermost last, with the inputs `traceInput` added to each. */
const traces: { readonly tape: Tape; readonly late: Tensor[] }[] = [];

/**
 * Makes `t`, a tensor created while `trace` runs, an input of the innermost trace: it goes after
 * the traced function's own inputs, in the order of these calls, and what is computed from it is
 * recorded. For values that differ at every run of the graph and cannot be computed in it (the
 * random draws of a dropout mask, fed by a compiled training step). Outside a trace, does nothing.
 */
export function traceInput(t: Tensor): void {
  const top = traces.at(-1);
  if (top === undefined) return;
  top.tape.watch(t);
  top.late.push(t);
}

/** Constants a graph reads: tensors that are neither graph inputs nor node outputs. */
export function graphConstants(graph: Graph): Tensor[] {
  const produced = new Set<Tensor>(graph.inputs);
  const constants = new Set<Tensor>();
  for (const node of graph.nodes) {
    for (const x of node.inputs) if (!produced.has(x)) constants.add(x);
    for (const y of node.outputs) produced.add(y);
  }
  return [...constants];
}

/**
 * Evaluates a recorded graph on new inputs with the active kernels (replay on another backend);
 * constants keep their recorded values.
 */
export function evaluateGraph(graph: Graph, inputs: readonly Tensor[]): Tensor[] {
  if (inputs.length !== graph.inputs.length) {
    throw new TypeError(`evaluateGraph: the graph takes ${graph.inputs.length} inputs, got ${inputs.length}`);
  }
  const values = new Map<Tensor, Tensor>();
  graph.inputs.forEach((x, i) => values.set(x, inputs[i]!));
  const resolve = (t: Tensor): Tensor => values.get(t) ?? t;
  for (const node of graph.nodes) {
    const outs = apply(node.primitive, node.inputs.map(resolve), node.attrs) as readonly Tensor[];
    node.outputs.forEach((y, i) => values.set(y, outs[i]!));
  }
  return graph.outputs.map(resolve);
}

/** A readable listing: one line per node, `%3 = MatMul(%1, %2) {"transA":false,...} : float32[2,4]`. */
export function formatGraph(graph: Graph): string {
  const names = new Map<Tensor, string>();
  const name = (t: Tensor): string => {
    let n = names.get(t);
    if (!n) {
      n = `%${names.size}`;
      names.set(t, n);
    }
    return n;
  };
  const lines: string[] = [];
  lines.push(`inputs: ${graph.inputs.map((x) => `${name(x)}: ${x.dtype}${formatShape(x.shape)}`).join(", ")}`);
  for (const c of graphConstants(graph)) lines.push(`const ${name(c)}: ${c.dtype}${formatShape(c.shape)}`);
  for (const node of graph.nodes) {
    const outs = node.outputs.map((y) => name(y)).join(", ");
    const attrs = JSON.stringify(node.attrs);
    const types = node.outputs.map((y) => `${y.dtype}${formatShape(y.shape)}`).join(", ");
    lines.push(`${outs} = ${node.primitive.name}(${node.inputs.map(name).join(", ")})${attrs === "{}" ? "" : ` ${attrs}`} : ${types}`);
  }
  lines.push(`outputs: ${graph.outputs.map(name).join(", ")}`);
  return lines.join("\n");
}
