import { describe, expect, it } from "vitest";
import {
  add,
  cast,
  evaluateGraph,
  fromArray,
  concat,
  gradcheck,
  mul,
  reshape,
  Rng,
  ShapeError,
  slice,
  sum,
  trace,
  type Tensor,
  treeMap,
  valueAndGrad,
  ValueRangeError,
} from "@unroll/tensor";
import { type CellMode, GRU, LSTM, RNN, type Recurrent } from "../index.js";

const MODES: CellMode[] = ["rnn_tanh", "rnn_relu", "lstm", "gru"];

function layerFor(mode: CellMode, options: ConstructorParameters<typeof LSTM>[0]): Recurrent {
  if (mode === "lstm") return new LSTM(options);
  if (mode === "gru") return new GRU(options);
  return new RNN({ ...options, nonlinearity: mode === "rnn_relu" ? "relu" : "tanh" });
}

function to64(params: Record<string, Tensor>): Record<string, Tensor> {
  return treeMap(params, (t) => cast(t, "float64"));
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  let m = 0;
  for (let i = 0; i < a.size; i++) m = Math.max(m, Math.abs(a.data[i]! - b.data[i]!));
  return m;
}

/** Example b of a time-first batch, cut to its length: `[len, 1, F]`. */
function example(x: Tensor, b: number, len: number): Tensor {
  return slice(x, [0, b], [len, b + 1], [0, 1]);
}

describe.each(MODES)("%s layer", (mode) => {
  const sizes = { inputSize: 3, hiddenSize: 4 };

  it("gradients of every parameter, the input and the initial state pass gradcheck (2 layers, bidirectional, padded)", () => {
    const layer = layerFor(mode, { ...sizes, numLayers: 2, bidirectional: true });
    const rng = new Rng(11);
    const params = to64(layer.init(rng));
    const names = Object.keys(params);
    const x = rng.normal([4, 2, 3], 0, 1, "float64");
    const state = layer.initialState(2, "float64");
    const h0 = rng.normal(state.h.shape, 0, 0.5, "float64");
    const c0 = rng.normal(state.h.shape, 0, 0.5, "float64");
    const lengths = [4, 2];
    const f = (...inputs: Tensor[]): Tensor => {
      const p = Object.fromEntries(names.map((n, i) => [n, inputs[i]!]));
      const [xi, hi, ci] = inputs.slice(names.length) as [Tensor, Tensor, Tensor];
      const out = layer.forward(p, xi, { lengths, initialState: mode === "lstm" ? { h: hi, c: ci } : { h: hi } });
      let loss = add(sum(mul(out.output, out.output)), sum(out.h));
      if (out.c) loss = add(loss, sum(out.c));
      return loss;
    };
    const report = gradcheck(f, [...names.map((n) => params[n]!), x, h0, c0], { atol: 1e-5, rtol: 1e-4 });
    expect(report.ok, report.message).toBe(true);
  });

  it("padding changes nothing: outputs, final states and gradients equal running each example alone", () => {
    const layer = layerFor(mode, { ...sizes, numLayers: 2, bidirectional: true });
    const rng = new Rng(3);
    const params = layer.init(rng);
    const lengths = [5, 2, 4];
    const x = rng.normal([5, 3, 3]);
    const r = rng.normal([5, 3, 8]);
    const batched = valueAndGrad(
      (p: Record<string, Tensor>) => {
        const out = layer.forward(p, x, { lengths });
        return [add(sum(mul(out.output, r)), sum(out.h)), out] as const;
      },
      { hasAux: true },
    )(params);
    let summed: Record<string, Tensor> | undefined;
    lengths.forEach((len, b) => {
      const alone = valueAndGrad(
        (p: Record<string, Tensor>) => {
          const out = layer.forward(p, example(x, b, len));
          return [add(sum(mul(out.output, example(r, b, len))), sum(out.h)), out] as const;
        },
        { hasAux: true },
      )(params);
      expect(maxAbsDiff(example(batched.aux.output, b, len), alone.aux.output)).toBeLessThan(1e-6);
      // Padded positions of the output are zeros.
      const pad = slice(batched.aux.output, [len, b], [5, b + 1], [0, 1]);
      expect(Array.from(pad.data).every((v) => v === 0)).toBe(true);
      expect(maxAbsDiff(slice(batched.aux.h, [b], [b + 1], [1]), alone.aux.h)).toBeLessThan(1e-6);
      if (mode === "lstm") expect(maxAbsDiff(slice(batched.aux.c!, [b], [b + 1], [1]), alone.aux.c!)).toBeLessThan(1e-6);
      summed = summed ? treeMap(summed, (t, i) => add(t, Object.values(alone.grads)[i]!)) : alone.grads;
    });
    for (const name of Object.keys(params)) {
      expect(maxAbsDiff(batched.grads[name]!, summed![name]!), name).toBeLessThan(1e-5);
    }
  });

  it("step() one step at a time reproduces forward()", () => {
    const layer = layerFor(mode, { ...sizes, numLayers: 3 });
    const rng = new Rng(5);
    const params = layer.init(rng);
    const x = rng.normal([6, 2, 3]);
    const full = layer.forward(params, x);
    let state = layer.initialState(2);
    const outs: Tensor[] = [];
    for (let t = 0; t < 6; t++) {
      const { output, state: next } = layer.step(params, state, reshape(slice(x, [t], [t + 1], [0]), [2, 3]));
      outs.push(reshape(output, [1, 2, 4]));
      state = next;
    }
    expect(maxAbsDiff(concat(outs, 0), full.output)).toBeLessThan(1e-6);
    expect(maxAbsDiff(state.h, full.h)).toBeLessThan(1e-6);
  });

  it("batchFirst transposes inputs and outputs only", () => {
    const rng = new Rng(8);
    const timeFirst = layerFor(mode, { ...sizes, numLayers: 2, bidirectional: true });
    const batchFirst = layerFor(mode, { ...sizes, numLayers: 2, bidirectional: true, batchFirst: true });
    const params = timeFirst.init(rng);
    const x = rng.normal([5, 2, 3]);
    const a = timeFirst.forward(params, x);
    const b = batchFirst.forward(params, transposeBT(x));
    expect(maxAbsDiff(transposeBT(b.output), a.output)).toBeLessThan(1e-7);
    expect(maxAbsDiff(b.h, a.h)).toBeLessThan(1e-7);
  });
});

