import { checkSetting, effectiveGrad, type Optimizer, RuleOptimizer } from "./optimizer.js";

export interface RmspropOptions {
  readonly lr?: number;
  /** Decay of the running averages. */
  readonly alpha?: number;
  readonly eps?: number;
  /** L2 penalty, added to the gradient. */
  readonly weightDecay?: number;
  readonly momentum?: number;
  /** Normalise by an estimate of the gradient's variance instead of its second moment. */
  readonly centered?: boolean;
  readonly maximize?: boolean;
}

/**
 * RMSprop as PyTorch 1.13's `torch.optim.RMSprop` (`_single_tensor_rmsprop`), defaults lr 1e-2,
 * alpha 0.99, eps 1e-8:
 *
 *     g = maximize ? -grad : grad;   g += weightDecay * p
 *     s = alpha * s + (1 - alpha) * g * g                           square_avg
 *     centered: a = alpha * a + (1 - alpha) * g                      grad_avg
 *     avg = sqrt(centered ? s - a * a : s) + eps
 *     momentum > 0: b = momentum * b + g / avg;  p -= lr * b         momentum_buffer
 *     otherwise:    p -= lr * g / avg
 *
 * Not folded into Adam's rule: there are no bias corrections, eps is added outside the square
 * root here too but momentum acts on the normalised step rather than on the gradient, and writing
 * both through one function would change the order of operations that PyTorch's results depend on.
 */
export function rmsprop(options: RmspropOptions = {}): Optimizer {
  const { lr = 1e-2, alpha = 0.99, eps = 1e-8, weightDecay = 0, momentum = 0, centered = false, maximize = false } = options;
  const name = "rmsprop";
  checkSetting(name, alpha >= 0, `alpha must be >= 0, got ${alpha}`);
  checkSetting(name, eps >= 0, `eps must be >= 0, got ${eps}`);
  checkSetting(name, momentum >= 0, `momentum must be >= 0, got ${momentum}`);
  checkSetting(name, weightDecay >= 0, `weightDecay must be >= 0, got ${weightDecay}`);
  const slots = ["square_avg", ...(momentum > 0 ? ["momentum_buffer"] : []), ...(centered ? ["grad_avg"] : [])];
  const at = (slot: string): number => slots.indexOf(slot);
  return new RuleOptimizer(
    {
      name,
      hyper: { alpha, eps, weightDecay, momentum, centered, maximize },
      buffers: slots.map((s) => ({ name: s, init: 0 })),
      update(p, grad, buffers, { lr, round }) {
        const sq = buffers[0]!;
        const buf = momentum > 0 ? buffers[at("momentum_buffer")]! : undefined;
        const ga = centered ? buffers[at("grad_avg")]! : undefined;
        const a = round(alpha);
        const oneMinusA = round(1 - alpha);
        const epsR = round(eps);
        const mom = round(momentum);
        const negLr = round(-lr);
        for (let i = 0; i < p.length; i++) {
          const g = effectiveGrad(grad[i]!, p[i]!, maximize, weightDecay, round);
          // square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
          sq[i] = round(round(sq[i]! * a) + round(oneMinusA * g) * g);
          let avg: number;
          if (ga !== undefined) {
            // grad_avg.mul_(alpha).add_(grad, alpha=1 - alpha)
            ga[i] = round(round(ga[i]! * a) + oneMinusA * g);
            // square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
            avg = round(Math.sqrt(round(sq[i]! - ga[i]! * ga[i]!)));
          } else {
            avg = round(Math.sqrt(sq[i]!));
          }
          avg = round(avg + epsR);
          if (buf !== undefined) {
            // buf.mul_(momentum).addcdiv_(grad, avg); param.add_(buf, alpha=-lr)
            buf[i] = round(round(buf[i]! * mom) + round(g / avg));
            p[i] = round(p[i]! + negLr * buf[i]!);
          } else {
            // param.addcdiv_(grad, avg, value=-lr)
            p[i] = round(p[i]! + round(round(negLr * g) / avg));
          }
        }
      },
    },
    lr,
  );
}
