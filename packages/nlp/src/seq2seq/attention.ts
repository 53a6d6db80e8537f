import { add, expandDims, matmul, ShapeError, softmax, squeeze, tanh, type Tensor, transpose, where } from "@unroll/tensor";

/**
 * The attention mechanisms of the lecture, over an encoder memory kept batch-first, `M [B, S, D]`
 * (one row per source position of each sentence):
 * - additive (Bahdanau et al. 2015): `e_s = vᵀ tanh(W_q q + W_k m_s)`, the query the decoder's
 *   previous state;
 * - multiplicative (Luong et al. 2015): `dot`, `e_s = qᵀ m_s`, and `general`, `e_s = qᵀ W_a m_s`,
 *   the query the decoder's current state.
 * Then `α = softmax_s(e)` over the real positions only and the context `c = Σ_s α_s m_s`.
 *
 * Everything that depends on the memory alone (`W_k m_s`, `W_a m_s`) is computed once per
 * sentence (`attentionKeys`), not at every decoder step.
 */
export type AttentionKind = "none" | "bahdanau" | "luong-dot" | "luong-general";

export const ATTENTION_KINDS: readonly AttentionKind[] = ["none", "bahdanau", "luong-dot", "luong-general"];

/** Attention parameters under their state-dict names (`attention.query.weight`, ...). */
export interface AttentionParams {
  /** Bahdanau: `W_q [A, H_dec]`, `W_k [A, D]`, `v [A]`. */
  readonly query?: { readonly weight: Tensor };
  readonly key?: { readonly weight: Tensor };
  readonly v?: Tensor;
  /** Luong general: `W_a [H_dec, D]`. */
  readonly weight?: Tensor;
}

/** What `attend` needs of a sentence batch: the memory, its precomputed keys and the padding mask. */
export interface AttentionMemory {
  /** `[B, S, D]`, zero at padded positions. */
  readonly values: Tensor;
  /**
   * `W_k m` time-first `[S, B, A]` (Bahdanau: the query is added to it at every step, and the
   * gradient's sum over S is then a sum over the leading axis, which the fast kernels have);
   * `W_a m` `[B, S, H]` (general); the values themselves (dot).
   */
  readonly keys: Tensor;
  /** The batch axis of `keys`: 1 for Bahdanau's time-first keys, else 0. */
  readonly keysBatchAxis: 0 | 1;
  /** `[B, S]`, 1 at real positions and 0 at padding. */
  readonly mask: Tensor;
}

/** The part of the scores that depends on the memory only (layout: see `AttentionMemory.keys`). */
export function attentionKeys(kind: AttentionKind, params: AttentionParams, values: Tensor): Tensor {
  switch (kind) {
    case "bahdanau": {
      const w = params.key?.weight;
      if (!w) throw new ShapeError("attention", "bahdanau attention needs its key weight");
      // A batched product over the unflattened axes: a traced graph records no size.
      return matmul(transpose(values, [1, 0, 2]), w, { transB: true }); // (S, B, D) · (D, A) -> (S, B, A)
    }
    case "luong-general": {
      const w = params.weight;
      if (!w) throw new ShapeError("attention", "luong-general attention needs its weight");
      return matmul(values, w, { transB: true }); // (B, S, D) · (D, H) -> (B, S, H)
    }
    case "luong-dot":
      return values;
    case "none":
      throw new ShapeError("attention", "the bottleneck decoder has no attention");
  }
}

/** Scores `[B, S]` of a query `[B, Q]` against the keys. */
export function attentionScores(kind: AttentionKind, params: AttentionParams, keys: Tensor, query: Tensor): Tensor {
  if (kind === "bahdanau") {
    const q = matmul(query, params.query!.weight, { transB: true }); // (B, A)
    const hidden = tanh(add(keys, q)); // (S, B, A)
    const scores = squeeze(matmul(hidden, expandDims(params.v!, 1)), [2]); // (S, B, A) · (A, 1) -> (S, B)
    return transpose(scores, [1, 0]); // (B, S)
  }
  return squeeze(matmul(keys, expandDims(query, 2)), [2]); // (B, S, K) · (B, K, 1) -> (B, S)
}

/**
 * The attention weights `[B, S]` (exactly 0 at padded positions: their scores become -∞ before
 * the softmax, so neither the weights nor the gradients see them) and the context `[B, D]`.
 */
export function attend(
  kind: AttentionKind,
  params: AttentionParams,
  memory: AttentionMemory,
  query: Tensor,
): { readonly weights: Tensor; readonly context: Tensor } {
  const scores = where(memory.mask, attentionScores(kind, params, memory.keys, query), -Infinity);
  const weights = softmax(scores, -1); // (B, S)
  const context = squeeze(matmul(expandDims(weights, 1), memory.values), [1]); // (B, 1, S) · (B, S, D) -> (B, D)
  return { weights, context };
}
