// Optimisers following PyTorch 1.13's single-tensor update formulas, operation for operation.
export type { Optimizer, OptimizerState } from "./optimizer.js";
export { OptimizerError } from "./optimizer.js";
export { sgd } from "./sgd.js";
export type { SgdOptions } from "./sgd.js";
export { adam, adamw } from "./adam.js";
export type { AdamOptions } from "./adam.js";
export { rmsprop } from "./rmsprop.js";
export type { RmspropOptions } from "./rmsprop.js";
export { adagrad } from "./adagrad.js";
export type { AdagradOptions } from "./adagrad.js";
