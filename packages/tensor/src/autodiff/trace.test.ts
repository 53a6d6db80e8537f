import { describe, expect, it } from "vitest";
import {
  add,
  argmax,
  evaluateGraph,
  formatGraph,
  fromArray,
  gather,
  graphConstants,
  type Kernels,
  matmul,
  mul,
  referenceKernels,
  sum,
  tanh,
  type Tensor,
  trace,
  traceInput,
  valueAndGrad,
  softmaxCrossEntropy,
  withDecomposition,
  withKernels,
} from "../index.js";

const f64 = (values: Parameters<typeof fromArray>[0]): Tensor => fromArray(values, { dtype: "float64" });
const int32 = (values: number[]): Tensor => fromArray(values, { dtype: "int32" });

/** The reference kernels with every call counted by kernel name. */
function countingKernels(): { kernels: Kernels; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  const wrapped: Record<string, unknown> = { name: "counting" };
  for (const [key, fn] of Object.entries(referenceKernels)) {
    if (typeof fn !== "function") continue;
    wrapped[key] = (...args: unknown[]): unknown => {
      counts.set(key, (counts.get(key) ?? 0) + 1);
      return (fn as (...a: unknown[]) => unknown)(...args);
    };
  }
  return { kernels: wrapped as unknown as Kernels, counts };
}

// A tanh RNN step, h' = tanh(x Wxh + h Whh + b), with batch 1, input 2, hidden 3.
const Wxh = [
  [0.1, -0.3, 0.5],
  [0.7, 0.2, -0.4],
];
const Whh = [
  [0.3, 0.1, -0.2],
  [-0.6, 0.4, 0.05],
  [0.2, -0.1, 0.3],
];
const bias = [0.01, -0.02, 0.03];
const params = { Wxh: f64(Wxh), Whh: f64(Whh), b: f64(bias) };
type Params = typeof params;

const step = (p: Params, x: Tensor, h: Tensor): Tensor => tanh(add(add(matmul(x, p.Wxh), matmul(h, p.Whh)), p.b));
const rnnStep = (x: Tensor, h: Tensor): Tensor => step(params, x, h);

/** The same step in plain JavaScript, for one row. */
function stepByHand(x: number[], h: number[]): number[] {
  return [0, 1, 2].map((j) =>
    Math.tanh(
      x.reduce((s, xi, i) => s + xi * Wxh[i]![j]!, 0) + h.reduce((s, hi, i) => s + hi * Whh[i]![j]!, 0) + bias[j]!,
    ),
  );
}

