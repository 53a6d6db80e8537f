import {
  abs, add, argmax, broadcastTo, cast, clamp, concat, detach, div, equal, exp, expandDims, fromArray, gather, greater,
  greaterEqual, identity, less, lessEqual, log, logSoftmax, matmul, max, mean, mul, neg, notEqual, oneHot, pad, pow,
  relu, reshape, Rng, scatterAdd, sigmoid, sign, slice, softmax, split, sqrt, squeeze, stack, sub, sum, tanh, type Tensor,
  trace, transpose, where,
} from "@unroll/tensor";
import { describe, expect, it } from "vitest";
import { decodeModel, encodeModel, graphToOnnx, traceToOnnx } from "../index.js";
import { maxAbsDiff, runOnnx } from "../test-utils.js";

const rng = new Rng(11);

/** Exports `f` traced on `inputs`, runs onnxruntime on the same inputs and returns each output's max |difference|. */
async function parity(f: (...xs: Tensor[]) => Tensor[], inputs: Tensor[], opset?: number): Promise<number[]> {
  const model = traceToOnnx(f, [inputs], opset === undefined ? {} : { opset });
  const feeds = Object.fromEntries(inputs.map((x, i) => [`input_${i}`, x]));
  const out = await runOnnx(model, feeds);
  const expected = f(...inputs);
  return expected.map((e, j) => {
    const got = out[`output_${j}`]!;
    expect(got.dtype).toBe(e.dtype);
    return maxAbsDiff(got, e);
  });
}

describe("lowering of every primitive", () => {
  const x = rng.normal([2, 3]);
  const y = rng.normal([3]);

  it.each([13, 17, 18, 21])("arithmetic, unary, reductions and softmax (opset %i)", async (opset) => {
    const f = (a: Tensor, b: Tensor): Tensor[] => [
      add(a, b), sub(a, b), mul(a, b), div(a, add(abs(b), 1)), pow(add(abs(a), 0.5), b), neg(a), exp(a), log(add(abs(a), 0.1)),
      sqrt(abs(a)), tanh(a), sigmoid(a), relu(a), abs(a), sign(a), clamp(a, { min: -0.5, max: 0.5 }), clamp(a, { min: 0 }),
      clamp(a, { max: 0.1 }), softmax(a, -1), logSoftmax(a, 0), sum(a, [1]), sum(a), sum(a, [0], true), sum(a, []), max(a, [1]),
      max(a, [0], true), mean(a, 1), argmax(a, 1), argmax(a, 0, true),
    ];
    const diffs = await parity(f, [x, y], opset);
    expect(diffs.length).toBe(28);
    for (const d of diffs) expect(d).toBeLessThan(1e-5);
  });

  it("comparisons (0/1 masks), where, casts and int32 arithmetic", async () => {
    const i = fromArray([[3, -2, 7], [0, 5, -1]], { dtype: "int32" });
    const f = (a: Tensor, b: Tensor, k: Tensor): Tensor[] => [
      greater(a, b), greaterEqual(a, 0), less(a, b), lessEqual(b, 0), equal(a, a), notEqual(a, b), greater(k, 1, { dtype: "float64" }),
      where(greater(a, b), a, b), where(sub(greater(a, 0), 0.5), a, 0), cast(mul(a, 3), "int32"), cast(k, "float32"),
      add(k, k), mul(k, 2), sub(neg(k), 1), abs(k), detach(a), identity(b),
    ];
    const diffs = await parity(f, [x, y, i]);
    for (const d of diffs) expect(d).toBe(0);
  });

  it("layout and indexing: reshape, transpose, concat, slice, pad, gather, one-hot...", async () => {
    const table = rng.normal([5, 4]);
    const idx = fromArray([[4, 0, 2], [1, 1, 3]], { dtype: "int32" });
    const cols = fromArray([3, 0, 0, 1], { dtype: "int32" });
    const hot = fromArray([0, 3, -1, 6, 2], { dtype: "int32" }); // out of range: rows of zeros, as the library
    const f = (a: Tensor, b: Tensor, t: Tensor, k: Tensor, h: Tensor, j: Tensor): Tensor[] => [
      reshape(a, [3, 2]), reshape(a, [-1]), transpose(a), transpose(expandDims(a, 0), [2, 0, 1]), concat([a, a, mul(a, 2)], 1),
      slice(a, [0, 1], [2, 3]), slice(a, [-1], [2], [0]), pad(a, [1, 0], [0, 2], 1.5), gather(t, k), gather(t, j, 1), oneHot(h, 5),
      oneHot(h, 5, "float64"), squeeze(expandDims(a, 1), [1]), broadcastTo(b, [4, 2, 3]), broadcastTo(expandDims(b, 0), [2, 3]),
      stack([a, neg(a)], 1), ...split(a, [1, 2], 1),
    ];
    const diffs = await parity(f, [x, y, table, idx, hot, cols]);
    expect(diffs.length).toBe(18);
    for (const d of diffs) expect(d).toBe(0);
  });

  it("matrix products: every transpose flag, batched and broadcast", async () => {
    const a = rng.normal([3, 4]);
    const b = rng.normal([4, 5]);
    const batch = rng.normal([2, 1, 3, 4]);
    const right = rng.normal([6, 5, 4]);
    const f = (p: Tensor, q: Tensor, r: Tensor, s: Tensor): Tensor[] => [
      matmul(p, q), matmul(transpose(p), q, { transA: true }), matmul(p, transpose(q), { transB: true }),
      matmul(transpose(p), transpose(q), { transA: true, transB: true }), matmul(r, s, { transB: true }), matmul(r, q),
      matmul(r, r, { transB: true }), matmul(r, r, { transA: true }), matmul(transpose(q), r, { transB: true }),
    ];
    for (const d of await parity(f, [a, b, batch, right])) expect(d).toBeLessThan(1e-5);
  });
});

