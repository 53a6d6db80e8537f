import {
  add, apply, avgPool2d, batchNorm, Conv2d, conv2d, conv2dBackwardInput, conv2dParams, fromArray, globalAvgPool2d, matmul, maxPool2d, maxPool2dWithIndices,
  relu6, reshape, Rng, softmax, type Tensor, trace,
} from "@unroll/tensor";
import { describe, expect, it } from "vitest";
import { decodeModel, encodeModel, graphToOnnx, OnnxExportError, traceToOnnx } from "../index.js";
import { maxAbsDiff, runOnnx } from "../test-utils.js";

const rng = new Rng(18);

/** Exports `f` traced on `inputs`, runs onnxruntime on the same inputs and returns each output's max |difference|. */
async function parity(f: (...xs: Tensor[]) => Tensor[], inputs: Tensor[], opset?: number): Promise<number[]> {
  const model = traceToOnnx(f, [inputs], opset === undefined ? {} : { opset });
  const out = await runOnnx(model, Object.fromEntries(inputs.map((x, i) => [`input_${i}`, x])));
  return f(...inputs).map((e, j) => {
    const got = out[`output_${j}`]!;
    expect(got.dtype).toBe(e.dtype);
    return maxAbsDiff(got, e);
  });
}

function opTypes(f: (...xs: Tensor[]) => Tensor[], inputs: Tensor[]): string[] {
  return decodeModel(encodeModel(traceToOnnx(f, [inputs]))).graph.node.map((n) => n.op_type);
}

describe("vision lowerings", () => {
  it.each([13, 17, 21])("Conv: stride, per-axis and 'same' (asymmetric) padding, dilation, groups, depthwise (opset %i)", async (opset) => {
    const x = rng.normal([2, 6, 9, 8]);
    const w = rng.normal([4, 6, 3, 3], 0, 0.3);
    const wg = rng.normal([6, 3, 3, 2], 0, 0.3);
    const wd = rng.normal([12, 1, 3, 3], 0, 0.3);
    const we = rng.normal([3, 6, 2, 4], 0, 0.3);
    const b = rng.normal([4]);
    const f = (a: Tensor): Tensor[] => [
      conv2d(a, w, b),
      conv2d(a, w, null, { stride: 2, padding: 1 }),
      conv2d(a, w, b, { stride: [2, 1], padding: [1, 2], dilation: [1, 2] }),
      conv2d(a, wg, null, { groups: 2, stride: 2, padding: [1, 0], dilation: 2 }),
      conv2d(a, wd, null, { groups: 6, padding: 1 }),
      conv2d(a, we, null, { padding: "same" }),
    ];
    const diffs = await parity(f, [x], opset);
    expect(diffs.length).toBe(6);
    for (const d of diffs) expect(d).toBeLessThan(1e-5);
  });

  it("MaxPool (with and without Indices), AveragePool (padding counted or not), GlobalAveragePool, Clip for relu6", async () => {
    const x = rng.normal([2, 3, 9, 10], 0, 4);
    const f = (a: Tensor): Tensor[] => {
      const [pooled, indices] = maxPool2dWithIndices(a, { kernel: 3, stride: 2, padding: 1 });
      return [
        maxPool2d(a, { kernel: 2 }),
        maxPool2d(a, { kernel: [2, 3], stride: [1, 2], padding: [1, 1], dilation: [2, 1] }),
        pooled, indices,
        avgPool2d(a, { kernel: 3, stride: 2, padding: 1 }),
        avgPool2d(a, { kernel: [3, 2], stride: [2, 1], padding: [1, 1], countIncludePad: false }),
        globalAvgPool2d(a), globalAvgPool2d(a, { keepdims: false }),
        relu6(a),
      ];
    };
    const diffs = await parity(f, [x]);
    expect(diffs.length).toBe(9);
    expect(diffs[3]).toBe(0); // the same int32 positions
    for (const d of diffs) expect(d).toBeLessThan(1e-5);
    const ops = opTypes(f, [x]);
    for (const op of ["MaxPool", "AveragePool", "GlobalAveragePool", "Clip"]) expect(ops).toContain(op);
  });

  it("relu6 at its kinks and beyond", async () => {
    const x = fromArray([-3, 0, 0.25, 6, 7], { shape: [1, 5] });
    expect(await parity((a) => [relu6(a)], [x])).toEqual([0]);
  });

  it("BatchNormalization (inference) over [N, C, H, W] and [N, C]", async () => {
    const stats = (C: number): Tensor[] => [rng.normal([C]), rng.uniform([C], 0.5, 2), rng.normal([C]), rng.normal([C])];
    const [m4, v4, w4, b4] = stats(3);
    const [m2, v2, w2, b2] = stats(5);
    const f = (a: Tensor, c: Tensor): Tensor[] => [
      batchNorm(a, m4!, v4!, w4!, b4!).output,
      batchNorm(a, m4!, v4!, null, null, { eps: 1e-3 }).output,
      batchNorm(c, m2!, v2!, w2!, b2!).output,
    ];
    const diffs = await parity(f, [rng.normal([2, 3, 4, 5]), rng.normal([4, 5])]);
    for (const d of diffs) expect(d).toBeLessThan(1e-5);
    expect(opTypes(f, [rng.normal([2, 3, 4, 5]), rng.normal([4, 5])]).filter((o) => o === "BatchNormalization").length).toBe(3);
  });

  it("Conv2dBackwardInput as ConvTranspose, output_padding choosing the forward input's size", async () => {
    const w = rng.normal([4, 3, 3, 3], 0, 0.3);
    const wg = rng.normal([6, 2, 3, 2], 0, 0.3);
    const cases: [Tensor, [number, number], ReturnType<typeof conv2dParams>][] = [
      [w, [9, 8], conv2dParams([3, 3], { stride: 2, padding: 1 })], // 9 and 8 both give 5 and 4: output_padding 0 and 1
      [w, [10, 7], conv2dParams([3, 3], { stride: [3, 2], padding: [1, 0], dilation: [1, 2] })],
      [wg, [7, 6], conv2dParams([3, 2], { groups: 3, stride: 2 })],
      [rng.normal([2, 3, 2, 4], 0, 0.3), [6, 7], conv2dParams([2, 4], { padding: "same" })],
    ];
    for (const [weight, size, p] of cases) {
      // The cotangent has the shape of the forward output for exactly these attributes.
      const [forward] = apply(Conv2d, [rng.normal([2, weight.shape[1]! * p.groups, size[0], size[1]]), weight], p);
      const dy = rng.normal([...forward!.shape]);
      const f = (g: Tensor): Tensor[] => [conv2dBackwardInput(g, weight, size, p)];
      const [d] = await parity(f, [dy]);
      expect(d).toBeLessThan(1e-5);
      expect(opTypes(f, [dy])).toEqual(["ConvTranspose"]);
    }
  });

  it("refuses training-mode batch normalisation, naming the node and the fix", () => {
    const f = (a: Tensor): Tensor => batchNorm(a, null, null, null, null, { training: true }).output;
    const { graph } = trace(f, [rng.normal([4, 3, 2, 2])]);
    expect(() => graphToOnnx(graph)).toThrow(OnnxExportError);
    expect(() => graphToOnnx(graph)).toThrow(/BatchNormTraining_0 is training-mode batch normalisation.*training: false/);
  });
});

