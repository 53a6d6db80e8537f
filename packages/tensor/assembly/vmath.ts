// Vectorised elementary functions shared by the kernels (f32x4 lanes).

// Vectorised exp (Cephes' expf: Cody-Waite reduction, degree-6 polynomial, 2^k from the exponent
// bits), and the sigmoid and tanh built on it; relative error ~1e-7, about float32's resolution.
//
// Written for what V8 emits on x64: pmin/pmax (one instruction each; min/max with WebAssembly's
// NaN and signed-zero rules take several) clamp the input, with x first so that NaN passes
// through; and k = round(x·log2 e) comes from adding and subtracting 1.5·2^23, whose sum holds k
// in its low mantissa bits, so the integer k is that sum's bits minus the constant's (instead of
// nearest and a saturating conversion, which V8 expands into long sequences).

/** 1.5·2^23: adding it rounds a float in (-2^22, 2^22) to an integer, half to even. */
const ROUNDER: f32 = 12582912.0;

/** x·log2 e + ROUNDER: k = round(x·log2 e) held in the low mantissa bits. */
@inline function roundedK(xc: v128): v128 {
  return f32x4.add(f32x4.mul(xc, f32x4.splat(1.44269504088896341)), f32x4.splat(ROUNDER));
}

/** The integer k from `roundedK`'s result: its bits minus ROUNDER's. */
@inline function integerK(kr: v128): v128 {
  return i32x4.sub(kr, f32x4.splat(ROUNDER));
}

/** exp(x - k ln 2) for the clamped input and `roundedK(xc)`: Cody-Waite reduction and the degree-6 polynomial. */
@inline function reducedExp(xc: v128, kr: v128): v128 {
  const k = f32x4.sub(kr, f32x4.splat(ROUNDER));
  const r = f32x4.sub(f32x4.sub(xc, f32x4.mul(k, f32x4.splat(0.693359375))), f32x4.mul(k, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  return f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), f32x4.splat(1.0));
}

/** exp for inputs clamped to [-87, 88] (the recurrent gates): 2^k as one factor. */
@inline export function vexp(x: v128): v128 {
  const xc = f32x4.pmax(f32x4.pmin(x, f32x4.splat(88.0)), f32x4.splat(-87.0));
  const kr = roundedK(xc);
  const two = i32x4.shl(i32x4.add(integerK(kr), i32x4.splat(127)), 23);
  return f32x4.mul(reducedExp(xc, kr), two);
}

@inline export function vsigmoid(x: v128): v128 {
  return f32x4.div(f32x4.splat(1.0), f32x4.add(f32x4.splat(1.0), vexp(f32x4.neg(x))));
}

@inline export function vtanh(x: v128): v128 {
  return f32x4.sub(f32x4.mul(f32x4.splat(2.0), vsigmoid(f32x4.mul(x, f32x4.splat(2.0)))), f32x4.splat(1.0));
}

/**
 * exp over the whole float32 range, overflow to infinity and subnormal results included: the same
 * reduction and polynomial as `vexp`, but 2^k applied as two factors 2^(k/2)·2^(k-k/2) so that
 * each is a normal float for k in [-151, 128] and the only rounding is the final product's.
 */
@inline export function vexpFull(x: v128): v128 {
  const xc = f32x4.pmax(f32x4.pmin(x, f32x4.splat(88.75)), f32x4.splat(-105.0));
  const kr = roundedK(xc);
  const y = reducedExp(xc, kr);
  const ki = integerK(kr);
  const k1 = i32x4.shr_s(ki, 1);
  const k2 = i32x4.sub(ki, k1);
  const two1 = i32x4.shl(i32x4.add(k1, i32x4.splat(127)), 23);
  const two2 = i32x4.shl(i32x4.add(k2, i32x4.splat(127)), 23);
  return f32x4.mul(f32x4.mul(y, two1), two2);
}

/** The logistic function written so that neither branch overflows: exp of a non-positive number only. */
@inline export function vsigmoidFull(x: v128): v128 {
  const e = vexpFull(f32x4.neg(f32x4.abs(x)));
  const r = f32x4.div(f32x4.splat(1.0), f32x4.add(f32x4.splat(1.0), e));
  return v128.bitselect(r, f32x4.mul(e, r), f32x4.ge(x, f32x4.splat(0.0)));
}

/** tanh with float32's relative accuracy near 0 (Cephes' tanhf: an odd polynomial below 0.625). */
@inline export function vtanhFull(x: v128): v128 {
  const a = f32x4.abs(x);
  const z = f32x4.mul(x, x);
  let p = f32x4.splat(-5.70498872745e-3);
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(2.06390887954e-2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(-5.37397155531e-2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(1.33314422036e-1));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(-3.33332819422e-1));
  const small = f32x4.add(f32x4.mul(f32x4.mul(p, z), x), x);
  const big = f32x4.sub(f32x4.splat(1.0), f32x4.div(f32x4.splat(2.0), f32x4.add(vexpFull(f32x4.add(a, a)), f32x4.splat(1.0))));
  // copy the sign of x onto the large-|x| branch
  const signed = v128.or(big, v128.and(x, f32x4.splat(-0.0)));
  return v128.bitselect(signed, small, f32x4.ge(a, f32x4.splat(0.625)));
}
