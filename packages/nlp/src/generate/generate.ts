import { Rng, ValueRangeError } from "@unroll/tensor";
import { checkSampling, sampleFromLogits, type SamplingOptions } from "./sampling.js";

/**
 * What decoding needs from a model: given the current tokens of a batch (`[B]`) and the state,
 * the next-token logits (`B * vocabSize`, row-major) and the new state. The library's model, an
 * onnxruntime session over an exported step graph, or anything else can provide one.
 */
export type StepFunction<S> = (
  tokens: Int32Array,
  state: S | null,
) => { logits: ArrayLike<number>; state: S } | Promise<{ logits: ArrayLike<number>; state: S }>;

export interface GenerateOptions extends SamplingOptions {
  /** Token ids fed before sampling starts (at least one). */
  readonly prime: readonly number[];
  /** Tokens to sample after the prime. */
  readonly maxTokens: number;
  /** Seed of the sampling generator (default 0): the same seed and model give the same tokens. */
  readonly seed?: number;
  /** Stops when this returns true for the ids sampled so far (e.g. a stop string was produced). */
  readonly stop?: (sampled: readonly number[]) => boolean;
  /** Token ids never sampled (the tokenizer's unknown symbol, say). */
  readonly exclude?: readonly number[];
  readonly signal?: AbortSignal;
}

/**
 * Samples one token at a time (batch 1), yielding each as soon as it is chosen: an async
 * iterator that a CLI prints from and a UI renders from while the rest is still being computed.
 */
export async function* generateTokens<S>(step: StepFunction<S>, options: GenerateOptions): AsyncGenerator<number> {
  checkSampling(options);
  if (options.prime.length === 0) throw new ValueRangeError("generate", "prime needs at least one token (e.g. a newline or a start symbol)");
  if (!Number.isInteger(options.maxTokens) || options.maxTokens < 0) {
    throw new ValueRangeError("generate", `maxTokens must be a non-negative integer, got ${options.maxTokens}`);
  }
  const rng = new Rng(options.seed ?? 0);
  let state: S | null = null;
  let result = { logits: [] as ArrayLike<number>, state: null as S | null };
  for (const id of options.prime) {
    result = await step(Int32Array.of(id), state);
    state = result.state;
  }
  const sampled: number[] = [];
  for (let n = 0; n < options.maxTokens; n++) {
    if (options.signal?.aborted) return;
    let logits = result.logits;
    if (options.exclude && options.exclude.length > 0) {
      const copy = Float64Array.from(logits);
      for (const id of options.exclude) if (id >= 0 && id < copy.length) copy[id] = -Infinity;
      logits = copy;
    }
    const next = sampleFromLogits(logits, options, rng);
    sampled.push(next);
    yield next;
    if (options.stop?.(sampled)) return;
    if (n + 1 < options.maxTokens) {
      result = await step(Int32Array.of(next), state);
      state = result.state;
    }
  }
}
