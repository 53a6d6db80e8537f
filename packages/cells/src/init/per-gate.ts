import { formatShape, type Shape, ShapeError, sizeOf, Tensor } from "@unroll/tensor";
import { assertContext, type Initializer } from "./initializer.js";

/**
 * Initialises each gate block on its own. Cells stack their gates along the first axis (PyTorch's
 * layout: LSTM i,f,g,o; GRU r,z,n), so a `[gates*H, ...]` parameter is split into `context.gates`
 * blocks `[H, ...]`, block k is filled by `inits[k]` (or by `inits` itself when it is a single
 * initialiser) and the blocks are stacked back. Fans, squareness and so on are those of one block:
 * `perGate(orthogonal())` makes every H x H block of W_hh orthogonal, and
 * `perGate([zeros(), constant(1), zeros(), zeros()])` is an LSTM bias whose forget gate starts at 1.
 * Blocks draw from `rng` in order, so a seed reproduces the whole parameter.
 */
export function perGate(inits: Initializer | readonly Initializer[]): Initializer {
  const list = isList(inits) ? [...inits] : undefined;
  const name = list ? `perGate([${list.map((i) => i.name).join(", ")}])` : `perGate(${(inits as Initializer).name})`;
  return {
    name,
    init: (shape, rng, context) => {
      assertContext("perGate", context);
      const { gates } = context;
      if (list && list.length !== gates) {
        throw new ShapeError("perGate", `${list.length} initialisers for ${gates} gate blocks; give one per gate or a single one for all`);
      }
      if (shape.length < 1 || shape[0]! % gates !== 0) {
        throw new ShapeError(
          "perGate",
          `shape ${formatShape(shape)} does not split into ${gates} gate blocks along its first axis`,
        );
      }
      const block: Shape = [shape[0]! / gates, ...shape.slice(1)];
      const blockSize = sizeOf(block);
      const out = new Float32Array(sizeOf(shape));
      for (let k = 0; k < gates; k++) {
        const init = list ? list[k]! : (inits as Initializer);
        const part = init.init(block, rng, context);
        if (part.size !== blockSize) {
          throw new ShapeError(
            "perGate",
            `${init.name} returned shape ${formatShape(part.shape)} for gate block ${k}, expected ${formatShape(block)}`,
          );
        }
        out.set(part.data, k * blockSize); // blocks are contiguous in row-major order
      }
      return new Tensor(out, shape);
    },
  };
}

function isList(inits: Initializer | readonly Initializer[]): inits is readonly Initializer[] {
  return Array.isArray(inits);
}
