// @unroll/tensor: tensors, named primitives with their vector-Jacobian products, reverse-mode
// autodiff, tracing, seeded randomness and gradcheck. Everything public is exported here.

export { Tensor, fromArray, scalar, zeros, ones, full, zerosLike, onesLike, arange, clone } from "./tensor.js";
export type { NestedArray, FromArrayOptions } from "./tensor.js";
export type { DType, FloatDType, DataArray, FloatArray } from "./dtype.js";
export { TensorError, ShapeError, DTypeError, ValueRangeError } from "./errors.js";
export { broadcastShapes, sizeOf, formatShape } from "./shape.js";
export type { Shape } from "./shape.js";

export { Rng, randomUniform, randomNormal } from "./random/rng.js";
export type { RngState, RandomOptions } from "./random/rng.js";

export type {
  Kernels, KernelTensor, UnaryOp, BinaryOp, ArithmeticOp, ComparisonOp, ReduceOp,
  RecurrentCell, RecurrentForwardArgs, RecurrentForwardOut, RecurrentBackwardArgs, RecurrentBackwardOut, AdamScalars,
  AttentionDecoderForwardArgs, AttentionDecoderForwardOut, AttentionDecoderBackwardArgs, AttentionDecoderBackwardOut,
} from "./backend/kernels.js";
export { referenceKernels } from "./backend/reference/index.js";
export { getKernels, setKernels, withKernels, pinTensors } from "./backend/active.js";
export {
  wasmSupported, wasmThreadsSupported, defaultWasmThreads, MAX_WASM_THREADS, loadWasmKernels, loadWasmKernelsSync, wasmGemm,
} from "./backend/wasm/index.js";
export type { WasmGemmOptions, WasmKernelsOptions } from "./backend/wasm/index.js";

export { definePrimitive, apply, withDecomposition } from "./autodiff/primitive.js";
export type { Primitive, AnyPrimitive, Application, OutputSpec } from "./autodiff/primitive.js";
export { Tape, noGrad, isRecording } from "./autodiff/recording.js";
export type { RecordedNode } from "./autodiff/recording.js";
export { valueAndGrad, grad, backward, accumulateGrads } from "./autodiff/grad.js";
export type { ValueAndGrad, ValueAndGradWithAux } from "./autodiff/grad.js";
export { treeLeaves, treeEntries, treeMap } from "./autodiff/tree.js";
export type { TensorTree } from "./autodiff/tree.js";
export { trace, traceInput, evaluateGraph, formatGraph, graphConstants } from "./autodiff/trace.js";
export type { Graph } from "./autodiff/trace.js";

export { add, sub, mul, div, pow, Add, Sub, Mul, Div, Pow } from "./ops/arithmetic.js";
export { neg, exp, log, sqrt, tanh, sigmoid, relu, abs, sign, clamp } from "./ops/unary.js";
export { Neg, Exp, Log, Sqrt, Tanh, Sigmoid, Relu, Abs, Sign, Clamp } from "./ops/unary.js";
export { greater, greaterEqual, less, lessEqual, equal, notEqual } from "./ops/compare.js";
export { Greater, GreaterEqual, Less, LessEqual, Equal, NotEqual } from "./ops/compare.js";
export type { MaskOptions } from "./ops/compare.js";
export { where, Where } from "./ops/conditional.js";
export { cast, detach, Cast, StopGradient } from "./ops/cast.js";
export { matmul, MatMul } from "./ops/matmul.js";
export { sum, max, mean, argmax, sumTo, Sum, Max, ArgMax } from "./ops/reduce.js";
export {
  identity, reshape, broadcastTo, transpose, concat, stack, slice, split, pad, expandDims, squeeze,
  Identity, Reshape, Unsqueeze, Squeeze, BroadcastTo, Transpose, Concat, Slice, Split, Pad,
} from "./ops/layout.js";
export { gather, scatterAdd, oneHot, Gather, ScatterAdd, OneHot } from "./ops/indexing.js";
export { softmax, logSoftmax, Softmax, LogSoftmax } from "./ops/softmax.js";
export { softmaxCrossEntropy, SoftmaxCrossEntropy, SoftmaxCrossEntropyGrad } from "./ops/loss.js";
export type { CrossEntropyOptions } from "./ops/loss.js";
export { dropout } from "./ops/dropout.js";
export type { TensorLike } from "./ops/operand.js";

export { gradcheck } from "./gradcheck.js";
export type { GradcheckOptions, GradcheckReport, GradcheckMismatch } from "./gradcheck.js";

export { conv2d, conv2dBackwardInput, conv2dBackwardWeight, conv2dParams, Conv2d, Conv2dBackwardInput, Conv2dBackwardWeight } from "./ops/conv.js";
export type { Conv2dOptions, Conv2dAttrs } from "./ops/conv.js";
export type { Size2d } from "./ops/window.js";
export {
  maxPool2d, maxPool2dWithIndices, avgPool2d, globalAvgPool2d, MaxPool2d, MaxPool2dGrad, AvgPool2d, AvgPool2dGrad, GlobalAvgPool2d,
} from "./ops/pool.js";
export type { MaxPool2dOptions, AvgPool2dOptions } from "./ops/pool.js";
export { batchNorm, BatchNorm, BatchNormTraining, BatchNormTrainingGrad } from "./ops/norm.js";
export type { BatchNormOptions, BatchNormResult } from "./ops/norm.js";
export { relu6, Relu6 } from "./ops/activation.js";
export type { Conv2dParams, Pool2dParams, BatchNormArgs, BatchNormBackwardArgs, BatchNormBackwardOut } from "./backend/kernels.js";
