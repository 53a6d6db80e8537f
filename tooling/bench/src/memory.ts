// What a language-model training step (W1, W2) must hold in memory at least, from the shapes.
import type { LmShape } from "./config.js";
import type { RequiredMemory } from "./protocol.js";

const MIB = 2 ** 20;

/** Parameters of embedding -> `layers` LSTM layers (PyTorch layout, two biases) -> linear head. */
export function lmParameterCount(s: LmShape): number {
  let p = s.vocab * s.embedding; // embedding [V, E]
  for (let l = 0; l < s.layers; l++) {
    const input = l === 0 ? s.embedding : s.hidden;
    p += 4 * s.hidden * (input + s.hidden) + 2 * 4 * s.hidden; // W_ih [4H, I], W_hh [4H, H], b_ih, b_hh [4H]
  }
  return p + s.vocab * s.hidden + s.vocab; // head [V, H] + [V]
}

/**
 * The floats a training step with Adam must keep alive at its peak (the end of the forward pass,
 * when backward starts), with nothing recomputed:
 *
 *     4P                     parameters, their gradients, Adam's two moments (P parameters)
 *     B·T·E                  the embedded inputs (backward needs them for dW_ih of layer 0)
 *     B·T·L·6H               per layer and step: the gates i, f, g, o after their nonlinearities
 *                            (4H), the cell state c_t (H) and the output h_t (H), which is also
 *                            the next layer's input and the head's input
 *     B·T·V                  the softmax probabilities (cross-entropy's backward is p - onehot)
 *
 * This is what a fused LSTM implementation (cuDNN's, for one) stores; everything else (the
 * pre-activations, tanh(c_t), the logits) can be overwritten or recomputed. It is a lower bound:
 * gradient buffers of the activations come and go during backward on top of it.
 */
export function requiredMemory(s: LmShape): RequiredMemory {
  const P = lmParameterCount(s);
  const tokens = s.batch * s.steps;
  const floats = {
    "parameters + gradients + Adam m, v (4P)": 4 * P,
    "embedded inputs (B·T·E)": tokens * s.embedding,
    "gates, cell and hidden states (B·T·L·6H)": tokens * s.layers * 6 * s.hidden,
    "softmax probabilities (B·T·V)": tokens * s.vocab,
  };
  const totalFloats = Object.values(floats).reduce((a, b) => a + b, 0);
  return {
    parameters: P,
    floats,
    totalFloats,
    totalMB: (totalFloats * 4) / MIB,
    formula: "4 bytes × (4P + B·T·(E + 6·L·H + V)), P = V·E + Σ_l [4H·(I_l + H) + 8H] + V·H + V",
  };
}
