import { Tensor, ValueRangeError } from "@unroll/tensor";
import type { ForwardOptions, Recurrent, RecurrentParams } from "@unroll/cells";
import { spectralRadius } from "@unroll/cells";

export interface SaturationReport {
  /** Per activation name (LSTM i,f,o,g,c-tanh; GRU r,z,n; RNN h): the fraction of saturated units. */
  readonly fractions: Readonly<Record<string, number>>;
  readonly threshold: number;
}

/**
 * How many units sit in the flat tails of their nonlinearity, where the derivative is nearly zero
 * and gradients die: sigmoid gates outside `[1 - threshold, threshold]` (below 0.01 or above 0.99
 * for the default 0.99), tanh values with `|value| > threshold`. For ReLU RNNs, the fraction of
 * units that are exactly zero (dead) is reported instead.
 */
export function saturation(
  layer: Recurrent,
  params: RecurrentParams,
  input: Tensor,
  options: { readonly threshold?: number; readonly forward?: Omit<ForwardOptions, "onGates"> } = {},
): SaturationReport {
  const threshold = options.threshold ?? 0.99;
  if (!(threshold > 0.5 && threshold < 1)) throw new ValueRangeError("saturation", `threshold must be in (0.5, 1), got ${threshold}`);
  const counts: Record<string, [number, number]> = {};
  const sigmoids = new Set(["i", "f", "o", "r", "z"]);
  const tanhs = new Set(["g", "n"]);
  const count = (name: string, t: Tensor, test: (v: number) => boolean): void => {
    const c = (counts[name] ??= [0, 0]);
    for (let k = 0; k < t.size; k++) if (test(t.data[k]!)) c[0]++;
    c[1] += t.size;
  };
  layer.forward(params, input, {
    ...options.forward,
    onGates: (a) => {
      for (const [name, t] of Object.entries(a)) {
        if (sigmoids.has(name)) count(name, t, (v) => v < 1 - threshold || v > threshold);
        else if (tanhs.has(name)) count(name, t, (v) => Math.abs(v) > threshold);
        else if (name === "c") count("tanh(c)", t, (v) => Math.abs(Math.tanh(v)) > threshold);
        else if (name === "h" && layer.mode === "rnn_tanh") count("h", t, (v) => Math.abs(v) > threshold);
        else if (name === "h" && layer.mode === "rnn_relu") count("h (dead relu)", t, (v) => v === 0);
      }
    },
  });
  return {
    fractions: Object.fromEntries(Object.entries(counts).map(([k, [n, total]]) => [k, total === 0 ? 0 : n / total])),
    threshold,
  };
}

/** Spectral radius of every recurrent matrix (`weight_hh_*`) of a parameter record, by name. */
export function recurrentSpectralRadii(params: RecurrentParams): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, t] of Object.entries(params)) {
    if (!name.startsWith("weight_hh")) continue;
    const [rows, cols] = t.shape as [number, number];
    if (rows === cols) out[name] = spectralRadius(t);
    else {
      // Stacked gates [gates*H, H]: one radius per gate block.
      const gates = rows / cols;
      for (let g = 0; g < gates; g++) {
        const block = t.data.slice(g * cols * cols, (g + 1) * cols * cols);
        out[`${name}[${g}]`] = spectralRadius(new Tensor(block, [cols, cols]));
      }
    }
  }
  return out;
}