function transposeBT(x: Tensor): Tensor {
  const [A, B, F] = x.shape as [number, number, number];
  const parts: Tensor[] = [];
  for (let b = 0; b < B; b++) parts.push(reshape(slice(x, [b], [b + 1], [1]), [1, A, F]));
  return concat(parts, 0);
}

describe("conditioning", () => {
  it("adds cond·W_chᵀ to the first layer's pre-activation at every step", () => {
    const rng = new Rng(21);
    const plain = new RNN({ inputSize: 3, hiddenSize: 4 });
    const conditioned = new RNN({ inputSize: 3, hiddenSize: 4, conditionSize: 2 });
    const params = conditioned.init(rng);
    expect(params.weight_ch_l0!.shape).toEqual([4, 2]);
    const x = rng.normal([5, 2, 3]);
    const cond = rng.normal([2, 2]);
    // The same thing by hand: a bias per example equal to cond·W_chᵀ, folded into extra input columns.
    const widened = new RNN({ inputSize: 5, hiddenSize: 4 });
    const wide = {
      ...params,
      weight_ih_l0: concat([params.weight_ih_l0!, params.weight_ch_l0!], 1),
    };
    delete (wide as Record<string, Tensor>).weight_ch_l0;
    const condSeq = concat(Array.from({ length: 5 }, () => reshape(cond, [1, 2, 2])), 0);
    const byHand = widened.forward(wide, concat([x, condSeq], 2));
    const ours = conditioned.forward(params, x, { condition: cond });
    expect(maxAbsDiff(ours.output, byHand.output)).toBeLessThan(1e-6);
    expect(() => conditioned.forward(params, x)).toThrow(/conditioned: pass \{ condition \}/);
    expect(() => plain.forward(plain.init(rng), x, { condition: cond })).toThrow(ShapeError);
  });

  it("gradcheck through the conditioning weight and input", () => {
    const layer = new LSTM({ inputSize: 2, hiddenSize: 3, conditionSize: 2 });
    const rng = new Rng(2);
    const params = to64(layer.init(rng));
    const names = Object.keys(params);
    const report = gradcheck(
      (...inputs: Tensor[]) => {
        const p = Object.fromEntries(names.map((n, i) => [n, inputs[i]!]));
        const [x, cond] = inputs.slice(names.length) as [Tensor, Tensor];
        return sum(layer.forward(p, x, { condition: cond }).output);
      },
      [...names.map((n) => params[n]!), rng.normal([3, 2, 2], 0, 1, "float64"), rng.normal([2, 2], 0, 1, "float64")],
      { atol: 1e-5, rtol: 1e-4 },
    );
    expect(report.ok, report.message).toBe(true);
  });
});

