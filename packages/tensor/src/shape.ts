import { ShapeError } from "./errors.js";

/** A tensor's dimensions, outermost first (row-major). `[]` is a scalar. */
export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides in elements. */
export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(",")}]`;
}

export function assertValidShape(op: string, shape: Shape): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new ShapeError(op, `invalid shape ${formatShape(shape)}: dimensions must be non-negative integers`);
    }
  }
}

/** NumPy broadcasting of two shapes; throws a ShapeError naming the op and the offending axis. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da === db || db === 1) out[i] = da;
    else if (da === 1) out[i] = db;
    else {
      throw new ShapeError(
        op,
        `shapes ${formatShape(a)} and ${formatShape(b)} cannot be broadcast (axis ${i - rank}: ${da} vs ${db}); ` +
          `trailing dimensions must be equal or 1 (reshape or slice one operand)`,
      );
    }
  }
  return out;
}

/** Whether `from` broadcasts to `to` (NumPy rules), without allocating. */
export function broadcastsTo(from: Shape, to: Shape): boolean {
  if (from.length > to.length) return false;
  for (let i = 1; i <= from.length; i++) {
    const f = from[from.length - i]!;
    if (f !== 1 && f !== to[to.length - i]) return false;
  }
  return true;
}

/** Resolves a possibly negative axis against a rank. */
export function normalizeAxis(op: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new ShapeError(op, `axis ${axis} is out of range for a tensor of rank ${rank} (valid: ${-rank}..${rank - 1})`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Resolves a list of axes (undefined = all), sorted and without repeats. */
export function normalizeAxes(op: string, axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === "number" ? [axes] : axes;
  const seen = new Set<number>();
  for (const a of list) {
    const n = normalizeAxis(op, a, rank);
    if (seen.has(n)) throw new ShapeError(op, `axis ${a} is repeated in ${JSON.stringify(list)}`);
    seen.add(n);
  }
  return [...seen].sort((x, y) => x - y);
}
