import { Command, CommanderError } from "commander";
import { registerBench } from "./commands/bench.js";
import { registerCaption, registerEvalCaption } from "./commands/caption.js";
import { registerData } from "./commands/data.js";
import { registerDiagnose } from "./commands/diagnose.js";
import { registerPlot } from "./commands/plot.js";
import { registerEval } from "./commands/eval.js";
import { registerExportTorch } from "./commands/export-torch.js";
import { registerImportTorch } from "./commands/import-torch.js";
import { registerOnnx } from "./commands/onnx.js";
import { registerSample } from "./commands/sample.js";
import { registerTrainCaption } from "./commands/train-caption.js";
import { registerTrainLm } from "./commands/train-lm.js";
import { registerTrainMt } from "./commands/train-mt.js";
import { registerTrainClassify } from "./commands/train-classify.js";
import { registerTrainTag } from "./commands/train-tag.js";
import { registerEvalTag, registerTag } from "./commands/tag.js";
import { registerForecast, registerTrainForecast } from "./commands/train-forecast.js";
import { registerClassify, registerEvalClassify } from "./commands/classify.js";
import { registerEvalMt, registerPlotAttention, registerTranslate } from "./commands/translate.js";
import { describeError, Interrupted } from "./ui/errors.js";
import { makeOutput, type Output } from "./ui/output.js";

/**
 * The `unroll` command line. Commands are grouped by what they act on so that translation and
 * captioning slot in beside the language model: `train lm | mt | caption`, `sample`,
 * `translate`, `caption`, `eval`, `export onnx`, `export torch`, `import torch`, `run onnx`, `diagnose`, `plot`, `bench`, `data`.
 * Returns the exit code: 0 on success, 1 on errors, 2 on usage errors, 130 for a training stopped
 * with Ctrl-C (after its checkpoint is saved).
 */
export async function main(argv: readonly string[]): Promise<number> {
  const program = new Command();
  let output: Output | null = null;
  const out = (): Output => (output ??= makeOutput(Boolean(program.opts().json)));
  program
    .name("unroll")
    .description("Train and use recurrent neural networks: language models, translation with attention, image and video captioning.")
    .option("--json", "machine-readable output: one JSON object per line on stdout")
    .option("--verbose", "show stack traces of errors")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  const train = program.command("train").description("train a model (lm: a language model; mt: a translation model; classify: a sequence classifier; forecast: a series forecaster; caption / video: an image or video captioner)");
  registerTrainLm(train, out);
  registerTrainMt(train, out);
  registerTrainClassify(train, out);
  registerTrainTag(train, out);
  registerTrainForecast(train, out);
  registerTrainCaption(train, out, "caption");
  registerTrainCaption(train, out, "video");
  registerSample(program, out);
  registerTranslate(program, out);
  registerCaption(program, out);
  registerClassify(program, out);
  registerTag(program, out);
  registerForecast(program, out);
  const evalGroup = registerEval(program, out);
  registerEvalMt(evalGroup, out);
  registerEvalCaption(evalGroup, out);
  registerEvalClassify(evalGroup, out);
  registerEvalTag(evalGroup, out);
  registerOnnx(program, out);
  registerExportTorch(program, out);
  registerImportTorch(program, out);
  registerDiagnose(program, out);
  registerPlotAttention(registerPlot(program, out), out);
  registerBench(program, out);
  registerData(program, out);

  try {
    await program.parseAsync(["node", "unroll", ...argv]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.code === "commander.help") return 0;
      return error.exitCode === 0 ? 0 : 2; // commander already printed the usage problem
    }
    if (error instanceof Interrupted) return 130;
    const lines = describeError(error, Boolean(program.opts().verbose));
    if (program.opts().json) {
      // With --json the error is a JSON line on stdout too, where a program reading the output looks.
      const field = (prefix: string): string | undefined => lines.find((l) => l.startsWith(prefix))?.slice(prefix.length);
      const message = field("error: ") ?? field("internal error: ") ?? String(error);
      process.stdout.write(`${JSON.stringify({ event: "error", error: message, ...(field("hint: ") ? { hint: field("hint: ") } : {}), internal: lines[0]!.startsWith("internal") })}\n`);
    }
    for (const line of lines) process.stderr.write(`${line}\n`);
    return 1;
  }
}
