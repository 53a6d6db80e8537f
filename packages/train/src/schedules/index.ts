// Learning-rate schedules: pure functions of the step, and PyTorch's ReduceLROnPlateau.
export type { Schedule, StepDecayOptions, ExponentialOptions, CosineWithWarmupOptions } from "./schedule.js";
export { constant, stepDecay, exponential, cosineWithWarmup } from "./schedule.js";
export type { ReduceOnPlateau, ReduceOnPlateauOptions, ReduceOnPlateauState } from "./plateau.js";
export { reduceOnPlateau } from "./plateau.js";
