// Which initialiser fills which parameter of a cell. A scheme is a plain object, so presets
// combine by spreading: `{ ...irnnScheme(), weightIH: xavierUniform() }`.
import { type Initializer, normal, normalScaledByHidden, zeros, constant } from "./initializers.js";
import { perGate } from "./per-gate.js";
import { identity, npRnn } from "./structured.js";

/**
 * Initialisers for a cell's parameters, named as `CellWeights`; a parameter left out gets
 * `pytorchDefault()`, U(-1/√H, 1/√H), as in PyTorch.
 */
export interface InitScheme {
  readonly weightIH?: Initializer;
  readonly weightHH?: Initializer;
  readonly biasIH?: Initializer;
  readonly biasHH?: Initializer;
  readonly weightCH?: Initializer;
}

export interface IrnnOptions {
  /** Scale of the identity recurrent weight (default 1). */
  readonly scale?: number;
}

/**
 * IRNN (Le, Jaitly & Hinton 2015), for a relu RNN: W_hh = scale·I, zero biases, and input
 * weights N(0, 0.001²), the paper's "small random" input weights.
 */
export function irnnScheme({ scale = 1 }: IrnnOptions = {}): InitScheme {
  return { weightIH: normal(0, 0.001), weightHH: identity({ scale }), biasIH: zeros(), biasHH: zeros() };
}

/**
 * np-RNN (Talathi & Vartak 2016), for a relu RNN: W_hh = npRnn() (symmetric positive definite,
 * largest eigenvalue 1), zero biases and input weights N(0, 1/H), i.e. std 1/√H.
 */
export function npRnnScheme(): InitScheme {
  return { weightIH: normalScaledByHidden(), weightHH: npRnn(), biasIH: zeros(), biasHH: zeros() };
}

/**
 * The LSTM forget-gate bias trick (Gers et al. 2000; Jozefowicz et al. 2015): start the forget
 * gate at `value` so that the cell remembers by default. PyTorch adds b_ih and b_hh, so only b_ih
 * carries it (gate order i,f,g,o) and b_hh is zero. A fragment to spread into a scheme.
 */
export function lstmForgetBias(value = 1): Pick<InitScheme, "biasIH" | "biasHH"> {
  return { biasIH: perGate([zeros(), constant(value), zeros(), zeros()]), biasHH: zeros() };
}
