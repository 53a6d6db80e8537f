// The elementwise initialisers: constants and i.i.d. draws whose scale comes from the settings,
// the cell's hidden size or the weight's fans. Formulas as torch.nn.init and nn.RNNBase.
import { full, type Shape, sizeOf, ValueRangeError, zeros as zeroTensor } from "@unroll/tensor";
import {
  assertContext,
  assertFiniteSetting,
  assertGain,
  calculateGain,
  fans,
  type Initializer,
  type Nonlinearity,
} from "./initializer.js";

export type { Initializer, InitContext } from "./initializer.js";

/**
 * PyTorch's default for every parameter of nn.RNN/LSTM/GRU and their cells, weights and biases
 * alike: U(-1/√H, 1/√H), H the hidden size (`RNNBase.reset_parameters`).
 */
export function pytorchDefault(): Initializer {
  return {
    name: "pytorchDefault()",
    init: (shape, rng, context) => {
      assertContext("pytorchDefault", context);
      const bound = 1 / Math.sqrt(context.hiddenSize);
      return rng.uniform(shape, -bound, bound, "float32");
    },
  };
}

/** U(low, high), as torch.nn.init.uniform_ (defaults 0 and 1). */
export function uniform(low = 0, high = 1): Initializer {
  assertFiniteSetting("uniform", "low", low);
  assertFiniteSetting("uniform", "high", high);
  if (!(high >= low)) throw new ValueRangeError("uniform", `high (${high}) must be >= low (${low})`);
  return { name: `uniform(low=${low}, high=${high})`, init: (shape, rng) => rng.uniform(shape, low, high, "float32") };
}

/** N(mean, std²), as torch.nn.init.normal_ (defaults 0 and 1). */
export function normal(mean = 0, std = 1): Initializer {
  assertFiniteSetting("normal", "mean", mean);
  assertFiniteSetting("normal", "std", std);
  if (std < 0) throw new ValueRangeError("normal", `std must be >= 0, got ${std}`);
  return { name: `normal(mean=${mean}, std=${std})`, init: (shape, rng) => rng.normal(shape, mean, std, "float32") };
}

/**
 * N(mean, (gain/√H)²), H the hidden size: a normal whose spread follows the layer width, as the
 * np-RNN scheme uses for input weights (std 1/√H). `normal` takes a fixed std and cannot.
 */
export function normalScaledByHidden({ mean = 0, gain = 1 }: { mean?: number; gain?: number } = {}): Initializer {
  assertFiniteSetting("normalScaledByHidden", "mean", mean);
  assertGain("normalScaledByHidden", gain);
  return {
    name: `normalScaledByHidden(mean=${mean}, gain=${gain})`,
    init: (shape, rng, context) => {
      assertContext("normalScaledByHidden", context);
      return rng.normal(shape, mean, gain / Math.sqrt(context.hiddenSize), "float32");
    },
  };
}

export function zeros(): Initializer {
  return { name: "zeros()", init: (shape) => zeroTensor(shape, "float32") };
}

export function ones(): Initializer {
  return { name: "ones()", init: (shape) => full(shape, 1, "float32") };
}

export function constant(value: number): Initializer {
  assertFiniteSetting("constant", "value", value);
  return { name: `constant(value=${value})`, init: (shape) => full(shape, value, "float32") };
}

export interface XavierOptions {
  /** Scale factor, `calculateGain(nonlinearity)` for the layer's activation (default 1). */
  readonly gain?: number;
}

/**
 * Glorot & Bengio (2010): U(-b, b), b = gain·√(6/(fanIn + fanOut)), so the variance is
 * gain²·2/(fanIn + fanOut). torch.nn.init.xavier_uniform_.
 */
export function xavierUniform({ gain = 1 }: XavierOptions = {}): Initializer {
  assertGain("xavierUniform", gain);
  return {
    name: `xavierUniform(gain=${gain})`,
    init: (shape, rng) => {
      const { fanIn, fanOut } = fans("xavierUniform", shape);
      if (sizeOf(shape) === 0) return zeroTensor(shape, "float32");
      const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
      return rng.uniform(shape, -bound, bound, "float32");
    },
  };
}

/** Glorot & Bengio (2010): N(0, gain²·2/(fanIn + fanOut)). torch.nn.init.xavier_normal_. */
export function xavierNormal({ gain = 1 }: XavierOptions = {}): Initializer {
  assertGain("xavierNormal", gain);
  return {
    name: `xavierNormal(gain=${gain})`,
    init: (shape, rng) => {
      const { fanIn, fanOut } = fans("xavierNormal", shape);
      if (sizeOf(shape) === 0) return zeroTensor(shape, "float32");
      return rng.normal(shape, 0, gain * Math.sqrt(2 / (fanIn + fanOut)), "float32");
    },
  };
}

export interface KaimingOptions {
  /** Negative slope of the leaky ReLU that follows (only used by `leakyRelu`; default 0). */
  readonly a?: number;
  /** Preserve the forward variance (`fanIn`, default) or the backward one (`fanOut`). */
  readonly mode?: "fanIn" | "fanOut";
  /** Default `leakyRelu`, as PyTorch; with a = 0 its gain is √2, the ReLU's. */
  readonly nonlinearity?: Nonlinearity;
}

function kaimingStd(op: string, shape: Shape, { a = 0, mode = "fanIn", nonlinearity = "leakyRelu" }: KaimingOptions): number {
  const { fanIn, fanOut } = fans(op, shape);
  return calculateGain(nonlinearity, a) / Math.sqrt(mode === "fanIn" ? fanIn : fanOut);
}

function kaimingName(op: string, { a = 0, mode = "fanIn", nonlinearity = "leakyRelu" }: KaimingOptions): string {
  assertFiniteSetting(op, "a", a);
  if (mode !== "fanIn" && mode !== "fanOut") {
    throw new ValueRangeError(op, `mode must be "fanIn" or "fanOut", got ${JSON.stringify(mode)}`);
  }
  calculateGain(nonlinearity, a); // rejects unknown nonlinearities now rather than at init time
  return `${op}(a=${a}, mode=${mode}, nonlinearity=${nonlinearity})`;
}

/**
 * He et al. (2015): U(-b, b), b = √3·gain/√fan, so the std is gain/√fan, gain from
 * `calculateGain(nonlinearity, a)`. torch.nn.init.kaiming_uniform_ with the same defaults.
 */
export function kaimingUniform(options: KaimingOptions = {}): Initializer {
  return {
    name: kaimingName("kaimingUniform", options),
    init: (shape, rng) => {
      const std = kaimingStd("kaimingUniform", shape, options);
      if (sizeOf(shape) === 0) return zeroTensor(shape, "float32");
      const bound = Math.sqrt(3) * std;
      return rng.uniform(shape, -bound, bound, "float32");
    },
  };
}

/** He et al. (2015): N(0, gain²/fan). torch.nn.init.kaiming_normal_ with the same defaults. */
export function kaimingNormal(options: KaimingOptions = {}): Initializer {
  return {
    name: kaimingName("kaimingNormal", options),
    init: (shape, rng) => {
      const std = kaimingStd("kaimingNormal", shape, options);
      if (sizeOf(shape) === 0) return zeroTensor(shape, "float32");
      return rng.normal(shape, 0, std, "float32");
    },
  };
}
