// Dense float64 linear algebra for initialisers and spectral checks of recurrent weights.
export type { Matrix } from "./matrix.js";
export { matrix, matrixFromRows } from "./matrix.js";
export { ConvergenceError } from "./errors.js";
export { qr } from "./qr.js";
export type { QR } from "./qr.js";
export { symmetricEigen } from "./symmetric-eigen.js";
export type { SymmetricEigen, SymmetricEigenOptions } from "./symmetric-eigen.js";
export { generalEigenvalues } from "./eigen.js";
export type { Eigenvalues, EigenvalueOptions } from "./eigen.js";
export { eigenvalues, spectralRadius, symmetricEigenvalues, powerIteration } from "./spectral.js";
export type { PowerIterationOptions, PowerIterationResult } from "./spectral.js";
