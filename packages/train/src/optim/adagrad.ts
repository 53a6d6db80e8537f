import { checkSetting, effectiveGrad, type Optimizer, RuleOptimizer } from "./optimizer.js";

export interface AdagradOptions {
  readonly lr?: number;
  /** The step size decays as lr / (1 + (t - 1) * lrDecay). */
  readonly lrDecay?: number;
  /** L2 penalty, added to the gradient. */
  readonly weightDecay?: number;
  /** The sum of squares starts from this value. */
  readonly initialAccumulatorValue?: number;
  readonly eps?: number;
  readonly maximize?: boolean;
}

/**
 * Adagrad as PyTorch 1.13's `torch.optim.Adagrad` (`_single_tensor_adagrad`, dense gradients),
 * defaults lr 1e-2, eps 1e-10; with t the step count (1 on the first step):
 *
 *     g = maximize ? -grad : grad;   g += weightDecay * p
 *     clr = lr / (1 + (t - 1) * lrDecay)
 *     s += g * g                                   sum (starts at initialAccumulatorValue)
 *     p -= clr * g / (sqrt(s) + eps)
 *
 * The accumulator never decays and there is no momentum, so this is its own rule rather than a
 * setting of RMSprop's (whose `alpha * s + (1 - alpha) * g * g` with alpha = 1 would not add).
 */
export function adagrad(options: AdagradOptions = {}): Optimizer {
  const { lr = 1e-2, lrDecay = 0, weightDecay = 0, initialAccumulatorValue = 0, eps = 1e-10, maximize = false } = options;
  const name = "adagrad";
  checkSetting(name, lrDecay >= 0, `lrDecay must be >= 0, got ${lrDecay}`);
  checkSetting(name, weightDecay >= 0, `weightDecay must be >= 0, got ${weightDecay}`);
  checkSetting(name, initialAccumulatorValue >= 0, `initialAccumulatorValue must be >= 0, got ${initialAccumulatorValue}`);
  checkSetting(name, eps >= 0, `eps must be >= 0, got ${eps}`);
  return new RuleOptimizer(
    {
      name,
      hyper: { lrDecay, weightDecay, initialAccumulatorValue, eps, maximize },
      buffers: [{ name: "sum", init: initialAccumulatorValue }],
      update(p, grad, [sum], { step, lr, round }) {
        const negClr = round(-(lr / (1 + (step - 1) * lrDecay)));
        const epsR = round(eps);
        for (let i = 0; i < p.length; i++) {
          const g = effectiveGrad(grad[i]!, p[i]!, maximize, weightDecay, round);
          // state_sum.addcmul_(grad, grad, value=1): fused.
          sum![i] = round(sum![i]! + g * g);
          // std = state_sum.sqrt().add_(eps); param.addcdiv_(grad, std, value=-clr)
          const std = round(round(Math.sqrt(sum![i]!)) + epsR);
          p[i] = round(p[i]! + round(round(negClr * g) / std));
        }
      },
    },
    lr,
  );
}