describe("a small traced CNN in onnxruntime", () => {
  const params = {
    conv1: { w: rng.normal([8, 3, 3, 3], 0, 0.4), b: rng.normal([8], 0, 0.1) },
    bn: { mean: rng.normal([8], 0, 0.1), var: rng.uniform([8], 0.5, 1.5), w: rng.uniform([8], 0.8, 1.2), b: rng.normal([8], 0, 0.1) },
    dw: { w: rng.normal([8, 1, 3, 3], 0, 0.4), b: rng.normal([8], 0, 0.1) },
    pw: { w: rng.normal([16, 8, 1, 1], 0, 0.4) },
    fc: { w: rng.normal([5, 16], 0, 0.4), b: rng.normal([5], 0, 0.1) },
  };

  // conv 3x3/2 -> batch norm -> relu6 -> max pool 3/2/1 -> depthwise 3x3 -> 1x1 -> avg pool 2 -> global average -> linear -> softmax
  const encoder = (x: Tensor): Tensor[] => {
    let h = conv2d(x, params.conv1.w, params.conv1.b, { stride: 2, padding: 1 });
    h = relu6(batchNorm(h, params.bn.mean, params.bn.var, params.bn.w, params.bn.b).output);
    h = maxPool2d(h, { kernel: 3, stride: 2, padding: 1 });
    h = relu6(conv2d(h, params.dw.w, params.dw.b, { padding: 1, groups: 8 }));
    const grid = conv2d(h, params.pw.w); // (N, 16, h, w): the spatial features
    const pooled = globalAvgPool2d(avgPool2d(grid, { kernel: 2, stride: 1, padding: 1, countIncludePad: false }), { keepdims: false });
    const probs = softmax(add(matmul(pooled, params.fc.w, { transB: true }), params.fc.b), -1);
    return [grid, pooled, probs, reshape(grid, [x.shape[0]!, -1])];
  };

  it("exports with a dynamic batch axis and matches the library at a batch size it was not traced at", async () => {
    const model = traceToOnnx(encoder, [[rng.normal([2, 3, 24, 20])], [rng.normal([3, 3, 24, 20])]], {
      inputNames: ["image"],
      outputNames: ["grid", "pooled", "probs", "flat"],
      dynamicAxes: { image: { 0: "batch" } },
    });
    const ops = decodeModel(encodeModel(model)).graph.node.map((n) => n.op_type);
    for (const op of ["Conv", "BatchNormalization", "Clip", "MaxPool", "AveragePool", "GlobalAveragePool"]) expect(ops).toContain(op);
    const image = rng.normal([5, 3, 24, 20]);
    const out = await runOnnx(model, { image });
    const expected = encoder(image);
    ["grid", "pooled", "probs", "flat"].forEach((name, i) => {
      expect(out[name]!.shape).toEqual(expected[i]!.shape);
      expect(maxAbsDiff(out[name]!, expected[i]!)).toBeLessThan(1e-5);
    });
  });
});
