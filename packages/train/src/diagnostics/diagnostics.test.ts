import { describe, expect, it } from "vitest";
import { add, cast, matmul, mul, reshape, Rng, slice, sum, tanh, type Tensor, treeMap, valueAndGrad } from "@unroll/tensor";
import { LSTM, RNN, spectralRadius } from "@unroll/cells";
import { gradientFlow, jacobianNorms, recurrentSpectralRadii, saturation, seriesRows, toCSV } from "./index.js";

const T = 6;
const B = 2;
const H = 4;

function tanhRnn(seed: number, scale = 1) {
  const layer = new RNN({ inputSize: 3, hiddenSize: H });
  const rng = new Rng(seed);
  const params = treeMap(layer.init(rng), (t) => cast(mul(t, scale), "float64"));
  const x = rng.normal([T, B, 3], 0, 1, "float64");
  return { layer, params, x, r: rng.normal([B, H], 0, 1, "float64") };
}

/** One tanh RNN step written out: h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh). */
function step(p: Record<string, Tensor>, x: Tensor, h: Tensor): Tensor {
  return tanh(add(add(matmul(x, p.weight_ih_l0!, { transB: true }), p.bias_ih_l0!), add(matmul(h, p.weight_hh_l0!, { transB: true }), p.bias_hh_l0!)));
}

describe("gradient flow through time", () => {
  it("||dL/dh_k|| equals the gradient of the loss re-run from an explicit h_k", () => {
    const { layer, params, x, r } = tanhRnn(1);
    const lossOf = (out: { output: Tensor }) => sum(mul(reshape(slice(out.output, [T - 1], [T], [0]), [B, H]), r));
    const report = gradientFlow(layer, params, x, lossOf);
    const hs = layer.forward(params, x).output;
    for (let k = 0; k < T; k++) {
      const hk = reshape(slice(hs, [k], [k + 1], [0]), [B, H]);
      const { grads } = valueAndGrad((h: Tensor) => {
        let state = h;
        for (let t = k + 1; t < T; t++) state = step(params, reshape(slice(x, [t], [t + 1], [0]), [B, 3]), state);
        return sum(mul(state, r));
      })(hk);
      let n = 0;
      for (const v of grads.data) n += v * v;
      expect(report.gradNorms[k]).toBeCloseTo(Math.sqrt(n), 10);
    }
    // Vanishing: with a loss at the last step only, the curve decays backwards in time for a contractive RNN.
    const small = tanhRnn(2, 0.3);
    const flow = gradientFlow(small.layer, small.params, small.x, lossOf).gradNorms;
    expect(flow[0]!).toBeLessThan(flow[T - 1]! * 0.1);
  });

  it("||∂h_t/∂h_k|| equals the norm of the explicit product of Jacobians diag(1-h²) W_hh", () => {
    const { layer, params, x } = tanhRnn(3, 1.5);
    const norms = jacobianNorms(layer, params, x);
    const hs = layer.forward(params, x).output.data; // (T, B, H)
    const W = params.weight_hh_l0!.data;
    for (let k = 0; k < T; k++) {
      let sq = 0;
      for (let b = 0; b < B; b++) {
        // P = J_{T-1} ... J_{k+1}, J_t[i][j] = (1 - h_t[i]^2) W[i][j]
        let P: number[][] = Array.from({ length: H }, (_, i) => Array.from({ length: H }, (_, j) => (i === j ? 1 : 0)));
        for (let t = k + 1; t < T; t++) {
          const J = Array.from({ length: H }, (_, i) =>
            Array.from({ length: H }, (_, j) => (1 - hs[(t * B + b) * H + i]! ** 2) * W[i * H + j]!),
          );
          P = J.map((row) => Array.from({ length: H }, (_, j) => row.reduce((s, v, m) => s + v * P[m]![j]!, 0)));
        }
        for (const row of P) for (const v of row) sq += v * v;
      }
      expect(norms[k]).toBeCloseTo(Math.sqrt(sq / B), 8);
    }
  });
});

describe("saturation and spectra", () => {
  it("tanh units saturate with large weights and not with small ones", () => {
    const big = tanhRnn(4, 20);
    const small = tanhRnn(4, 0.05);
    expect(saturation(big.layer, big.params, big.x).fractions.h!).toBeGreaterThan(0.5);
    expect(saturation(small.layer, small.params, small.x).fractions.h!).toBe(0);
  });

  it("reports every LSTM gate", () => {
    const layer = new LSTM({ inputSize: 3, hiddenSize: 4 });
    const rng = new Rng(5);
    const report = saturation(layer, layer.init(rng), rng.normal([5, 2, 3]));
    expect(Object.keys(report.fractions).sort()).toEqual(["f", "g", "i", "o", "tanh(c)"]);
    for (const v of Object.values(report.fractions)) expect(v >= 0 && v <= 1).toBe(true);
  });

  it("spectral radius of every recurrent matrix, per gate block for stacked gates", () => {
    const layer = new LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2 });
    const params = layer.init(new Rng(6));
    const radii = recurrentSpectralRadii(params);
    expect(Object.keys(radii)).toEqual([0, 1, 2, 3].flatMap((g) => [`weight_hh_l0[${g}]`]).concat([0, 1, 2, 3].map((g) => `weight_hh_l1[${g}]`)));
    const block = slice(params.weight_hh_l1!, [8], [12], [0]); // gate g of layer 1
    expect(radii["weight_hh_l1[2]"]).toBeCloseTo(spectralRadius(block), 12);
  });
});

describe("reports as data", () => {
  it("CSV with quoting, and per-step rows", () => {
    expect(toCSV([{ step: 0, name: "a,b" }, { step: 1, extra: 2 }])).toBe('step,name,extra\n0,"a,b",\n1,,2\n');
    expect(seriesRows({ grad: [1, 2], jac: [3] })).toEqual([{ step: 0, grad: 1, jac: 3 }, { step: 1, grad: 2 }]);
  });
});
