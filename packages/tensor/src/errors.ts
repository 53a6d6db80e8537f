/**
 * Errors raised by tensor operations. Every message starts with the operation's name and says
 * what was wrong and how to fix it, so that a user reading a stack-free CLI error knows what to do.
 */
export class TensorError extends Error {
  readonly op: string;
  constructor(op: string, message: string) {
    super(`${op}: ${message}`);
    this.name = "TensorError";
    this.op = op;
  }
}

/** Shapes that do not fit the operation (broadcasting, matmul inner sizes, reshape sizes...). */
export class ShapeError extends TensorError {
  constructor(op: string, message: string) {
    super(op, message);
    this.name = "ShapeError";
  }
}

/** A dtype the operation does not accept (float where indices are needed, mixed precisions...). */
export class DTypeError extends TensorError {
  constructor(op: string, message: string) {
    super(op, message);
    this.name = "DTypeError";
  }
}

/** Indices or values outside their valid range (gather indices, class targets, probabilities). */
export class ValueRangeError extends TensorError {
  constructor(op: string, message: string) {
    super(op, message);
    this.name = "ValueRangeError";
  }
}
