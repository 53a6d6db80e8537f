import { getKernels } from "@unroll/tensor";
import { checkSetting, effectiveGrad, type Optimizer, RuleOptimizer } from "./optimizer.js";

export interface AdamOptions {
  readonly lr?: number;
  readonly betas?: readonly [number, number];
  readonly eps?: number;
  /** Adam: L2 penalty added to the gradient. AdamW: decoupled decay of the parameters. */
  readonly weightDecay?: number;
  readonly amsgrad?: boolean;
  readonly maximize?: boolean;
}

/**
 * Adam (`torch.optim.Adam`, L2 weight decay) with defaults lr 1e-3, betas [0.9, 0.999], eps 1e-8,
 * weightDecay 0.
 */
export function adam(options: AdamOptions = {}): Optimizer {
  return adamFamily("adam", false, { weightDecay: 0, ...options });
}

/**
 * AdamW (`torch.optim.AdamW`, decoupled weight decay, Loshchilov & Hutter): as Adam, but instead of
 * adding `weightDecay * p` to the gradient it first shrinks the parameter, `p *= 1 - lr * weightDecay`.
 * Defaults as Adam's except weightDecay 1e-2.
 */
export function adamw(options: AdamOptions = {}): Optimizer {
  return adamFamily("adamw", true, { weightDecay: 1e-2, ...options });
}

/**
 * Adam and AdamW are one rule that differs only in where weight decay enters, as PyTorch 1.13's
 * `_single_tensor_adam` and `_single_tensor_adamw` are line for line the same otherwise. With
 * t the step count (1 on the first step):
 *
 *     g = maximize ? -grad : grad
 *     decoupled ? p *= 1 - lr * wd : g += wd * p
 *     m = beta1 * m + (1 - beta1) * g                    exp_avg
 *     v = beta2 * v + (1 - beta2) * g * g                exp_avg_sq
 *     vmax = max(vmax, v); use vmax for v               (amsgrad: max_exp_avg_sq)
 *     denom = sqrt(v) / sqrt(1 - beta2^t) + eps
 *     p += (-lr / (1 - beta1^t)) * m / denom
 *
 * The scalar factors are computed in float64 as Python does and then rounded to the parameter's
 * precision, as PyTorch converts Python scalars to the tensor's dtype.
 */
function adamFamily(name: "adam" | "adamw", decoupled: boolean, options: AdamOptions): Optimizer {
  const { lr = 1e-3, betas = [0.9, 0.999], eps = 1e-8, weightDecay = 0, amsgrad = false, maximize = false } = options;
  const [beta1, beta2] = betas;
  checkSetting(name, eps >= 0, `eps must be >= 0, got ${eps}`);
  checkSetting(name, beta1 >= 0 && beta1 < 1, `betas[0] must be in [0, 1), got ${beta1}`);
  checkSetting(name, beta2 >= 0 && beta2 < 1, `betas[1] must be in [0, 1), got ${beta2}`);
  checkSetting(name, weightDecay >= 0, `weightDecay must be >= 0, got ${weightDecay}`);
  const buffers = [
    { name: "exp_avg", init: 0 },
    { name: "exp_avg_sq", init: 0 },
    ...(amsgrad ? [{ name: "max_exp_avg_sq", init: 0 }] : []),
  ];
  return new RuleOptimizer(
    {
      name,
      hyper: { beta1, beta2, eps, weightDecay, amsgrad, maximize },
      buffers,
      update(p, grad, [m, v, vmax], { step, lr, round }) {
        const b1 = round(beta1);
        const b2 = round(beta2);
        const oneMinusB1 = round(1 - beta1);
        const oneMinusB2 = round(1 - beta2);
        const shrink = round(1 - lr * weightDecay);
        const l2 = decoupled ? 0 : weightDecay;
        const bc2Sqrt = round(Math.sqrt(1 - beta2 ** step));
        const negStepSize = round(-(lr / (1 - beta1 ** step)));
        const epsR = round(eps);
        // The kernel table's fused pass where it has one (WebAssembly): the same arithmetic in
        // float32 lanes, bitwise equal to the loop below, which remains the oracle.
        const fused = getKernels().adamUpdate;
        if (fused && p instanceof Float32Array && vmax === undefined && !maximize && l2 === 0) {
          const scalars = { beta1: b1, oneMinusBeta1: oneMinusB1, beta2: b2, oneMinusBeta2: oneMinusB2, bias2Sqrt: bc2Sqrt, negStepSize, eps: epsR, shrink };
          fused(p, grad as Float32Array, m as Float32Array, v as Float32Array, scalars);
          return;
        }
        for (let i = 0; i < p.length; i++) {
          const g = effectiveGrad(grad[i]!, p[i]!, maximize, l2, round);
          // param.mul_(1 - lr * weight_decay)
          if (decoupled) p[i] = round(p[i]! * shrink);
          // exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1): the add is a fused multiply-add.
          m![i] = round(round(m![i]! * b1) + oneMinusB1 * g);
          // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2): value*t1 is rounded,
          // its product with t2 fuses with the add.
          v![i] = round(round(v![i]! * b2) + round(oneMinusB2 * g) * g);
          let second = v![i]!;
          if (vmax !== undefined) {
            vmax[i] = Math.max(vmax[i]!, second);
            second = vmax[i]!;
          }
          // denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
          const denom = round(round(round(Math.sqrt(second)) / bc2Sqrt) + epsR);
          // param.addcdiv_(exp_avg, denom, value=-step_size): (value * t1) / t2, then the add.
          p[i] = round(p[i]! + round(round(negStepSize * m![i]!) / denom));
        }
      },
    },
    lr,
  );
}
