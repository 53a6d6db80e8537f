import { readFile, writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { exportLanguageModel, OnnxSession, onnxStepFunction, readModelInfo } from "@unroll/onnx";
import { generateText, loadLanguageModel, tokenizerFromJSON } from "@unroll/nlp";
import { choiceFlag, numberFlag } from "../config.js";
import { UserError } from "../ui/errors.js";
import type { Output } from "../ui/output.js";
import { checkPrime, samplingOptions, withSamplingFlags } from "./sampling-flags.js";

export function registerOnnx(program: Command, out: () => Output): void {
  program
    .command("export")
    .description("export a trained model (export onnx)")
    .command("onnx")
    .description("write a language model as an ONNX file (step graph for generation, or full-sequence graph), with its tokenizer inside")
    .argument("<run>", "a run directory or checkpoint")
    .option("--out <file>", "the ONNX file to write", "model.onnx")
    .option("--graph <kind>", "step (one token, state in and out) | sequence (tokens [time, batch], lengths)", "step")
    .option("--lowering <kind>", "operators (ONNX LSTM/GRU/RNN) | unrolled (MatMul-level steps; step graph only)", "operators")
    .option("--opset <n>", "ONNX opset", "17")
    .action(async (run: string, flags: Record<string, string>) => {
      const o = out();
      const loaded = await loadLanguageModel(run);
      const graph = choiceFlag("graph", flags.graph, ["step", "sequence"] as const);
      const lowering = choiceFlag("lowering", flags.lowering, ["operators", "unrolled"] as const);
      if (graph === "sequence" && lowering === "unrolled") {
        throw new UserError("the unrolled lowering needs a fixed number of steps, which only the step graph has", "use --graph step, or --lowering operators");
      }
      const bytes = exportLanguageModel(loaded.model, loaded.params, {
        graph,
        lowering,
        opset: numberFlag("opset", flags.opset, "positive-integer"),
        tokenizer: loaded.tokenizer,
      });
      await writeFile(flags.out!, bytes);
      o.result(
        { file: flags.out, bytes: bytes.length, graph, lowering, step: loaded.step },
        () => `wrote ${flags.out} (${(bytes.length / 1024 / 1024).toFixed(2)} MiB, ${graph} graph, ${lowering} lowering, from step ${loaded.step})`,
      );
    });

  withSamplingFlags(
    program
      .command("run")
      .description("run an exported model (run onnx)")
      .command("onnx")
      .description("generate text from an exported step graph with onnxruntime, streaming it (the same flags give the same text as `unroll sample`)")
      .argument("<model>", "an ONNX file written by `unroll export onnx --graph step`"),
  )
    .option("--provider <names>", "execution providers to try in order, e.g. cuda,cpu (falls back to cpu)", "cpu")
    .action(async (model: string, flags: Record<string, string | string[] | undefined>) => {
      const o = out();
      let bytes: Uint8Array;
      try {
        bytes = await readFile(model);
      } catch (e) {
        throw new UserError(`cannot read ${model}: ${(e as Error).message}`, "give the path of a file written by `unroll export onnx`");
      }
      const info = readModelInfo(bytes);
      if (!info.graph.endsWith("step")) throw new UserError(`${model} holds a ${info.graph} graph; generation needs the step graph`, "export it with `unroll export onnx <run> --graph step`");
      if (!info.tokenizer) throw new UserError(`${model} carries no tokenizer`, "export it with `unroll export onnx`, which stores the tokenizer in the file");
      const tokenizer = tokenizerFromJSON(info.tokenizer);
      const session = await OnnxSession.create(bytes, {
        executionProviders: String(flags.provider).split(",").map((p) => p.trim()),
        onFallback: (message) => o.info(`note: ${message}`),
      });
      const options = samplingOptions(flags);
      checkPrime(tokenizer, options.prime);
      let text = "";
      o.write(options.prime);
      for await (const piece of generateText(onnxStepFunction(session), tokenizer, options)) {
        text += piece;
        o.write(piece);
      }
      o.write("\n");
      if (o.json) o.result({ prime: options.prime, text, seed: options.seed, provider: session.executionProvider });
    });
}
