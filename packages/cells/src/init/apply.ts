import type { Rng, Tensor } from "@unroll/tensor";
import { type CellMode, type CellWeights, GATE_COUNT } from "../cells/cell.js";
import { type Initializer, pytorchDefault } from "./initializers.js";
import type { InitScheme } from "./schemes.js";

export type { InitScheme };

/**
 * Draws one cell's weights, in PyTorch's parameter order (weight_ih, weight_hh, bias_ih,
 * bias_hh, then weight_ch), each from the scheme's initialiser or PyTorch's default.
 */
export function initializeCell(
  rng: Rng,
  scheme: InitScheme,
  sizes: { mode: CellMode; inputSize: number; hiddenSize: number; bias: boolean; conditionSize?: number | undefined },
): CellWeights {
  const gates = GATE_COUNT[sizes.mode];
  const gH = gates * sizes.hiddenSize;
  const context = { hiddenSize: sizes.hiddenSize, gates };
  const draw = (init: Initializer | undefined, shape: number[]): Tensor => (init ?? pytorchDefault()).init(shape, rng, context);
  const weightIH = draw(scheme.weightIH, [gH, sizes.inputSize]);
  const weightHH = draw(scheme.weightHH, [gH, sizes.hiddenSize]);
  const biasIH = sizes.bias ? draw(scheme.biasIH, [gH]) : null;
  const biasHH = sizes.bias ? draw(scheme.biasHH, [gH]) : null;
  const weightCH = sizes.conditionSize !== undefined ? draw(scheme.weightCH, [gH, sizes.conditionSize]) : null;
  return { weightIH, weightHH, biasIH, biasHH, weightCH };
}
