import { TensorError } from "@unroll/tensor";

/**
 * An iterative method (Jacobi sweeps, Hessenberg QR) that hit its iteration limit before meeting
 * its tolerance. Raised instead of returning numbers that merely look like an answer.
 */
export class ConvergenceError extends TensorError {
  constructor(op: string, message: string) {
    super(op, message);
    this.name = "ConvergenceError";
  }
}
