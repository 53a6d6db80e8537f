// Optimiser updates fused into one pass over a parameter: the elementwise chain of an Adam step
// (about a dozen operations per element, each rounded as PyTorch rounds it) read and written once.

@inline function lo(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}

@inline function hi(v: v128): v128 {
  return f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1));
}

/** Rounds two f64x2 halves back to one f32x4. */
@inline function join(a: v128, b: v128): v128 {
  return i32x4.shuffle(f32x4.demote_f64x2_zero(a), f32x4.demote_f64x2_zero(b), 0, 1, 4, 5);
}

/**
 * One Adam/AdamW step of n f32 values in place (p, m, v; g read), in the order of operations of
 * PyTorch 1.13's `_single_tensor_adam(w)` as @unroll/train's update loop writes it: the two moment
 * updates add an exact f32 x f32 product in f64 and round once (PyTorch's fused multiply-add), every
 * other operation is an f32 operation. `shrink` is AdamW's 1 - lr·wd (1 for Adam).
 */
export function adamF32(
  p: usize, g: usize, m: usize, v: usize, n: i32,
  beta1: f32, oneMinusBeta1: f32, beta2: f32, oneMinusBeta2: f32, bias2Sqrt: f32, negStepSize: f32, eps: f32, shrink: f32,
): void {
  const b1 = f32x4.splat(beta1);
  const c1 = f64x2.splat(<f64>oneMinusBeta1);
  const b2 = f32x4.splat(beta2);
  const c2 = f32x4.splat(oneMinusBeta2);
  const bc = f32x4.splat(bias2Sqrt);
  const step = f32x4.splat(negStepSize);
  const e = f32x4.splat(eps);
  const s = f32x4.splat(shrink);
  for (let i = 0; i < n; i += 4) {
    const at = <usize>i << 2;
    const grad = v128.load(g + at);
    // exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
    const mb = f32x4.mul(v128.load(m + at), b1);
    const mNew = join(f64x2.add(lo(mb), f64x2.mul(c1, lo(grad))), f64x2.add(hi(mb), f64x2.mul(c1, hi(grad))));
    // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    const vb = f32x4.mul(v128.load(v + at), b2);
    const t = f32x4.mul(c2, grad);
    const vNew = join(f64x2.add(lo(vb), f64x2.mul(lo(t), lo(grad))), f64x2.add(hi(vb), f64x2.mul(hi(t), hi(grad))));
    // denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps); param.addcdiv_(exp_avg, denom, value=-step_size)
    const denom = f32x4.add(f32x4.div(f32x4.sqrt(vNew), bc), e);
    const pNew = f32x4.add(f32x4.mul(v128.load(p + at), s), f32x4.div(f32x4.mul(step, mNew), denom));
    v128.store(m + at, mNew);
    v128.store(v + at, vNew);
    v128.store(p + at, pNew);
  }
}
