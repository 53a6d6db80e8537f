import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { exportCaptioningModel, exportLanguageModel, exportSequenceModel, exportTranslationModel, OnnxSession, type OnnxState, onnxStepFunction, readModelInfo, SUPPORTED_OPSETS } from "@unroll/onnx";
import { checkSampling, generateText, loadClassifier, loadForecaster, loadLanguageModel, loadTagger, loadTranslationModel, loadWindowClassifier, type StepFunction, type Tokenizer, tokenizerFromJSON } from "@unroll/nlp";
import { loadCheckpoint } from "@unroll/train";
import { loadCaptionModel } from "@unroll/vision";
import { choiceFlag } from "../config.js";
import { parseSetting } from "../settings/validate.js";
import { UserError } from "../ui/errors.js";
import { writeFileAtomic } from "../ui/files.js";
import type { Output } from "../ui/output.js";
import { checkPrime, samplingOptions, withSamplingFlags } from "./sampling-flags.js";

/** What `run onnx` generates from: the file's tokenizer and a step function over its session. */
export interface OnnxGenerator {
  readonly tokenizer: Tokenizer;
  readonly session: OnnxSession;
  readonly step: StepFunction<OnnxState>;
}

/**
 * Reads an ONNX file given to `run onnx` and checks everything generation relies on: that it is an
 * ONNX model written by `unroll export onnx`, with a step graph, a readable tokenizer and a graph
 * signature, that onnxruntime accepts it, and, at each step, that it computes one finite logit per
 * token of its tokenizer. Every problem is a user error naming the file.
 */
export async function loadOnnxGenerator(bytes: Uint8Array, model: string, options: { providers?: string[]; onFallback?: (message: string) => void } = {}): Promise<OnnxGenerator> {
  let info: ReturnType<typeof readModelInfo>;
  try {
    info = readModelInfo(bytes);
  } catch (e) {
    if ((e as Error).name !== "OnnxFormatError") throw e;
    throw new UserError(`${model}: ${(e as Error).message}`, "give the path of a file written by `unroll export onnx`");
  }
  if (!info.graph.endsWith("step")) throw new UserError(`${model} holds a ${info.graph || "unnamed"} graph; generation needs the step graph`, "export it with `unroll export onnx <run> --graph step`");
  if (!info.tokenizer) throw new UserError(`${model} carries no tokenizer`, "export it with `unroll export onnx`, which stores the tokenizer in the file");
  let tokenizer: Tokenizer;
  try {
    tokenizer = tokenizerFromJSON(info.tokenizer);
  } catch (e) {
    throw new UserError(`${model}: the tokenizer inside cannot be read: ${(e as Error).message}`, "export the model again with `unroll export onnx`");
  }
  let session: OnnxSession;
  let raw: ReturnType<typeof onnxStepFunction>;
  try {
    session = await OnnxSession.create(bytes, {
      executionProviders: options.providers ?? ["cpu"],
      ...(options.onFallback ? { onFallback: options.onFallback } : {}),
    });
    raw = onnxStepFunction(session);
  } catch (e) {
    if ((e as Error).name !== "OnnxRuntimeError" && (e as Error).name !== "OnnxFormatError") throw e;
    throw new UserError(`${model}: ${(e as Error).message}`, "export the model again with `unroll export onnx --graph step`");
  }
  const V = tokenizer.vocabSize;
  const step: StepFunction<OnnxState> = async (tokens, state) => {
    let out: Awaited<ReturnType<typeof raw>>;
    try {
      out = await raw(tokens, state);
    } catch (e) {
      if ((e as Error).name === "OnnxRuntimeError") throw e;
      throw new UserError(`onnxruntime cannot run ${model}: ${String((e as Error).message).split("\n")[0]}`, "export the model again with `unroll export onnx`");
    }
    if (out.logits.length !== tokens.length * V) {
      throw new UserError(`${model} computes ${out.logits.length / Math.max(1, tokens.length)} logits per token, but its tokenizer has ${V} tokens: the file was damaged or assembled from two models`, "export the model again with `unroll export onnx`");
    }
    for (let i = 0; i < out.logits.length; i++) {
      if (!Number.isFinite(out.logits[i]!)) {
        throw new UserError(`${model} computes a non-finite logit (${out.logits[i]}): its weights hold NaN or infinite values`, "export the model again from a good checkpoint");
      }
    }
    return out;
  };
  return { tokenizer, session, step };
}

/** The kind a checkpoint's config names ("language-model", "translation-model"), or null. */
async function checkpointKind(run: string): Promise<string | null> {
  const config = (await loadCheckpoint(run)).config as { kind?: unknown } | null;
  return typeof config?.kind === "string" ? config.kind : null;
}

