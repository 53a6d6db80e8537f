import { checkSetting, effectiveGrad, type Optimizer, RuleOptimizer } from "./optimizer.js";

export interface SgdOptions {
  readonly lr: number;
  readonly momentum?: number;
  readonly dampening?: number;
  readonly nesterov?: boolean;
  /** L2 penalty, added to the gradient. */
  readonly weightDecay?: number;
  readonly maximize?: boolean;
}

/**
 * Stochastic gradient descent with optional (Nesterov) momentum, as PyTorch 1.13's
 * `torch.optim.SGD` (`_single_tensor_sgd`):
 *
 *     g = maximize ? -grad : grad;   g += weightDecay * p
 *     b = (first step) ? g : momentum * b + (1 - dampening) * g      (when momentum != 0)
 *     g = nesterov ? g + momentum * b : b
 *     p -= lr * g
 *
 * The momentum buffer starts as a copy of the first gradient, not as zeros, so dampening does not
 * apply on the first step. Buffer: `momentum_buffer` (only when momentum != 0).
 */
export function sgd(options: SgdOptions): Optimizer {
  const { lr, momentum = 0, dampening = 0, nesterov = false, weightDecay = 0, maximize = false } = options;
  const name = "sgd";
  checkSetting(name, momentum >= 0, `momentum must be >= 0, got ${momentum}`);
  checkSetting(name, weightDecay >= 0, `weightDecay must be >= 0, got ${weightDecay}`);
  checkSetting(name, Number.isFinite(dampening), `dampening must be finite, got ${dampening}`);
  checkSetting(name, !nesterov || (momentum > 0 && dampening === 0), "nesterov needs momentum > 0 and dampening 0");
  return new RuleOptimizer(
    {
      name,
      hyper: { momentum, dampening, nesterov, weightDecay, maximize },
      buffers: momentum !== 0 ? [{ name: "momentum_buffer", init: 0 }] : [],
      update(p, grad, [buf], { lr, fresh, round }) {
        const negLr = round(-lr);
        const mom = round(momentum);
        const keep = round(1 - dampening);
        for (let i = 0; i < p.length; i++) {
          let d = effectiveGrad(grad[i]!, p[i]!, maximize, weightDecay, round);
          if (buf !== undefined) {
            // buf.mul_(momentum).add_(d_p, alpha=1 - dampening): a rounded product, then a fused add.
            buf[i] = fresh ? d : round(round(buf[i]! * mom) + keep * d);
            // d_p.add(buf, alpha=momentum), or d_p = buf.
            d = nesterov ? round(d + mom * buf[i]!) : buf[i]!;
          }
          // param.add_(d_p, alpha=-lr)
          p[i] = round(p[i]! + negLr * d);
        }
      },
    },
    lr,
  );
}
