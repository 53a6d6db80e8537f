import { createInterface } from "node:readline";
import type { Command } from "commander";
import { confusionMatrixSvg, evaluateTagger, formatClassificationReport, loadTagger, type LoadedTagger, tagSentences } from "@unroll/nlp";
import { pinTensors, treeLeaves } from "@unroll/tensor";
import { UserError } from "../ui/errors.js";
import { writeFileAtomic } from "../ui/files.js";
import type { Output } from "../ui/output.js";
import { useKernels } from "./kernel-flags.js";
import { readTagged } from "./train-tag.js";
import { loadRunWith } from "./classify.js";

/** A tagger from a run, with the fix for the usual mistakes in the message. */
async function loadTaggerRun(run: string): Promise<LoadedTagger> {
  return loadRunWith(run, loadTagger, "unroll train tag");
}

/** `unroll tag RUN < sentences`: one sentence of space-separated tokens per line in, `token/TAG` per token out. */
export function registerTag(program: Command, out: () => Output): void {
  program
    .command("tag")
    .description("tag sentences read from standard input, one per line with tokens separated by spaces, with a model trained by `unroll train tag`; one line of token/TAG out per line in")
    .argument("<run>", "a run directory (its latest checkpoint) or a checkpoint directory such as <out>/best")
    .option("--kernels <k>", "auto | wasm | reference", "auto")
    .option("--threads <n>", "threads for the WebAssembly kernels (default: the cores, at most 8)")
    .addHelpText("after", "\nWith --json, each line is an object with every token's tag and its probability.\nExample:\n  echo \"The cat sat on the mat .\" | unroll tag runs/tag/best")
    .action(async (run: string, flags: Record<string, unknown>) => {
      const o = out();
      useKernels(flags);
      const loaded = await loadTaggerRun(run);
      const release = pinTensors(treeLeaves(loaded.params));
      try {
        const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
        let line = 0;
        for await (const text of lines) {
          line++;
          const tokens = text.split(/\s+/).filter(Boolean);
          if (tokens.length === 0) {
            // An empty line keeps its place in the output, so lines out still match lines in.
            if (o.json) o.result({ line, tokens: [] });
            else process.stdout.write("\n");
            continue;
          }
          const [tagged] = tagSentences(loaded, [tokens]);
          if (o.json) o.result({ line, tokens: tagged });
          else process.stdout.write(`${tagged!.map((t) => `${t.token}/${t.tag}`).join(" ")}\n`);
        }
      } finally {
        release();
      }
    });
}

/** `unroll eval tag RUN --data FILE`: per-token accuracy, per-tag precision/recall/F1, macro-F1 and the confusion matrix. */
export function registerEvalTag(evalCommand: Command, out: () => Output): void {
  evalCommand
    .command("tag")
    .description("score a tagger on tagged sentences: per-token accuracy, per-tag precision/recall/F1, macro-F1 and the confusion matrix (text, and SVG with --svg)")
    .argument("<run>", "a run directory or a checkpoint directory written by `unroll train tag`")
    .requiredOption("--data <file>", "token<TAB>tag lines to score on, a blank line between sentences")
    .option("--svg <file>", "also draw the confusion matrix there")
    .option("--kernels <k>", "auto | wasm | reference", "auto")
    .option("--threads <n>", "threads for the WebAssembly kernels (default: the cores, at most 8)")
    .action(async (run: string, flags: Record<string, string | undefined>) => {
      const o = out();
      useKernels(flags);
      const loaded = await loadTaggerRun(run);
      const sentences = await readTagged(flags.data!);
      const release = pinTensors(treeLeaves(loaded.params));
      let result;
      try {
        result = evaluateTagger(loaded, sentences);
      } catch (e) {
        if (e instanceof Error && e.name === "ValueRangeError" && /not one the model was trained on/.test(e.message)) {
          throw new UserError(e.message.replace(/^\w+: /, ""), `score on sentences with the model's tags only (${loaded.tags.names.join(", ")}), or train a model that knows this tag`);
        }
        throw e;
      } finally {
        release();
      }
      const r = result.report;
      const source = flags.data!;
      if (flags.svg !== undefined) await writeFileAtomic(flags.svg, `${confusionMatrixSvg(r, `${source}: token accuracy ${(100 * r.accuracy).toFixed(1)}%, macro-F1 ${(100 * r.macroF1).toFixed(1)}%`)}\n`);
      o.result(
        { data: source, step: loaded.step, sentences: sentences.length, tokens: r.examples, accuracy: r.accuracy, macroF1: r.macroF1, loss: result.loss, perClass: r.perClass, confusion: r.confusion, classes: r.classes, ...(flags.svg ? { svg: flags.svg } : {}) },
        () => `${source}, step ${loaded.step}, ${sentences.length} sentences, loss ${result.loss.toFixed(4)} per token\n${formatClassificationReport(r)}${flags.svg ? `\nwrote ${flags.svg}` : ""}`,
      );
    });
}
