import { apply, definePrimitive } from "../autodiff/primitive.js";
import { normalizeAxis } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { mul, sub } from "./arithmetic.js";
import { requireFloat } from "./operand.js";
import { sum } from "./reduce.js";
import { exp } from "./unary.js";

// y = softmax(x): dx = y * (g - sum(g * y))
export const Softmax = definePrimitive<readonly [Tensor], readonly [Tensor], { readonly axis: number }>({
  name: "Softmax",
  infer: ([x]) => {
    requireFloat("Softmax", x);
    return [{ shape: x.shape, dtype: x.dtype }];
  },
  kernel: (k, [x], [out], { axis }) => k.softmax(x, axis, out),
  vjp: ({ outputs: [y], attrs: { axis } }, [g]) => [mul(y, sub(g!, sum(mul(g!, y), axis, true)))],
});

// y = log softmax(x): dx = g - exp(y) * sum(g)
export const LogSoftmax = definePrimitive<readonly [Tensor], readonly [Tensor], { readonly axis: number }>({
  name: "LogSoftmax",
  infer: ([x]) => {
    requireFloat("LogSoftmax", x);
    return [{ shape: x.shape, dtype: x.dtype }];
  },
  kernel: (k, [x], [out], { axis }) => k.logSoftmax(x, axis, out),
  vjp: ({ outputs: [y], attrs: { axis } }, [g]) => [sub(g!, mul(exp(y), sum(g!, axis, true)))],
});

/** `exp(x) / sum(exp(x))` along `axis`, computed stably. */
export function softmax(x: Tensor, axis = -1): Tensor {
  return apply(Softmax, [x], { axis: normalizeAxis("Softmax", axis, x.rank) })[0];
}

/** `x - logsumexp(x)` along `axis`, computed stably. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return apply(LogSoftmax, [x], { axis: normalizeAxis("LogSoftmax", axis, x.rank) })[0];
}
