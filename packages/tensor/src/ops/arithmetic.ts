import { apply, definePrimitive, type Primitive } from "../autodiff/primitive.js";
import type { ArithmeticOp } from "../backend/kernels.js";
import { broadcastShapes } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { operands, requireFloat, type TensorLike } from "./operand.js";
import { sumTo } from "./reduce.js";
import { log, neg } from "./unary.js";

type Binary = Primitive<readonly [Tensor, Tensor], readonly [Tensor], Record<string, never>>;

function arithmetic(
  name: string,
  op: ArithmeticOp,
  floatOnly: boolean,
  vjp: NonNullable<Binary["vjp"]>,
): Binary {
  return definePrimitive({
    name,
    infer: ([a, b]) => {
      if (floatOnly) {
        requireFloat(name, a, "first operand");
        requireFloat(name, b, "second operand");
      }
      return [{ shape: broadcastShapes(name, a.shape, b.shape), dtype: a.dtype }];
    },
    kernel: (k, [a, b], [out]) => k.binary(op, a, b, out),
    vjp,
  });
}

export const Add = arithmetic("Add", "add", false, ({ inputs: [a, b] }, [g], needed) => [
  needed[0] ? sumTo(g!, a.shape) : null,
  needed[1] ? sumTo(g!, b.shape) : null,
]);

export const Sub = arithmetic("Sub", "sub", false, ({ inputs: [a, b] }, [g], needed) => [
  needed[0] ? sumTo(g!, a.shape) : null,
  needed[1] ? sumTo(neg(g!), b.shape) : null,
]);

export const Mul = arithmetic("Mul", "mul", false, ({ inputs: [a, b] }, [g], needed) => [
  needed[0] ? sumTo(mul(g!, b), a.shape) : null,
  needed[1] ? sumTo(mul(g!, a), b.shape) : null,
]);

// out = a / b: da = g / b, db = -g * a / b^2 = -g * out / b
export const Div = arithmetic("Div", "div", true, ({ inputs: [a, b], outputs: [out] }, [g], needed) => [
  needed[0] ? sumTo(div(g!, b), a.shape) : null,
  needed[1] ? sumTo(neg(div(mul(g!, out), b)), b.shape) : null,
]);

// out = a^b: da = g * b * a^(b-1), db = g * out * log(a)
export const Pow = arithmetic("Pow", "pow", true, ({ inputs: [a, b], outputs: [out] }, [g], needed) => [
  needed[0] ? sumTo(mul(g!, mul(b, pow(a, sub(b, 1)))), a.shape) : null,
  needed[1] ? sumTo(mul(g!, mul(out, log(a))), b.shape) : null,
]);

const NO_ATTRS: Record<string, never> = {};

/** `a + b`, NumPy broadcasting. */
export function add(a: TensorLike, b: TensorLike): Tensor {
  return apply(Add, operands("Add", a, b), NO_ATTRS)[0];
}

/** `a - b`, NumPy broadcasting. */
export function sub(a: TensorLike, b: TensorLike): Tensor {
  return apply(Sub, operands("Sub", a, b), NO_ATTRS)[0];
}

/** `a * b` elementwise, NumPy broadcasting. */
export function mul(a: TensorLike, b: TensorLike): Tensor {
  return apply(Mul, operands("Mul", a, b), NO_ATTRS)[0];
}

/** `a / b` elementwise, NumPy broadcasting. */
export function div(a: TensorLike, b: TensorLike): Tensor {
  return apply(Div, operands("Div", a, b), NO_ATTRS)[0];
}

/** `a ** b` elementwise, NumPy broadcasting. */
export function pow(a: TensorLike, b: TensorLike): Tensor {
  return apply(Pow, operands("Pow", a, b), NO_ATTRS)[0];
}
