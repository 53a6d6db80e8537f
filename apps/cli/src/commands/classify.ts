import { createInterface } from "node:readline";
import type { Command } from "commander";
import { classifyTexts, confusionMatrixSvg, evaluateClassifier, formatClassificationReport, loadClassifier, type LoadedClassifier, loadWindowClassifier } from "@unroll/nlp";
import { loadCheckpoint } from "@unroll/train";
import { pinTensors, treeLeaves } from "@unroll/tensor";
import { choiceFlag } from "../config.js";
import { UserError } from "../ui/errors.js";
import { writeFileAtomic } from "../ui/files.js";
import type { Output } from "../ui/output.js";
import { useKernels } from "./kernel-flags.js";
import { classifyWindowRows, evalWindows } from "./classify-windows.js";
import { dataSpecOf, readClassifyData, readTsv } from "./train-classify.js";

/** The kind a checkpoint's config names, or undefined (an unreadable run is reported by the loader that follows). */
async function checkpointKind(run: string): Promise<unknown> {
  return loadCheckpoint(run).then((c) => (c.config as { kind?: unknown } | null)?.kind, () => undefined);
}

/** A model from a run through `load`, with the fix for the usual mistakes in the message (`command` writes such runs). */
export async function loadRunWith<T>(run: string, load: (dir: string) => Promise<T>, command: string): Promise<T> {
  return load(run).catch((e: Error) => {
    if (e.name === "CheckpointError") throw new UserError(e.message, `point at a run directory written by \`${command}\` (its --out, or <out>/best)`);
    if (e.name === "ValueRangeError" && /another kind/.test(e.message)) throw new UserError(e.message.replace(/^\w+: /, ""));
    throw e;
  });
}

/** A classifier from a run, with the fix for the usual mistakes in the message. */
export async function loadClassifierRun(run: string): Promise<LoadedClassifier> {
  return loadRunWith(run, loadClassifier, "unroll train classify");
}

/** `unroll classify RUN < texts`: one text per line in, its class (and probability) per line out. */
export function registerClassify(program: Command, out: () => Output): void {
  program
    .command("classify")
    .description("classify texts read from standard input, one per line, with a model trained by `unroll train classify`; one `label<TAB>probability` line out per text (a window classifier reads a CSV and writes one class per row)")
    .argument("<run>", "a run directory (its latest checkpoint) or a checkpoint directory such as <out>/best")
    .option("--kernels <k>", "auto | wasm | reference", "auto")
    .option("--threads <n>", "threads for the WebAssembly kernels (default: the cores, at most 8)")
    .addHelpText("after", "\nWith --json, each line is an object with every class's probability and, for attention pooling, each token's weight.\nExample:\n  echo \"WIN a FREE holiday, click now\" | unroll classify runs/classify/best")
    .action(async (run: string, flags: Record<string, unknown>) => {
      const o = out();
      useKernels(flags);
      if ((await checkpointKind(run)) === "window-classifier") {
        const text = await new Promise<string>((done) => {
          let s = "";
          process.stdin.on("data", (d: Buffer) => (s += d.toString()));
          process.stdin.on("end", () => done(s));
        });
        await classifyWindowRows(o, await loadWindowClassifier(run), text, "standard input");
        return;
      }
      const loaded = await loadClassifierRun(run);
      const release = pinTensors(treeLeaves(loaded.params));
      try {
        const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
        let line = 0;
        for await (const text of lines) {
          line++;
          if (text.trim() === "") {
            // An empty line keeps its place in the output, so lines out still match lines in.
            if (o.json) o.result({ line, text, label: null });
            else process.stdout.write("\n");
            continue;
          }
          const [r] = classifyTexts(loaded, [text]);
          if (o.json) o.result({ line, text, label: r!.label, probabilities: r!.probabilities, ...(r!.attention ? { attention: r!.attention } : {}) });
          else process.stdout.write(`${r!.label}\t${r!.probabilities[r!.label]!.toFixed(4)}\n`);
        }
      } finally {
        release();
      }
    });
}

/** `unroll eval classify RUN`: accuracy, macro-F1 and the confusion matrix on the run's test split or on a file. */
export function registerEvalClassify(evalCommand: Command, out: () => Output): void {
  evalCommand
    .command("classify")
    .description("score a classifier: accuracy, per-class precision/recall/F1, macro-F1 and the confusion matrix (text, and SVG with --svg)")
    .argument("<run>", "a run directory or a checkpoint directory written by `unroll train classify`")
    .option("--data <file>", "label<TAB>text lines to score on (default: the run's embedded data set, its held-out test split); for a window classifier, a CSV of other series")
    .option("--split <which>", "test | dev (of the run's embedded data set)", "test")
    .option("--svg <file>", "also draw the confusion matrix there")
    .option("--kernels <k>", "auto | wasm | reference", "auto")
    .option("--threads <n>", "threads for the WebAssembly kernels (default: the cores, at most 8)")
    .action(async (run: string, flags: Record<string, string | undefined>) => {
      const o = out();
      const split = choiceFlag("split", flags.split, ["test", "dev"]);
      useKernels(flags);
      if ((await checkpointKind(run)) === "window-classifier") {
        await evalWindows(o, await loadWindowClassifier(run), flags.data, async (r, title) => {
          if (flags.svg !== undefined) await writeFileAtomic(flags.svg, `${confusionMatrixSvg(r, title)}\n`);
        });
        return;
      }
      const loaded = await loadClassifierRun(run);
      let examples;
      let source: string;
      if (flags.data !== undefined) {
        examples = await readTsv(flags.data);
        source = flags.data;
      } else {
        const spec = dataSpecOf(loaded.config.training, run);
        const parts = await readClassifyData({ data: spec.data, ...(spec.presidents ? { presidents: spec.presidents } : {}), ...(spec.passageWords !== undefined ? { passageWords: spec.passageWords } : {}) }, o);
        examples = split === "test" ? parts.test : parts.dev;
        if (!examples) throw new UserError(`the run in ${run} was trained on a file (${spec.data}), which has no held-out ${split} split of its own`, "pass --data <file> with labelled texts to score on");
        source = `${spec.data} (${split} split)`;
      }
      const release = pinTensors(treeLeaves(loaded.params));
      let result;
      try {
        result = evaluateClassifier(loaded, examples);
      } catch (e) {
        if (e instanceof Error && e.name === "ValueRangeError" && /not one the model was trained on/.test(e.message)) {
          throw new UserError(e.message.replace(/^\w+: /, ""), "score on texts with the model's classes only (or train a model that knows this class)");
        }
        throw e;
      } finally {
        release();
      }
      const r = result.report;
      if (flags.svg !== undefined) await writeFileAtomic(flags.svg, `${confusionMatrixSvg(r, `${source}: accuracy ${(100 * r.accuracy).toFixed(1)}%, macro-F1 ${(100 * r.macroF1).toFixed(1)}%`)}\n`);
      o.result(
        { data: source, step: loaded.step, examples: r.examples, accuracy: r.accuracy, macroF1: r.macroF1, loss: result.loss, perClass: r.perClass, confusion: r.confusion, classes: r.classes, ...(flags.svg ? { svg: flags.svg } : {}) },
        () => `${source}, step ${loaded.step}, loss ${result.loss.toFixed(4)}\n${formatClassificationReport(r)}${flags.svg ? `\nwrote ${flags.svg}` : ""}`,
      );
    });
}
