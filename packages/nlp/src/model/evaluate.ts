import { noGrad, softmaxCrossEntropy } from "@unroll/tensor";
import type { RecurrentState } from "@unroll/cells";
import { evaluationWindows, IGNORE_INDEX } from "../data/batching.js";
import type { LanguageModel, LanguageModelParams } from "./language-model.js";

export interface EvaluationResult {
  /** Mean cross-entropy in nats per token. */
  readonly loss: number;
  /** The same in bits (per character, for a character model): nats / ln 2. */
  readonly bitsPerToken: number;
  readonly perplexity: number;
  /** Targets scored: every next-token prediction of the split. */
  readonly tokens: number;
}

/**
 * Scores every next-token prediction of `ids` (a held-out split) exactly once: the split is cut
 * into `batchSize` contiguous streams read in windows of `window` with the state carried across
 * windows, so each token is predicted from all the text before it in its stream.
 */
export function evaluate(
  model: LanguageModel,
  params: LanguageModelParams,
  ids: Int32Array,
  options: { batchSize?: number; window?: number } = {},
): EvaluationResult {
  const windows = evaluationWindows(ids, { batchSize: options.batchSize ?? 16, window: options.window ?? 128 });
  let total = 0;
  let count = 0;
  noGrad(() => {
    let state: RecurrentState | null = null;
    for (const batch of windows) {
      const out = model.forward(params, batch.inputs, state);
      state = out.state;
      total += softmaxCrossEntropy(out.logits, batch.targets, { reduction: "sum", ignoreIndex: IGNORE_INDEX }).item();
      count += batch.tokens;
    }
  });
  const loss = total / count;
  return { loss, bitsPerToken: loss / Math.LN2, perplexity: Math.exp(loss), tokens: count };
}
