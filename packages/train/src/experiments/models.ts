import { reshape, type Rng, split, stack, type Tensor, ValueRangeError } from "@unroll/tensor";
import { init, type InitScheme, Linear, type LinearParams, LSTM, type Recurrent, RNN } from "@unroll/cells";

/** The recurrent networks the long-range experiments compare. */
export type ModelKind = "tanh" | "irnn" | "np-rnn" | "lstm";

export const MODEL_KINDS: readonly ModelKind[] = ["tanh", "irnn", "np-rnn", "lstm"];

const DESCRIPTIONS: Record<ModelKind, string> = {
  tanh: "tanh RNN, PyTorch's default init U(-1/√H, 1/√H)",
  irnn: "IRNN: relu RNN, W_hh = I, biases 0, W_ih ~ N(0, 0.001²) (init.irnnScheme)",
  "np-rnn": "np-RNN: relu RNN, W_hh SPD with top eigenvalue 1, biases 0, W_ih ~ N(0, 1/H) (init.npRnnScheme)",
  lstm: "LSTM, PyTorch's default init U(-1/√H, 1/√H), no forget-gate bias",
};

export function isModelKind(name: string): name is ModelKind {
  return (MODEL_KINDS as readonly string[]).includes(name);
}

export interface ModelParams {
  /** The recurrent layer's parameters under PyTorch's names (`weight_ih_l0`, ...). */
  readonly rnn: Record<string, Tensor>;
  /** The readout `y = W h + b`. */
  readonly out: { readonly weight: Tensor; readonly bias?: Tensor };
}

export interface ModelOptions {
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly outputSize: number;
  /** Draws the initial weights: the same seed gives the same model. */
  readonly rng: Rng;
  /** Replaces the kind's initialisers, parameter by parameter (for example a large recurrent init). */
  readonly scheme?: InitScheme;
}

/** A one-layer recurrent network and a `Linear` readout, with its parameters. */
export interface SequenceModel {
  readonly kind: ModelKind;
  readonly description: string;
  readonly layer: Recurrent;
  readonly readout: Linear;
  readonly params: ModelParams;
  /**
   * Runs the network over `x` `(T, B, inputSize)` and reads out the last step, `(B, outputSize)`,
   * or every step, `(T, B, outputSize)`.
   */
  forward(params: ModelParams, x: Tensor, readout: "last" | "all"): Tensor;
}

/**
 * Builds one of the compared models: `tanh` (PyTorch's default init), `irnn` (relu +
 * `init.irnnScheme()`), `np-rnn` (relu + `init.npRnnScheme()`) or `lstm` (default init), each
 * followed by a `Linear(hiddenSize, outputSize)` readout with its default init.
 */
export function buildModel(kind: ModelKind, options: ModelOptions): SequenceModel {
  if (!isModelKind(kind)) throw new ValueRangeError("buildModel", `unknown model ${JSON.stringify(kind)}; expected one of ${MODEL_KINDS.join(", ")}`);
  const { inputSize, hiddenSize, outputSize, rng } = options;
  const sizes = { inputSize, hiddenSize };
  const layer =
    kind === "lstm" ? new LSTM(sizes) : new RNN({ ...sizes, nonlinearity: kind === "tanh" ? "tanh" : "relu" });
  const base: InitScheme = kind === "irnn" ? init.irnnScheme() : kind === "np-rnn" ? init.npRnnScheme() : {};
  const readout = new Linear(hiddenSize, outputSize);
  const params: ModelParams = { rnn: layer.init(rng, { ...base, ...options.scheme }), out: readout.init(rng) };
  return {
    kind,
    description: options.scheme ? `${DESCRIPTIONS[kind]}, with ${schemeNames(options.scheme)}` : DESCRIPTIONS[kind],
    layer,
    readout,
    params,
    forward(p, x, mode) {
      const hs = scanSteps(layer, p.rnn, x);
      if (mode === "last") return readout.forward(p.out as LinearParams, hs[hs.length - 1]!);
      return readout.forward(p.out as LinearParams, stack(hs)); // (T, B, outputSize)
    },
  };
}

function schemeNames(scheme: InitScheme): string {
  return Object.entries(scheme)
    .map(([key, value]) => `${key} = ${(value as { name: string }).name}`)
    .join(", ");
}

/**
 * The hidden states `h_1..h_T` (each `(B, H)`) of a one-layer unidirectional layer over `x`
 * `(T, B, I)`, one `layer.step` per time step.
 *
 * Why not `layer.forward`: it computes all input projections as one `(T, B, gates*H)` tensor and
 * `split`s it into T slices; the vjp of each slice is a zero-padded tensor of the full
 * `(T, B, gates*H)` shape, and backpropagation sums the T of them, so the backward pass costs
 * O(T²·B·gates·H). At T = 150, H = 100, B = 32 a gradient step took 350 ms (tanh) and 1.8 s
 * (LSTM) through `forward`, 140 ms and 0.45 s through `step` on the 2-core development machine.
 * `step` projects each step's input on its own; the inputs are constants, so their slices record
 * nothing. The results equal `forward`'s (tested).
 */
export function scanSteps(layer: Recurrent, params: Record<string, Tensor>, x: Tensor): Tensor[] {
  if (x.rank !== 3) throw new ValueRangeError("scanSteps", `x must be (T, B, I), got rank ${x.rank}`);
  const [T, B, I] = x.shape as [number, number, number];
  if (T < 1) throw new ValueRangeError("scanSteps", "the sequence is empty (T = 0)");
  let state = layer.initialState(B, x.dtype === "float64" ? "float64" : "float32");
  const hs: Tensor[] = [];
  for (const xt of split(x, T, 0)) {
    const r = layer.step(params, state, reshape(xt, [B, I]));
    state = r.state;
    hs.push(r.output);
  }
  return hs;
}
