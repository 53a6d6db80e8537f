import { ValueRangeError } from "@unroll/tensor";
import { describe } from "./validate.js";

/**
 * The sacreBLEU release whose numbers these metrics reproduce. Signatures name it, as sacreBLEU's
 * do, so a score reported with its signature says which definition produced it.
 */
export const SACREBLEU_VERSION = "2.5.1";

/**
 * A sacreBLEU signature: `key:value` pairs joined by "|", with `nrefs` first and `version` last
 * (the order sacreBLEU prints them in).
 */
export function formatSignature(nrefs: number, pairs: readonly (readonly [string, string | number])[]): string {
  const parts = [`nrefs:${nrefs}`, ...pairs.map(([k, v]) => `${k}:${v}`), `version:${SACREBLEU_VERSION}`];
  return parts.join("|");
}

/** Checks that `options` is an object (or undefined) before its fields are read. */
export function checkOptions(op: string, options: unknown): void {
  if (options !== undefined && (typeof options !== "object" || options === null || Array.isArray(options))) {
    throw new ValueRangeError(op, `options must be an object, got ${describe(options)}`);
  }
}
