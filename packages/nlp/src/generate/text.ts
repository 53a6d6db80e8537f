import { ValueRangeError } from "@unroll/tensor";
import { type GenerateOptions, generateTokens, type StepFunction } from "./generate.js";

/** The part of a tokenizer that text generation needs. */
export interface TextCodec {
  encode(text: string): Int32Array;
  streamDecoder(): { push(id: number): string; flush(): string };
  /** The unknown symbol, which generation never samples (it has no text of its own). */
  readonly unkId?: number | null;
}

export interface GenerateTextOptions extends Omit<GenerateOptions, "prime" | "stop"> {
  // Sampling never produces `codec.unkId`; `exclude` adds more ids.
  /** Text the model reads before sampling (non-empty). */
  readonly prime: string;
  /** Generation ends before the first occurrence of any of these; the stop string is not returned. */
  readonly stop?: readonly string[];
}

/** Length of the longest proper suffix of `text` that begins some stop string (text withheld until decided). */
function holdback(text: string, stops: readonly string[]): number {
  let best = 0;
  for (const s of stops) {
    for (let k = Math.min(s.length - 1, text.length); k > best; k--) {
      if (text.endsWith(s.slice(0, k))) {
        best = k;
        break;
      }
    }
  }
  return best;
}

/**
 * Streams generated text: pieces are yielded as soon as they are certain (a piece that might be
 * the start of a stop string waits until it is not). Works over any step function.
 */
export async function* generateText<S>(step: StepFunction<S>, codec: TextCodec, options: GenerateTextOptions): AsyncGenerator<string> {
  const stops = (options.stop ?? []).filter((s) => s.length > 0);
  const prime = Array.from(codec.encode(options.prime));
  if (prime.length === 0) throw new ValueRangeError("generate", "prime text is empty: give at least one character");
  const decoder = codec.streamDecoder();
  let text = "";
  let emitted = 0;
  const firstStop = (): number => {
    let hit = -1;
    for (const s of stops) {
      const i = text.indexOf(s, Math.max(0, emitted - s.length));
      if (i >= 0 && (hit < 0 || i < hit)) hit = i;
    }
    return hit;
  };
  const { stop: _stop, ...sampling } = options;
  const exclude = codec.unkId !== undefined && codec.unkId !== null ? [codec.unkId, ...(sampling.exclude ?? [])] : sampling.exclude;
  for await (const id of generateTokens(step, { ...sampling, prime, ...(exclude ? { exclude } : {}) })) {
    text += decoder.push(id);
    const hit = firstStop();
    if (hit >= 0) {
      if (hit > emitted) yield text.slice(emitted, hit);
      return;
    }
    const safe = text.length - holdback(text, stops);
    if (safe > emitted) {
      yield text.slice(emitted, safe);
      emitted = safe;
    }
  }
  text += decoder.flush();
  const hit = firstStop();
  const end = hit >= 0 ? hit : text.length;
  if (end > emitted) yield text.slice(emitted, end);
}

/** Collects a generator's output into one string. */
export async function collect(pieces: AsyncIterable<string>): Promise<string> {
  let s = "";
  for await (const p of pieces) s += p;
  return s;
}
