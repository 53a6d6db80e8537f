import { Recurrent, type RecurrentOptions } from "./recurrent.js";

/**
 * Elman RNN, `h_t = f(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh)` with f = tanh (default) or relu
 * (relu with an identity recurrent init is the IRNN). Parameters as `nn.RNN`: `weight_ih_l{k}`
 * `[H, I]`, `weight_hh_l{k}` `[H, H]`, `bias_ih_l{k}`, `bias_hh_l{k}` `[H]`.
 */
export class RNN extends Recurrent {
  constructor(options: RecurrentOptions & { readonly nonlinearity?: "tanh" | "relu" }) {
    super(options.nonlinearity === "relu" ? "rnn_relu" : "rnn_tanh", options);
  }
}

/**
 * LSTM (Hochreiter & Schmidhuber 1997, with forget gates), PyTorch's equations and layout:
 * gates i, f, g, o stacked in `weight_ih_l{k}` `[4H, I]` and `weight_hh_l{k}` `[4H, H]`;
 * `c_t = σ(f)·c_{t-1} + σ(i)·tanh(g)`, `h_t = σ(o)·tanh(c_t)`. For char-rnn's forget-gate bias of
 * 1, initialise with `lstmForgetBias(1)`.
 */
export class LSTM extends Recurrent {
  constructor(options: RecurrentOptions) {
    super("lstm", options);
  }
}

/**
 * GRU with PyTorch's semantics (the reset gate multiplies the recurrent product, after the
 * matmul): gates r, z, n stacked in `weight_ih_l{k}` `[3H, I]` and `weight_hh_l{k}` `[3H, H]`;
 * `n = tanh(x_n + r·(h W_hnᵀ + b_hn))`, `h_t = (1 - z)·n + z·h_{t-1}`.
 */
export class GRU extends Recurrent {
  constructor(options: RecurrentOptions) {
    super("gru", options);
  }
}
