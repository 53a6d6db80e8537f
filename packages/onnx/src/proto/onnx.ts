// The ONNX messages this package writes and reads, encoded with protobufjs from the official schema
// (proto/onnx.proto, vendored; scripts/embed-proto.mjs turns it into a JSON descriptor at build
// time). The interfaces below name the fields exactly as onnx.proto does; they cover the part of the
// schema an exporter uses, and protobufjs checks every message against the full schema on encode.
import protobuf from "protobufjs/light.js";
import { OnnxFormatError } from "../errors.js";
import { onnxDescriptor, SCHEMA_IR_VERSION } from "./onnx.generated.js";

export { SCHEMA_IR_VERSION };

/** `TensorProto.DataType` values. */
export const DataType = { FLOAT: 1, INT32: 6, INT64: 7, BOOL: 9, DOUBLE: 11 } as const;

/** `AttributeProto.AttributeType` values. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

export interface TensorProto {
  name: string;
  dims: number[];
  data_type: number;
  /** Little-endian element bytes (how every tensor here is stored). */
  raw_data?: Uint8Array;
  doc_string?: string;
}

export interface AttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
}

export interface NodeProto {
  name: string;
  op_type: string;
  domain?: string;
  input: string[];
  output: string[];
  attribute: AttributeProto[];
  doc_string?: string;
}

export type Dimension = { dim_value: number } | { dim_param: string };

export interface ValueInfoProto {
  name: string;
  type: { tensor_type: { elem_type: number; shape: { dim: Dimension[] } } };
  doc_string?: string;
}

export interface GraphProto {
  name: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  doc_string?: string;
}

export interface OperatorSetIdProto {
  domain: string;
  version: number;
}

export interface StringStringEntryProto {
  key: string;
  value: string;
}

export interface ModelProto {
  ir_version: number;
  opset_import: OperatorSetIdProto[];
  producer_name: string;
  producer_version: string;
  domain?: string;
  model_version?: number;
  doc_string?: string;
  graph: GraphProto;
  metadata_props: StringStringEntryProto[];
}

const root = protobuf.Root.fromJSON(onnxDescriptor);
const ModelType = root.lookupType("onnx.ModelProto");

/** Serialises a model to the ONNX file format (checked against the schema first). */
export function encodeModel(model: ModelProto): Uint8Array {
  const problem = ModelType.verify(model);
  if (problem) throw new TypeError(`encodeModel: the model does not fit onnx.ModelProto: ${problem}`);
  return ModelType.encode(ModelType.fromObject(model)).finish();
}

/**
 * Reads an ONNX file. 64-bit integers come back as numbers (exact up to 2^53, which covers
 * every shape and attribute this package writes); tensor bytes stay views into `bytes`.
 */
export function decodeModel(bytes: Uint8Array): ModelProto {
  try {
    const message = ModelType.decode(bytes);
    return ModelType.toObject(message, { longs: Number, arrays: true, defaults: false }) as unknown as ModelProto;
  } catch (e) {
    throw Object.assign(new OnnxFormatError("decodeModel", `not an ONNX model file (${String((e as Error).message).split("\n")[0]!.slice(0, 200)})`), { cause: e });
  }
}
