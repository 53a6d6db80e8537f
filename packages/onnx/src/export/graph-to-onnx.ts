import { formatShape, type Graph, graphConstants, type RecordedNode, type Tensor, trace } from "@unroll/tensor";
import { DataType, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from "../proto/onnx.js";
import { PRODUCER_VERSION } from "../version.js";
import { GraphBuilder, onnxDataType, OnnxExportError } from "./builder.js";
import type { Dim, LoweringContext, LoweringTable, RecurrentLowering } from "./lowering.js";
import { simplify } from "./simplify.js";
import { defaultLowerings } from "./primitives.js";

export interface GraphToOnnxOptions {
  /** Names of the graph inputs, in order (default `input_0`, ...). */
  readonly inputNames?: readonly string[];
  /** Names of the graph outputs, in order (default `output_0`, ...). */
  readonly outputNames?: readonly string[];
  /**
   * Dynamic axes of the inputs by input name, e.g. `{ tokens: { 0: "time", 1: "batch" } }`. They
   * need two or more graphs traced at different sizes along every named axis: the exporter checks
   * that the graphs agree node for node (no recorded size) and finds the outputs' dynamic axes.
   */
  readonly dynamicAxes?: Readonly<Record<string, Readonly<Record<number, string>>>>;
  /** ONNX opset of the default domain, 13 to 21 (default 17). */
  readonly opset?: number;
  /** How recurrent scans are written (default "operators"; "unrolled" needs a static sequence length). */
  readonly lowering?: RecurrentLowering;
  /** Extra lowerings by primitive name (they replace the defaults of the same name). */
  readonly lowerings?: LoweringTable;
  /** Initializer names of constants (parameters), e.g. from `treeEntries(params)`; others are `const_N`. */
  readonly names?: ReadonlyMap<Tensor, string>;
  /** `metadata_props` of the model: string keys and values. */
  readonly metadata?: Readonly<Record<string, string>>;
  readonly graphName?: string;
  readonly docString?: string;
}

export const DEFAULT_OPSET = 17;

// IR version that goes with each opset (onnx/onnx docs/Versioning.md).
const IR_VERSION: Readonly<Record<number, number>> = { 13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };

/** The opsets of the default domain that the exporter writes: 13 to 21. */
export const SUPPORTED_OPSETS: readonly number[] = Object.keys(IR_VERSION).map(Number);

interface Lowered {
  readonly builder: GraphBuilder;
  readonly inputs: readonly { readonly name: string; readonly tensor: Tensor }[];
  readonly outputs: readonly { readonly name: string; readonly tensor: Tensor }[];
}

interface Resolved {
  readonly opset: number;
  readonly recurrent: RecurrentLowering;
  readonly lowerings: LoweringTable;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly names: ReadonlyMap<Tensor, string>;
}

/** A constant filled with one value whose shape follows dynamic axes (a zero initial state made inside the function). */
interface Fills {
  /** The fill value of a constant, if it is one. */
  value(t: Tensor): number | undefined;
}

/** Lowers one recorded graph into ONNX nodes and initializers. */
function lower(graph: Graph, dimsOf: (t: Tensor) => readonly Dim[], o: Resolved, fills: Fills): Lowered {
  const b = new GraphBuilder();
  const values = new Map<Tensor, string>();
  graph.inputs.forEach((t, i) => {
    const name = o.inputNames[i]!;
    if (values.has(t)) throw new OnnxExportError("graphToOnnx", `inputs ${values.get(t)} and ${name} are the same tensor; pass distinct tensors`);
    if (!b.claim(name)) throw new OnnxExportError("graphToOnnx", `input name "${name}" is used twice`);
    values.set(t, name);
    b.ranks.set(name, t.rank);
  });
  const produced = new Set<Tensor>();
  for (const node of graph.nodes) for (const y of node.outputs) produced.add(y);
  // Graph outputs produced by a node take the output's name directly; the others (an input, a
  // constant, a tensor listed twice) are copied to it by an Identity node at the end.
  const reserved = new Map<Tensor, string>();
  const aliases: [Tensor, string][] = [];
  graph.outputs.forEach((t, j) => {
    const name = o.outputNames[j]!;
    if (!b.claim(name)) throw new OnnxExportError("graphToOnnx", `output name "${name}" is used twice (or is also an input name)`);
    if (produced.has(t) && !reserved.has(t)) reserved.set(t, name);
    else aliases.push([t, name]);
  });
  const used = new Set<Tensor>(graph.outputs);
  for (const node of graph.nodes) for (const x of node.inputs) used.add(x);

  const missing = new Map<string, number[]>();
  graph.nodes.forEach((node, i) => {
    if (!o.lowerings[node.primitive.name]) missing.set(node.primitive.name, [...(missing.get(node.primitive.name) ?? []), i]);
  });
  if (missing.size > 0) {
    const list = [...missing].map(([name, at]) => `${name} (node${at.length > 1 ? "s" : ""} ${at.slice(0, 5).join(", ")}${at.length > 5 ? ", ..." : ""})`);
    throw new OnnxExportError(
      "graphToOnnx",
      `no ONNX lowering for ${list.join(", ")}; export an inference graph, or pass lowerings: { ${[...missing.keys()].map((n) => `${n}: ...`).join(", ")} }`,
    );
  }

  // Where each dynamic axis can be read at run time: the first input that has it.
  const dimSources = new Map<string, { input: string; axis: number }>();
  graph.inputs.forEach((t, i) => {
    dimsOf(t).forEach((d, axis) => {
      if (typeof d === "string" && !dimSources.has(d)) dimSources.set(d, { input: o.inputNames[i]!, axis });
    });
  });
  let fillCount = 0;
  /** Expand(value, shape) with the dynamic sizes read from the inputs, or null when one has no source. */
  const fill = (t: Tensor, v: number): string | null => {
    const dims = dimsOf(t);
    if (dims.some((d) => typeof d === "string" && !dimSources.has(d))) return null;
    const base = `fill_${fillCount++}`;
    const pieces = dims.map((d) => {
      if (typeof d === "number") return b.constant(`${base}/const`, DataType.INT64, [1], [d]);
      const { input, axis } = dimSources.get(d)!;
      const name = b.unique(`${base}/${d}`);
      if (o.opset >= 15) b.node("Shape", `${base}/Shape`, [input], [name], { start: axis, end: axis + 1 });
      else {
        const shape = b.unique(`${base}/Shape`);
        b.node("Shape", `${base}/Shape`, [input], [shape]);
        b.node("Gather", `${base}/Gather`, [shape, b.constant(`${base}/const`, DataType.INT64, [1], [axis])], [name], { axis: 0 });
      }
      return name;
    });
    const shape = b.unique(`${base}/shape`);
    b.node("Concat", `${base}/Concat`, pieces, [shape], { axis: 0 });
    const name = b.unique(base);
    b.node("Expand", `${base}/Expand`, [b.constant(`${base}/const`, onnxDataType(t.dtype), [], [v]), shape], [name]);
    b.ranks.set(name, t.rank);
    return name;
  };

  let constants = 0;
  const value = (t: Tensor): string => {
    let name = values.get(t);
    const v = name === undefined ? fills.value(t) : undefined;
    if (v !== undefined) name = fill(t, v) ?? undefined;
    if (name !== undefined) values.set(t, name);
    if (name === undefined) {
      // Not an input and not produced yet (nodes are in order): a constant, stored as an initializer.
      name = b.tensor(o.names.get(t) ?? `const_${constants++}`, t);
      values.set(t, name);
      b.ranks.set(name, t.rank);
    }
    return name;
  };
  const conditions = new Map<Tensor, string>();

  graph.nodes.forEach((node: RecordedNode, i) => {
    const base = `${node.primitive.name}_${i}`;
    const ctx: LoweringContext = {
      node,
      name: base,
      opset: o.opset,
      recurrent: o.recurrent,
      value,
      input: (k) => value(node.inputs[k]!),
      output: (j) => {
        const t = node.outputs[j]!;
        let name = values.get(t);
        if (name === undefined) {
          name = reserved.get(t) ?? b.unique(node.outputs.length === 1 ? base : `${base}:${j}`);
          values.set(t, name);
          b.ranks.set(name, t.rank);
        }
        return name;
      },
      used: (j) => used.has(node.outputs[j]!),
      dims: dimsOf,
      fresh: (hint) => b.unique(`${base}/${hint}`),
      emit: (opType, inputs, outputs, attributes) => {
        const names = typeof outputs === "number" ? Array.from({ length: outputs }, () => b.unique(`${base}/${opType}`)) : [...outputs];
        b.node(opType, `${base}/${opType}`, inputs, names, attributes);
        return names;
      },
      int64s: (v, dims) => b.constant(`${base}/const`, DataType.INT64, dims ?? [v.length], v),
      scalar: (v, dtype) => b.constant(`${base}/const`, onnxDataType(dtype), [], [v]),
      constant: (dataType, dims, v) => b.constant(`${base}/const`, dataType, dims, v),
      condition: (t) => {
        let name = conditions.get(t);
        if (name === undefined) {
          name = ctx.emit("Cast", [value(t)], 1, { to: DataType.BOOL })[0]!;
          conditions.set(t, name);
        }
        return name;
      },
      setCondition: (t, name) => void conditions.set(t, name),
    };
    o.lowerings[node.primitive.name]!(ctx);
    node.outputs.forEach((t, j) => {
      if (used.has(t) && !values.has(t)) {
        throw new OnnxExportError("graphToOnnx", `the lowering of ${node.primitive.name} (node ${i}) did not write output ${j}, which the graph reads`);
      }
    });
  });
  for (const [t, name] of aliases) b.node("Identity", `output/${name}`, [value(t)], [name]);
  simplify(b, o.outputNames);
  return {
    builder: b,
    inputs: graph.inputs.map((tensor, i) => ({ name: o.inputNames[i]!, tensor })),
    outputs: graph.outputs.map((tensor, j) => ({ name: o.outputNames[j]!, tensor })),
  };
}

/** Pairs the tensors of graph `k` with those of graph 0, node by node (graph k tensor -> graph 0 tensor). */
function correspond(g0: Graph, gk: Graph, k: number): Map<Tensor, Tensor> {
  const at = `graph ${k} (traced at other sizes)`;
  if (g0.inputs.length !== gk.inputs.length || g0.outputs.length !== gk.outputs.length) {
    throw new OnnxExportError("graphToOnnx", `${at} has ${gk.inputs.length} inputs and ${gk.outputs.length} outputs, graph 0 ${g0.inputs.length} and ${g0.outputs.length}`);
  }
  const map = new Map<Tensor, Tensor>();
  gk.inputs.forEach((t, i) => map.set(t, g0.inputs[i]!));
  const n = Math.max(g0.nodes.length, gk.nodes.length);
  for (let i = 0; i < n; i++) {
    const a = g0.nodes[i];
    const b = gk.nodes[i];
    if (!a || !b || a.primitive.name !== b.primitive.name || a.inputs.length !== b.inputs.length) {
      throw new OnnxExportError(
        "graphToOnnx",
        `the traces differ at node ${i}: ${a ? a.primitive.name : "nothing"} in graph 0, ${b ? b.primitive.name : "nothing"} in ${at}. ` +
          `The traced function takes a different path at different sizes, so no single graph serves every size; make its control flow independent of the sizes and values of its inputs`,
      );
    }
    b.inputs.forEach((t, j) => {
      if (!map.has(t)) map.set(t, a.inputs[j]!);
    });
    b.outputs.forEach((t, j) => map.set(t, a.outputs[j]!));
  }
  gk.outputs.forEach((t, j) => {
    if (!map.has(t)) map.set(t, g0.outputs[j]!);
  });
  return map;
}

function resolveOptions(graph: Graph, options: GraphToOnnxOptions): Resolved {
  const opset = options.opset ?? DEFAULT_OPSET;
  if (IR_VERSION[opset] === undefined) throw new OnnxExportError("graphToOnnx", `opset ${opset} is not supported; use 13 to 21 (default ${DEFAULT_OPSET})`);
  const inputNames = graph.inputs.map((_, i) => options.inputNames?.[i] ?? `input_${i}`);
  const outputNames = graph.outputs.map((_, j) => options.outputNames?.[j] ?? `output_${j}`);
  if ((options.inputNames?.length ?? graph.inputs.length) !== graph.inputs.length) {
    throw new OnnxExportError("graphToOnnx", `inputNames has ${options.inputNames!.length} names for ${graph.inputs.length} inputs`);
  }
  if ((options.outputNames?.length ?? graph.outputs.length) !== graph.outputs.length) {
    throw new OnnxExportError("graphToOnnx", `outputNames has ${options.outputNames!.length} names for ${graph.outputs.length} outputs`);
  }
  for (const name of Object.keys(options.dynamicAxes ?? {})) {
    if (!inputNames.includes(name)) throw new OnnxExportError("graphToOnnx", `dynamicAxes names "${name}", which is not an input (inputs: ${inputNames.join(", ")})`);
  }
  return {
    opset,
    recurrent: options.lowering ?? "operators",
    lowerings: { ...defaultLowerings, ...options.lowerings },
    inputNames,
    outputNames,
    names: options.names ?? new Map(),
  };
}

/** Symbolic shapes from several traces: an axis whose size differs between them is dynamic. */
class SymbolicShapes {
  private readonly shapes = new Map<Tensor, (readonly number[])[]>();
  private readonly names = new Map<string, string>();
  private readonly cache = new Map<Tensor, readonly Dim[]>();

  constructor(graphs: readonly Graph[], maps: readonly Map<Tensor, Tensor>[]) {
    const add = (t0: Tensor, shape: readonly number[]): void => {
      const list = this.shapes.get(t0);
      if (list) list.push(shape);
      else this.shapes.set(t0, [shape]);
    };
    const g0 = graphs[0]!;
    for (const t of [...g0.inputs, ...g0.outputs, ...g0.nodes.flatMap((n) => [...n.inputs, ...n.outputs])]) {
      if (!this.shapes.has(t)) add(t, t.shape);
    }
    for (const map of maps) {
      for (const [tk, t0] of map) {
        if (tk.rank !== t0.rank) {
          throw new OnnxExportError("graphToOnnx", `a tensor has rank ${t0.rank} in graph 0 and ${tk.rank} in another trace (${formatShape(t0.shape)} vs ${formatShape(tk.shape)})`);
        }
        add(t0, tk.shape);
      }
    }
  }

  /** Sizes of axis `axis` of `t` across the traces, as a key ("3|5"), or null when it is static. */
  key(t: Tensor, axis: number): string | null {
    const sizes = (this.shapes.get(t) ?? [t.shape]).map((s) => s[axis]!);
    return sizes.every((s) => s === sizes[0]) ? null : sizes.join("|");
  }

  name(key: string, name: string, where: string): void {
    const before = this.names.get(key);
    if (before !== undefined && before !== name) {
      throw new OnnxExportError(
        "graphToOnnx",
        `axes "${before}" and "${name}" (${where}) have the same sizes (${key.split("|").join(", ")}) in every trace; trace them at different sizes so that they can be told apart`,
      );
    }
    for (const [k, n] of this.names) {
      if (n === name && k !== key) {
        throw new OnnxExportError("graphToOnnx", `axis "${name}" (${where}) has sizes ${key.split("|").join(", ")} but elsewhere ${k.split("|").join(", ")}`);
      }
    }
    this.names.set(key, name);
  }

  named(key: string): string | undefined {
    return this.names.get(key);
  }

  dims = (t: Tensor): readonly Dim[] => {
    let d = this.cache.get(t);
    if (!d) {
      d = t.shape.map((s, axis) => {
        const key = this.key(t, axis);
        return key === null ? s : (this.names.get(key) ?? `dim(${key})`);
      });
      this.cache.set(t, d);
    }
    return d;
  };
}

function valueInfo(name: string, t: Tensor, dims: readonly Dim[]): ValueInfoProto {
  return {
    name,
    type: {
      tensor_type: {
        elem_type: onnxDataType(t.dtype),
        shape: { dim: dims.map((d) => (typeof d === "number" ? { dim_value: d } : { dim_param: d })) },
      },
    },
  };
}

function describeInitializer(t: TensorProto): string {
  const bytes = t.raw_data ?? new Uint8Array(0);
  const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const view =
    t.data_type === DataType.INT64 ? Array.from(new BigInt64Array(copy), String)
    : t.data_type === DataType.INT32 ? Array.from(new Int32Array(copy), String)
    : t.data_type === DataType.DOUBLE ? Array.from(new Float64Array(copy), String)
    : t.data_type === DataType.FLOAT ? Array.from(new Float32Array(copy), String)
    : Array.from(bytes, String);
  return `[${view.slice(0, 8).join(", ")}${view.length > 8 ? ", ..." : ""}]`;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (!a || !b) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function attributeKey(n: NodeProto): string {
  return JSON.stringify(n.attribute, (_k, v: unknown) => (v instanceof Uint8Array ? Array.from(v) : v));
}

/** Throws, naming the node, unless two lowerings of the same function at different sizes are the same graph. */
function compareLowered(a: Lowered, b: Lowered, k: number): void {
  const na = a.builder.nodes;
  const nb = b.builder.nodes;
  const fix =
    "A graph with dynamic axes must not record a size that changes with them: use axes rather than sizes " +
    "(expandDims/squeeze, a batched matmul rather than a reshape to [T*B, ...]), or make the size an input";
  for (let i = 0; i < Math.max(na.length, nb.length); i++) {
    const x = na[i];
    const y = nb[i];
    if (!x || !y || x.op_type !== y.op_type || x.input.join() !== y.input.join() || x.output.join() !== y.output.join()) {
      throw new OnnxExportError("graphToOnnx", `the graph lowered at other sizes (trace ${k}) differs at ONNX node ${x?.name ?? y?.name}. ${fix}`);
    }
    if (attributeKey(x) !== attributeKey(y)) {
      throw new OnnxExportError(
        "graphToOnnx",
        `ONNX node ${x.name} has attributes ${attributeKey(x)} in trace 0 but ${attributeKey(y)} in trace ${k}: the recorded node holds a size. ${fix}`,
      );
    }
  }
  const ia = a.builder.initializers;
  const ib = b.builder.initializers;
  const reader = (name: string): string => {
    const node = na.find((n) => n.input.includes(name));
    return node ? `read by node ${node.name}` : "a graph output";
  };
  for (let i = 0; i < Math.max(ia.length, ib.length); i++) {
    const x = ia[i];
    const y = ib[i];
    if (!x || !y || x.name !== y.name) {
      throw new OnnxExportError("graphToOnnx", `the graphs traced at different sizes have different constants (${x?.name ?? "none"} vs ${y?.name ?? "none"}). ${fix}`);
    }
    if (x.dims.join() !== y.dims.join()) {
      throw new OnnxExportError(
        "graphToOnnx",
        `constant ${x.name} (${reader(x.name)}) has shape [${x.dims.join(",")}] in trace 0 but [${y.dims.join(",")}] in trace ${k}: ` +
          `it depends on a dynamic size; compute it from the inputs inside the traced function, or make it an input`,
      );
    }
    const sa = a.builder.sources.get(x.name);
    const sb = b.builder.sources.get(y.name);
    if (sa && sa === sb) continue;
    if (x.data_type !== y.data_type || !sameBytes(x.raw_data, y.raw_data)) {
      throw new OnnxExportError(
        "graphToOnnx",
        `constant ${x.name} (${reader(x.name)}) holds ${describeInitializer(x)} in trace 0 but ${describeInitializer(y)} in trace ${k}: ` +
          `the graph records a size or a value of the example inputs. ${fix}`,
      );
    }
  }
}

function isGraph(x: Graph | readonly Graph[]): x is Graph {
  return !Array.isArray(x);
}

/**
 * Writes recorded graphs (see `trace`) as an ONNX model. Pass one graph for fixed shapes, or the
 * same function traced at two or more sizes for dynamic axes: the graphs must lower to the same
 * ONNX graph (the exporter names the node that records a size otherwise), and the axes whose sizes
 * differ become symbolic (named by `dynamicAxes`, matched to the outputs by their sizes).
 */
export function graphToOnnx(graphs: Graph | readonly Graph[], options: GraphToOnnxOptions = {}): ModelProto {
  const list = isGraph(graphs) ? [graphs] : [...graphs];
  const g0 = list[0];
  if (!g0) throw new OnnxExportError("graphToOnnx", "needs at least one graph");
  const o = resolveOptions(g0, options);
  const maps = list.slice(1).map((g, k) => correspond(g0, g, k + 1));
  const shapes = new SymbolicShapes(list, maps);
  const dynamicAxes = options.dynamicAxes ?? {};
  if (list.length === 1 && Object.keys(dynamicAxes).length > 0) {
    throw new OnnxExportError(
      "graphToOnnx",
      "dynamic axes need the function traced at two or more sizes (so that the exporter can check that the graph records no size): " +
        "pass [graphA, graphB], or use traceToOnnx(f, [inputsA, inputsB], options)",
    );
  }
  // Name the dynamic axes: the declared ones first, then any other differing input/output axis.
  g0.inputs.forEach((t, i) => {
    const name = o.inputNames[i]!;
    for (const [axisText, symbol] of Object.entries(dynamicAxes[name] ?? {})) {
      const axis = Number(axisText);
      if (!Number.isInteger(axis) || axis < 0 || axis >= t.rank) {
        throw new OnnxExportError("graphToOnnx", `dynamicAxes.${name} names axis ${axisText}, but input ${name} has shape ${formatShape(t.shape)}`);
      }
      const key = shapes.key(t, axis);
      if (key === null) {
        throw new OnnxExportError(
          "graphToOnnx",
          `dynamic axis "${symbol}" (input ${name}, axis ${axis}) has size ${t.shape[axis]} in every trace: trace examples of different sizes along it`,
        );
      }
      shapes.name(key, symbol, `input ${name}, axis ${axis}`);
    }
  });
  const io = [...g0.inputs.map((t, i) => [t, o.inputNames[i]!] as const), ...g0.outputs.map((t, j) => [t, o.outputNames[j]!] as const)];
  for (const [t, name] of io) {
    t.shape.forEach((_, axis) => {
      const key = shapes.key(t, axis);
      if (key !== null && shapes.named(key) === undefined) shapes.name(key, `${name}_dim${axis}`, `${name}, axis ${axis}`);
    });
  }

  // Constants of one value whose shape changes with the dynamic axes (zeros([B, H]) made inside
  // the function) are generalised: filled at run time to the shape read from the inputs.
  const fillValues = new Map<Tensor, number>();
  if (list.length > 1) {
    const copies = new Map<Tensor, Tensor[]>();
    for (const map of maps) for (const [tk, t0] of map) if (tk !== t0) copies.set(t0, [...(copies.get(t0) ?? []), tk]);
    for (const t0 of graphConstants(g0)) {
      const all = [t0, ...(copies.get(t0) ?? [])];
      if (!t0.shape.some((_, axis) => shapes.key(t0, axis) !== null) || t0.size === 0) continue;
      const v = t0.data[0]!;
      if (all.every((t) => t.dtype === t0.dtype && t.data.every((x) => x === v))) fillValues.set(t0, v);
    }
  }
  const lowered = list.map((g, k) => {
    const map = maps[k - 1];
    const to0 = (t: Tensor): Tensor => (k === 0 || !map ? t : (map.get(t) ?? t));
    return lower(g, (t) => shapes.dims(to0(t)), o, { value: (t) => fillValues.get(to0(t)) });
  });
  const first = lowered[0]!;
  lowered.slice(1).forEach((l, k) => compareLowered(first, l, k + 1));

  const metadata = Object.entries(options.metadata ?? {});
  for (const [key, value] of metadata) {
    if (typeof value !== "string") throw new OnnxExportError("graphToOnnx", `metadata ${key} must be a string, got ${typeof value}`);
  }
  return {
    ir_version: IR_VERSION[o.opset]!,
    opset_import: [{ domain: "", version: o.opset }],
    producer_name: "unroll",
    producer_version: PRODUCER_VERSION,
    ...(options.docString ? { doc_string: options.docString } : {}),
    graph: {
      name: options.graphName ?? "graph",
      node: first.builder.nodes,
      initializer: first.builder.initializers,
      input: first.inputs.map(({ name, tensor }) => valueInfo(name, tensor, shapes.dims(tensor))),
      output: first.outputs.map(({ name, tensor }) => valueInfo(name, tensor, shapes.dims(tensor))),
    },
    metadata_props: metadata.map(([key, value]) => ({ key, value })),
  };
}

/**
 * Traces `f` on each set of example inputs and writes the graphs as one ONNX model (see
 * `graphToOnnx`). Give two sets of different sizes along every dynamic axis.
 */
export function traceToOnnx(
  f: (...inputs: Tensor[]) => Tensor | readonly Tensor[],
  examples: readonly (readonly Tensor[])[],
  options: GraphToOnnxOptions = {},
): ModelProto {
  if (examples.length === 0) throw new OnnxExportError("traceToOnnx", "needs at least one set of example inputs");
  return graphToOnnx(examples.map((inputs) => trace(f, [...inputs]).graph), options);
}
