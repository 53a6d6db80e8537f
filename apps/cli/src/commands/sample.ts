import type { Command } from "commander";
import { generateText, loadLanguageModel, modelStep, selectKernels } from "@unroll/nlp";
import { pinTensors, treeLeaves } from "@unroll/tensor";
import { choiceFlag, numberFlag } from "../config.js";
import { UserError } from "../ui/errors.js";
import type { Output } from "../ui/output.js";

export function registerSample(program: Command, out: () => Output): void {
  program
    .command("sample")
    .description("generate text from a trained language model, streaming it as it is sampled")
    .argument("<run>", "a run directory (its latest checkpoint) or a checkpoint directory")
    .option("--prime <text>", "text the model reads first", "\n")
    .option("--length <n>", "tokens to generate", "500")
    .option("--temperature <t>", "sampling temperature (0: greedy)", "0.8")
    .option("--top-k <k>", "sample among the k most likely tokens")
    .option("--top-p <p>", "sample among the most likely tokens covering probability p")
    .option("--seed <n>", "random seed (the same seed gives the same text)", "0")
    .option("--stop <text...>", "stop before any of these strings")
    .option("--kernels <k>", "auto | wasm | reference", "auto")
    .action(async (run: string, flags: Record<string, string | string[] | undefined>) => {
      const o = out();
      selectKernels(choiceFlag("kernels", flags.kernels, ["auto", "wasm", "reference"] as const));
      const loaded = await loadLanguageModel(run).catch((e: Error) => {
        throw new UserError(e.message, e.name === "CheckpointError" ? "point at a directory written by `unroll train lm` (its --out)" : undefined);
      });
      const prime = String(flags.prime);
      const ids = loaded.tokenizer.encode(prime);
      if (loaded.tokenizer.unkId !== null && Array.from(ids).includes(loaded.tokenizer.unkId)) {
        throw new UserError(
          `the prime text has characters this model never saw in training (they would all read as the unknown symbol)`,
          "use characters from the training text, or another --prime",
        );
      }
      const options = {
        prime,
        maxTokens: numberFlag("length", flags.length, "integer"),
        temperature: numberFlag("temperature", flags.temperature, "number"),
        seed: numberFlag("seed", flags.seed, "integer"),
        ...(flags.topK !== undefined ? { topK: numberFlag("top-k", flags.topK, "positive-integer") } : {}),
        ...(flags.topP !== undefined ? { topP: numberFlag("top-p", flags.topP, "positive") } : {}),
        ...(flags.stop !== undefined ? { stop: ([] as string[]).concat(flags.stop) } : {}),
      };
      let text = "";
      o.write(prime);
      // Weights stay inside the kernels while generating (no copy per token); released afterwards.
      const release = pinTensors(treeLeaves(loaded.params));
      try {
        for await (const piece of generateText(modelStep(loaded.model, loaded.params), loaded.tokenizer, options)) {
          text += piece;
          o.write(piece);
        }
      } finally {
        release();
      }
      o.write("\n");
      if (o.json) o.result({ prime, text, seed: options.seed, temperature: options.temperature, step: loaded.step });
    });
}
