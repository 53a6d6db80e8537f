import type { Tensor } from "@unroll/tensor";
import type { Lowering, LoweringContext, LoweringTable } from "../export/lowering.js";
import { OnnxExportError, onnxDataType } from "../export/builder.js";
import { DataType } from "../proto/onnx.js";

// Lowerings of the primitives that only a training graph holds: the backward passes of the
// library's operations, and the fused softmax cross-entropy (its decomposition goes through a
// one-hot matrix of the logits' size, three times slower in onnxruntime). Fused primitives with a
// decomposition and no lowering here are traced as their simpler primitives.

/**
 * `ScatterAdd` (the gradient of `gather`, an embedding's): zeros of the result's shape into which
 * the update slices are added at the indices along `axis`. Lowered as ScatterElements with
 * reduction "add" (opset 16) over the flattened indices, each index repeated across its slice:
 * ScatterND with reduction "add" would be one node fewer, but onnxruntime's CPU kernel runs its
 * slices on several threads without ordering, and loses additions when an index repeats (an
 * embedding's gradient: the same token many times in a batch; onnxruntime issues 18048, 23396).
 * Another axis than 0 is moved to the front around it.
 */
const scatterAdd: Lowering = (ctx) => {
  if (ctx.opset < 16) throw new OnnxExportError(ctx.name, `ScatterAdd needs opset 16 or later (ScatterElements with reduction "add"), the export asks for ${ctx.opset}`);
  const { axis, shape } = ctx.node.attrs as { readonly axis: number; readonly shape: readonly number[] };
  const [indices, updates] = ctx.node.inputs as readonly [Tensor, Tensor];
  const k = indices.rank;
  const target = axis === 0 ? shape : [shape[axis]!, ...shape.filter((_, i) => i !== axis)];
  const [zeros] = ctx.emit("Expand", [ctx.scalar(0, ctx.node.outputs[0]!.dtype), ctx.int64s(target)], 1);
  let update = ctx.input(1);
  if (axis !== 0) {
    // updates [pre(axis), indices(k), post] -> [indices, pre, post]
    const perm = [...Array.from({ length: k }, (_, i) => axis + i), ...Array.from({ length: axis }, (_, i) => i), ...Array.from({ length: updates.rank - axis - k }, (_, i) => axis + k + i)];
    update = ctx.emit("Transpose", [update], 1, { perm })[0]!;
  }
  // [indices(k), rest] -> [n, rest]; the indices [n] -> [n, 1, ...] -> [n, rest], one per element.
  const n = indices.shape.reduce((a, b) => a * b, 1);
  const rest = target.slice(1);
  const [flat] = ctx.emit("Reshape", [update, ctx.int64s([n, ...rest])], 1);
  const [wide] = ctx.emit("Cast", [ctx.input(0)], 1, { to: DataType.INT64 });
  const [column] = ctx.emit("Reshape", [wide!, ctx.int64s([n, ...rest.map(() => 1)])], 1);
  const [index] = ctx.emit("Expand", [column!, ctx.int64s([n, ...rest])], 1);
  if (axis === 0) {
    ctx.emit("ScatterElements", [zeros!, index!, flat!], [ctx.output(0)], { axis: 0, reduction: "add" });
    return;
  }
  const [scattered] = ctx.emit("ScatterElements", [zeros!, index!, flat!], 1, { axis: 0, reduction: "add" });
  // [shape[axis], pre, post] -> shape
  const rank = shape.length;
  const back = Array.from({ length: rank }, (_, i) => (i < axis ? i + 1 : i === axis ? 0 : i));
  ctx.emit("Transpose", [scattered!], [ctx.output(0)], { perm: back });
};

/** The ignore mask and safe (in-range, int64) targets of a cross-entropy: rows of `ignoreIndex` read class 0 and are masked. */
function targetsOf(ctx: LoweringContext): { valid: string; safe: string } {
  const { ignoreIndex } = ctx.node.attrs as { readonly ignoreIndex: number };
  const [ignored] = ctx.emit("Equal", [ctx.input(1), ctx.scalar(ignoreIndex, "int32")], 1);
  const [valid] = ctx.emit("Not", [ignored!], 1);
  const [wide] = ctx.emit("Cast", [ctx.input(1)], 1, { to: DataType.INT64 });
  const [safe] = ctx.emit("Where", [valid!, wide!, ctx.constant(DataType.INT64, [], [0])], 1);
  return { valid: valid!, safe: safe! };
}

/** `SoftmaxCrossEntropy` (logits [N, C], targets [N] -> losses [N], 0 where ignored): -log_softmax(x)[t]. */
const softmaxCrossEntropy: Lowering = (ctx) => {
  const { valid, safe } = targetsOf(ctx);
  const [ls] = ctx.emit("LogSoftmax", [ctx.input(0)], 1, { axis: 1 });
  const [index] = ctx.emit("Unsqueeze", [safe, ctx.int64s([1])], 1);
  const [picked] = ctx.emit("GatherElements", [ls!, index!], 1, { axis: 1 }); // [N, 1]
  const [flat] = ctx.emit("Squeeze", [picked!, ctx.int64s([1])], 1);
  const [loss] = ctx.emit("Neg", [flat!], 1);
  ctx.emit("Where", [valid, loss!, ctx.scalar(0, ctx.node.outputs[0]!.dtype)], [ctx.output(0)]);
};

/** `SoftmaxCrossEntropyGrad` (logits, targets, g [N] -> [N, C]): (softmax(x) - onehot(t)) g, zero rows where ignored. */
const softmaxCrossEntropyGrad: Lowering = (ctx) => {
  const { valid, safe } = targetsOf(ctx);
  const logits = ctx.node.inputs[0]!;
  const [C] = [logits.shape[1]!];
  const dtype = logits.dtype;
  const [p] = ctx.emit("Softmax", [ctx.input(0)], 1, { axis: 1 });
  const values = ctx.constant(onnxDataType(dtype), [2], [0, 1]);
  const [onehot] = ctx.emit("OneHot", [safe, ctx.int64s([C]), values], 1, { axis: -1 });
  const [diff] = ctx.emit("Sub", [p!, onehot!], 1);
  const [g] = ctx.emit("Where", [valid, ctx.input(2), ctx.scalar(0, dtype)], 1);
  const [column] = ctx.emit("Unsqueeze", [g!, ctx.int64s([1])], 1);
  ctx.emit("Mul", [diff!, column!], [ctx.output(0)]);
};

export const trainingLowerings: LoweringTable = Object.freeze({
  ScatterAdd: scatterAdd,
  SoftmaxCrossEntropy: softmaxCrossEntropy,
  SoftmaxCrossEntropyGrad: softmaxCrossEntropyGrad,
});
