import type { Command } from "commander";
import type { GenerateTextOptions } from "@unroll/nlp";
import { numberFlag } from "../config.js";
import { parseSetting } from "../settings/validate.js";
import { UserError } from "../ui/errors.js";

/** The sampling flags shared by `sample` and `run onnx`: the same flags give the same text. */
export function withSamplingFlags(cmd: Command): Command {
  return cmd
    .option("--prime <text>", "text the model reads first", "\n")
    .option("--length <n>", "tokens to generate", "500")
    .option("--temperature <t>", "sampling temperature (0: greedy)", "0.8")
    .option("--top-k <k>", "sample among the k most likely tokens")
    .option("--top-p <p>", "sample among the most likely tokens covering probability p")
    .option("--seed <n>", "random seed (the same seed gives the same text)", "0")
    .option("--stop <text...>", "stop before any of these strings");
}

export function samplingOptions(flags: Record<string, string | string[] | undefined>): GenerateTextOptions & { prime: string; seed: number; temperature: number } {
  return {
    prime: String(flags.prime),
    maxTokens: numberFlag("length", flags.length, "non-negative-integer"),
    temperature: numberFlag("temperature", flags.temperature, "non-negative"),
    seed: numberFlag("seed", flags.seed, "integer"),
    ...(flags.topK !== undefined ? { topK: numberFlag("top-k", flags.topK, "positive-integer") } : {}),
    ...(flags.topP !== undefined
      ? { topP: parseSetting("--top-p", flags.topP, { type: "number", min: 0, minExclusive: true, max: 1 }, "the smallest set of tokens whose probabilities add up to p: 0.9 is usual") as number }
      : {}),
    ...(flags.stop !== undefined ? { stop: ([] as string[]).concat(flags.stop) } : {}),
  };
}

/** Refuses a prime text the model cannot read (characters it never saw all read as the unknown symbol). */
export function checkPrime(tokenizer: { encode(text: string): Int32Array; readonly unkId: number | null }, prime: string): void {
  if (tokenizer.unkId !== null && Array.from(tokenizer.encode(prime)).includes(tokenizer.unkId)) {
    throw new UserError(
      "the prime text has characters this model never saw in training (they would all read as the unknown symbol)",
      "use characters from the training text, or another --prime",
    );
  }
}
