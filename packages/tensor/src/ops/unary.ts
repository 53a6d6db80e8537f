import { apply, definePrimitive, type Primitive } from "../autodiff/primitive.js";
import type { UnaryOp } from "../backend/kernels.js";
import { ValueRangeError } from "../errors.js";
import type { Tensor } from "../tensor.js";
import { mul, div, sub } from "./arithmetic.js";
import { greater, greaterEqual, lessEqual } from "./compare.js";
import { requireFloat } from "./operand.js";

type Unary<A = Record<string, never>> = Primitive<readonly [Tensor], readonly [Tensor], A>;

function unaryPrimitive(name: string, op: UnaryOp, vjp: Unary["vjp"], floatOnly = true): Unary {
  return definePrimitive({
    name,
    infer: ([x]) => {
      if (floatOnly) requireFloat(name, x);
      return [{ shape: x.shape, dtype: x.dtype }];
    },
    kernel: (k, [x], [out]) => k.unary(op, x, out),
    ...(vjp ? { vjp } : {}),
  });
}

export const Neg = unaryPrimitive("Neg", "neg", (_, [g]) => [neg(g!)], false);
export const Exp = unaryPrimitive("Exp", "exp", ({ outputs: [y] }, [g]) => [mul(g!, y)]);
export const Log = unaryPrimitive("Log", "log", ({ inputs: [x] }, [g]) => [div(g!, x)]);
// y = sqrt(x): dx = g / (2y)
export const Sqrt = unaryPrimitive("Sqrt", "sqrt", ({ outputs: [y] }, [g]) => [div(g!, mul(y, 2))]);
// y = tanh(x): dx = g (1 - y^2)
export const Tanh = unaryPrimitive("Tanh", "tanh", ({ outputs: [y] }, [g]) => [mul(g!, sub(1, mul(y, y)))]);
// y = sigmoid(x): dx = g y (1 - y)
export const Sigmoid = unaryPrimitive("Sigmoid", "sigmoid", ({ outputs: [y] }, [g]) => [mul(g!, mul(y, sub(1, y)))]);
// The derivative at 0 is taken as 0, as PyTorch does.
export const Relu = unaryPrimitive("Relu", "relu", ({ inputs: [x] }, [g]) => [mul(g!, greater(x, 0))]);
export const Abs = unaryPrimitive("Abs", "abs", ({ inputs: [x] }, [g]) => [mul(g!, sign(x))], false);
export const Sign = unaryPrimitive("Sign", "sign", undefined, false);

const NO_ATTRS: Record<string, never> = {};

export function neg(x: Tensor): Tensor {
  return apply(Neg, [x], NO_ATTRS)[0];
}
export function exp(x: Tensor): Tensor {
  return apply(Exp, [x], NO_ATTRS)[0];
}
export function log(x: Tensor): Tensor {
  return apply(Log, [x], NO_ATTRS)[0];
}
export function sqrt(x: Tensor): Tensor {
  return apply(Sqrt, [x], NO_ATTRS)[0];
}
export function tanh(x: Tensor): Tensor {
  return apply(Tanh, [x], NO_ATTRS)[0];
}
export function sigmoid(x: Tensor): Tensor {
  return apply(Sigmoid, [x], NO_ATTRS)[0];
}
export function relu(x: Tensor): Tensor {
  return apply(Relu, [x], NO_ATTRS)[0];
}
export function abs(x: Tensor): Tensor {
  return apply(Abs, [x], NO_ATTRS)[0];
}
/** -1, 0 or 1 by the sign of each element (not differentiable: its derivative is 0). */
export function sign(x: Tensor): Tensor {
  return apply(Sign, [x], NO_ATTRS)[0];
}

interface ClampAttrs {
  readonly min: number;
  readonly max: number;
}

// Gradient passes where min <= x <= max (bounds included, as PyTorch).
export const Clamp: Unary<ClampAttrs> = definePrimitive<readonly [Tensor], readonly [Tensor], ClampAttrs>({
  name: "Clamp",
  infer: ([x], { min, max }) => {
    requireFloat("Clamp", x);
    if (!(min <= max)) throw new ValueRangeError("Clamp", `min (${min}) must be <= max (${max})`);
    return [{ shape: x.shape, dtype: x.dtype }];
  },
  kernel: (k, [x], [out], { min, max }) => k.clamp(x, min, max, out),
  vjp: ({ inputs: [x], attrs: { min, max } }, [g]) => {
    let d = g!;
    if (min > -Infinity) d = mul(d, greaterEqual(x, min));
    if (max < Infinity) d = mul(d, lessEqual(x, max));
    return [d];
  },
});

/** Limits each element to `[min, max]`; either bound may be omitted. */
export function clamp(x: Tensor, bounds: { min?: number; max?: number }): Tensor {
  return apply(Clamp, [x], { min: bounds.min ?? -Infinity, max: bounds.max ?? Infinity })[0];
}
