import type { Command } from "commander";
import { evaluate, loadCorpus, loadLanguageModel, splitText, verifyCorpus } from "@unroll/nlp";
import { choiceFlag } from "../config.js";
import { UserError } from "../ui/errors.js";
import { useKernels } from "./kernel-flags.js";
import type { Output } from "../ui/output.js";

/** `eval lm RUN` (the default: `eval RUN`); returns the `eval` group, where `eval mt` joins it. */
export function registerEval(program: Command, out: () => Output): Command {
  const group = program.command("eval").description("score a model: lm (default) a language model on text, mt a translation model on sentence pairs, classify a classifier on labelled texts, caption a captioner on captioned images");
  group
    .command("lm", { isDefault: true })
    .description("score a language model on text: loss (nats per token), bits per token, perplexity")
    .argument("<run>", "a run directory (its latest checkpoint) or a checkpoint directory")
    .option("--data <corpus-or-file>", "text to score on purpose, instead of the run's own corpus (which is checked against the sha256 its checkpoint records)")
    .option("--split <which>", "validation | train | all (of that text, split as in training)", "validation")
    .option("--kernels <k>", "auto | wasm | reference", "auto")
    .option("--threads <n>", "threads for the WebAssembly kernels (default: the cores, at most 8)")
    .action(async (run: string, flags: Record<string, string | undefined>) => {
      const o = out();
      const split = choiceFlag("split", flags.split, ["validation", "train", "all"]);
      useKernels(flags);
      const loaded = await loadLanguageModel(run);
      const own = flags.data === undefined;
      const data = flags.data ?? loaded.config.training.data;
      if (!data) throw new UserError("the run does not record its corpus", "pass --data <corpus or file>");
      const text = await loadCorpus(data);
      if (own) {
        // The run's own corpus, as recorded: make sure it is still the text the run was trained on.
        try {
          if (!(await verifyCorpus(loaded.config, text, data))) o.info(`note: ${run} records no sha256 of its corpus (an older checkpoint): scoring ${data} as it is now`);
        } catch (e) {
          throw new UserError((e as Error).message, `to score this text on purpose, name it: unroll eval ${run} --data ${data}`);
        }
      }
      const parts = splitText(text, { trainFraction: loaded.config.training.trainFraction ?? 0.9 });
      const chosen = split === "all" ? text : split === "train" ? parts.train : parts.validation;
      const ids = loaded.tokenizer.encode(chosen);
      if (ids.length < 2) {
        throw new UserError(
          `the ${split} part of ${data} is ${ids.length} token${ids.length === 1 ? "" : "s"} with this model's tokenizer; scoring needs at least 2`,
          split === "all" ? "use a longer text" : "use --split all, or a longer text",
        );
      }
      const result = evaluate(loaded.model, loaded.params, ids);
      o.result(
        { data, split, step: loaded.step, loss: result.loss, bitsPerToken: result.bitsPerToken, perplexity: result.perplexity, tokens: result.tokens },
        () =>
          `${data} (${split}, ${result.tokens.toLocaleString("en-US")} tokens) at step ${loaded.step}:\n` +
          `  loss        ${result.loss.toFixed(4)} nats/token\n` +
          `  bits/token  ${result.bitsPerToken.toFixed(4)}${loaded.tokenizer.kind === "char" ? " (bits per character)" : ""}\n` +
          `  perplexity  ${result.perplexity.toFixed(3)}`,
      );
    });
  return group;
}
