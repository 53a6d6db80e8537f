import type { Vocabulary } from "@unroll/nlp";
import { permutation } from "@unroll/nlp";
import { Rng, type RngState, ValueRangeError } from "@unroll/tensor";
import type { DataSource } from "@unroll/train";
import { captionBatch } from "../caption/batch.js";
import type { CaptionBatch } from "../caption/model.js";
import { type CaptionSet, pickInputs } from "./data.js";

/** One training example: an input of the set and one of its captions, encoded. */
export interface CaptionExample {
  readonly input: number;
  readonly tokens: Int32Array;
}

/** Where a caption source is: the epoch, the batch within it, and the generator at the epoch's start. */
export interface CaptionPosition {
  readonly epoch: number;
  readonly batch: number;
  readonly rng: RngState;
}

/**
 * Every (image, caption) pair of a set as an example (an image with five captions is five
 * examples, as in Karpathy's neuraltalk), captions cut to `maxLength` tokens. Returns how many
 * were cut.
 */
export function captionExamples(set: CaptionSet, vocabulary: Vocabulary, maxLength: number): { examples: CaptionExample[]; truncated: number } {
  const examples: CaptionExample[] = [];
  let truncated = 0;
  set.captions.forEach((captions, input) => {
    for (const text of captions) {
      const ids = vocabulary.encode(text);
      if (ids.length > maxLength) truncated++;
      examples.push({ input, tokens: ids.length > maxLength ? ids.slice(0, maxLength) : ids });
    }
  });
  return { examples, truncated };
}

/**
 * Shuffled training batches of examples, each example once per epoch, drawn from the source's own
 * seeded generator; the generator's state at the start of the epoch is the position, so a resumed
 * run reads the same batches.
 */
export function captionBatches(set: CaptionSet, examples: readonly CaptionExample[], options: { readonly batchSize: number; readonly seed?: number }): DataSource<CaptionBatch> & { readonly batchesPerEpoch: number } {
  const op = "captionBatches";
  const B = options.batchSize;
  if (!Number.isSafeInteger(B) || B < 1) throw new ValueRangeError(op, `batchSize must be a positive integer, got ${B}`);
  if (examples.length === 0) throw new ValueRangeError(op, "there are no captions to train on");
  const batches = Math.ceil(examples.length / B);
  let rng = new Rng(options.seed ?? 0);
  let epochStart = rng.state();
  let order = permutation(examples.length, rng);
  let epoch = 0;
  let batch = 0;
  return {
    batchesPerEpoch: batches,
    next() {
      const chosen = Array.from(order.subarray(batch * B, Math.min(examples.length, (batch + 1) * B)), (i) => examples[i]!);
      const out = captionBatch(
        pickInputs(set.inputs, chosen.map((e) => e.input)),
        chosen.map((e) => e.tokens),
      );
      if (++batch === batches) {
        batch = 0;
        epoch++;
        epochStart = rng.state();
        order = permutation(examples.length, rng);
      }
      return out;
    },
    position: (): CaptionPosition => ({ epoch, batch, rng: epochStart }),
    seek(position) {
      const p = position as Partial<CaptionPosition> | null;
      const count = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
      if (!count(p?.epoch) || !count(p.batch) || p.batch >= batches || typeof p.rng !== "object" || p.rng === null) {
        throw new ValueRangeError(op, `the checkpoint's data position ${JSON.stringify(position)} is not a position of these ${examples.length} captions in batches of ${B} (${batches} per epoch): was the run trained on other data or another batch size?`);
      }
      rng = Rng.fromState(p.rng);
      epochStart = rng.state();
      order = permutation(examples.length, rng);
      epoch = p.epoch;
      batch = p.batch;
    },
  };
}
