import { createInterface } from "node:readline";
import type { Command } from "commander";
import {
  evaluateTranslation, type LengthPenalty, libraryEngine, loadTranslationModel, type LoadedTranslationModel, readPairs, translate, type TranslateOptions,
  type TranslationEngine, translateWith, Vocabulary,
} from "@unroll/nlp";
import { OnnxSession, type OnnxRows, onnxTranslationDecoder, type OnnxTranslationDecoder } from "@unroll/onnx";
import { pinTensors, treeLeaves } from "@unroll/tensor";
import { attentionHeatmapSpec } from "../charts/attention.js";
import { renderSvg } from "../charts/render.js";
import { numberFlag } from "../config.js";
import { UserError } from "../ui/errors.js";
import { writeFileAtomic } from "../ui/files.js";
import type { Output } from "../ui/output.js";
import { useKernels } from "./kernel-flags.js";
import { translationFiles } from "./onnx.js";

/** The decoding flags shared by `translate`, `eval mt` and `plot attention`. */
export function withDecodingFlags(cmd: Command, defaults: { beam: string }): Command {
  return cmd
    .option("--beam <k>", "beam size (1: greedy)", defaults.beam)
    .option("--length-penalty <p>", "GNMT's alpha (0.6 is usual), or none, or average (mean log-probability per token)", "0.6")
    .option("--max-length <n>", "at most this many tokens per translation", "200")
    .option("--max-length-ratio <a>", "and at most a × source length + 10 tokens", "2")
    .option("--ngram-block <n>", "never repeat an n-gram of this size in a translation (0: off)", "0")
    .option("--kernels <k>", "auto | wasm | reference", "auto")
    .option("--threads <n>", "threads for the WebAssembly kernels (default: the cores, at most 8)");
}

export function decodingOptions(flags: Record<string, unknown>): TranslateOptions {
  const raw = String(flags.lengthPenalty);
  let lengthPenalty: LengthPenalty;
  if (raw === "none") lengthPenalty = { kind: "none" };
  else if (raw === "average") lengthPenalty = { kind: "average" };
  else lengthPenalty = { kind: "gnmt", alpha: numberFlag("length-penalty", raw, "number") };
  const beamSize = numberFlag("beam", flags.beam, "positive-integer");
  return {
    beamSize,
    ...(beamSize > 1 || lengthPenalty.kind !== "none" ? { lengthPenalty } : {}),
    maxLength: numberFlag("max-length", flags.maxLength, "positive-integer"),
    maxLengthA: numberFlag("max-length-ratio", flags.maxLengthRatio, "positive"),
    noRepeatNgram: numberFlag("ngram-block", flags.ngramBlock, "integer"),
  };
}

/** A translation model from a run, with the fix for the usual mistakes in the message. */
export async function loadTranslationRun(run: string): Promise<LoadedTranslationModel> {
  return loadTranslationModel(run).catch((e: Error) => {
    if (e.name === "CheckpointError") throw new UserError(e.message, "point at a run directory written by `unroll train mt` (its --out)");
    throw e;
  });
}

interface Engine {
  readonly engine: TranslationEngine<unknown>;
  readonly vocabularies: { readonly source: Vocabulary; readonly target: Vocabulary };
  release(): void;
}

async function libraryEngineOf(run: string): Promise<Engine> {
  const loaded = await loadTranslationRun(run);
  // Weights stay inside the kernels while translating (no copy per step); released afterwards.
  const release = pinTensors(treeLeaves(loaded.params));
  return { engine: libraryEngine(loaded.model, loaded.params) as TranslationEngine<unknown>, vocabularies: { source: loaded.source, target: loaded.target }, release };
}

