import { apply, definePrimitive } from "../autodiff/primitive.js";
import { DTypeError, ShapeError } from "../errors.js";
import { broadcastShapes, formatShape } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { requireFloat } from "./operand.js";
import { sumTo } from "./reduce.js";

interface MatMulAttrs {
  readonly transA: boolean;
  readonly transB: boolean;
}

/**
 * Batched matrix product of the last two axes, `op(a) · op(b)` with `op` an optional transpose,
 * batch axes broadcast. Each cotangent is itself one matmul with transpose flags, so backward runs
 * the same kernel with no materialised transposes:
 *   C = A B     -> dA = G Bᵀ,    dB = Aᵀ G
 *   C = A Bᵀ    -> dA = G B,     dB = Gᵀ A
 *   C = Aᵀ B    -> dA = B Gᵀ,    dB = A G
 *   C = Aᵀ Bᵀ   -> dA = Bᵀ Gᵀ,   dB = Gᵀ Aᵀ
 */
export const MatMul = definePrimitive<readonly [Tensor, Tensor], readonly [Tensor], MatMulAttrs>({
  name: "MatMul",
  infer: ([a, b], { transA, transB }) => {
    requireFloat("MatMul", a, "a");
    requireFloat("MatMul", b, "b");
    if (a.dtype !== b.dtype) throw new DTypeError("MatMul", `operands have different dtypes (${a.dtype} and ${b.dtype})`);
    if (a.rank < 2 || b.rank < 2) {
      throw new ShapeError(
        "MatMul",
        `operands must have rank >= 2, got a ${formatShape(a.shape)} and b ${formatShape(b.shape)}; reshape vectors to [1,n] or [n,1]`,
      );
    }
    const [ar, ac] = a.shape.slice(-2) as [number, number];
    const [br, bc] = b.shape.slice(-2) as [number, number];
    const [M, Ka] = transA ? [ac, ar] : [ar, ac];
    const [Kb, N] = transB ? [bc, br] : [br, bc];
    if (Ka !== Kb) {
      throw new ShapeError(
        "MatMul",
        `inner dimensions differ: a ${formatShape(a.shape)}${transA ? "ᵀ" : ""} has ${Ka} columns, b ${formatShape(b.shape)}${transB ? "ᵀ" : ""} has ${Kb} rows`,
      );
    }
    const batch = broadcastShapes("MatMul", a.shape.slice(0, -2), b.shape.slice(0, -2));
    return [{ shape: [...batch, M, N], dtype: a.dtype }];
  },
  kernel: (k, [a, b], [out], { transA, transB }) => k.matmul(a, b, out, transA, transB),
  vjp: ({ inputs: [a, b], attrs: { transA, transB } }, [g], needed) => {
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (needed[0]) {
      da = transA
        ? matmul(b, g!, { transA: transB, transB: true })
        : matmul(g!, b, { transB: !transB });
      da = sumTo(da, a.shape);
    }
    if (needed[1]) {
      db = transB
        ? matmul(g!, a, { transA: true, transB: transA })
        : matmul(a, g!, { transA: !transA });
      db = sumTo(db, b.shape);
    }
    return [da, db];
  },
});

/** Matrix product `op(a) · op(b)`; see `MatMul`. */
export function matmul(a: Tensor, b: Tensor, options: { transA?: boolean; transB?: boolean } = {}): Tensor {
  return apply(MatMul, [a, b], { transA: options.transA ?? false, transB: options.transB ?? false })[0];
}
