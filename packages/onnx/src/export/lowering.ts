import type { DType, RecordedNode, Tensor } from "@unroll/tensor";
import type { Attributes } from "./builder.js";

/** A dimension: a size, or the name of a dynamic axis ("batch", "time"). */
export type Dim = number | string;

/** How recurrent layers are written: ONNX's RNN/LSTM/GRU operators, or unrolled MatMul/Add/Sigmoid/Tanh steps. */
export type RecurrentLowering = "operators" | "unrolled";

/**
 * What a lowering sees of the export in progress: the recorded node, the names of the values it
 * reads and writes, symbolic shapes, and a way to add ONNX nodes and constants.
 */
export interface LoweringContext {
  readonly node: RecordedNode;
  /** Base of the names of this node's ONNX nodes and values, e.g. `MatMul_12`. */
  readonly name: string;
  readonly opset: number;
  readonly recurrent: RecurrentLowering;
  /** ONNX value name of a tensor the node reads (a graph input, an initializer or an earlier result). */
  value(t: Tensor): string;
  /** ONNX value name of input `i` of the node. */
  input(i: number): string;
  /** The name the node's output `j` must be written to. */
  output(j: number): string;
  /** Whether output `j` is read by a later node or is a graph output (unused outputs may be left out). */
  used(j: number): boolean;
  /** Shape of a tensor with dynamic axes as names. */
  dims(t: Tensor): readonly Dim[];
  /** A fresh value name, `<node name>/<hint>`. */
  fresh(hint: string): string;
  /** Adds an ONNX node; `outputs` are names, or a count of fresh names. Returns the output names. */
  emit(opType: string, inputs: readonly string[], outputs: readonly string[] | number, attributes?: Attributes): string[];
  /** An int64 constant (shapes, axes, indices); a rank-1 tensor unless `dims` says otherwise. */
  int64s(values: readonly (number | bigint)[], dims?: readonly number[]): string;
  /** A rank-0 constant of a library dtype. */
  scalar(value: number, dtype: DType): string;
  /** A constant of any ONNX data type. */
  constant(dataType: number, dims: readonly number[], values: readonly (number | bigint)[]): string;
  /** A boolean value for a 0/1 mask tensor (a comparison's mask reuses the comparison's boolean). */
  condition(t: Tensor): string;
  /** Declares that the 0/1 mask `t` has the boolean value `name` (see `condition`). */
  setCondition(t: Tensor, name: string): void;
}

/** Writes one recorded primitive application as ONNX nodes. */
export type Lowering = (ctx: LoweringContext) => void;

/** Lowerings keyed by primitive name (`Primitive.name`). */
export type LoweringTable = Readonly<Record<string, Lowering>>;
