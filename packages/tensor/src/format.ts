import type { DataArray, DType } from "./dtype.js";
import { formatShape, type Shape, sizeOf } from "./shape.js";

/** Above this many elements the values are abridged (PyTorch's and NumPy's threshold). */
const SUMMARY_THRESHOLD = 1000;
/** Entries shown at each end of an abridged axis. */
const EDGE = 3;

/** How a tensor's values are written: integers, fixed-point with 4 decimals, or scientific. */
function numberFormat(values: readonly number[], dtype: DType): (v: number) => string {
  if (dtype === "int32") return (v) => String(v);
  const finite = values.filter(Number.isFinite);
  const integral = finite.every((v) => Number.isInteger(v)) && finite.every((v) => Math.abs(v) < 1e8);
  if (integral) return (v) => (Number.isFinite(v) ? `${v}.` : String(v));
  const nonzero = finite.filter((v) => v !== 0).map(Math.abs);
  const big = nonzero.reduce((m, v) => Math.max(m, v), 0);
  const small = nonzero.reduce((m, v) => Math.min(m, v), Infinity);
  // Scientific when fixed point would lose the small values or the range is wide (PyTorch's rule).
  const scientific = nonzero.length > 0 && (big / small > 1e3 || big > 1e8 || small < 1e-4);
  return (v) => (!Number.isFinite(v) ? String(v) : scientific ? v.toExponential(4) : v.toFixed(4));
}

/** The indices of an axis of length n that are shown: all, or the first and last EDGE with a gap. */
function shownIndices(n: number, abridge: boolean): (number | null)[] {
  if (!abridge || n <= 2 * EDGE) return Array.from({ length: n }, (_, i) => i);
  return [...Array.from({ length: EDGE }, (_, i) => i), null, ...Array.from({ length: EDGE }, (_, i) => n - EDGE + i)];
}

/**
 * A tensor as people read it: its dtype and shape, then its values nested as in PyTorch, aligned
 * in columns and abridged with "..." above 1,000 elements. `console.log(tensor)` prints this in
 * Node (through `util.inspect`); `String(tensor)` stays the short `Tensor(float32, [2,3])`.
 */
export function formatTensor(data: DataArray, shape: Shape, dtype: DType): string {
  const size = sizeOf(shape);
  const head = `Tensor(${dtype}, ${formatShape(shape)})`;
  if (size === 0) return `${head} []`;
  const abridge = size > SUMMARY_THRESHOLD;
  const strides = shape.map((_, d) => sizeOf(shape.slice(d + 1)));
  const shown: number[] = [];
  const collect = (dim: number, offset: number): void => {
    if (dim === shape.length) {
      shown.push(data[offset]!);
      return;
    }
    for (const i of shownIndices(shape[dim]!, abridge)) if (i !== null) collect(dim + 1, offset + i * strides[dim]!);
  };
  collect(0, 0);
  const fmt = numberFormat(shown, dtype);
  const width = shown.reduce((w, v) => Math.max(w, fmt(v).length), 0);
  const cell = (v: number): string => fmt(v).padStart(width);
  const render = (dim: number, offset: number, indent: number): string => {
    if (dim === shape.length) return cell(data[offset]!);
    const parts = shownIndices(shape[dim]!, abridge).map((i) => (i === null ? "..." : render(dim + 1, offset + i * strides[dim]!, indent + 1)));
    if (dim === shape.length - 1) return `[${parts.join(", ")}]`;
    const separator = `,${"\n".repeat(shape.length - dim - 1)}${" ".repeat(indent + 1)}`;
    return `[${parts.join(separator)}]`;
  };
  if (shape.length === 0) return `${head} ${cell(data[0]!)}`;
  return `${head}\n${render(0, 0, 0)}`;
}
