import { Tensor, ValueRangeError } from "@unroll/tensor";
import { type BucketedOptions, type BucketedSource, bucketedBatches } from "../data/bucketed.js";
import type { ClassificationBatch } from "./classifier.js";
import type { TaggingBatch } from "./tagger.js";

/** One encoded example: token ids (or `T·F` features with `features` set) and its class id. */
export interface EncodedExample {
  readonly ids: Int32Array;
  readonly label: number;
}

/**
 * A padded, time-first batch `[T, B]` (0 pads) of examples, with lengths and labels; `T` the
 * longest example rounded up to a multiple of `lengthMultiple` (default 1; padding changes no loss
 * or gradient, and a compiled engine then needs fewer graphs).
 */
export function classificationBatch(examples: readonly EncodedExample[], lengthMultiple = 1): ClassificationBatch & { readonly tokens: number } {
  const B = examples.length;
  if (B === 0) throw new ValueRangeError("classificationBatch", "a batch needs at least one example");
  if (!Number.isSafeInteger(lengthMultiple) || lengthMultiple < 1) throw new ValueRangeError("classificationBatch", `lengthMultiple must be a positive integer, got ${lengthMultiple}`);
  let T = 0;
  for (const [i, e] of examples.entries()) {
    if (e.ids.length === 0) throw new ValueRangeError("classificationBatch", `example ${i} is empty (no token): leave it out or give it text`);
    T = Math.max(T, e.ids.length);
  }
  T = Math.ceil(T / lengthMultiple) * lengthMultiple;
  const inputs = new Int32Array(T * B);
  const lengths = new Int32Array(B);
  const labels = new Int32Array(B);
  examples.forEach((e, b) => {
    lengths[b] = e.ids.length;
    labels[b] = e.label;
    for (let t = 0; t < e.ids.length; t++) inputs[t * B + b] = e.ids[t]!;
  });
  return { inputs: new Tensor(inputs, [T, B]), lengths: new Tensor(lengths, [B]), labels: new Tensor(labels, [B]), tokens: B };
}

/** Shuffled, length-bucketed training batches of encoded examples (see `bucketedBatches`); resumes exactly. */
export function classificationBatches(
  examples: readonly EncodedExample[],
  options: BucketedOptions & { readonly lengthMultiple?: number },
): BucketedSource<ClassificationBatch & { readonly tokens: number }> {
  const multiple = options.lengthMultiple ?? 1;
  return bucketedBatches(examples, { ...options, op: "classificationBatches", noun: "examples", compare: (a, b) => a.ids.length - b.ids.length, build: (items) => classificationBatch(items, multiple) });
}

/** One tagged sequence: token ids and a tag id per token. */
export interface TaggedExample {
  readonly ids: Int32Array;
  readonly tags: Int32Array;
}

/** A padded, time-first batch of tagged sequences (tags -100 on padding); `T` rounded up to a multiple of `lengthMultiple` as in `classificationBatch`. */
export function taggingBatch(examples: readonly TaggedExample[], lengthMultiple = 1): TaggingBatch & { readonly tokens: number } {
  const B = examples.length;
  if (B === 0) throw new ValueRangeError("taggingBatch", "a batch needs at least one example");
  if (!Number.isSafeInteger(lengthMultiple) || lengthMultiple < 1) throw new ValueRangeError("taggingBatch", `lengthMultiple must be a positive integer, got ${lengthMultiple}`);
  let T = 0;
  for (const [i, e] of examples.entries()) {
    if (e.ids.length === 0) throw new ValueRangeError("taggingBatch", `example ${i} is empty`);
    if (e.tags.length !== e.ids.length) throw new ValueRangeError("taggingBatch", `example ${i} has ${e.ids.length} tokens but ${e.tags.length} tags`);
    T = Math.max(T, e.ids.length);
  }
  T = Math.ceil(T / lengthMultiple) * lengthMultiple;
  const inputs = new Int32Array(T * B);
  const tags = new Int32Array(T * B).fill(-100);
  const lengths = new Int32Array(B);
  let tokens = 0;
  examples.forEach((e, b) => {
    lengths[b] = e.ids.length;
    tokens += e.ids.length;
    for (let t = 0; t < e.ids.length; t++) {
      inputs[t * B + b] = e.ids[t]!;
      tags[t * B + b] = e.tags[t]!;
    }
  });
  return { inputs: new Tensor(inputs, [T, B]), lengths: new Tensor(lengths, [B]), tags: new Tensor(tags, [T, B]), tokens };
}