describe("graphToOnnx", () => {
  it("names a primitive that has no lowering, with the fix", () => {
    const f = (i: Tensor, u: Tensor): Tensor => scatterAdd(i, u, 0, [4, 2]);
    const { graph } = trace(f, [fromArray([1, 3], { dtype: "int32" }), rng.normal([2, 2])]);
    expect(() => graphToOnnx(graph)).toThrow(/no ONNX lowering for ScatterAdd \(node 0\).*lowerings: \{ ScatterAdd: \.\.\. \}/);
  });

  it("takes extra lowerings by primitive name", async () => {
    const f = (i: Tensor, u: Tensor): Tensor => scatterAdd(i, u, 0, [4, 2]);
    const i = fromArray([1, 3, 1], { dtype: "int32" });
    const u = rng.normal([3, 2]);
    const model = traceToOnnx(f, [[i, u]], {
      lowerings: {
        // ScatterND with reduction "add" over zeros of the output's shape.
        ScatterAdd: (ctx) => {
          const [indices] = ctx.emit("Unsqueeze", [ctx.input(0), ctx.int64s([1])], 1);
          const [i64] = ctx.emit("Cast", [indices!], 1, { to: 7 });
          const zeros = ctx.constant(1, [4, 2], new Array<number>(8).fill(0));
          ctx.emit("ScatterND", [zeros, i64!, ctx.input(1)], [ctx.output(0)], { reduction: "add" });
        },
      },
    });
    const out = await runOnnx(model, { input_0: i, input_1: u });
    expect(maxAbsDiff(out["output_0"]!, f(i, u))).toBeLessThan(1e-6);
  });

  it("dynamic axes: checked across two traces, named on the inputs and matched on the outputs", async () => {
    const w = rng.normal([4, 3]);
    const b = rng.normal([3]);
    // A time-major projection with a stacked step: nothing in it records the batch or time size.
    const f = (x: Tensor): Tensor[] => {
      const y = add(matmul(x, w), b); // (T, B, 3)
      return [softmax(y, -1), slice(y, [1], [100000], [0]), sum(y, [0])];
    };
    // Sizes that do not coincide: the tail's time axis (T - 1: 2, 5) must not look like the batch (2, 4).
    const model = traceToOnnx(f, [[rng.normal([3, 2, 4])], [rng.normal([6, 4, 4])]], {
      inputNames: ["x"],
      outputNames: ["p", "tail", "total"],
      dynamicAxes: { x: { 0: "time", 1: "batch" } },
    });
    const dims = (v: { type: { tensor_type: { shape: { dim: unknown[] } } } }): unknown[] => v.type.tensor_type.shape.dim;
    const file = decodeModel(encodeModel(model));
    expect(dims(file.graph.input[0]!)).toEqual([{ dim_param: "time" }, { dim_param: "batch" }, { dim_value: 4 }]);
    expect(dims(file.graph.output[0]!)).toEqual([{ dim_param: "time" }, { dim_param: "batch" }, { dim_value: 3 }]);
    expect(dims(file.graph.output[1]!)).toEqual([{ dim_param: "tail_dim0" }, { dim_param: "batch" }, { dim_value: 3 }]);
    expect(dims(file.graph.output[2]!)).toEqual([{ dim_param: "batch" }, { dim_value: 3 }]);
    // A size seen in neither trace.
    const x = rng.normal([7, 6, 4]);
    const out = await runOnnx(model, { x });
    const expected = f(x);
    expect(maxAbsDiff(out["p"]!, expected[0]!)).toBeLessThan(1e-5);
    expect(maxAbsDiff(out["tail"]!, expected[1]!)).toBeLessThan(1e-5);
    expect(maxAbsDiff(out["total"]!, expected[2]!)).toBeLessThan(1e-5);
  });

  it("a reshape to [T*B, ...] and back is generalised where it can be, and reported where it cannot", async () => {
    const w = rng.normal([4, 3]);
    const flatThenBack = (x: Tensor): Tensor => reshape(matmul(reshape(x, [-1, 4]), w), [x.shape[0]!, x.shape[1]!, 3]);
    const examples = [[rng.normal([3, 2, 4])], [rng.normal([5, 4, 4])]];
    expect(() => traceToOnnx(flatThenBack, examples, { dynamicAxes: { input_0: { 0: "time", 1: "batch" } } })).toThrow(
      /constant Reshape_2\/const \(read by node Reshape_2\/Reshape\) holds \[3, 2, 3\] in trace 0 but \[5, 4, 3\] in trace 1: the graph records a size/,
    );
    const flatOnly = (x: Tensor): Tensor => matmul(reshape(x, [-1, 4]), w); // one dynamic axis left: -1
    const model = traceToOnnx(flatOnly, examples, { dynamicAxes: { input_0: { 0: "time", 1: "batch" } } });
    const x = rng.normal([7, 6, 4]);
    const out = await runOnnx(model, { input_0: x });
    expect(maxAbsDiff(out["output_0"]!, flatOnly(x))).toBeLessThan(1e-5);
  });

  it("refuses what would not hold at other sizes, naming the node", () => {
    const two = [[rng.normal([3, 2])], [rng.normal([5, 4])]];
    const axes = { dynamicAxes: { input_0: { 0: "time", 1: "batch" } } };
    // A constant made from the example's size.
    const bias = (x: Tensor): Tensor => add(x, rngConst(x.shape));
    expect(() => traceToOnnx(bias, two, axes)).toThrow(/constant const_0 \(read by node Add_0\/Add\) has shape \[3,2\] in trace 0 but \[5,4\] in trace 1/);
    // Control flow on a size.
    const branch = (x: Tensor): Tensor => (x.shape[0]! > 4 ? tanh(x) : sigmoid(x));
    expect(() => traceToOnnx(branch, two, axes)).toThrow(/the traces differ at node 0: Sigmoid in graph 0, Tanh in graph 1/);
    // Dynamic axes need two traces, of different sizes.
    expect(() => graphToOnnx(trace(tanh, [rng.normal([3, 2])]).graph, axes)).toThrow(/dynamic axes need the function traced at two or more sizes/);
    expect(() => traceToOnnx(tanh, [[rng.normal([3, 2])], [rng.normal([3, 4])]], axes)).toThrow(
      /dynamic axis "time" \(input input_0, axis 0\) has size 3 in every trace/,
    );
    expect(() => traceToOnnx(tanh, [[rng.normal([3, 3])], [rng.normal([5, 5])]], axes)).toThrow(/axes "time" and "batch" .* have the same sizes \(3, 5\)/);
    expect(() => graphToOnnx(trace(tanh, [rng.normal([3, 2])]).graph, { opset: 12 })).toThrow(/opset 12 is not supported; use 13 to 21/);
  });

  it("outputs that are inputs, constants or repeated get their own names", async () => {
    const c = fromArray([1, 2, 3]);
    const f = (x: Tensor): Tensor[] => {
      const y = tanh(x);
      return [y, x, y, c];
    };
    const x = rng.normal([3]);
    const out = await runOnnx(traceToOnnx(f, [[x]], { outputNames: ["y", "same", "again", "c"] }), { input_0: x });
    expect(maxAbsDiff(out["y"]!, tanh(x))).toBeLessThan(1e-6);
    expect(maxAbsDiff(out["same"]!, x)).toBe(0);
    expect(maxAbsDiff(out["again"]!, tanh(x))).toBeLessThan(1e-6);
    expect(Array.from(out["c"]!.data)).toEqual([1, 2, 3]);
  });
});

function rngConst(shape: readonly number[]): Tensor {
  return new Rng(1).normal(shape);
}
