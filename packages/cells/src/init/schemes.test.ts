import { Rng } from "@unroll/tensor";
import { describe, expect, it } from "vitest";
import { meanStd } from "../linalg/test-utils.js";
import { type InitContext, type InitScheme, irnnScheme, lstmForgetBias, npRnnScheme, orthogonal } from "./index.js";

const rnn: InitContext = { hiddenSize: 32, gates: 1 };

describe("irnnScheme", () => {
  it("has identity·scale recurrent weights, zero biases and N(0, 0.001²) input weights", () => {
    const scheme = irnnScheme({ scale: 0.9 });
    const whh = scheme.weightHH!.init([32, 32], new Rng(0), rnn);
    for (let i = 0; i < 32; i++) for (let j = 0; j < 32; j++) expect(whh.data[i * 32 + j]).toBe(i === j ? Math.fround(0.9) : 0);
    for (const bias of [scheme.biasIH!, scheme.biasHH!]) expect([...bias.init([32], new Rng(0), rnn).data].every((v) => v === 0)).toBe(true);
    const wih = scheme.weightIH!.init([32, 2000], new Rng(1), rnn).data;
    const { mean, std } = meanStd(wih);
    expect(Math.abs(mean)).toBeLessThan(5 * 0.001 / Math.sqrt(64000));
    expect(Math.abs(std / 0.001 - 1)).toBeLessThan(5 / Math.sqrt(128000));
    expect(irnnScheme().weightHH!.name).toBe("identity(scale=1)");
  });
});

describe("npRnnScheme", () => {
  it("has npRnn recurrent weights, zero biases and N(0, 1/H) input weights", () => {
    const scheme = npRnnScheme();
    expect(scheme.weightHH!.name).toBe("npRnn()");
    expect(scheme.biasIH!.name).toBe("zeros()");
    expect(scheme.biasHH!.name).toBe("zeros()");
    const wih = scheme.weightIH!.init([32, 4000], new Rng(1), rnn).data;
    const { std } = meanStd(wih);
    expect(Math.abs(std / (1 / Math.sqrt(32)) - 1)).toBeLessThan(5 / Math.sqrt(256000));
  });
});

describe("lstmForgetBias", () => {
  it("puts `value` on the forget block of b_ih only, and leaves the rest to the scheme", () => {
    const scheme: InitScheme = { weightHH: orthogonal(), ...lstmForgetBias(2) };
    const lstm: InitContext = { hiddenSize: 3, gates: 4 };
    expect([...scheme.biasIH!.init([12], new Rng(0), lstm).data]).toEqual([0, 0, 0, 2, 2, 2, 0, 0, 0, 0, 0, 0]);
    expect([...scheme.biasHH!.init([12], new Rng(0), lstm).data]).toEqual(new Array(12).fill(0));
    expect(scheme.weightIH).toBeUndefined(); // left to pytorchDefault()
    expect(lstmForgetBias().biasIH!.name).toBe("perGate([zeros(), constant(value=1), zeros(), zeros()])");
  });
});
