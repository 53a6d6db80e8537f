// @unroll/cells: recurrent cells as pure step functions, layers that scan them over time,
// initialisers and spectral helpers. Parameters are named and laid out as PyTorch's.

export { GATE_COUNT, inputProjection, stepFromProjection } from "./cells/cell.js";
export type { CellMode, CellWeights, CellState, GateObserver } from "./cells/cell.js";
export { Cell, RNNCell, LSTMCell, GRUCell } from "./cells/cells.js";
export type { CellOptions } from "./cells/cells.js";
export { Recurrent } from "./layers/recurrent.js";
export type { RecurrentOptions, RecurrentParams, RecurrentState, ForwardOptions, ForwardResult, StepResult } from "./layers/recurrent.js";
export { RNN, LSTM, GRU } from "./layers/layers.js";
export { Linear } from "./layers/linear.js";
export type { LinearParams } from "./layers/linear.js";
export { toStateDictJSON, fromStateDictJSON } from "./state-dict.js";
export type { StateDictJSON } from "./state-dict.js";

// Initialisers and schemes as one namespace, as torch.nn.init: `init.orthogonal()`, `init.irnnScheme()`.
export * as init from "./init/index.js";
export type { Initializer, InitContext, InitScheme } from "./init/index.js";

// Float64 spectral helpers for recurrent weights (eigenvalues of W_hh, spectral radius).
export {
  matrix, matrixFromRows, ConvergenceError, qr, symmetricEigen, generalEigenvalues,
  eigenvalues, spectralRadius, symmetricEigenvalues, powerIteration,
} from "./linalg/index.js";
export type {
  Matrix, QR, SymmetricEigen, SymmetricEigenOptions, Eigenvalues, EigenvalueOptions,
  PowerIterationOptions, PowerIterationResult,
} from "./linalg/index.js";
