import { describe, expect, it } from "vitest";
import { Rng } from "@unroll/tensor";
import { init, LSTM, RNN, symmetricEigenvalues } from "../index.js";

describe("layers take initialisation schemes", () => {
  it("IRNN: every recurrent matrix is the (scaled) identity, biases zero, relu cells", () => {
    const layer = new RNN({ inputSize: 3, hiddenSize: 5, numLayers: 2, nonlinearity: "relu" });
    const params = layer.init(new Rng(1), init.irnnScheme({ scale: 0.5 }));
    for (const name of ["weight_hh_l0", "weight_hh_l1"]) {
      const w = params[name]!;
      for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) expect(w.data[i * 5 + j]).toBe(i === j ? 0.5 : 0);
    }
    expect(Array.from(params.bias_ih_l0!.data).every((v) => v === 0)).toBe(true);
    expect(layer.mode).toBe("rnn_relu");
  });

  it("np-RNN: every recurrent matrix is symmetric positive definite with top eigenvalue 1", () => {
    const layer = new RNN({ inputSize: 3, hiddenSize: 8, nonlinearity: "relu" });
    const params = layer.init(new Rng(2), init.npRnnScheme());
    const values = symmetricEigenvalues(params.weight_hh_l0!);
    expect(Math.abs(values[0]! - 1)).toBeLessThan(1e-5);
    expect(values.every((v) => v > 0 && v <= 1 + 1e-5)).toBe(true);
  });

  it("LSTM forget-gate bias: the f block of bias_ih is 1, the rest 0, bias_hh zero", () => {
    const layer = new LSTM({ inputSize: 2, hiddenSize: 3 });
    const params = layer.init(new Rng(3), { ...init.lstmForgetBias(1), weightHH: init.orthogonal() });
    expect(Array.from(params.bias_ih_l0!.data)).toEqual([0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(params.bias_hh_l0!.data).every((v) => v === 0)).toBe(true);
  });

  it("the same seed gives the same parameters, another seed others", () => {
    const layer = new LSTM({ inputSize: 2, hiddenSize: 3, numLayers: 2, bidirectional: true });
    const a = layer.init(new Rng(7));
    const b = layer.init(new Rng(7));
    const c = layer.init(new Rng(8));
    for (const name of Object.keys(a)) {
      expect(Array.from(a[name]!.data)).toEqual(Array.from(b[name]!.data));
      expect(Array.from(a[name]!.data)).not.toEqual(Array.from(c[name]!.data));
    }
    // PyTorch's default bound 1/sqrt(H).
    const bound = 1 / Math.sqrt(3);
    for (const t of Object.values(a)) expect(Array.from(t.data).every((v) => Math.abs(v) <= bound)).toBe(true);
  });
});
