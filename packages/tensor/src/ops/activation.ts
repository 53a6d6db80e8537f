import { apply, definePrimitive } from "../autodiff/primitive.js";
import type { Tensor } from "../tensor.js";
import { mul } from "./arithmetic.js";
import { greater, less } from "./compare.js";
import { requireFloat } from "./operand.js";

/**
 * `min(max(x, 0), 6)` (MobileNet's activation), PyTorch's `relu6` = `hardtanh(x, 0, 6)`: its
 * gradient passes strictly inside (0, 6), so it is 0 at x = 0 and at x = 6 (where `clamp`'s, as
 * PyTorch's clamp, is 1). ONNX: Clip(x, 0, 6).
 */
export const Relu6 = definePrimitive<readonly [Tensor], readonly [Tensor]>({
  name: "Relu6",
  infer: ([x]) => {
    requireFloat("Relu6", x);
    return [{ shape: x.shape, dtype: x.dtype }];
  },
  kernel: (k, [x], [out]) => k.clamp(x, 0, 6, out),
  vjp: ({ inputs: [x] }, [g]) => [mul(g!, mul(greater(x, 0), less(x, 6)))],
});

/** `min(max(x, 0), 6)`; see `Relu6`. */
export function relu6(x: Tensor): Tensor {
  return apply(Relu6, [x], {})[0];
}
