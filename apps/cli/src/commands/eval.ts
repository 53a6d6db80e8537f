import type { Command } from "commander";
import { evaluate, loadCorpus, loadLanguageModel, splitText } from "@unroll/nlp";
import { choiceFlag } from "../config.js";
import { UserError } from "../ui/errors.js";
import { useKernels } from "./kernel-flags.js";
import type { Output } from "../ui/output.js";

export function registerEval(program: Command, out: () => Output): void {
  program
    .command("eval")
    .description("score a language model on text: loss (nats per token), bits per token, perplexity")
    .argument("<run>", "a run directory (its latest checkpoint) or a checkpoint directory")
    .option("--data <corpus-or-file>", "text to score (default: the run's own corpus)")
    .option("--split <which>", "validation | train | all (of that text, split as in training)", "validation")
    .option("--kernels <k>", "auto | wasm | reference", "auto")
    .option("--threads <n>", "threads for the WebAssembly kernels (default: the cores, at most 8)")
    .action(async (run: string, flags: Record<string, string | undefined>) => {
      const o = out();
      useKernels(flags);
      const loaded = await loadLanguageModel(run);
      const data = flags.data ?? loaded.config.training.data;
      if (!data) throw new UserError("the run does not record its corpus", "pass --data <corpus or file>");
      const split = choiceFlag("split", flags.split, ["validation", "train", "all"]);
      const text = await loadCorpus(data);
      const parts = splitText(text, { trainFraction: loaded.config.training.trainFraction ?? 0.9 });
      const chosen = split === "all" ? text : split === "train" ? parts.train : parts.validation;
      const result = evaluate(loaded.model, loaded.params, loaded.tokenizer.encode(chosen));
      o.result(
        { data, split, step: loaded.step, loss: result.loss, bitsPerToken: result.bitsPerToken, perplexity: result.perplexity, tokens: result.tokens },
        () =>
          `${data} (${split}, ${result.tokens.toLocaleString("en-US")} tokens) at step ${loaded.step}:\n` +
          `  loss        ${result.loss.toFixed(4)} nats/token\n` +
          `  bits/token  ${result.bitsPerToken.toFixed(4)}${loaded.tokenizer.kind === "char" ? " (bits per character)" : ""}\n` +
          `  perplexity  ${result.perplexity.toFixed(3)}`,
      );
    });
}
