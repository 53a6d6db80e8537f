import { add, div, logSoftmax, mean, mul, neg, notEqual, softmaxCrossEntropy, sum, type Tensor, where } from "@unroll/tensor";

/**
 * PyTorch's `cross_entropy(logits, targets, ignore_index=-100, label_smoothing=ε)`, averaged over
 * the real targets: the target distribution is `(1 - ε)·onehot(t) + ε/V`, so
 * `loss_i = (1 - ε)·(-log p_i[t_i]) + ε·mean_c(-log p_i[c])`. Logits `[..., V]`, targets `[...]`.
 */
export function labelSmoothedCrossEntropy(logits: Tensor, targets: Tensor, epsilon: number): Tensor {
  const nll = softmaxCrossEntropy(logits, targets, { ignoreIndex: -100, reduction: "none" }); // (...)
  const uniform = neg(mean(logSoftmax(logits, -1), -1)); // (...): -mean_c log p_c
  const real = notEqual(targets, -100, { dtype: logits.dtype as "float32" | "float64" });
  const perToken = where(real, add(mul(nll, 1 - epsilon), mul(uniform, epsilon)), 0);
  return div(sum(perToken), sum(real));
}