describe("dropout between layers", () => {
  it("is applied only in training, reproducibly from the rng, and never after the last layer", () => {
    const layer = new GRU({ inputSize: 3, hiddenSize: 4, numLayers: 2, dropout: 0.5 });
    const rng = new Rng(4);
    const params = layer.init(rng);
    const x = rng.normal([4, 2, 3]);
    const evalOut = layer.forward(params, x).output;
    const a = layer.forward(params, x, { training: true, rng: new Rng(9) }).output;
    const b = layer.forward(params, x, { training: true, rng: new Rng(9) }).output;
    const c = layer.forward(params, x, { training: true, rng: new Rng(10) }).output;
    expect(maxAbsDiff(a, b)).toBe(0);
    expect(maxAbsDiff(a, evalOut)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(a, c)).toBeGreaterThan(1e-3);
    expect(() => layer.forward(params, x, { training: true })).toThrow(/needs an rng/);
  });
});

describe("bad input names the layer and the shapes", () => {
  const layer = new LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2 });
  const rng = new Rng(1);
  const params = layer.init(rng);

  it("wrong input width", () => {
    expect(() => layer.forward(params, rng.normal([5, 2, 7]))).toThrow(/LSTM: input has shape \[5,2,7\], expected \[T, B, 3\]/);
  });

  it("wrong state shape", () => {
    expect(() => layer.forward(params, rng.normal([5, 2, 3]), { initialState: { h: rng.normal([1, 2, 4]), c: rng.normal([2, 2, 4]) } })).toThrow(
      /LSTM: state h has shape \[1,2,4\], expected \[2,2,4\]/,
    );
  });

  it("lengths longer than the sequence", () => {
    expect(() => layer.forward(params, rng.normal([5, 2, 3]), { lengths: [5, 6] })).toThrow(ValueRangeError);
    expect(() => layer.forward(params, rng.normal([5, 2, 3]), { lengths: [5, 6] })).toThrow(/LSTM: lengths\[1\] = 6 is longer than the sequence \(T = 5\)/);
    expect(() => layer.forward(params, rng.normal([5, 2, 3]), { lengths: [5] })).toThrow(/lengths has 1 entries but the batch has 2/);
  });

  it("a parameter of the wrong shape or a missing one", () => {
    const bad = { ...params, weight_hh_l1: rng.normal([16, 5]) };
    expect(() => layer.forward(bad, rng.normal([5, 2, 3]))).toThrow(/LSTM layer 1: weight_hh has shape \[16,5\], expected \[16,4\]/);
    const missing: Record<string, Tensor> = { ...params };
    delete missing.weight_ih_l0;
    expect(() => layer.forward(missing, rng.normal([5, 2, 3]))).toThrow(/weight_ih_l0 is missing/);
  });

  it("step() on a bidirectional layer", () => {
    const bi = new GRU({ inputSize: 3, hiddenSize: 4, bidirectional: true });
    expect(() => bi.step(bi.init(rng), bi.initialState(2), rng.normal([2, 3]))).toThrow(/unidirectional/);
  });
});

