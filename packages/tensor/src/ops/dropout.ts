import { ValueRangeError } from "../errors.js";
import type { Rng } from "../random/rng.js";
import type { Tensor } from "../tensor.js";
import { mul } from "./arithmetic.js";
import { identity } from "./layout.js";
import { requireFloat } from "./operand.js";

/**
 * Inverted dropout: zeroes each element with probability `p` and scales the rest by 1/(1-p), so
 * evaluation needs no rescaling. The mask comes from `rng`, so a seeded run drops the same units
 * every time; the gradient is the same mask (a multiplication).
 */
export function dropout(x: Tensor, p: number, rng: Rng): Tensor {
  requireFloat("Dropout", x);
  if (!(p >= 0 && p <= 1)) throw new ValueRangeError("Dropout", `probability must be in [0, 1], got ${p}`);
  if (p === 0) return identity(x);
  const dtype = x.dtype as "float32" | "float64";
  const keep = rng.bernoulli(x.shape, 1 - p, dtype);
  // The scale as an operation, not a loop over the mask: a traced graph that takes the mask as an
  // input (a compiled training step) scales it too.
  return mul(x, p < 1 ? mul(keep, 1 / (1 - p)) : keep);
}
