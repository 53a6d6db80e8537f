import { apply, definePrimitive } from "../autodiff/primitive.js";
import { broadcastShapes } from "../shape.js";
import { isTensor, type Tensor } from "../tensor.js";
import { operands, type TensorLike } from "./operand.js";
import { sumTo } from "./reduce.js";

// out = cond ? a : b; the gradient flows to a where cond holds and to b elsewhere.
export const Where = definePrimitive<readonly [Tensor, Tensor, Tensor], readonly [Tensor]>({
  name: "Where",
  infer: ([cond, a, b]) => [
    { shape: broadcastShapes("Where", cond.shape, broadcastShapes("Where", a.shape, b.shape)), dtype: a.dtype },
  ],
  kernel: (k, [cond, a, b], [out]) => k.where(cond, a, b, out),
  vjp: ({ inputs: [cond, a, b] }, [g], needed) => [
    null,
    needed[1] ? sumTo(where(cond, g!, 0), a.shape) : null,
    needed[2] ? sumTo(where(cond, 0, g!), b.shape) : null,
  ],
});

/** `cond != 0 ? a : b` elementwise; `cond` is a mask of any dtype, all three broadcast. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  if (!isTensor(cond)) throw new TypeError("where: cond must be a tensor (a mask)");
  const [x, y] = operands("Where", a, b);
  return apply(Where, [cond, x, y], {})[0];
}
