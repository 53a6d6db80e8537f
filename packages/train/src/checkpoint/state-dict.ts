// Checking a state dict read from a file against what a model expects. Names come from the file, so
// they are looked up as Map keys and own properties only: a tensor named "toString", "constructor"
// or "__proto__" is a name like any other, never one of Object.prototype's members.

import { type DType, Tensor } from "@unroll/tensor";

/** What a model expects of one tensor. */
export interface ExpectedTensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
}

/** The first non-finite value of a tensor (NaN or ±Infinity), or null when every value is finite. */
export function findNonFinite(t: Tensor): { readonly index: number; readonly value: number } | null {
  const data = t.data;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) return { index: i, value: v };
  }
  return null;
}

const fmt = (shape: readonly number[]): string => `[${shape.join(",")}]`;

/**
 * What is wrong with `tensors` as the parameters of a model that expects `expected`: each missing
 * name, each unexpected name, each tensor of the wrong shape or dtype, and (with `finite`) each
 * tensor holding a NaN or an infinity, named, in that order. Empty when everything fits.
 */
export function checkStateDict(
  expected: ReadonlyMap<string, ExpectedTensor> | Readonly<Record<string, ExpectedTensor>>,
  tensors: Readonly<Record<string, Tensor>>,
  options: { readonly finite?: boolean } = {},
): string[] {
  const want = expected instanceof Map ? (expected as ReadonlyMap<string, ExpectedTensor>) : new Map(Object.entries(expected));
  const have = new Map<string, unknown>(Object.entries(tensors));
  const problems: string[] = [];
  for (const [name, e] of want) {
    if (!have.has(name)) {
      problems.push(`missing ${name}`);
      continue;
    }
    const t = have.get(name);
    if (!(t instanceof Tensor)) {
      problems.push(`${name} is not a tensor`);
      continue;
    }
    if (t.rank !== e.shape.length || t.shape.some((d, i) => d !== e.shape[i])) {
      problems.push(`${name} has shape ${fmt(t.shape)}, expected ${fmt(e.shape)}`);
    } else if (t.dtype !== e.dtype) {
      problems.push(`${name} is ${t.dtype}, expected ${e.dtype}`);
    } else if (options.finite) {
      const bad = findNonFinite(t);
      if (bad !== null) problems.push(`${name} holds ${bad.value} (at index ${bad.index}); the weights have diverged or the file was damaged`);
    }
  }
  for (const name of have.keys()) if (!want.has(name)) problems.push(`unexpected ${name}`);
  return problems;
}