/** `model.onnx` -> `model.encoder.onnx`, `model.decoder.onnx`. */
export function translationFiles(out: string): { encoder: string; decoder: string } {
  const base = out.replace(/(\.encoder|\.decoder)?\.onnx$/i, "");
  return { encoder: `${base}.encoder.onnx`, decoder: `${base}.decoder.onnx` };
}

async function exportTranslation(o: Output, run: string, a: { out: string; lowering: "operators" | "unrolled"; opset: number; graphGiven: boolean }): Promise<void> {
  if (a.graphGiven) throw new UserError("--graph applies to language models; a translation model is always exported as an encoder graph and a decoder-step graph", "drop --graph");
  if (a.lowering === "unrolled") throw new UserError("the unrolled lowering needs a fixed number of steps, which the encoder does not have", "use --lowering operators (the default)");
  const loaded = await loadTranslationModel(run);
  const files = exportTranslationModel(loaded.model, loaded.params, { opset: a.opset, vocabularies: { source: loaded.source, target: loaded.target } });
  const paths = translationFiles(a.out);
  await writeFileAtomic(paths.encoder, files.encoder);
  await writeFileAtomic(paths.decoder, files.decoder);
  o.result(
    { encoder: paths.encoder, decoder: paths.decoder, bytes: files.encoder.length + files.decoder.length, step: loaded.step },
    () => `wrote ${paths.encoder} and ${paths.decoder} (${((files.encoder.length + files.decoder.length) / 1024 / 1024).toFixed(2)} MiB, from step ${loaded.step}); translate with: unroll translate ${paths.encoder}`,
  );
}

/** A captioner: the encoder graph and the decoder-step graph, with the vocabulary and the image input's settings inside. */
async function exportCaption(o: Output, run: string, a: { out: string; lowering: "operators" | "unrolled"; opset: number; graphGiven: boolean }): Promise<void> {
  if (a.graphGiven) throw new UserError("--graph applies to language models; a captioner is always exported as an encoder graph and a decoder-step graph", "drop --graph");
  const loaded = await loadCaptionModel(run);
  const input = loaded.input;
  const files = exportCaptioningModel(loaded.model, loaded.params, {
    imageSize: [input.imageSize, input.imageSize],
    ...(input.frames !== null ? { frames: input.frames } : {}),
    vocabulary: loaded.vocabulary,
    lowering: a.lowering,
    opset: a.opset,
    metadata: { "unroll.caption_input": JSON.stringify(input) },
  });
  const paths = translationFiles(a.out);
  await writeFileAtomic(paths.encoder, files.encoder);
  await writeFileAtomic(paths.decoder, files.decoder);
  const bytes = files.encoder.length + files.decoder.length;
  o.result(
    { encoder: paths.encoder, decoder: paths.decoder, bytes, step: loaded.step },
    () => `wrote ${paths.encoder} and ${paths.decoder} (${(bytes / 1024 / 1024).toFixed(2)} MiB, ${input.imageSize}×${input.imageSize} ${input.frames !== null ? `videos of ${input.frames} frames` : "images"}, from step ${loaded.step})`,
  );
}

/** A classifier, tagger or forecaster: one graph, its vocabulary and classes or tags (or feature scaling) in the metadata. */
async function exportSequence(o: Output, run: string, kind: "sequence-classifier" | "window-classifier" | "sequence-tagger" | "sequence-forecaster", a: { out: string; lowering: "operators" | "unrolled"; opset: number; graphGiven: boolean }): Promise<void> {
  if (a.graphGiven) throw new UserError(`--graph applies to language models; a ${kind.replace("sequence-", "").replace("-", " ")} is exported as one graph`, "drop --graph");
  if (a.lowering === "unrolled") throw new UserError(`the unrolled lowering needs a fixed number of steps; a ${kind.replace("sequence-", "").replace("-", " ")} is exported with the recurrent operators`, "use --lowering operators (the default)");
  let bytes: Uint8Array;
  let step: number;
  if (kind === "sequence-classifier") {
    const loaded = await loadClassifier(run);
    step = loaded.step;
    bytes = exportSequenceModel(loaded.model, loaded.params, {
      opset: a.opset,
      metadata: { "unroll.vocabulary": JSON.stringify(loaded.vocabulary.toJSON()), "unroll.labels": JSON.stringify(loaded.labels.names), "unroll.max_length": String(loaded.maxLength) },
    });
  } else if (kind === "window-classifier") {
    const loaded = await loadWindowClassifier(run);
    step = loaded.step;
    bytes = exportSequenceModel(loaded.model, loaded.params, {
      opset: a.opset,
      time: loaded.window,
      metadata: { "unroll.scaler": JSON.stringify(loaded.scaler.toJSON()), "unroll.labels": JSON.stringify(loaded.classes), "unroll.window": String(loaded.window) },
    });
  } else if (kind === "sequence-tagger") {
    const loaded = await loadTagger(run);
    step = loaded.step;
    bytes = exportSequenceModel(loaded.model, loaded.params, {
      opset: a.opset,
      outputName: "logits",
      metadata: { "unroll.token_vocabulary": JSON.stringify(loaded.vocabulary.toJSON()), "unroll.tags": JSON.stringify(loaded.tags.names) },
    });
  } else {
    const loaded = await loadForecaster(run);
    step = loaded.step;
    bytes = exportSequenceModel(loaded.model, loaded.params, {
      opset: a.opset,
      time: loaded.window,
      metadata: {
        "unroll.scaler": JSON.stringify(loaded.scaler.toJSON()),
        "unroll.forecast": JSON.stringify({ target: loaded.target, window: loaded.window, horizon: loaded.horizon, predict: loaded.predict, changeScale: loaded.changeScale }),
      },
    });
  }
  await writeFileAtomic(a.out, bytes);
  o.result({ file: a.out, bytes: bytes.length, kind, step }, () => `wrote ${a.out} (${(bytes.length / 1024 / 1024).toFixed(2)} MiB, a ${kind.replace("sequence-", "").replace("-", " ")}, from step ${step})`);
}