function expectSameValues(actual: readonly Tensor[], expected: readonly Tensor[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((a, i) => {
    expect(a.shape).toEqual(expected[i]!.shape);
    expect(a.dtype).toBe(expected[i]!.dtype);
    expect([...a.data]).toEqual([...expected[i]!.data]);
  });
}

describe("trace", () => {
  const x = f64([[1, -0.5]]);
  const h = f64([[0.2, 0.1, -0.3]]);

  it("records the named primitives of an RNN step", () => {
    const { graph, result } = trace(rnnStep, [x, h]);
    expect(graph.nodes.map((n) => n.primitive.name)).toEqual(["MatMul", "MatMul", "Add", "Add", "Tanh"]);
    expect(graph.nodes[0]!.attrs).toEqual({ transA: false, transB: false });
    expect(graph.inputs).toEqual([x, h]);
    expect(graph.outputs).toEqual([result]);
    expect(graph.nodes[4]!.outputs[0]).toBe(result);
    [...result.data].forEach((v, j) => expect(v).toBeCloseTo(stepByHand([1, -0.5], [0.2, 0.1, -0.3])[j]!, 14));
  });

  it("evaluates the graph on new inputs as calling the function does", () => {
    const { graph } = trace(rnnStep, [x, h]);
    const x2 = f64([[-0.8, 0.9]]);
    const h2 = f64([[0.5, -0.5, 0.25]]);
    const replayed = evaluateGraph(graph, [x2, h2]);
    expectSameValues(replayed, [rnnStep(x2, h2)]);
    [...replayed[0]!.data].forEach((v, j) => expect(v).toBeCloseTo(stepByHand([-0.8, 0.9], [0.5, -0.5, 0.25])[j]!, 14));
    expect(() => evaluateGraph(graph, [x2])).toThrow(/takes 2 inputs, got 1/);
  });

  it("replays a graph on the kernel table selected around evaluateGraph", () => {
    const { graph } = trace(rnnStep, [x, h]);
    const { kernels, counts } = countingKernels();
    const x2 = f64([[0.3, 0.3]]);
    const replayed = withKernels(kernels, () => evaluateGraph(graph, [x2, h]));
    expect(counts.get("matmul")).toBe(2);
    expect(counts.get("binary")).toBe(2);
    expect(counts.get("unary")).toBe(1);
    expectSameValues(replayed, [rnnStep(x2, h)]);
  });

  it("lists the parameters as the graph's constants", () => {
    const { graph } = trace(rnnStep, [x, h]);
    const constants = graphConstants(graph);
    expect(constants).toHaveLength(3);
    expect(constants[0]).toBe(params.Wxh);
    expect(constants[1]).toBe(params.Whh);
    expect(constants[2]).toBe(params.b);
  });

  it("records only what depends on the inputs; the rest is a constant", () => {
    const scaled = (a: Tensor): Tensor => add(a, mul(params.b, 2));
    const { graph } = trace(scaled, [f64([1, 2, 3])]);
    expect(graph.nodes.map((n) => n.primitive.name)).toEqual(["Add"]);
    const [c] = graphConstants(graph);
    expect([...c!.data]).toEqual(bias.map((v) => 2 * v));
    expect([...evaluateGraph(graph, [f64([0, 0, 0])])[0]!.data]).toEqual(bias.map((v) => 2 * v));
  });

  it("prints one line per node, after the inputs and constants", () => {
    const a = f64([[1, 2]]);
    const { graph } = trace((t: Tensor) => tanh(matmul(t, params.Wxh)), [a]);
    expect(formatGraph(graph)).toBe(
      [
        "inputs: %0: float64[1,2]",
        "const %1: float64[2,3]",
        '%2 = MatMul(%0, %1) {"transA":false,"transB":false} : float64[1,3]',
        "%3 = Tanh(%2) : float64[1,3]",
        "outputs: %3",
      ].join("\n"),
    );
    const rnn = trace(rnnStep, [x, h]).graph;
    const lines = formatGraph(rnn).split("\n");
    const nodeLines = lines.filter((l) => /^%\d+ = /.test(l));
    expect(nodeLines).toHaveLength(rnn.nodes.length);
    nodeLines.forEach((l, i) => expect(l).toContain(`= ${rnn.nodes[i]!.primitive.name}(`));
    expect(lines).toHaveLength(1 + graphConstants(rnn).length + rnn.nodes.length + 1);
  });
});

describe("tracing a gradient", () => {
  const lossOf = (x: Tensor, h: Tensor) => (p: Params) => sum(mul(step(p, x, h), step(p, x, h)));
  const gradStep = (x: Tensor, h: Tensor): Tensor[] => {
    const { value, grads } = valueAndGrad(lossOf(x, h))(params);
    return [value, grads.Wxh, grads.Whh, grads.b];
  };
  const x = f64([[1, -0.5]]);
  const h = f64([[0.2, 0.1, -0.3]]);

  it("records the backward pass as primitives, matmuls with transpose flags included", () => {
    const { graph } = trace(gradStep, [x, h]);
    const names = graph.nodes.map((n) => n.primitive.name);
    // Forward: the step twice (both uses recorded), then the backward pass.
    expect(names.slice(0, 5)).toEqual(["MatMul", "MatMul", "Add", "Add", "Tanh"]);
    expect(names.filter((n) => n === "Tanh")).toHaveLength(2);
    const transposed = graph.nodes.filter((n) => n.primitive.name === "MatMul" && (n.attrs as { transA: boolean }).transA);
    // dWxh = xᵀ G and dWhh = hᵀ G, for each of the two uses of the step.
    expect(transposed.length).toBeGreaterThanOrEqual(4);
    expect(transposed.some((n) => n.inputs[0] === x)).toBe(true);
    expect(transposed.some((n) => n.inputs[0] === h)).toBe(true);
    // The gradient w.r.t. the data is not needed, so no G Wᵀ product (transB) is recorded.
    expect(graph.nodes.some((n) => n.primitive.name === "MatMul" && (n.attrs as { transB: boolean }).transB)).toBe(false);
  });

  it("replays the gradient on new inputs", () => {
    const { graph, result } = trace(gradStep, [x, h]);
    expect(graph.outputs).toEqual(result);
    const x2 = f64([[0.4, 0.9]]);
    const h2 = f64([[-0.1, 0.6, 0.2]]);
    const replayed = evaluateGraph(graph, [x2, h2]);
    const direct = gradStep(x2, h2);
    expectSameValues(replayed, direct);
    // Not a stale copy of the traced values.
    expect([...replayed[1]!.data]).not.toEqual([...result[1]!.data]);
    // dL/db for L = sum(h'^2), h' = tanh(z): 2 h' (1 - h'^2), checked by hand.
    const hp = stepByHand([0.4, 0.9], [-0.1, 0.6, 0.2]);
    [...replayed[3]!.data].forEach((v, j) => expect(v).toBeCloseTo(2 * hp[j]! * (1 - hp[j]! ** 2), 13));
  });
});

describe("int32 data in traces", () => {
  const table = f64([
    [0.1, 0.2],
    [0.3, 0.4],
    [0.5, 0.6],
    [0.7, 0.8],
  ]);

  it("records a Gather on int32 indices and replays it with new indices", () => {
    const { graph } = trace((idx: Tensor) => tanh(gather(table, idx)), [int32([0, 2])]);
    expect(graph.nodes.map((n) => n.primitive.name)).toEqual(["Gather", "Tanh"]);
    expect(graph.nodes[0]!.inputs[1]).toBe(graph.inputs[0]);
    expect(graphConstants(graph)).toEqual([table]);
    const out = evaluateGraph(graph, [int32([3, 1, 3])])[0]!;
    expect(out.shape).toEqual([3, 2]);
    [0.7, 0.8, 0.3, 0.4, 0.7, 0.8].forEach((v, i) => expect(out.data[i]).toBeCloseTo(Math.tanh(v), 15));
    expect(formatGraph(graph)).toContain("inputs: %0: int32[2]");
  });

  it("records int32 tensors computed inside the graph", () => {
    const { graph } = trace((x: Tensor) => gather(table, argmax(x, -1)), [f64([[1, 3, 2, 0]])]);
    expect(graph.nodes.map((n) => n.primitive.name)).toEqual(["ArgMax", "Gather"]);
    expect(graph.nodes[0]!.outputs[0]!.dtype).toBe("int32");
    expect([...evaluateGraph(graph, [f64([[9, 0, 0, 1]])])[0]!.data]).toEqual([0.1, 0.2]);
  });

  it("records the ScatterAdd of an embedding gradient and replays it", () => {
    const embedGrad = (idx: Tensor): Tensor =>
      valueAndGrad((t: Tensor) => sum(mul(gather(t, idx), gather(t, idx))))(table).grads;
    const { graph } = trace(embedGrad, [int32([1, 1, 2])]);
    expect(graph.nodes.map((n) => n.primitive.name)).toContain("ScatterAdd");
    const replayed = evaluateGraph(graph, [int32([0, 3, 0])])[0]!;
    // d/dT sum(T[idx]^2) = 2 T[r] per occurrence of row r: rows 0 (twice) and 3 (once).
    const t = [...table.data];
    const expected = [4 * t[0]!, 4 * t[1]!, 0, 0, 0, 0, 2 * t[6]!, 2 * t[7]!];
    expected.forEach((e, i) => expect(replayed.data[i]).toBeCloseTo(e, 14));
  });
});

describe("withDecomposition", () => {
  const logits = fromArray([[0.5, -1, 2], [1, 0.25, -0.5]], { dtype: "float64" });
  const targets = int32([2, 0]);
  const loss = (x: Tensor): Tensor => sum(softmaxCrossEntropy(x, targets, { reduction: "none" }));
  const names = (g: { nodes: readonly { primitive: { name: string } }[] }): string[] => g.nodes.map((n) => n.primitive.name);

  it("records the simpler primitives of a fused one, forward and backward, with the same values", () => {
    const fused = trace((x: Tensor) => valueAndGrad(loss)(x).grads, [logits]);
    const split = withDecomposition(() => trace((x: Tensor) => valueAndGrad(loss)(x).grads, [logits]));
    expect(names(fused.graph)).toContain("SoftmaxCrossEntropy");
    expect(names(fused.graph)).toContain("SoftmaxCrossEntropyGrad");
    expect(names(split.graph)).not.toContain("SoftmaxCrossEntropy");
    expect(names(split.graph)).not.toContain("SoftmaxCrossEntropyGrad");
    expect(names(split.graph)).toContain("LogSoftmax");
    const a = [...fused.result.data];
    const b = [...split.result.data];
    b.forEach((v, i) => expect(v).toBeCloseTo(a[i]!, 14));
  });

  it("decomposes only what the predicate accepts, and restores the setting afterwards", () => {
    const none = withDecomposition(() => trace(loss, [logits]), (p) => p.name !== "SoftmaxCrossEntropy");
    expect(names(none.graph)).toContain("SoftmaxCrossEntropy");
    expect(names(trace(loss, [logits]).graph)).toContain("SoftmaxCrossEntropy");
    expect(() => withDecomposition(() => { throw new Error("boom"); })).toThrow("boom");
    expect(names(trace(loss, [logits]).graph)).toContain("SoftmaxCrossEntropy");
  });
});

describe("traceInput", () => {
  it("adds a tensor made while tracing to the graph's inputs, after the function's own, and records what is computed from it", () => {
    const x = f64([1, 2, 3]);
    const { graph } = trace((a: Tensor) => {
      const noise = f64([10, 20, 30]);
      traceInput(noise);
      return mul(add(a, noise), 2);
    }, [x]);
    expect(graph.inputs).toHaveLength(2);
    expect(graph.inputs[0]).toBe(x);
    const [out] = evaluateGraph(graph, [f64([0, 0, 1]), f64([1, 1, 1])]);
    expect([...out!.data]).toEqual([2, 2, 4]);
  });

  it("does nothing outside a trace", () => {
    expect(() => traceInput(f64([1]))).not.toThrow();
  });
});
