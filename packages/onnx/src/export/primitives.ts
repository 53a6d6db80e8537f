import type { DType, FloatDType, Tensor } from "@unroll/tensor";
import { DataType } from "../proto/onnx.js";
import { INT64_MAX, onnxDataType, OnnxExportError } from "./builder.js";
import type { Lowering, LoweringContext, LoweringTable } from "./lowering.js";
import { recurrentSequenceLowering } from "./recurrent.js";

// One lowering per primitive of @unroll/tensor, keyed by the primitive's name. Each writes the
// primitive's semantics exactly (broadcasting, masks as 0/1 floats, int32 indices, first-index
// argmax), so that onnxruntime computes what the library computes.

function attrs<A>(ctx: LoweringContext): A {
  return ctx.node.attrs as A;
}

function outTensor(ctx: LoweringContext, j = 0): Tensor {
  return ctx.node.outputs[j]!;
}

/** Same op name and inputs, one output, no attributes. */
function direct(opType: string): Lowering {
  return (ctx) => {
    ctx.emit(opType, ctx.node.inputs.map((_, i) => ctx.input(i)), [ctx.output(0)]);
  };
}

function comparison(opType: "Greater" | "GreaterOrEqual" | "Less" | "LessOrEqual" | "Equal" | "NotEqual"): Lowering {
  return (ctx) => {
    const { dtype } = attrs<{ dtype: FloatDType }>(ctx);
    const a = ctx.input(0);
    const b = ctx.input(1);
    const [bool] = opType === "NotEqual" ? ctx.emit("Not", ctx.emit("Equal", [a, b], 1), 1) : ctx.emit(opType, [a, b], 1);
    ctx.setCondition(outTensor(ctx), bool!);
    ctx.emit("Cast", [bool!], [ctx.output(0)], { to: onnxDataType(dtype) });
  };
}

/** ReduceSum/ReduceMax: axes became an input at opset 13 (ReduceSum) and 18 (ReduceMax). */
function reduction(opType: "ReduceSum" | "ReduceMax", axesInputSince: number): Lowering {
  return (ctx) => {
    const { axes, keepdims } = attrs<{ axes: readonly number[]; keepdims: boolean }>(ctx);
    if (axes.length === 0) {
      ctx.emit("Identity", [ctx.input(0)], [ctx.output(0)]);
      return;
    }
    const keep = keepdims ? 1 : 0;
    if (ctx.opset >= axesInputSince) ctx.emit(opType, [ctx.input(0), ctx.int64s(axes)], [ctx.output(0)], { keepdims: keep });
    else ctx.emit(opType, [ctx.input(0)], [ctx.output(0)], { axes: [...axes], keepdims: keep });
  };
}

