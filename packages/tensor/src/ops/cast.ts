import { apply, definePrimitive } from "../autodiff/primitive.js";
import { type DType, isFloat } from "../dtype.js";
import { ValueRangeError } from "../errors.js";
import type { Tensor } from "../tensor.js";
import { identity } from "./layout.js";

export const Cast = definePrimitive<readonly [Tensor], readonly [Tensor], { readonly dtype: DType }>({
  name: "Cast",
  infer: ([x], { dtype }) => {
    if (dtype === "int32" && isFloat(x.dtype)) {
      for (let i = 0; i < x.size; i++) {
        const v = x.data[i]!;
        if (!Number.isFinite(v) || Math.abs(v) > 2147483647) {
          throw new ValueRangeError("Cast", `value ${v} at index ${i} does not fit int32`);
        }
      }
    }
    return [{ shape: x.shape, dtype }];
  },
  kernel: (k, [x], [out]) => k.cast(x, out),
  vjp: ({ inputs: [x] }, [g]) => [isFloat(x.dtype) ? cast(g!, x.dtype) : null],
});

/** Converts to another dtype (float to int32 truncates toward zero; non-finite values are refused). */
export function cast(x: Tensor, dtype: DType): Tensor {
  return x.dtype === dtype ? identity(x) : apply(Cast, [x], { dtype })[0];
}

// No vjp: gradients stop here. Traces still record it, so an exported graph keeps the data flow.
export const StopGradient = definePrimitive<readonly [Tensor], readonly [Tensor]>({
  name: "StopGradient",
  infer: ([x]) => [{ shape: x.shape, dtype: x.dtype }],
  kernel: (_k, [x], [out]) => out.data.set(x.data),
});

/**
 * The same values with no gradient path back: what truncated BPTT does to the state it carries
 * into the next window. Returns a copy, never an alias.
 */
export function detach(x: Tensor): Tensor {
  return apply(StopGradient, [x], {})[0];
}
