import { formatShape, type Rng, type Shape, ShapeError, type Tensor, ValueRangeError } from "@unroll/tensor";

/** What an initialiser may need to know about the cell it fills, besides the parameter's shape. */
export interface InitContext {
  /** H: PyTorch's default bound is 1/√H for every parameter of the cell. */
  readonly hiddenSize: number;
  /** Gate blocks stacked along the first axis (RNN 1, GRU 3, LSTM 4): what `perGate` splits. */
  readonly gates: number;
}

/**
 * A named way to fill a parameter: `init(shape, rng, context)` returns a new float32 tensor of
 * `shape`, drawing any randomness from `rng` (so a seed reproduces it). The name spells out the
 * settings, `"xavierUniform(gain=1)"`, so that a configuration can be logged and compared.
 */
export interface Initializer {
  readonly name: string;
  readonly init: (shape: Shape, rng: Rng, context: InitContext) => Tensor;
}

/**
 * Fan-in and fan-out as PyTorch's `_calculate_fan_in_and_fan_out`: a weight is `[out, in, ...rest]`
 * and both fans are multiplied by the size of `rest` (the receptive field, for convolutions), so
 * `[out, in]` gives fanIn = in, fanOut = out. A 1-D parameter (a bias) has no fans: throws.
 */
export function fans(op: string, shape: Shape): { fanIn: number; fanOut: number } {
  if (shape.length < 2) {
    throw new ShapeError(
      op,
      `fan in and fan out need a weight of rank >= 2 ([out, in, ...]), got shape ${formatShape(shape)}; ` +
        `initialise 1-D parameters such as biases with zeros(), uniform() or pytorchDefault()`,
    );
  }
  let receptive = 1;
  for (let d = 2; d < shape.length; d++) receptive *= shape[d]!;
  return { fanIn: shape[1]! * receptive, fanOut: shape[0]! * receptive };
}

/** The activations `calculateGain` knows, named as in torch.nn.init.calculate_gain (camelCased). */
export type Nonlinearity = "linear" | "sigmoid" | "tanh" | "relu" | "leakyRelu";

/**
 * The gain that keeps activations' variance steady through `nonlinearity`, as
 * torch.nn.init.calculate_gain: linear and sigmoid 1, tanh 5/3, relu √2, leakyRelu √(2/(1+slope²))
 * with `negativeSlope` defaulting to 0.01.
 */
export function calculateGain(nonlinearity: Nonlinearity, negativeSlope?: number): number {
  switch (nonlinearity) {
    case "linear":
    case "sigmoid":
      return 1;
    case "tanh":
      return 5 / 3;
    case "relu":
      return Math.SQRT2;
    case "leakyRelu": {
      const slope = negativeSlope ?? 0.01;
      if (!Number.isFinite(slope)) throw new ValueRangeError("calculateGain", `negative slope must be finite, got ${slope}`);
      return Math.sqrt(2 / (1 + slope * slope));
    }
    default:
      throw new ValueRangeError(
        "calculateGain",
        `unknown nonlinearity ${JSON.stringify(nonlinearity)}; expected linear, sigmoid, tanh, relu or leakyRelu`,
      );
  }
}

/** Throws unless `value` is a finite number; `what` names it in the message. */
export function assertFiniteSetting(op: string, what: string, value: number): void {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new ValueRangeError(op, `${what} must be a finite number, got ${value}`);
  }
}

/** Throws unless `gain` is a finite number >= 0. */
export function assertGain(op: string, gain: number): void {
  assertFiniteSetting(op, "gain", gain);
  if (gain < 0) throw new ValueRangeError(op, `gain must be >= 0, got ${gain}`);
}

/** Throws unless the context describes a real cell (positive integer sizes). */
export function assertContext(op: string, context: InitContext): void {
  const ok = (x: number): boolean => Number.isInteger(x) && x > 0;
  if (!context || !ok(context.hiddenSize) || !ok(context.gates)) {
    throw new ValueRangeError(
      op,
      `context needs positive integer hiddenSize and gates, got ${JSON.stringify(context)}`,
    );
  }
}

/** Throws a ShapeError naming `op` unless `shape` is a square matrix `[n, n]`. */
export function assertSquareShape(op: string, shape: Shape, hint: string): number {
  if (shape.length !== 2 || shape[0] !== shape[1]) {
    throw new ShapeError(op, `needs a square 2-D weight [n, n], got shape ${formatShape(shape)}; ${hint}`);
  }
  return shape[0]!;
}
