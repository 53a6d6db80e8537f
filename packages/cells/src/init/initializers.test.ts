import { Rng, ShapeError, ValueRangeError } from "@unroll/tensor";
import { describe, expect, it } from "vitest";
import { maxAbs, meanStd } from "../linalg/test-utils.js";
import {
  calculateGain,
  constant,
  fans,
  type InitContext,
  type Initializer,
  kaimingNormal,
  kaimingUniform,
  normal,
  normalScaledByHidden,
  npRnn,
  ones,
  orthogonal,
  identity,
  perGate,
  pytorchDefault,
  uniform,
  xavierNormal,
  xavierUniform,
  zeros,
} from "./index.js";

const context: InitContext = { hiddenSize: 16, gates: 1 };

/**
 * Sample mean and std within 5 standard errors of `mean` and `std`: the mean's error is std/√n, the
 * std's is std/√(2n) for normal samples (less for uniform ones, whose tails are lighter).
 */
function expectMeanStd(values: ArrayLike<number>, mean: number, std: number): void {
  const n = values.length;
  const sample = meanStd(values);
  expect(Math.abs(sample.mean - mean)).toBeLessThan((5 * std) / Math.sqrt(n));
  expect(Math.abs(sample.std / std - 1)).toBeLessThan(5 / Math.sqrt(2 * n));
}

function draw(init: Initializer, shape: readonly number[], seed = 0, ctx: InitContext = context): Float32Array {
  const t = init.init(shape, new Rng(seed), ctx);
  expect(t.dtype).toBe("float32");
  expect(t.shape).toEqual(shape);
  return t.data as Float32Array;
}

describe("names spell out the settings", () => {
  it.each([
    [pytorchDefault(), "pytorchDefault()"],
    [uniform(-0.1, 0.1), "uniform(low=-0.1, high=0.1)"],
    [normal(0, 0.001), "normal(mean=0, std=0.001)"],
    [normalScaledByHidden(), "normalScaledByHidden(mean=0, gain=1)"],
    [zeros(), "zeros()"],
    [ones(), "ones()"],
    [constant(1), "constant(value=1)"],
    [xavierUniform(), "xavierUniform(gain=1)"],
    [xavierNormal({ gain: 5 / 3 }), `xavierNormal(gain=${5 / 3})`],
    [kaimingUniform(), "kaimingUniform(a=0, mode=fanIn, nonlinearity=leakyRelu)"],
    [kaimingNormal({ mode: "fanOut", nonlinearity: "relu" }), "kaimingNormal(a=0, mode=fanOut, nonlinearity=relu)"],
    [orthogonal({ gain: 2 }), "orthogonal(gain=2)"],
    [identity({ scale: 0.5 }), "identity(scale=0.5)"],
    [npRnn(), "npRnn()"],
    [perGate(orthogonal()), "perGate(orthogonal(gain=1))"],
    [perGate([zeros(), constant(1), zeros(), zeros()]), "perGate([zeros(), constant(value=1), zeros(), zeros()])"],
  ])("%#: %s", (init, name) => {
    expect(init.name).toBe(name);
  });
});

describe("reproducibility", () => {
  const random: Initializer[] = [
    pytorchDefault(),
    uniform(),
    normal(),
    normalScaledByHidden(),
    xavierUniform(),
    xavierNormal(),
    kaimingUniform(),
    kaimingNormal(),
    orthogonal(),
    npRnn(),
    perGate(orthogonal()),
  ];
  it.each(random.map((init) => [init.name, init] as const))("%s: same seed, same values; another seed, others", (_, init) => {
    const a = draw(init, [12, 12], 3);
    expect([...draw(init, [12, 12], 3)]).toEqual([...a]);
    const b = draw(init, [12, 12], 4);
    expect(a.some((v, i) => v !== b[i])).toBe(true);
  });
});

describe("pytorchDefault", () => {
  it("is U(-1/√H, 1/√H) for weights and biases alike", () => {
    const bound = 1 / Math.sqrt(16);
    for (const shape of [[256, 100], [64], [64, 16]]) {
      const w = draw(pytorchDefault(), shape, 1);
      expect(w.every((v) => v >= -bound && v < bound)).toBe(true);
    }
    const w = draw(pytorchDefault(), [400, 250], 2);
    // Uses the whole range: the extremes approach ±bound and the variance is bound²/3.
    expect(Math.max(...w)).toBeGreaterThan(0.999 * bound);
    expect(Math.min(...w)).toBeLessThan(-0.999 * bound);
    expectMeanStd(w, 0, bound / Math.sqrt(3));
  });

  it("depends on the hidden size, not on the shape", () => {
    const w = draw(pytorchDefault(), [50, 10], 1, { hiddenSize: 100, gates: 1 });
    expect(maxAbs(w)).toBeLessThanOrEqual(0.1);
    expect(maxAbs(w)).toBeGreaterThan(0.09);
  });

  it("needs a valid context", () => {
    expect(() => pytorchDefault().init([2], new Rng(0), { hiddenSize: 0, gates: 1 })).toThrow(ValueRangeError);
  });
});

