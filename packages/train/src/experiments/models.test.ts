import { describe, expect, it } from "vitest";
import { mean, mul, reshape, Rng, slice, stack, type Tensor, treeEntries, valueAndGrad } from "@unroll/tensor";
import { init, symmetricEigenvalues } from "@unroll/cells";
import { buildModel, MODEL_KINDS, type ModelParams, scanSteps } from "./index.js";

function maxAbs(t: Tensor): number {
  let m = 0;
  for (const v of t.data) m = Math.max(m, Math.abs(v));
  return m;
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  let m = 0;
  for (let i = 0; i < a.size; i++) m = Math.max(m, Math.abs(a.data[i]! - b.data[i]!));
  return m;
}

describe("models", () => {
  it.each(MODEL_KINDS)("%s: the step-by-step scan gives layer.forward's outputs and gradients", (kind) => {
    const [T, B, I, H] = [9, 3, 2, 5];
    const rng = new Rng(21);
    const model = buildModel(kind, { inputSize: I, hiddenSize: H, outputSize: 1, rng });
    const x = rng.uniform([T, B, I], 0, 1);
    const r = rng.normal([T, B, H]);
    // A loss that reads every step, so that every step's gradient is compared.
    const viaScan = (p: ModelParams) => mean(mul(reshape(model.layer.forward(p.rnn, x).output, [T, B, H]), r));
    const viaSteps = (p: ModelParams) => mean(mul(stack(scanSteps(model.layer, p.rnn, x)), r));
    const a = valueAndGrad(viaScan)(model.params);
    const b = valueAndGrad(viaSteps)(model.params);
    expect(b.value.item()).toBeCloseTo(a.value.item(), 6);
    const ga = treeEntries(a.grads.rnn);
    const gb = new Map(treeEntries(b.grads.rnn));
    expect(ga.map(([name]) => name).sort()).toEqual(["bias_hh_l0", "bias_ih_l0", "weight_hh_l0", "weight_ih_l0"]);
    for (const [name, g] of ga) {
      expect(maxAbsDiff(g, gb.get(name)!)).toBeLessThanOrEqual(1e-5 * Math.max(1, maxAbs(g)));
    }
    // The last-step readout reads h_T.
    const last = model.forward(model.params, x, "last");
    const hT = reshape(slice(model.layer.forward(model.params.rnn, x).output, [T - 1], [T], [0]), [B, H]);
    expect(maxAbsDiff(last, model.readout.forward(model.params.out, hT))).toBeLessThan(1e-6);
    expect(model.forward(model.params, x, "all").shape).toEqual([T, B, 1]);
  });

  it("initialises each kind as its scheme says", () => {
    const H = 6;
    const make = (kind: (typeof MODEL_KINDS)[number]) => buildModel(kind, { inputSize: 2, hiddenSize: H, outputSize: 1, rng: new Rng(1) });
    const irnn = make("irnn");
    expect(irnn.layer.mode).toBe("rnn_relu");
    const w = irnn.params.rnn.weight_hh_l0!;
    for (let i = 0; i < H; i++) for (let j = 0; j < H; j++) expect(w.data[i * H + j]).toBe(i === j ? 1 : 0);
    expect(maxAbs(irnn.params.rnn.bias_ih_l0!)).toBe(0);

    const np = make("np-rnn");
    expect(np.layer.mode).toBe("rnn_relu");
    expect(symmetricEigenvalues(np.params.rnn.weight_hh_l0!)[0]).toBeCloseTo(1, 5);

    const tanh = make("tanh");
    expect(tanh.layer.mode).toBe("rnn_tanh");
    expect(maxAbs(tanh.params.rnn.weight_hh_l0!)).toBeLessThanOrEqual(1 / Math.sqrt(H));

    const lstm = make("lstm");
    expect(lstm.layer.mode).toBe("lstm");
    expect(lstm.params.rnn.weight_hh_l0!.shape).toEqual([4 * H, H]);
    expect(lstm.params.out.weight.shape).toEqual([1, H]);

    const big = buildModel("tanh", { inputSize: 2, hiddenSize: 400, outputSize: 1, rng: new Rng(2), scheme: { weightHH: init.normalScaledByHidden({ gain: 2.5 }) } });
    let sq = 0;
    for (const v of big.params.rnn.weight_hh_l0!.data) sq += v * v;
    expect(Math.sqrt(sq / (400 * 400))).toBeCloseTo(2.5 / 20, 2); // std gain/√H
    expect(big.description).toMatch(/weightHH = normalScaledByHidden\(mean=0, gain=2.5\)/);
  });

  it("names the known kinds when given another", () => {
    expect(() => buildModel("gru" as never, { inputSize: 1, hiddenSize: 2, outputSize: 1, rng: new Rng(0) })).toThrow(
      /unknown model "gru"; expected one of tanh, irnn, np-rnn, lstm/,
    );
  });
});