describe("masks", () => {
  it("keeps a lengths tensor in a traced graph even when the traced batch has no padding", () => {
    const lstm = new LSTM({ inputSize: 3, hiddenSize: 4, bidirectional: true });
    const params = lstm.init(new Rng(3));
    const x = new Rng(4).normal([5, 2, 3]);
    const run = (input: Tensor, lengths: Tensor): Tensor => lstm.forward(params, input, { lengths }).output;
    const { graph } = trace(run, [x, fromArray([5, 5], { dtype: "int32" })]);
    const shorter = fromArray([2, 4], { dtype: "int32" });
    const [replayed] = evaluateGraph(graph, [x, shorter]);
    expect([...replayed!.data]).toEqual([...run(x, shorter).data]);
  });

  it("a trailing-padding mask is the same as lengths; a hole in it is refused", () => {
    const layer = new GRU({ inputSize: 3, hiddenSize: 4, bidirectional: true, batchFirst: true });
    const rng = new Rng(6);
    const params = layer.init(rng);
    const x = rng.normal([2, 4, 3]);
    const byLengths = layer.forward(params, x, { lengths: [4, 2] });
    const mask = fromArray([[1, 1, 1, 1], [1, 1, 0, 0]]);
    const byMask = layer.forward(params, x, { mask });
    expect(maxAbsDiff(byMask.output, byLengths.output)).toBe(0);
    expect(maxAbsDiff(byMask.h, byLengths.h)).toBe(0);
    expect(() => layer.forward(params, x, { mask: fromArray([[1, 0, 1, 1], [1, 1, 0, 0]]) })).toThrow(/padding must come after/);
    expect(() => layer.forward(params, x, { mask: fromArray([[1, 1], [1, 1]]) })).toThrow(/mask has shape \[2,2\], expected \[2,4\]/);
  });
});

describe("onHidden", () => {
  it("sees every step of every layer and direction; zero probes read dL/dh_t", () => {
    const layer = new RNN({ inputSize: 2, hiddenSize: 3, numLayers: 2, bidirectional: true });
    const rng = new Rng(12);
    const params = layer.init(rng);
    const x = rng.normal([4, 1, 2]);
    const seen: string[] = [];
    layer.forward(params, x, { onHidden: (h, at) => (seen.push(`${at.layer}${at.direction}${at.t}`), h) });
    expect(seen.length).toBe(2 * 2 * 4);
    // dL/dh_t of the last layer (forward direction) through probes equals the gradient of the output.
    const probes = Array.from({ length: 4 }, () => rng.normal([1, 3], 0, 0)); // zeros
    const { grads } = valueAndGrad((p: Tensor[]) =>
      sum(layer.forward(params, x, { onHidden: (h, at) => (at.layer === 1 && at.direction === 0 ? add(h, p[at.t]!) : h) }).output),
    )(probes);
    // The last step's h feeds only output[3] (forward half): its gradient is all ones.
    expect(Array.from(grads[3]!.data)).toEqual([1, 1, 1]);
    expect(Array.from(grads[0]!.data).some((v) => v !== 1)).toBe(true);
  });
});

describe("onGates", () => {
  it("reports the LSTM's gate activations, consistent with its state update", () => {
    const layer = new LSTM({ inputSize: 2, hiddenSize: 3 });
    const rng = new Rng(13);
    const params = layer.init(rng);
    const x = rng.normal([3, 2, 2]);
    const seen: Record<string, Tensor>[] = [];
    const out = layer.forward(params, x, { onGates: (a) => seen.push({ ...a }) });
    expect(seen.length).toBe(3);
    expect(Object.keys(seen[0]!).sort()).toEqual(["c", "f", "g", "h", "i", "o"]);
    const last = seen[2]!;
    // h = o * tanh(c), every gate in (0, 1)
    for (let k = 0; k < 6; k++) {
      expect(last.h!.data[k]).toBeCloseTo(last.o!.data[k]! * Math.tanh(last.c!.data[k]!), 6);
      for (const g of ["i", "f", "o"]) expect(last[g]!.data[k]! > 0 && last[g]!.data[k]! < 1).toBe(true);
    }
    expect(maxAbsDiff(reshape(last.h!, [1, 2, 3]), out.h)).toBe(0);
  });
});
