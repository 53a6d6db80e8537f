import type { Tensor } from "@unroll/tensor";
import type { Lowering, LoweringTable } from "../export/lowering.js";
import { OnnxExportError } from "../export/builder.js";

// Lowerings of the primitives that only a training graph holds: the backward passes of the
// library's operations. Fused primitives with a decomposition (the softmax cross-entropy, the
// recurrent scans) need none: a compiled step traces them as their simpler primitives.

/**
 * `ScatterAdd` (the gradient of `gather`, an embedding's): zeros of the result's shape into which
 * the update slices are added at the indices along `axis`, as ScatterND with reduction "add"
 * (opset 16). Another axis than 0 is moved to the front around it.
 */
const scatterAdd: Lowering = (ctx) => {
  if (ctx.opset < 16) throw new OnnxExportError(ctx.name, `ScatterAdd needs opset 16 or later (ScatterND with reduction "add"), the export asks for ${ctx.opset}`);
  const { axis, shape } = ctx.node.attrs as { readonly axis: number; readonly shape: readonly number[] };
  const [indices, updates] = ctx.node.inputs as readonly [Tensor, Tensor];
  const k = indices.rank;
  const target = axis === 0 ? shape : [shape[axis]!, ...shape.filter((_, i) => i !== axis)];
  const [zeros] = ctx.emit("Expand", [ctx.scalar(0, ctx.node.outputs[0]!.dtype), ctx.int64s(target)], 1);
  const [wide] = ctx.emit("Cast", [ctx.input(0)], 1, { to: 7 }); // int64
  const [index] = ctx.emit("Unsqueeze", [wide!, ctx.int64s([k])], 1); // [...indices, 1]
  let update = ctx.input(1);
  if (axis !== 0) {
    // updates [pre(axis), indices(k), post] -> [indices, pre, post]
    const perm = [...Array.from({ length: k }, (_, i) => axis + i), ...Array.from({ length: axis }, (_, i) => i), ...Array.from({ length: updates.rank - axis - k }, (_, i) => axis + k + i)];
    update = ctx.emit("Transpose", [update], 1, { perm })[0]!;
  }
  if (axis === 0) {
    ctx.emit("ScatterND", [zeros!, index!, update], [ctx.output(0)], { reduction: "add" });
    return;
  }
  const [scattered] = ctx.emit("ScatterND", [zeros!, index!, update], 1, { reduction: "add" });
  // [shape[axis], pre, post] -> shape
  const rank = shape.length;
  const back = Array.from({ length: rank }, (_, i) => (i < axis ? i + 1 : i === axis ? 0 : i));
  ctx.emit("Transpose", [scattered!], [ctx.output(0)], { perm: back });
};

export const trainingLowerings: LoweringTable = Object.freeze({ ScatterAdd: scatterAdd });