/** The two files of an exported translation model on onnxruntime-node, with the vocabularies they carry. */
async function onnxEngine(path: string): Promise<Engine> {
  const files = translationFiles(path);
  const open = async (file: string): Promise<OnnxSession> => {
    try {
      return await OnnxSession.create(file);
    } catch (e) {
      const name = (e as Error).name;
      if (name === "OnnxRuntimeError" || name === "OnnxFormatError" || (e as NodeJS.ErrnoException).code === "ENOENT") {
        throw new UserError(`${file}: ${(e as Error).message}`, "export the model with `unroll export onnx RUN --out model.onnx`, which writes model.encoder.onnx and model.decoder.onnx");
      }
      throw e;
    }
  };
  const encoder = await open(files.encoder);
  const decoder = await open(files.decoder);
  let onnx: OnnxTranslationDecoder;
  try {
    onnx = onnxTranslationDecoder(encoder, decoder);
  } catch (e) {
    throw new UserError((e as Error).message, "export the model again with `unroll export onnx`");
  }
  const vocabulary = (key: string): Vocabulary => {
    const text = encoder.metadata[key];
    if (text === undefined) throw new UserError(`${files.encoder} carries no vocabularies`, "export it with `unroll export onnx`, which stores them in the file");
    return Vocabulary.fromJSON(JSON.parse(text));
  };
  const engine: TranslationEngine<OnnxRows> = {
    encode: (src, lengths) => onnx.encode(src.data as Int32Array, lengths.data as Int32Array),
    decoder: onnx,
  };
  return { engine: engine as TranslationEngine<unknown>, vocabularies: { source: vocabulary("unroll.source_vocabulary"), target: vocabulary("unroll.target_vocabulary") }, release: () => undefined };
}

export function registerTranslate(program: Command, out: () => Output): void {
  withDecodingFlags(
    program
      .command("translate")
      .description("translate sentences read from standard input, one per line, with a model trained by `unroll train mt`; one translation per line on standard output")
      .argument("<run>", "a run directory (its latest checkpoint), a checkpoint directory, or the encoder file of `unroll export onnx` (model.encoder.onnx, with model.decoder.onnx beside it: onnxruntime runs the model)")
      .option("--batch <n>", "sentences translated together when the input is a file or a pipe", "32"),
    { beam: "5" },
  ).action(async (run: string, flags: Record<string, unknown>) => {
    const o = out();
    const options = decodingOptions(flags);
    const batchSize = numberFlag("batch", flags.batch, "positive-integer");
    useKernels(flags);
    const { engine, vocabularies, release } = run.toLowerCase().endsWith(".onnx") ? await onnxEngine(run) : await libraryEngineOf(run);
    try {
      // From a terminal each line is translated as soon as it is typed; from a pipe, in batches.
      const interactive = Boolean(process.stdin.isTTY);
      const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
      let pending: string[] = [];
      let line = 0;
      const flush = async (): Promise<void> => {
        if (pending.length === 0) return;
        const results = await translateWith(engine, vocabularies, pending, { ...options, batchSize });
        for (const [i, r] of results.entries()) {
          line++;
          if (o.json) o.result({ line, source: pending[i], translation: r.text, score: r.score, finished: r.finished, ...(r.attention ? { attention: r.attention } : {}) });
          else process.stdout.write(`${r.text}\n`);
        }
        pending = [];
      };
      for await (const text of lines) {
        pending.push(text);
        if (interactive || pending.length >= batchSize) await flush();
      }
      await flush();
    } finally {
      release();
    }
  });
}

