import { Tensor, ValueRangeError } from "@unroll/tensor";
import { Vocabulary } from "@unroll/nlp";
import type { CaptionBatch } from "./model.js";

/**
 * A captioning batch from images `[N, 3, H, W]` (or videos `[N, T, 3, H, W]`) and one encoded caption per image (ids without
 * start or end symbols): `tgtIn [T, N]` (start symbol + caption, 0 pads) and `tgtOut [T, N]`
 * (caption + end symbol, -100 at padding), time-first like translation's batches.
 */
export function captionBatch(images: Tensor, captions: readonly Int32Array[]): CaptionBatch & { readonly tokens: number } {
  const N = captions.length;
  if (N === 0) throw new ValueRangeError("captionBatch", "a batch needs at least one caption");
  if ((images.rank !== 4 && images.rank !== 5) || images.shape[0] !== N) {
    throw new ValueRangeError("captionBatch", `images must be [N, 3, H, W] (videos [N, T, 3, H, W]) with one per caption (${N}), got [${images.shape.join(", ")}]`);
  }
  const T = Math.max(...captions.map((c) => c.length)) + 1;
  const tgtIn = new Int32Array(T * N);
  const tgtOut = new Int32Array(T * N).fill(-100);
  let tokens = 0;
  captions.forEach((c, n) => {
    tgtIn[n] = Vocabulary.BOS;
    for (let t = 0; t < c.length; t++) {
      tgtIn[(t + 1) * N + n] = c[t]!;
      tgtOut[t * N + n] = c[t]!;
    }
    tgtOut[c.length * N + n] = Vocabulary.EOS;
    tokens += c.length + 1;
  });
  return { images, tgtIn: new Tensor(tgtIn, [T, N]), tgtOut: new Tensor(tgtOut, [T, N]), tokens };
}