/** The permutation that swaps the last two of `rank` axes. */
function swapLast(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

const matMul: Lowering = (ctx) => {
  const { transA, transB } = attrs<{ transA: boolean; transB: boolean }>(ctx);
  const [a, b] = ctx.node.inputs as [Tensor, Tensor];
  if (a.rank === 2 && b.rank === 2) {
    // A plain matrix product: Gemm takes the transposes as flags.
    ctx.emit("Gemm", [ctx.input(0), ctx.input(1)], [ctx.output(0)], { transA: transA ? 1 : 0, transB: transB ? 1 : 0 });
    return;
  }
  // Batched, broadcast over leading axes (as ONNX MatMul): transposes as nodes, which onnxruntime
  // folds away when the operand is a weight.
  const x = transA ? ctx.emit("Transpose", [ctx.input(0)], 1, { perm: swapLast(a.rank) })[0]! : ctx.input(0);
  const y = transB ? ctx.emit("Transpose", [ctx.input(1)], 1, { perm: swapLast(b.rank) })[0]! : ctx.input(1);
  ctx.emit("MatMul", [x, y], [ctx.output(0)]);
};

const clamp: Lowering = (ctx) => {
  const { min, max } = attrs<{ min: number; max: number }>(ctx);
  const dtype = ctx.node.inputs[0]!.dtype;
  const lo = min > -Infinity ? ctx.scalar(min, dtype) : "";
  const hi = max < Infinity ? ctx.scalar(max, dtype) : "";
  ctx.emit("Clip", hi === "" ? [ctx.input(0), lo] : [ctx.input(0), lo, hi], [ctx.output(0)]);
};

const where: Lowering = (ctx) => {
  ctx.emit("Where", [ctx.condition(ctx.node.inputs[0]!), ctx.input(1), ctx.input(2)], [ctx.output(0)]);
};

const cast: Lowering = (ctx) => {
  const { dtype } = attrs<{ dtype: DType }>(ctx);
  ctx.emit("Cast", [ctx.input(0)], [ctx.output(0)], { to: onnxDataType(dtype) });
};

const softmax = (opType: "Softmax" | "LogSoftmax"): Lowering => (ctx) => {
  const { axis } = attrs<{ axis: number }>(ctx);
  ctx.emit(opType, [ctx.input(0)], [ctx.output(0)], { axis });
};

const argMax: Lowering = (ctx) => {
  const { axis, keepdims } = attrs<{ axis: number; keepdims: boolean }>(ctx);
  // ONNX ArgMax gives int64 (first maximum, as the library's); the library's indices are int32.
  const [i64] = ctx.emit("ArgMax", [ctx.input(0)], 1, { axis, keepdims: keepdims ? 1 : 0, select_last_index: 0 });
  ctx.emit("Cast", [i64!], [ctx.output(0)], { to: DataType.INT32 });
};

const reshape: Lowering = (ctx) => {
  const { shape } = attrs<{ shape: readonly number[] }>(ctx);
  const from = ctx.dims(ctx.node.inputs[0]!);
  const to = ctx.dims(outTensor(ctx));
  // Dynamic axes: an axis that keeps its input's dynamic size is written 0 ("copy"), and one other
  // dynamic axis -1 ("the rest"). Other dynamic sizes stay as recorded; the check across traces
  // then reports the node.
  const dynamic = to.map((d, i) => typeof d === "string" && from[i] !== d);
  const target = shape.map((s, i) => {
    const d = to[i]!;
    if (typeof d === "string" && from[i] === d) return 0;
    if (dynamic[i] && dynamic.filter(Boolean).length === 1) return -1;
    return s;
  });
  ctx.emit("Reshape", [ctx.input(0), ctx.int64s(target)], [ctx.output(0)]);
};

const broadcastTo: Lowering = (ctx) => {
  const { shape } = attrs<{ shape: readonly number[] }>(ctx);
  const x = ctx.dims(ctx.node.inputs[0]!);
  const lead = shape.length - x.length;
  // Expand broadcasts both ways: 1 keeps the input's size, so only broadcast axes record a size.
  const target = shape.map((s, i) => (i >= lead && x[i - lead] !== 1 ? 1 : s));
  ctx.emit("Expand", [ctx.input(0), ctx.int64s(target)], [ctx.output(0)]);
};

const slice: Lowering = (ctx) => {
  const { starts, ends } = attrs<{ starts: readonly number[]; ends: readonly number[] }>(ctx);
  const x = ctx.node.inputs[0]!;
  const axes: number[] = [];
  const s: (number | bigint)[] = [];
  const e: (number | bigint)[] = [];
  starts.forEach((start, i) => {
    const size = x.shape[i]!;
    if (start === 0 && ends[i] === size) return;
    axes.push(i);
    s.push(start);
    // An end at the traced size means "to the end", whatever the size at run time.
    e.push(ends[i] === size ? INT64_MAX : ends[i]!);
  });
  if (axes.length === 0) ctx.emit("Identity", [ctx.input(0)], [ctx.output(0)]);
  else ctx.emit("Slice", [ctx.input(0), ctx.int64s(s), ctx.int64s(e), ctx.int64s(axes)], [ctx.output(0)]);
};

const pad: Lowering = (ctx) => {
  const { before, after, value } = attrs<{ before: readonly number[]; after: readonly number[]; value: number }>(ctx);
  const dtype = ctx.node.inputs[0]!.dtype;
  ctx.emit("Pad", [ctx.input(0), ctx.int64s([...before, ...after]), ctx.scalar(value, dtype)], [ctx.output(0)], { mode: "constant" });
};

const oneHot: Lowering = (ctx) => {
  const { depth, dtype } = attrs<{ depth: number; dtype: FloatDType }>(ctx);
  // indices[..., None] == [0, 1, ..., depth-1], as 0/1 values. An index outside [0, depth) matches
  // nothing: a row of zeros, as the library gives (ONNX OneHot would count negatives from the end,
  // and onnxruntime implements it for few type combinations).
  const [column] = ctx.emit("Unsqueeze", [ctx.input(0), ctx.int64s([-1])], 1);
  const range = ctx.constant(DataType.INT32, [depth], Array.from({ length: depth }, (_, i) => i));
  const [hit] = ctx.emit("Equal", [column!, range], 1);
  ctx.emit("Cast", [hit!], [ctx.output(0)], { to: onnxDataType(dtype) });
};

const unsqueeze: Lowering = (ctx) => {
  const { axis } = attrs<{ axis: number }>(ctx);
  ctx.emit("Unsqueeze", [ctx.input(0), ctx.int64s([axis])], [ctx.output(0)]);
};

const squeeze: Lowering = (ctx) => {
  const { axes } = attrs<{ axes: readonly number[] }>(ctx);
  if (axes.length === 0) ctx.emit("Identity", [ctx.input(0)], [ctx.output(0)]);
  else ctx.emit("Squeeze", [ctx.input(0), ctx.int64s(axes)], [ctx.output(0)]);
};

const identity = direct("Identity");

// --- vision: convolution, pooling, batch normalisation --------------------------------------

interface WindowAttrs {
  readonly stride: readonly [number, number];
  /** `[top, left, bottom, right]`: ONNX's `pads` order already. */
  readonly pads: readonly [number, number, number, number];
  readonly dilation: readonly [number, number];
}

const conv2d: Lowering = (ctx) => {
  const { stride, pads, dilation, groups } = attrs<WindowAttrs & { groups: number }>(ctx);
  const w = ctx.node.inputs[1]!;
  ctx.emit("Conv", ctx.node.inputs.map((_, i) => ctx.input(i)), [ctx.output(0)], {
    kernel_shape: [w.shape[2]!, w.shape[3]!], strides: [...stride], pads: [...pads], dilations: [...dilation], group: groups,
  });
};

// The input gradient of a convolution is ConvTranspose with the same weight ([C_out, C_in/groups,
// kH, kW] is ConvTranspose's [C, M/groups, kH, kW]); output_padding picks the forward input's size
// among those a strided convolution maps to the same output size.
const conv2dBackwardInput: Lowering = (ctx) => {
  const { stride, pads, dilation, groups, inputSize } = attrs<WindowAttrs & { groups: number; inputSize: readonly [number, number] }>(ctx);
  const [dy, w] = ctx.node.inputs as [Tensor, Tensor];
  const kernel = [w.shape[2]!, w.shape[3]!];
  const outputPadding = [0, 1].map(
    (i) => inputSize[i]! - (stride[i]! * (dy.shape[2 + i]! - 1) + dilation[i]! * (kernel[i]! - 1) + 1 - pads[i]! - pads[i + 2]!),
  );
  ctx.emit("ConvTranspose", [ctx.input(0), ctx.input(1)], [ctx.output(0)], {
    kernel_shape: kernel, strides: [...stride], pads: [...pads], dilations: [...dilation], group: groups, output_padding: outputPadding,
  });
};

const maxPool2d: Lowering = (ctx) => {
  const { kernel, stride, pads, dilation } = attrs<WindowAttrs & { kernel: readonly [number, number] }>(ctx);
  const poolAttrs = { kernel_shape: [...kernel], strides: [...stride], pads: [...pads], dilations: [...dilation], ceil_mode: 0 };
  if (!ctx.used(1)) {
    ctx.emit("MaxPool", [ctx.input(0)], [ctx.output(0)], poolAttrs);
    return;
  }
  // ONNX's Indices count over the whole tensor, ((n·C + c)·H + h)·W + w (int64); the library's
  // are positions h·W + w in the plane (int32), PyTorch's.
  const x = ctx.node.inputs[0]!;
  const [, flat] = ctx.emit("MaxPool", [ctx.input(0)], [ctx.output(0), ctx.fresh("indices")], { ...poolAttrs, storage_order: 0 });
  const [inPlane] = ctx.emit("Mod", [flat!, ctx.int64s([x.shape[2]! * x.shape[3]!], [])], 1);
  ctx.emit("Cast", [inPlane!], [ctx.output(1)], { to: DataType.INT32 });
};

const avgPool2d: Lowering = (ctx) => {
  const { kernel, stride, pads, countIncludePad } = attrs<WindowAttrs & { kernel: readonly [number, number]; countIncludePad: boolean }>(ctx);
  ctx.emit("AveragePool", [ctx.input(0)], [ctx.output(0)], {
    kernel_shape: [...kernel], strides: [...stride], pads: [...pads], count_include_pad: countIncludePad ? 1 : 0, ceil_mode: 0,
  });
};

// The library's inputs are [x, mean, variance, weight, bias]; ONNX's [X, scale, B, mean, var].
const batchNorm: Lowering = (ctx) => {
  const { eps } = attrs<{ eps: number }>(ctx);
  ctx.emit("BatchNormalization", [0, 3, 4, 1, 2].map((i) => ctx.input(i)), [ctx.output(0)], { epsilon: { float: eps } });
};

const batchNormTraining: Lowering = (ctx) => {
  throw new OnnxExportError(
    "graphToOnnx",
    `${ctx.name} is training-mode batch normalisation (batch statistics, running averages updated), which an inference graph ` +
      "does not compute; trace the model with batchNorm(..., { training: false }) to export it with its running statistics",
  );
};

const relu6: Lowering = (ctx) => {
  const dtype = ctx.node.inputs[0]!.dtype;
  ctx.emit("Clip", [ctx.input(0), ctx.scalar(0, dtype), ctx.scalar(6, dtype)], [ctx.output(0)]);
};

/**
 * The lowering of every primitive of @unroll/tensor that has an ONNX counterpart, and of the fused
 * recurrent scan of @unroll/cells (`RecurrentSequence`). Training-only primitives (ScatterAdd,
 * SoftmaxCrossEntropy, SoftmaxCrossEntropyGrad, RecurrentSequenceGrad) have none: exporting a
 * graph that uses them is an error that names them. Pass `lowerings` to `graphToOnnx` to add or
 * replace entries.
 */
export const defaultLowerings: LoweringTable = Object.freeze({
  Add: direct("Add"),
  Sub: direct("Sub"),
  Mul: direct("Mul"),
  Div: direct("Div"),
  Pow: direct("Pow"),
  Neg: direct("Neg"),
  Exp: direct("Exp"),
  Log: direct("Log"),
  Sqrt: direct("Sqrt"),
  Tanh: direct("Tanh"),
  Sigmoid: direct("Sigmoid"),
  Relu: direct("Relu"),
  Abs: direct("Abs"),
  Sign: direct("Sign"),
  Clamp: clamp,
  Greater: comparison("Greater"),
  GreaterEqual: comparison("GreaterOrEqual"),
  Less: comparison("Less"),
  LessEqual: comparison("LessOrEqual"),
  Equal: comparison("Equal"),
  NotEqual: comparison("NotEqual"),
  Where: where,
  Cast: cast,
  StopGradient: identity,
  Identity: identity,
  MatMul: matMul,
  Sum: reduction("ReduceSum", 13),
  Max: reduction("ReduceMax", 18),
  ArgMax: argMax,
  Reshape: reshape,
  Unsqueeze: unsqueeze,
  Squeeze: squeeze,
  BroadcastTo: broadcastTo,
  Transpose: (ctx) => void ctx.emit("Transpose", [ctx.input(0)], [ctx.output(0)], { perm: [...attrs<{ perm: number[] }>(ctx).perm] }),
  Concat: (ctx) => void ctx.emit("Concat", ctx.node.inputs.map((_, i) => ctx.input(i)), [ctx.output(0)], { axis: attrs<{ axis: number }>(ctx).axis }),
  Slice: slice,
  Split: (ctx) => {
    const { axis, sizes } = attrs<{ axis: number; sizes: number[] }>(ctx);
    ctx.emit("Split", [ctx.input(0), ctx.int64s(sizes)], ctx.node.outputs.map((_, i) => ctx.output(i)), { axis });
  },
  Pad: pad,
  Gather: (ctx) => void ctx.emit("Gather", [ctx.input(0), ctx.input(1)], [ctx.output(0)], { axis: attrs<{ axis: number }>(ctx).axis }),
  OneHot: oneHot,
  Softmax: softmax("Softmax"),
  LogSoftmax: softmax("LogSoftmax"),
  RecurrentSequence: recurrentSequenceLowering,
  // Vision. Conv2dBackwardWeight, MaxPool2dGrad, AvgPool2dGrad and BatchNormTrainingGrad are
  // training-only and have none; BatchNormTraining refuses with the fix.
  Conv2d: conv2d,
  Conv2dBackwardInput: conv2dBackwardInput,
  MaxPool2d: maxPool2d,
  AvgPool2d: avgPool2d,
  GlobalAvgPool2d: direct("GlobalAveragePool"),
  BatchNorm: batchNorm,
  BatchNormTraining: batchNormTraining,
  Relu6: relu6,
});

