import {
  add,
  mul,
  sum,
  type Tensor,
  valueAndGrad,
  ValueRangeError,
  zeros,
} from "@unroll/tensor";
import type { ForwardOptions, ForwardResult, Recurrent, RecurrentParams } from "@unroll/cells";

export interface ProbeOptions {
  /** Which layer's hidden states to probe (default the last). */
  readonly layer?: number;
  /** 0 forward (default), 1 reverse. */
  readonly direction?: number;
  /** Passed to the layer's forward (lengths, initial state, condition). */
  readonly forward?: Omit<ForwardOptions, "onHidden">;
}

function probeTarget(layer: Recurrent, options: ProbeOptions): { l: number; d: number } {
  const l = options.layer ?? layer.numLayers - 1;
  const d = options.direction ?? 0;
  if (!Number.isInteger(l) || l < 0 || l >= layer.numLayers) throw new ValueRangeError("gradientFlow", `layer ${l} does not exist (the model has ${layer.numLayers})`);
  if (d !== 0 && !(d === 1 && layer.bidirectional)) throw new ValueRangeError("gradientFlow", `direction ${d} does not exist`);
  return { l, d };
}

/**
 * Runs `layer` with a zero "probe" added to the hidden state of every step, so that the gradient
 * of the loss with respect to probe k is dL/dh_k (the probes change no value).
 */
function probedGradients(
  layer: Recurrent,
  params: RecurrentParams,
  input: Tensor,
  lossOf: (out: ForwardResult) => Tensor,
  options: ProbeOptions,
): { loss: number; grads: Tensor[] } {
  const { l, d } = probeTarget(layer, options);
  const [T, B] = layer.batchFirst ? [input.shape[1]!, input.shape[0]!] : [input.shape[0]!, input.shape[1]!];
  const dtype = input.dtype === "float64" ? "float64" : "float32";
  const probes = Array.from({ length: T }, () => zeros([B, layer.hiddenSize], dtype));
  const { value, grads } = valueAndGrad((p: Tensor[]) =>
    lossOf(
      layer.forward(params, input, {
        ...options.forward,
        onHidden: (h, at) => (at.layer === l && at.direction === d ? add(h, p[at.t]!) : h),
      }),
    ),
  )(probes);
  return { loss: value.item(), grads };
}

function norm(t: Tensor): number {
  let s = 0;
  for (let i = 0; i < t.size; i++) s += t.data[i]! * t.data[i]!;
  return Math.sqrt(s);
}

export interface GradientFlowReport {
  readonly loss: number;
  /** ||dL/dh_k|| for every scan step k (L2 over batch and hidden units). */
  readonly gradNorms: readonly number[];
}

/**
 * The curve that shows vanishing (or exploding) gradients: how much the loss depends on each
 * step's hidden state. For a loss at the last step only, a tanh RNN's curve decays geometrically
 * backwards in time; an LSTM's stays flat much longer.
 */
export function gradientFlow(
  layer: Recurrent,
  params: RecurrentParams,
  input: Tensor,
  lossOf: (out: ForwardResult) => Tensor,
  options: ProbeOptions = {},
): GradientFlowReport {
  const { loss, grads } = probedGradients(layer, params, input, lossOf, options);
  return { loss, gradNorms: grads.map(norm) };
}

export interface JacobianNormOptions extends ProbeOptions {
  /** The step t of dh_t/dh_k (default the last step). */
  readonly target?: number;
}

/**
 * ||∂h_t/∂h_k|| (Frobenius, root mean square over the batch's examples) for every k <= t: the
 * products of Jacobians whose shrinking or growth is the vanishing or exploding gradient. Exact:
 * one backward pass per hidden unit (H passes). For an LSTM it is the derivative through h with
 * the cell state held, the path the hidden-to-hidden weights control.
 */
export function jacobianNorms(
  layer: Recurrent,
  params: RecurrentParams,
  input: Tensor,
  options: JacobianNormOptions = {},
): number[] {
  const T = layer.batchFirst ? input.shape[1]! : input.shape[0]!;
  const B = layer.batchFirst ? input.shape[0]! : input.shape[1]!;
  const t = options.target ?? T - 1;
  if (!Number.isInteger(t) || t < 0 || t >= T) throw new ValueRangeError("jacobianNorms", `target step ${t} is outside [0, ${T})`);
  const { l, d } = probeTarget(layer, options);
  const H = layer.hiddenSize;
  const squares = new Float64Array(T);
  const dtype = input.dtype === "float64" ? "float64" : "float32";
  for (let unit = 0; unit < H; unit++) {
    // Selecting unit `unit` of h_t in every example: the backward pass gives row `unit` of each
    // example's Jacobian; summing the squares over all units gives the Frobenius norms.
    const selector = zeros([B, H], dtype);
    for (let b = 0; b < B; b++) selector.data[b * H + unit] = 1;
    probedCapture(layer, params, input, options, l, d, t, selector).forEach((g, k) => (squares[k] = squares[k]! + g));
  }
  return Array.from(squares, (s, k) => (k <= t ? Math.sqrt(s / B) : 0));
}

/** Squared norms of ∂(sum h_t·selector)/∂h_k for every k, from one probed backward pass. */
function probedCapture(
  layer: Recurrent,
  params: RecurrentParams,
  input: Tensor,
  options: ProbeOptions,
  l: number,
  d: number,
  t: number,
  selector: Tensor,
): number[] {
  const T = layer.batchFirst ? input.shape[1]! : input.shape[0]!;
  const B = layer.batchFirst ? input.shape[0]! : input.shape[1]!;
  const dtype = input.dtype === "float64" ? "float64" : "float32";
  const probes = Array.from({ length: T }, () => zeros([B, layer.hiddenSize], dtype));
  const { grads } = valueAndGrad((p: Tensor[]) => {
    let target: Tensor | null = null;
    layer.forward(params, input, {
      ...options.forward,
      onHidden: (h, at) => {
        if (at.layer !== l || at.direction !== d) return h;
        const probed = add(h, p[at.t]!);
        if (at.t === t) target = probed;
        return probed;
      },
    });
    return sum(mul(target!, selector));
  })(probes);
  return grads.map((g) => {
    const n = norm(g);
    return n * n;
  });
}
