import { type DType, DTypeError, fromArray, gather, ShapeError, ValueRangeError, reshape, Tensor, type FloatDType } from "@unroll/tensor";

/**
 * Per-example lengths of a padded batch, validated against the sequence length. `null` when
 * every example uses all `T` steps (no masking needed).
 */
export function resolveLengths(name: string, lengths: readonly number[] | Tensor | undefined, T: number, B: number): Int32Array | null {
  if (lengths === undefined) return null;
  const values = lengths instanceof Tensor ? lengths.data : lengths;
  if (values.length !== B) {
    throw new ShapeError(name, `lengths has ${values.length} entries but the batch has ${B} examples`);
  }
  const out = new Int32Array(B);
  let full = true;
  for (let b = 0; b < B; b++) {
    const n = values[b]!;
    if (!Number.isInteger(n) || n < 0) throw new ValueRangeError(name, `lengths[${b}] = ${n} is not a non-negative integer`);
    if (n > T) throw new ValueRangeError(name, `lengths[${b}] = ${n} is longer than the sequence (T = ${T})`);
    out[b] = n;
    if (n !== T) full = false;
  }
  return full ? null : out;
}

/** Step masks `[B, 1]`: 1 where step t is inside example b's length, 0 on padding. */
export function stepMasks(lengths: Int32Array, T: number, dtype: FloatDType): Tensor[] {
  const B = lengths.length;
  const masks: Tensor[] = [];
  for (let t = 0; t < T; t++) {
    const m = new (dtype === "float64" ? Float64Array : Float32Array)(B);
    for (let b = 0; b < B; b++) m[b] = t < lengths[b]! ? 1 : 0;
    masks.push(new Tensor(m, [B, 1]));
  }
  return masks;
}

/**
 * Reverses every example of a time-first batch `[T, B, F]` within its own length (padding stays in
 * place), the input order of a reverse-direction layer. Applying it twice is the identity.
 */
export function reverseSequences(x: Tensor, lengths: Int32Array | null): Tensor {
  const [T, B] = x.shape as [number, number];
  const rest = x.shape.slice(2);
  const index = new Int32Array(T * B);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      const n = lengths ? lengths[b]! : T;
      const src = t < n ? n - 1 - t : t;
      index[t * B + b] = src * B + b;
    }
  }
  const flat = reshape(x, [T * B, ...rest]);
  return reshape(gather(flat, fromArray(index, { dtype: "int32" })), x.shape);
}

export function floatDType(name: string, dtype: DType): FloatDType {
  if (dtype === "int32") throw new DTypeError(name, "inputs must be float32 or float64 (embed token ids first, e.g. with gather)");
  return dtype;
}

/** Lengths from a 0/1 padding mask (`[T, B]`, or `[B, T]` when batch-first); padding must trail. */
export function lengthsFromMask(name: string, mask: Tensor, T: number, B: number, batchFirst: boolean): number[] {
  const expected = batchFirst ? [B, T] : [T, B];
  if (mask.rank !== 2 || mask.shape[0] !== expected[0] || mask.shape[1] !== expected[1]) {
    throw new ShapeError(name, `mask has shape [${mask.shape.join(",")}], expected [${expected.join(",")}] (${batchFirst ? "batch, time" : "time, batch"})`);
  }
  const lengths: number[] = [];
  for (let b = 0; b < B; b++) {
    let n = 0;
    let ended = false;
    for (let t = 0; t < T; t++) {
      const v = mask.data[batchFirst ? b * T + t : t * B + b]!;
      if (v !== 0 && v !== 1) throw new ValueRangeError(name, `mask values must be 0 or 1, found ${v}`);
      if (v === 1) {
        if (ended) throw new ValueRangeError(name, `mask of example ${b} has a real step after padding; padding must come after the real steps`);
        n++;
      } else ended = true;
    }
    lengths.push(n);
  }
  return lengths;
}
