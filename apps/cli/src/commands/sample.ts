import type { Command } from "commander";
import { checkSampling, generateText, loadLanguageModel, modelStep } from "@unroll/nlp";
import { exportLanguageModel, OnnxSession, onnxStepFunction } from "@unroll/onnx";
import { pinTensors, treeLeaves } from "@unroll/tensor";
import { UserError } from "../ui/errors.js";
import { useKernels } from "./kernel-flags.js";
import type { Output } from "../ui/output.js";
import { checkPrime, samplingOptions, withSamplingFlags } from "./sampling-flags.js";

export function registerSample(program: Command, out: () => Output): void {
  withSamplingFlags(
    program
      .command("sample")
      .description("generate text from a trained language model, streaming it as it is sampled")
      .argument("<run>", "a run directory (its latest checkpoint) or a checkpoint directory"),
  )
    .option("--kernels <k>", "auto | wasm | reference", "auto")
    .option("--threads <n>", "threads for the WebAssembly kernels (default: the cores, at most 8)")
    .option("--engine <e>", "library (the kernels above) | onnxruntime (the model's step graph in onnxruntime, native kernels)", "library")
    .action(async (run: string, flags: Record<string, string | string[] | undefined>) => {
      const o = out();
      useKernels(flags);
      const loaded = await loadLanguageModel(run).catch((e: Error) => {
        throw new UserError(e.message, e.name === "CheckpointError" ? "point at a directory written by `unroll train lm` (its --out)" : undefined);
      });
      const prime = String(flags.prime);
      checkPrime(loaded.tokenizer, prime);
      const options = samplingOptions(flags);
      checkSampling(options); // every setting checked before the first character is written
      const engine = String(flags.engine);
      if (engine !== "library" && engine !== "onnxruntime") throw new UserError(`--engine must be library or onnxruntime, got "${engine}"`, "drop --engine, or give one of the two");
      let text = "";
      // onnxruntime: the step graph that `unroll export onnx` writes, built in memory.
      const session = engine === "onnxruntime" ? await OnnxSession.create(exportLanguageModel(loaded.model, loaded.params, { graph: "step" })) : null;
      o.write(prime);
      // Weights stay inside the kernels while generating (no copy per token); released afterwards.
      const release = session ? () => undefined : pinTensors(treeLeaves(loaded.params));
      try {
        const pieces = session ? generateText(onnxStepFunction(session), loaded.tokenizer, options) : generateText(modelStep(loaded.model, loaded.params), loaded.tokenizer, options);
        for await (const piece of pieces) {
          text += piece;
          o.write(piece);
        }
      } finally {
        release();
        await session?.release();
      }
      o.write("\n");
      if (o.json) o.result({ prime, text, seed: options.seed, temperature: options.temperature, step: loaded.step });
    });
}
