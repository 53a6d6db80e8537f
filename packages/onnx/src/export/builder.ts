/// <reference types="node" />
import { type DType, type Tensor, TensorError } from "@unroll/tensor";
import { type AttributeProto, AttributeType, DataType, type NodeProto, type TensorProto } from "../proto/onnx.js";

/** An export that cannot be done: a primitive without a lowering, a graph that records a size... */
export class OnnxExportError extends TensorError {
  constructor(op: string, message: string) {
    super(op, message);
    this.name = "OnnxExportError";
  }
}

/** A node attribute: numbers are INT, arrays of numbers INTS, strings STRING; floats say so. */
export type AttributeValue = number | readonly number[] | string | readonly string[] | { readonly float: number } | { readonly floats: readonly number[] };
export type Attributes = Readonly<Record<string, AttributeValue>>;

const utf8 = new TextEncoder();

function attribute(name: string, v: AttributeValue): AttributeProto {
  if (typeof v === "number") {
    if (!Number.isInteger(v)) throw new OnnxExportError("onnx", `attribute ${name} = ${v} is not an integer; pass { float: ${v} }`);
    return { name, type: AttributeType.INT, i: v };
  }
  if (typeof v === "string") return { name, type: AttributeType.STRING, s: utf8.encode(v) };
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === "string")) return { name, type: AttributeType.STRINGS, strings: (v as string[]).map((s) => utf8.encode(s)) };
    return { name, type: AttributeType.INTS, ints: [...(v as number[])] };
  }
  if ("float" in (v as object)) return { name, type: AttributeType.FLOAT, f: (v as { float: number }).float };
  return { name, type: AttributeType.FLOATS, floats: [...(v as { floats: number[] }).floats] };
}

/** ONNX element type of a library dtype. */
export function onnxDataType(dtype: DType): number {
  return dtype === "float32" ? DataType.FLOAT : dtype === "float64" ? DataType.DOUBLE : DataType.INT32;
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  // raw_data is little-endian by the ONNX spec; typed arrays use the platform's order.
  throw new Error("@unroll/onnx needs a little-endian platform");
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
}

/** A library tensor as an initializer (raw little-endian bytes). */
export function tensorProto(name: string, t: Tensor): TensorProto {
  return { name, dims: [...t.shape], data_type: onnxDataType(t.dtype), raw_data: bytesOf(t.data) };
}

/** Largest int64: ONNX Slice's "to the end". */
export const INT64_MAX = 9223372036854775807n;

/**
 * Accumulates an ONNX graph: nodes, initializers and unique value names. Lowerings add to it
 * through a `LoweringContext`; constants a lowering makes (axes, shapes, scalars) are
 * initializers named after the node that reads them.
 */
export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  /** For each initializer, the library tensor it holds (null: a constant a lowering made). */
  readonly sources = new Map<string, Tensor | null>();
  /** Ranks of the values that hold a library tensor (inputs, constants, primitive outputs) and of initializers. */
  readonly ranks = new Map<string, number>();
  private readonly taken = new Set<string>();
  private readonly nodeNames = new Set<string>();

  /** A fresh name starting with `base`. */
  unique(base: string): string {
    let name = base;
    for (let k = 1; this.taken.has(name); k++) name = `${base}_${k}`;
    this.taken.add(name);
    return name;
  }

  /** Claims exactly `name` (a graph input or output name); false if it is already used. */
  claim(name: string): boolean {
    if (this.taken.has(name)) return false;
    this.taken.add(name);
    return true;
  }

  /** Adds a node named `name` (made unique among node names: ONNX keeps them apart from value names). */
  node(opType: string, name: string, inputs: readonly string[], outputs: readonly string[], attributes: Attributes = {}): void {
    let unique = name;
    for (let k = 1; this.nodeNames.has(unique); k++) unique = `${name}_${k}`;
    this.nodeNames.add(unique);
    this.nodes.push({
      name: unique,
      op_type: opType,
      input: [...inputs],
      output: [...outputs],
      attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
    });
  }

  /** Adds `t` as an initializer under a fresh name based on `base`. */
  tensor(base: string, t: Tensor): string {
    const name = this.unique(base);
    this.initializers.push(tensorProto(name, t));
    this.sources.set(name, t);
    return name;
  }

  /** A constant made by a lowering: int64, int32, float32/64 or bool values. */
  constant(base: string, dataType: number, dims: readonly number[], values: readonly (number | bigint)[]): string {
    const name = this.unique(base);
    let data: ArrayBufferView;
    switch (dataType) {
      case DataType.INT64:
        data = BigInt64Array.from(values, (v) => (typeof v === "bigint" ? v : BigInt(v)));
        break;
      case DataType.INT32:
        data = Int32Array.from(values, Number);
        break;
      case DataType.FLOAT:
        data = Float32Array.from(values, Number);
        break;
      case DataType.DOUBLE:
        data = Float64Array.from(values, Number);
        break;
      case DataType.BOOL:
        data = Uint8Array.from(values, (v) => (Number(v) !== 0 ? 1 : 0));
        break;
      default:
        throw new OnnxExportError("onnx", `constant ${name}: unsupported data type ${dataType}`);
    }
    this.initializers.push({ name, dims: [...dims], data_type: dataType, raw_data: bytesOf(data) });
    this.sources.set(name, null);
    this.ranks.set(name, dims.length);
    return name;
  }
}
