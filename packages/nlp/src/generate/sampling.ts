import { type Rng, ValueRangeError } from "@unroll/tensor";

export interface SamplingOptions {
  /** Divides the logits; 0 means greedy (always the most likely token). Default 1. */
  readonly temperature?: number;
  /** Sample only among the k most likely tokens. */
  readonly topK?: number;
  /** Sample only among the most likely tokens whose probabilities add up to at least p (nucleus sampling). */
  readonly topP?: number;
}

export function checkSampling(options: SamplingOptions): void {
  const { temperature = 1, topK, topP } = options;
  if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new ValueRangeError("sampling", `temperature must be >= 0, got ${temperature}`);
  if (topK !== undefined && (!Number.isInteger(topK) || topK < 1)) throw new ValueRangeError("sampling", `topK must be a positive integer, got ${topK}`);
  if (topP !== undefined && !(topP > 0 && topP <= 1)) throw new ValueRangeError("sampling", `topP must be in (0, 1], got ${topP}`);
}

/**
 * Picks the next token from one row of logits: greedy at temperature 0, else a draw from
 * softmax(logits / temperature) restricted to the top k and/or the top-p nucleus. The draw uses
 * one `rng.random()`, so a seeded generator makes generation reproducible.
 */
export function sampleFromLogits(logits: ArrayLike<number>, options: SamplingOptions, rng: Rng): number {
  const V = logits.length;
  const temperature = options.temperature ?? 1;
  if (temperature === 0) {
    let best = 0;
    for (let i = 1; i < V; i++) if (logits[i]! > logits[best]!) best = i;
    return best;
  }
  // Candidates sorted by logit, most likely first (ties by index, for determinism).
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b);
  let keep = options.topK !== undefined ? Math.min(options.topK, V) : V;
  const max = logits[order[0]!]!;
  const weights = new Float64Array(keep);
  let total = 0;
  for (let r = 0; r < keep; r++) {
    weights[r] = Math.exp((logits[order[r]!]! - max) / temperature);
    total += weights[r]!;
  }
  if (options.topP !== undefined && options.topP < 1) {
    let cumulative = 0;
    for (let r = 0; r < keep; r++) {
      cumulative += weights[r]! / total;
      if (cumulative >= options.topP) {
        keep = r + 1;
        break;
      }
    }
    total = 0;
    for (let r = 0; r < keep; r++) total += weights[r]!;
  }
  const u = rng.random() * total;
  let acc = 0;
  for (let r = 0; r < keep; r++) {
    acc += weights[r]!;
    if (u < acc) return order[r]!;
  }
  return order[keep - 1]!;
}
