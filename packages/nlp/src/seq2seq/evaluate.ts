import { noGrad, reshape, softmaxCrossEntropy } from "@unroll/tensor";
import { type EncodedPair, inOrderBatches } from "./batches.js";
import type { Seq2Seq, Seq2SeqParams } from "./model.js";

export interface TranslationLossResult {
  /** Mean cross-entropy in nats per target token (the end symbol included), teacher-forced. */
  readonly loss: number;
  readonly perplexity: number;
  readonly tokens: number;
}

/** Scores every target token of `pairs` once, with the gold previous tokens (no sampling, no dropout). */
export function evaluateTranslationLoss(model: Seq2Seq, params: Seq2SeqParams, pairs: readonly EncodedPair[], options: { batchSize?: number } = {}): TranslationLossResult {
  let total = 0;
  let tokens = 0;
  noGrad(() => {
    // Sentences of similar length together: less padding; the sum does not depend on the order.
    const sorted = [...pairs].sort((a, b) => a.src.length - b.src.length || a.tgt.length - b.tgt.length);
    for (const batch of inOrderBatches(sorted, options.batchSize ?? 64)) {
      const { logits } = model.forward(params, batch, { flat: true });
      total += softmaxCrossEntropy(logits, reshape(batch.tgtOut, [batch.tgtOut.size]), { reduction: "sum", ignoreIndex: -100 }).item();
      tokens += batch.tokens;
    }
  });
  const loss = total / tokens;
  return { loss, perplexity: Math.exp(loss), tokens };
}
