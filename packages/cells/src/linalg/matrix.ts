// A dense float64 matrix: the one data type of the linear-algebra helpers. Initialisers and spectral
// checks need QR and eigenvalues in float64 even though parameters are float32, so the numerics work
// on plain row-major Float64Arrays and stay independent of tensors and autodiff.
import { ShapeError, ValueRangeError } from "@unroll/tensor";

/** A `rows x cols` matrix stored row-major: element (i, j) is `data[i * cols + j]`. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;
}

/** Wraps (without copying) row-major `data`, checking that it fills `rows x cols`; zeros by default. */
export function matrix(rows: number, cols: number, values?: Float64Array): Matrix {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new ShapeError("matrix", `dimensions must be non-negative integers, got ${rows}x${cols}`);
  }
  const data = values ?? new Float64Array(rows * cols);
  if (data.length !== rows * cols) {
    throw new ShapeError("matrix", `${data.length} values do not fill a ${rows}x${cols} matrix`);
  }
  return { rows, cols, data };
}

/** A matrix from nested rows, `[[1, 2], [3, 4]]`. */
export function matrixFromRows(rows: readonly (readonly number[])[]): Matrix {
  const cols = rows[0]?.length ?? 0;
  const data = new Float64Array(rows.length * cols);
  rows.forEach((row, i) => {
    if (row.length !== cols) {
      throw new ShapeError("matrixFromRows", `row ${i} has ${row.length} values, row 0 has ${cols}`);
    }
    data.set(row, i * cols);
  });
  return { rows: rows.length, cols, data };
}

/** Throws a ShapeError naming `op` unless `a` is square. */
export function assertSquare(op: string, a: Matrix): void {
  if (a.rows !== a.cols) throw new ShapeError(op, `needs a square matrix, got ${a.rows}x${a.cols}`);
}

/** Throws a ValueRangeError naming `op` at the first NaN or infinity: no iteration converges on them. */
export function assertFinite(op: string, a: Matrix): void {
  for (let i = 0; i < a.data.length; i++) {
    if (!Number.isFinite(a.data[i]!)) {
      const r = Math.floor(i / a.cols);
      throw new ValueRangeError(op, `element (${r}, ${i - r * a.cols}) is ${a.data[i]}; the matrix must be finite`);
    }
  }
}