describe("uniform, normal, constants", () => {
  it("uniform(low, high) stays in [low, high) and fills it", () => {
    const w = draw(uniform(2, 5), [100000], 1);
    expect(w.every((v) => v >= 2 && v < 5)).toBe(true);
    expectMeanStd(w, 3.5, 3 / Math.sqrt(12));
  });

  it("normal(mean, std) has that mean and std", () => {
    expectMeanStd(draw(normal(-1, 0.5), [200000], 1), -1, 0.5);
  });

  it("normalScaledByHidden has std gain/√H", () => {
    expectMeanStd(draw(normalScaledByHidden({ gain: 2 }), [200000], 1, { hiddenSize: 64, gates: 1 }), 0, 2 / 8);
  });

  it("zeros, ones and constant fill exactly", () => {
    expect([...draw(zeros(), [2, 3])]).toEqual([0, 0, 0, 0, 0, 0]);
    expect([...draw(ones(), [4])]).toEqual([1, 1, 1, 1]);
    expect([...draw(constant(-2.5), [3])]).toEqual([-2.5, -2.5, -2.5]);
  });

  it("reject invalid settings when built", () => {
    expect(() => uniform(1, 0)).toThrow(ValueRangeError);
    expect(() => normal(0, -1)).toThrow(ValueRangeError);
    expect(() => constant(NaN)).toThrow(/constant: value must be a finite number/);
    expect(() => xavierUniform({ gain: -1 })).toThrow(ValueRangeError);
    expect(() => kaimingUniform({ mode: "fanInOut" as "fanIn" })).toThrow(ValueRangeError);
    expect(() => kaimingNormal({ nonlinearity: "gelu" as "relu" })).toThrow(/calculateGain: unknown nonlinearity "gelu"/);
  });
});

describe("fans and gains", () => {
  it("computes fans as PyTorch: [out, in, ...rest]", () => {
    expect(fans("t", [5, 3])).toEqual({ fanIn: 3, fanOut: 5 });
    expect(fans("t", [5, 3, 2, 2])).toEqual({ fanIn: 12, fanOut: 20 });
  });

  it("rejects 1-D shapes for fan-based initialisers with a clear error", () => {
    expect(() => fans("t", [8])).toThrow(ShapeError);
    for (const init of [xavierUniform(), xavierNormal(), kaimingUniform(), kaimingNormal()]) {
      const op = init.name.slice(0, init.name.indexOf("("));
      expect(() => init.init([8], new Rng(0), context)).toThrow(`${op}: fan in and fan out need a weight of rank >= 2 ([out, in, ...]), got shape [8]`);
    }
  });

  it("has torch.nn.init.calculate_gain's values", () => {
    expect(calculateGain("linear")).toBe(1);
    expect(calculateGain("sigmoid")).toBe(1);
    expect(calculateGain("tanh")).toBe(5 / 3);
    expect(calculateGain("relu")).toBe(Math.SQRT2);
    expect(calculateGain("leakyRelu")).toBeCloseTo(Math.sqrt(2 / 1.0001), 15);
    expect(calculateGain("leakyRelu", 0.2)).toBeCloseTo(Math.sqrt(2 / 1.04), 15);
    expect(calculateGain("leakyRelu", 0)).toBe(Math.SQRT2);
  });
});

describe("xavier and kaiming match their formulas", () => {
  const shape = [300, 200]; // out 300, in 200
  const checkUniform = (w: Float32Array, bound: number): void => {
    expect(maxAbs(w)).toBeLessThanOrEqual(bound);
    expect(maxAbs(w)).toBeGreaterThan(0.999 * bound);
    expectMeanStd(w, 0, bound / Math.sqrt(3));
  };
  const checkNormal = (w: Float32Array, std: number): void => expectMeanStd(w, 0, std);

  it("xavierUniform: bound gain·√(6/(in + out))", () => {
    checkUniform(draw(xavierUniform(), shape, 1), Math.sqrt(6 / 500));
    checkUniform(draw(xavierUniform({ gain: 2 }), shape, 2), 2 * Math.sqrt(6 / 500));
  });

  it("xavierNormal: std gain·√(2/(in + out))", () => {
    checkNormal(draw(xavierNormal(), shape, 1), Math.sqrt(2 / 500));
    checkNormal(draw(xavierNormal({ gain: 5 / 3 }), shape, 2), (5 / 3) * Math.sqrt(2 / 500));
  });

  it("kaimingUniform: bound √3·gain/√fan", () => {
    checkUniform(draw(kaimingUniform(), shape, 1), Math.sqrt(3) * Math.SQRT2 / Math.sqrt(200));
    checkUniform(draw(kaimingUniform({ mode: "fanOut" }), shape, 2), Math.sqrt(3) * Math.SQRT2 / Math.sqrt(300));
    checkUniform(draw(kaimingUniform({ a: 0.2 }), shape, 3), Math.sqrt(3) * Math.sqrt(2 / 1.04) / Math.sqrt(200));
    checkUniform(draw(kaimingUniform({ nonlinearity: "tanh" }), shape, 4), Math.sqrt(3) * (5 / 3) / Math.sqrt(200));
  });

  it("kaimingNormal: std gain/√fan", () => {
    checkNormal(draw(kaimingNormal(), shape, 1), Math.SQRT2 / Math.sqrt(200));
    checkNormal(draw(kaimingNormal({ mode: "fanOut", nonlinearity: "linear" }), shape, 2), 1 / Math.sqrt(300));
  });

  it("returns empty tensors for zero-element shapes, as PyTorch's no-op", () => {
    expect(draw(xavierUniform(), [0, 5]).length).toBe(0);
    expect(draw(kaimingNormal(), [5, 0]).length).toBe(0);
  });
});