export function registerOnnx(program: Command, out: () => Output): void {
  const [lowest, highest] = [Math.min(...SUPPORTED_OPSETS), Math.max(...SUPPORTED_OPSETS)];
  program
    .command("export")
    .description("export a trained model (export onnx)")
    .command("onnx")
    .description("write a language model as an ONNX file (step graph for generation, or full-sequence graph), with its tokenizer inside; a translation model or a captioner as two files, <out>.encoder.onnx and <out>.decoder.onnx; a classifier, tagger or forecaster as one graph (inputs and lengths in; logits and attention, per-step logits, or predictions out)")
    .argument("<run>", "a run directory or checkpoint")
    .option("--out <file>", "the ONNX file to write", "model.onnx")
    .option("--graph <kind>", "step (one token, state in and out) | sequence (tokens [time, batch], lengths)", "step")
    .option("--lowering <kind>", "operators (ONNX LSTM/GRU/RNN) | unrolled (MatMul-level steps; step graph only)", "operators")
    .option("--opset <n>", `ONNX opset, ${lowest} to ${highest}`, "17")
    .action(async (run: string, flags: Record<string, string>) => {
      const o = out();
      const graph = choiceFlag("graph", flags.graph, ["step", "sequence"] as const);
      const lowering = choiceFlag("lowering", flags.lowering, ["operators", "unrolled"] as const);
      const opset = parseSetting("--opset", flags.opset, { type: "integer", min: lowest, max: highest }, `the exporter writes opsets ${lowest} to ${highest} (default 17)`) as number;
      if (graph === "sequence" && lowering === "unrolled") {
        throw new UserError("the unrolled lowering needs a fixed number of steps, which only the step graph has", "use --graph step, or --lowering operators");
      }
      const kind = await checkpointKind(run);
      if (kind === "translation-model") {
        await exportTranslation(o, run, { out: flags.out!, lowering, opset, graphGiven: flags.graph !== "step" });
        return;
      }
      if (kind === "caption-model") {
        await exportCaption(o, run, { out: flags.out!, lowering, opset, graphGiven: flags.graph !== "step" });
        return;
      }
      if (kind === "sequence-classifier" || kind === "window-classifier" || kind === "sequence-tagger" || kind === "sequence-forecaster") {
        await exportSequence(o, run, kind, { out: flags.out!, lowering, opset, graphGiven: flags.graph !== "step" });
        return;
      }
      const loaded = await loadLanguageModel(run);
      const bytes = exportLanguageModel(loaded.model, loaded.params, { graph, lowering, opset, tokenizer: loaded.tokenizer });
      await writeFileAtomic(flags.out!, bytes);
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
      const options = samplingOptions(flags);
      let bytes: Uint8Array;
      try {
        bytes = await readFile(model);
      } catch (e) {
        throw new UserError(`cannot read ${model}: ${(e as Error).message}`, "give the path of a file written by `unroll export onnx`");
      }
      // onnxruntime logs a raw C++ error for every provider it cannot start; the note below says it
      // in words, so the native log keeps to fatal errors (all of it with --verbose).
      const providers = String(flags.provider).split(",").map((p) => p.trim());
      if (!program.opts().verbose && providers.some((p) => p !== "cpu")) (await import("onnxruntime-node")).env.logLevel = "fatal";
      const { tokenizer, session, step } = await loadOnnxGenerator(bytes, model, {
        providers,
        onFallback: (message) => o.info(`note: ${message}`),
      });
      checkPrime(tokenizer, options.prime);
      checkSampling(options); // every setting checked before the first character is written
      let text = "";
      o.write(options.prime);
      for await (const piece of generateText(step, tokenizer, options)) {
        text += piece;
        o.write(piece);
      }
      o.write("\n");
      if (o.json) o.result({ prime: options.prime, text, seed: options.seed, provider: session.executionProvider });
    });
}
