import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { add, fromArray, mul, sum, type Tensor, valueAndGrad } from "@unroll/tensor";
import { Cell, type CellMode, GRU, LSTM, RNN, type Recurrent } from "./index.js";

// Reference values from PyTorch 1.13 (scripts/generate_fixtures.py): nn.RNN/LSTM/GRU with 2-3
// layers, bidirectional, packed variable-length batches, and the single-step cells.
interface TensorJSON {
  shape: number[];
  data: number[];
}
interface LayerCase {
  name: string;
  mode: CellMode;
  input_size: number;
  hidden_size: number;
  num_layers: number;
  bidirectional: boolean;
  batch_first: boolean;
  bias: boolean;
  state_dict: Record<string, TensorJSON>;
  x: TensorJSON;
  h0: TensorJSON | null;
  c0: TensorJSON | null;
  lengths: number[] | null;
  output: TensorJSON;
  h_n: TensorJSON;
  c_n: TensorJSON | null;
  r_output: TensorJSON;
  r_h: TensorJSON;
  r_c: TensorJSON | null;
  grads: Record<string, TensorJSON>;
}
interface CellCase {
  name: string;
  mode: CellMode;
  input_size: number;
  hidden_size: number;
  bias: boolean;
  state_dict: Record<string, TensorJSON>;
  x: TensorJSON;
  h: TensorJSON;
  c: TensorJSON | null;
  h_next: TensorJSON;
  c_next: TensorJSON | null;
  r_h: TensorJSON;
  r_c: TensorJSON | null;
  grads: Record<string, TensorJSON>;
}

const fixtures = JSON.parse(readFileSync(new URL("../fixtures/torch-recurrent.json", import.meta.url), "utf8")) as {
  cases: LayerCase[];
  cells: CellCase[];
};

const t = (j: TensorJSON): Tensor => fromArray(j.data, { shape: j.shape });

function expectClose(what: string, ours: Tensor, ref: TensorJSON): void {
  expect(ours.shape, `${what} shape`).toEqual(ref.shape);
  let worst = { i: -1, diff: 0, ours: 0, ref: 0 };
  for (let i = 0; i < ref.data.length; i++) {
    const diff = Math.abs(ours.data[i]! - ref.data[i]!);
    if (diff > 1e-5 + 1e-5 * Math.abs(ref.data[i]!) && diff > worst.diff) worst = { i, diff, ours: ours.data[i]!, ref: ref.data[i]! };
  }
  expect(worst.i, `${what}[${worst.i}]: ours ${worst.ours}, torch ${worst.ref} (|diff| ${worst.diff})`).toBe(-1);
}

function buildLayer(c: LayerCase): Recurrent {
  const options = {
    inputSize: c.input_size,
    hiddenSize: c.hidden_size,
    numLayers: c.num_layers,
    bidirectional: c.bidirectional,
    batchFirst: c.batch_first,
    bias: c.bias,
  };
  if (c.mode === "lstm") return new LSTM(options);
  if (c.mode === "gru") return new GRU(options);
  return new RNN({ ...options, nonlinearity: c.mode === "rnn_relu" ? "relu" : "tanh" });
}

describe("recurrent layers agree with PyTorch", () => {
  it.each(fixtures.cases.map((c) => [c.name, c] as const))("%s", (_, c) => {
    const layer = buildLayer(c);
    expect(Object.keys(layer.parameterShapes()).sort()).toEqual(Object.keys(c.state_dict).sort());
    const inputs = {
      params: Object.fromEntries(Object.entries(c.state_dict).map(([k, v]) => [k, t(v)])),
      x: t(c.x),
      h0: c.h0 ? t(c.h0) : null,
      c0: c.c0 ? t(c.c0) : null,
    };
    const run = valueAndGrad(
      (p: typeof inputs) => {
        const initialState = p.h0 ? { h: p.h0, ...(p.c0 ? { c: p.c0 } : {}) } : undefined;
        const out = layer.forward(p.params, p.x, {
          ...(initialState ? { initialState } : {}),
          ...(c.lengths ? { lengths: c.lengths } : {}),
        });
        let loss = add(sum(mul(out.output, t(c.r_output))), sum(mul(out.h, t(c.r_h))));
        if (out.c && c.r_c) loss = add(loss, sum(mul(out.c, t(c.r_c))));
        return [loss, out] as const;
      },
      { hasAux: true },
    );
    const { grads, aux } = run(inputs);
    expectClose("output", aux.output, c.output);
    expectClose("h_n", aux.h, c.h_n);
    if (c.c_n) expectClose("c_n", aux.c!, c.c_n);
    for (const [name, ref] of Object.entries(c.grads)) {
      const ours = name === "x" ? grads.x : name === "h0" ? grads.h0 : name === "c0" ? grads.c0 : grads.params[name];
      expect(ours, `gradient ${name}`).toBeTruthy();
      expectClose(`d loss / d ${name}`, ours!, ref);
    }
  });
});

describe("cells agree with PyTorch", () => {
  it.each(fixtures.cells.map((c) => [c.name, c] as const))("%s", (_, c) => {
    const cell = new Cell(c.mode, { inputSize: c.input_size, hiddenSize: c.hidden_size, bias: c.bias });
    const sd = c.state_dict;
    const inputs = {
      weights: {
        weightIH: t(sd.weight_ih!),
        weightHH: t(sd.weight_hh!),
        ...(sd.bias_ih ? { biasIH: t(sd.bias_ih), biasHH: t(sd.bias_hh!) } : {}),
      },
      x: t(c.x),
      h: t(c.h),
      c: c.c ? t(c.c) : null,
    };
    const { grads, aux } = valueAndGrad(
      (p: typeof inputs) => {
        const next = cell.step(p.weights, { h: p.h, ...(p.c ? { c: p.c } : {}) }, p.x);
        let loss = sum(mul(next.h, t(c.r_h)));
        if (next.c && c.r_c) loss = add(loss, sum(mul(next.c, t(c.r_c))));
        return [loss, next] as const;
      },
      { hasAux: true },
    )(inputs);
    expectClose("h'", aux.h, c.h_next);
    if (c.c_next) expectClose("c'", aux.c!, c.c_next);
    const names: Record<string, Tensor | null | undefined> = {
      weight_ih: grads.weights.weightIH,
      weight_hh: grads.weights.weightHH,
      bias_ih: grads.weights.biasIH,
      bias_hh: grads.weights.biasHH,
      x: grads.x,
      h: grads.h,
      c: grads.c,
    };
    for (const [name, ref] of Object.entries(c.grads)) {
      expect(names[name], `gradient ${name}`).toBeTruthy();
      expectClose(`d loss / d ${name}`, names[name]!, ref);
    }
  });
});