/** `unroll eval mt RUN --data pairs.tsv`: BLEU, chrF (sacreBLEU defaults and signature) and the loss. */
export function registerEvalMt(evalCommand: Command, out: () => Output): void {
  withDecodingFlags(
    evalCommand
      .command("mt")
      .description("score a translation model on sentence pairs: corpus BLEU and chrF (sacreBLEU 2.5.1's defaults and signature) and the teacher-forced loss")
      .argument("<run>", "a run directory or a checkpoint directory written by `unroll train mt`")
      .requiredOption("--data <pairs.tsv>", "tab-separated pairs (source, target), as for training")
      .option("--columns <s,t>", "the columns holding the source and the target (0-based)", "0,1")
      .option("--translations <file>", "also write the translations there, one per line"),
    { beam: "5" },
  ).action(async (run: string, flags: Record<string, unknown>) => {
    const o = out();
    const options = decodingOptions(flags);
    const columns = String(flags.columns).split(",").map((c) => numberFlag("columns", c, "integer"));
    if (columns.length !== 2) throw new UserError(`--columns must be two column numbers like 0,1, got ${JSON.stringify(flags.columns)}`);
    useKernels(flags);
    const loaded = await loadTranslationRun(run);
    const { pairs } = await readPairs(String(flags.data), { columns: columns as [number, number] });
    const release = pinTensors(treeLeaves(loaded.params));
    const started = performance.now();
    const result = await evaluateTranslation(loaded.model, loaded.params, { source: loaded.source, target: loaded.target }, pairs, options).finally(release);
    const seconds = (performance.now() - started) / 1000;
    if (flags.translations !== undefined) await writeFileAtomic(String(flags.translations), `${result.hypotheses.join("\n")}\n`);
    o.result(
      {
        data: flags.data,
        step: loaded.step,
        pairs: pairs.length,
        bleu: result.bleu.score,
        bleuSignature: result.bleu.signature,
        precisions: result.bleu.precisions,
        brevityPenalty: result.bleu.bp,
        chrf: result.chrf.score,
        chrfSignature: result.chrf.signature,
        loss: result.loss,
        beam: options.beamSize,
        sentencesPerSecond: pairs.length / seconds,
      },
      (r) =>
        `BLEU ${(r.bleu as number).toFixed(2)} (${result.bleu.precisions.map((p) => p.toFixed(1)).join("/")}, BP ${result.bleu.bp.toFixed(3)}) ${result.bleu.signature}\n` +
        `chrF ${(r.chrf as number).toFixed(2)} ${result.chrf.signature}\n` +
        `loss ${result.loss.toFixed(4)} nats/token on ${pairs.length} pairs (step ${loaded.step}); ${(pairs.length / seconds).toFixed(1)} sentences/s with beam ${options.beamSize}`,
    );
  });
}

/** `unroll plot attention RUN --text "..." --out a.svg`: the heatmap of one translation's attention. */
export function registerPlotAttention(plot: Command, out: () => Output): void {
  withDecodingFlags(
    plot
      .command("attention")
      .description("the attention weights of one translation as a heatmap (SVG; source tokens across, translation down) and as JSON")
      .argument("<run>", "a run directory or a checkpoint directory written by `unroll train mt`")
      .requiredOption("--text <sentence>", "the sentence to translate")
      .option("--out <file>", "the picture to write", "attention.svg")
      .option("--json-out <file>", "also write the weights as JSON (tokens and one row per output token)"),
    { beam: "5" },
  ).action(async (run: string, flags: Record<string, unknown>) => {
    const o = out();
    const options = decodingOptions(flags);
    const text = String(flags.text);
    if (text.trim() === "") throw new UserError("--text is empty", 'give the sentence to translate: --text "Guten Morgen."');
    useKernels(flags);
    const loaded = await loadTranslationRun(run);
    if (loaded.config.model.attention === "none") {
      throw new UserError(`the model in ${run} has no attention (the bottleneck decoder): there are no weights to plot`, "train with --attention bahdanau, luong-dot or luong-general");
    }
    const [t] = await translate(loaded.model, loaded.params, { source: loaded.source, target: loaded.target }, [text], options);
    const sourceTokens = t!.sourceTokens.map((id) => loaded.source.tokenText(id));
    const targetTokens = [...t!.tokens.map((id) => loaded.target.tokenText(id)), ...(t!.finished ? ["</s>"] : [])];
    const weights = t!.attention!;
    await writeFileAtomic(String(flags.out), await renderSvg(attentionHeatmapSpec(sourceTokens, targetTokens, weights, t!.text)));
    if (flags.jsonOut !== undefined) await writeFileAtomic(String(flags.jsonOut), `${JSON.stringify({ source: text, translation: t!.text, sourceTokens, targetTokens, weights })}\n`);
    o.result({ svg: flags.out, translation: t!.text, sourceTokens, targetTokens, weights }, () => `${t!.text}\nwrote ${String(flags.out)}`);
  });
}
