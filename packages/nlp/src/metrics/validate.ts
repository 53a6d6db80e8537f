import { ValueRangeError } from "@unroll/tensor";

/** A short description of a value for an error message. */
export function describe(v: unknown): string {
  if (v === undefined) return "undefined";
  if (v === null) return "null";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === "object") return "an object";
  return `${typeof v} ${String(v)}`;
}

/** Checks the arguments of a corpus-level metric: hypotheses, and reference streams as long as they are. */
export function checkCorpusArgs(op: string, hypotheses: unknown, references: unknown): asserts hypotheses is readonly string[] {
  if (!Array.isArray(hypotheses)) throw new ValueRangeError(op, `hypotheses must be an array of strings, got ${describe(hypotheses)}`);
  if (hypotheses.length === 0) throw new ValueRangeError(op, "hypotheses is empty; give at least one hypothesis (a corpus of one sentence is fine)");
  hypotheses.forEach((h: unknown, i) => {
    if (typeof h !== "string") {
      throw new ValueRangeError(op, `hypotheses[${i}] must be a string, got ${describe(h)}; use "" for an empty output`);
    }
  });
  if (!Array.isArray(references) || references.length === 0) {
    throw new ValueRangeError(
      op,
      `references must be a non-empty array of reference streams (references[k][i] is the k-th reference of hypothesis i), got ${describe(references)}; ` +
        "with one reference per hypothesis, pass [refs]",
    );
  }
  references.forEach((stream: unknown, k) => {
    if (!Array.isArray(stream)) {
      throw new ValueRangeError(
        op,
        `references[${k}] must be a reference stream (an array of strings, one per hypothesis), got ${describe(stream)}; ` +
          "with one reference per hypothesis, pass [refs], not refs",
      );
    }
    if (stream.length !== hypotheses.length) {
      throw new ValueRangeError(
        op,
        `references[${k}] has ${stream.length} reference(s) but there are ${hypotheses.length} hypotheses; ` +
          "each reference stream needs exactly one reference per hypothesis (references[k][i] is the k-th reference of hypothesis i; " +
          "if you have a list of references per hypothesis, transpose it)",
      );
    }
    stream.forEach((r: unknown, i) => {
      if (typeof r !== "string") throw new ValueRangeError(op, `references[${k}][${i}] must be a string, got ${describe(r)}`);
    });
  });
}

/** Checks the arguments of a sentence-level metric: one hypothesis and its references. */
export function checkSentenceArgs(op: string, hypothesis: unknown, references: unknown): void {
  if (typeof hypothesis !== "string") throw new ValueRangeError(op, `hypothesis must be a string, got ${describe(hypothesis)}; use "" for an empty output`);
  if (typeof references === "string") {
    throw new ValueRangeError(op, `references must be an array of strings, got the string ${describe(references)}; pass [reference]`);
  }
  if (!Array.isArray(references) || references.length === 0) {
    throw new ValueRangeError(op, `references must be a non-empty array of strings (the references of this hypothesis), got ${describe(references)}`);
  }
  references.forEach((r: unknown, k) => {
    if (typeof r !== "string") throw new ValueRangeError(op, `references[${k}] must be a string, got ${describe(r)}`);
  });
}

export function checkBoolean(op: string, name: string, v: unknown): void {
  if (v !== undefined && typeof v !== "boolean") throw new ValueRangeError(op, `${name} must be true or false, got ${describe(v)}`);
}

/** An integer option `>= min` (or undefined, for the default). */
export function checkInteger(op: string, name: string, v: unknown, min: number): void {
  if (v !== undefined && !(typeof v === "number" && Number.isInteger(v) && v >= min)) {
    throw new ValueRangeError(op, `${name} must be an integer >= ${min}, got ${describe(v)}`);
  }
}

/** A finite number option `>= 0` (or undefined, for the default). */
export function checkNonNegative(op: string, name: string, v: unknown): void {
  if (v !== undefined && !(typeof v === "number" && Number.isFinite(v) && v >= 0)) {
    throw new ValueRangeError(op, `${name} must be a finite number >= 0, got ${describe(v)}`);
  }
}

export function checkOneOf(op: string, name: string, v: unknown, allowed: readonly string[]): void {
  if (v !== undefined && !(typeof v === "string" && allowed.includes(v))) {
    throw new ValueRangeError(op, `${name} must be one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}, got ${describe(v)}`);
  }
}
