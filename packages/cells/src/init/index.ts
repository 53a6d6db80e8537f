// Initialisers: named, composable values that fill a parameter from a shape, a seeded Rng and the
// cell's sizes, and schemes that say which one fills which parameter.
export type { Initializer, InitContext, Nonlinearity } from "./initializer.js";
export { calculateGain, fans } from "./initializer.js";
export {
  pytorchDefault,
  uniform,
  normal,
  normalScaledByHidden,
  zeros,
  ones,
  constant,
  xavierUniform,
  xavierNormal,
  kaimingUniform,
  kaimingNormal,
} from "./initializers.js";
export type { XavierOptions, KaimingOptions } from "./initializers.js";
export { orthogonal, identity, npRnn } from "./structured.js";
export type { OrthogonalOptions, IdentityOptions } from "./structured.js";
export { perGate } from "./per-gate.js";
export { irnnScheme, npRnnScheme, lstmForgetBias } from "./schemes.js";
export type { InitScheme, IrnnOptions } from "./schemes.js";
