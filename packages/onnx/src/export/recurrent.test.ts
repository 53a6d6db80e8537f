import { GRU, LSTM, type Recurrent, RNN } from "@unroll/cells";
import { fromArray, Rng, type Tensor } from "@unroll/tensor";
import { describe, expect, it } from "vitest";
import { type RecurrentLowering, traceToOnnx } from "../index.js";
import { maxAbsDiff, runOnnx } from "../test-utils.js";

// A recurrent layer on its own (not a language model): stacked, bidirectional, over a padded
// batch with its lengths as an input, initial state in, outputs and final states out. Lowered to
// ONNX's RNN/LSTM/GRU operators and unrolled, then run by onnxruntime and held to the library.

const rng = new Rng(21);
const I = 3;
const H = 5;

const layers: readonly [string, () => Recurrent][] = [
  ["LSTM", () => new LSTM({ inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true })],
  ["GRU", () => new GRU({ inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true })],
  ["RNN tanh", () => new RNN({ inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true })],
  ["RNN relu", () => new RNN({ inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, nonlinearity: "relu" })],
];

function layerFunction(layer: Recurrent, params: Record<string, Tensor>) {
  const lstm = layer.mode === "lstm";
  return (x: Tensor, lengths: Tensor, h: Tensor, c: Tensor): Tensor[] => {
    const r = layer.forward(params, x, { lengths, initialState: lstm ? { h, c } : { h } });
    return lstm ? [r.output, r.h, r.c!] : [r.output, r.h];
  };
}

function example(T: number, lengths: number[]): Tensor[] {
  const B = lengths.length;
  return [rng.normal([T, B, I]), fromArray(lengths, { dtype: "int32" }), rng.normal([4, B, H]), rng.normal([4, B, H])];
}

const feeds = ([x, lengths, h, c]: Tensor[]): Record<string, Tensor> => ({ x: x!, lengths: lengths!, h: h!, c: c! });
const names = { inputNames: ["x", "lengths", "h", "c"], outputNames: ["y", "h_n", "c_n"] };

async function check(f: (...xs: Tensor[]) => Tensor[], model: Parameters<typeof runOnnx>[0], inputs: Tensor[]): Promise<number> {
  const out = await runOnnx(model, feeds(inputs));
  const expected = f(...inputs);
  return Math.max(...expected.map((e, j) => maxAbsDiff(out[names.outputNames[j]!]!, e)));
}

describe("a bidirectional, stacked recurrent layer over a padded batch", () => {
  it.each(layers)("%s: dynamic batch and time, ONNX operators, at sizes other than the traced ones", async (_, make) => {
    const layer = make();
    const f = layerFunction(layer, layer.init(rng));
    const model = traceToOnnx(f, [example(3, [3, 1]), example(6, [6, 2, 4, 5])], {
      ...names,
      outputNames: names.outputNames.slice(0, layer.mode === "lstm" ? 3 : 2),
      dynamicAxes: { x: { 0: "time", 1: "batch" }, lengths: { 0: "batch" }, h: { 1: "batch" }, c: { 1: "batch" } },
    });
    for (const lengths of [[7, 3, 1], [1], [7, 7], [0, 4]]) {
      expect(await check(f, model, example(Math.max(...lengths, 1), lengths))).toBeLessThan(1e-4);
    }
  });

  it.each(layers)("%s: unrolled (a static sequence length), padding and a length of 0 included", async (_, make) => {
    const layer = make();
    const f = layerFunction(layer, layer.init(rng));
    const lowering: RecurrentLowering = "unrolled";
    const model = traceToOnnx(f, [example(4, [4, 2, 0]), example(4, [3, 4])], {
      ...names,
      outputNames: names.outputNames.slice(0, layer.mode === "lstm" ? 3 : 2),
      lowering,
      dynamicAxes: { lengths: { 0: "batch" }, x: { 1: "batch" }, h: { 1: "batch" }, c: { 1: "batch" } },
    });
    expect(model.graph.node.some((n) => ["LSTM", "GRU", "RNN"].includes(n.op_type))).toBe(false);
    for (const lengths of [[4, 1, 3, 2, 0], [4]]) expect(await check(f, model, example(4, lengths))).toBeLessThan(1e-4);
  });

  it.each([13, 17])("a zero initial state made inside the function follows the batch size (opset %i)", async (opset) => {
    const layer = new LSTM({ inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true });
    const params = layer.init(rng);
    const f = (x: Tensor): Tensor[] => {
      const r = layer.forward(params, x); // state: zeros [4, B, H], a constant of the trace
      return [r.output, r.c!];
    };
    const model = traceToOnnx(f, [[rng.normal([2, 3, I])], [rng.normal([5, 4, I])]], { opset, dynamicAxes: { input_0: { 0: "time", 1: "batch" } } });
    expect(model.graph.node.some((n) => n.op_type === "Expand")).toBe(true);
    const x = rng.normal([6, 7, I]);
    const out = await runOnnx(model, { input_0: x });
    const [y, c] = f(x);
    expect(maxAbsDiff(out["output_0"]!, y!)).toBeLessThan(1e-4);
    expect(maxAbsDiff(out["output_1"]!, c!)).toBeLessThan(1e-4);
  });

  it("refuses the unrolled lowering with a dynamic time axis", () => {
    const layer = new GRU({ inputSize: I, hiddenSize: H });
    const params = layer.init(rng);
    const f = (x: Tensor): Tensor => layer.forward(params, x).output;
    expect(() =>
      traceToOnnx(f, [[rng.normal([2, 3, I])], [rng.normal([4, 5, I])]], { lowering: "unrolled", dynamicAxes: { input_0: { 0: "time", 1: "batch" } } }),
    ).toThrow(/RecurrentSequence_0: the unrolled lowering needs a static sequence length, but x has shape \[time,batch,3\]/);
  });
});
