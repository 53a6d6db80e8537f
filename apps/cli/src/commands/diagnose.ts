import type { Command } from "commander";
import { add, fromArray, gather, matmul, noGrad, Rng, slice, softmaxCrossEntropy, squeeze, type Tensor } from "@unroll/tensor";
import { CharTokenizer, LanguageModel, type LanguageModelParams, loadCorpus, loadLanguageModel, splitText, type Tokenizer } from "@unroll/nlp";
import { gradientFlow, jacobianNorms, loadCheckpoint, recurrentSpectralRadii, saturation } from "@unroll/train";
import { renderSvg } from "../charts/render.js";
import { type DiagnosisData, diagnosisSpec } from "../charts/plots.js";
import { choiceFlag, numberFlag } from "../config.js";
import { UserError } from "../ui/errors.js";
import { writeFileAtomic } from "../ui/files.js";
import { diagnoseClassifier, diagnoseWindowClassifier } from "./diagnose-classifier.js";
import { diagnoseTagger } from "./diagnose-tagger.js";
import { diagnoseForecaster } from "./diagnose-forecaster.js";
import { useKernels } from "./kernel-flags.js";
import type { Output } from "../ui/output.js";

export function registerDiagnose(program: Command, out: () => Output): void {
  program
    .command("diagnose")
    .description("gradient flow through time of a trained or fresh model: ||dL/dh_k||, ||dh_T/dh_k||, spectral radius, saturation (SVG + JSON)")
    .argument("[run]", "a run directory or checkpoint (a language model's; a text classifier's: the gradient of its class loss at every step; a tagger's: of its last step's tag loss; a forecaster's: of its forecast loss over the window; a window classifier's: of its class loss over the window); omit it to diagnose a fresh model built from the flags below")
    .option("--data <corpus-or-file>", "text the sequences come from (default: the run's corpus, or moby-dick; a classifier: label<TAB>text lines, default its dev split; a tagger: token<TAB>tag lines, default its dev file)")
    .option("--length <n>", "sequence length T", "100")
    .option("--batch <n>", "sequences in the batch", "8")
    .option("--jacobian", "also compute ||dh_T/dh_k|| exactly (one backward pass per hidden unit)")
    .option("--out <prefix>", "write <prefix>.svg and <prefix>.json", "diagnosis")
    .option("--cell <cell>", "fresh model: lstm | gru | rnn_tanh | rnn_relu", "rnn_tanh")
    .option("--hidden <n>", "fresh model: hidden units", "128")
    .option("--init <name>", "fresh model: pytorch | orthogonal | xavier | irnn | np-rnn", "pytorch")
    .option("--seed <n>", "random seed", "0")
    .option("--kernels <k>", "auto | wasm | reference", "auto")
    .option("--threads <n>", "threads for the WebAssembly kernels (default: the cores, at most 8)")
    .action(async (run: string | undefined, flags: Record<string, string | boolean | undefined>) => {
      const o = out();
      useKernels(flags);
      const seed = numberFlag("seed", flags.seed, "integer");
      const T = numberFlag("length", flags.length, "positive-integer");
      const B = numberFlag("batch", flags.batch, "positive-integer");
      const kind = run ? await loadCheckpoint(run).then((c) => (c.config as { kind?: unknown } | null)?.kind, () => undefined) : undefined;
      if (run && (kind === "sequence-tagger" || kind === "sequence-forecaster" || kind === "window-classifier" || kind === "sequence-classifier")) {
        const noun = { "sequence-tagger": "a tagger", "sequence-forecaster": "a forecaster", "window-classifier": "a classifier", "sequence-classifier": "a classifier" }[kind];
        if (flags.jacobian) throw new UserError("--jacobian applies to language models", `drop --jacobian to diagnose ${noun}`);
        const data = flags.data === undefined ? undefined : String(flags.data);
        await writeSequenceDiagnosis(o, String(flags.out), kind, B, await diagnoseSequenceRun(kind, run, data, T, B, o));
        return;
      }
      let model: LanguageModel;
      let params: LanguageModelParams;
      let tokenizer: Tokenizer;
      let data: string;
      let label: string;
      if (run) {
        const loaded = await loadLanguageModel(run);
        ({ model, params, tokenizer } = loaded);
        data = String(flags.data ?? loaded.config.training.data ?? "moby-dick");
        label = `${run} (step ${loaded.step})`;
      } else {
        data = String(flags.data ?? "moby-dick");
        tokenizer = CharTokenizer.fromText(await loadCorpus(data));
        const cell = choiceFlag("cell", flags.cell, ["lstm", "gru", "rnn_tanh", "rnn_relu"] as const);
        const init = choiceFlag("init", flags.init, ["pytorch", "orthogonal", "xavier", "irnn", "np-rnn"] as const);
        model = new LanguageModel({ vocabSize: tokenizer.vocabSize, cell, hiddenSize: numberFlag("hidden", flags.hidden, "positive-integer"), init });
        params = model.init(new Rng(seed));
        label = `fresh ${cell} (hidden ${model.config.hiddenSize}, init ${init})`;
      }
      const ids = tokenizer.encode(splitText(await loadCorpus(data)).validation);
      if (ids.length < B * (T + 1)) throw new UserError(`the validation text has ${ids.length} tokens, fewer than --batch × (--length + 1) = ${B * (T + 1)}`, "lower --length or --batch");
      // B windows of T+1 tokens spread over the validation split: inputs and the last step's target.
      const stride = Math.floor((ids.length - T - 1) / B);
      const inputs = new Int32Array(T * B);
      const targets = new Int32Array(B);
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) inputs[t * B + b] = ids[b * stride + t]!;
        targets[b] = ids[b * stride + T]!;
      }
      const tokens = fromArray(inputs, { shape: [T, B], dtype: "int32" });
      const x = model.config.embeddingSize === "one-hot" ? null : noGrad(() => gather(params.embedding!.weight, tokens));
      if (!x) throw new UserError("diagnose needs a model with an embedding (not one-hot input)");
      const head = model.config.tieWeights ? params.embedding!.weight : params.head.weight!;
      const lastStepLoss = (result: { output: Tensor }) =>
        softmaxCrossEntropy(add(matmul(squeeze(slice(result.output, [T - 1], [T], [0]), [0]), head, { transB: true }), params.head.bias), fromArray(targets, { dtype: "int32" }));
      const flow = gradientFlow(model.rnn, params.rnn, x, lastStepLoss);
      const jacobian = flags.jacobian ? jacobianNorms(model.rnn, params.rnn, x) : null;
      const sat = saturation(model.rnn, params.rnn, x);
      const radii = recurrentSpectralRadii(params.rnn);
      const report = {
        model: label,
        cell: model.config.cell,
        hiddenSize: model.config.hiddenSize,
        sequenceLength: T,
        batch: B,
        loss: flow.loss,
        gradNorms: flow.gradNorms,
        jacobianNorms: jacobian,
        saturation: sat.fractions,
        saturationThreshold: sat.threshold,
        spectralRadii: radii,
        vanishingRatio: flow.gradNorms[0]! / flow.gradNorms[T - 1]!,
      };
      await writeDiagnosis(o, String(flags.out), report, { title: label, cell: model.config.cell, gradNorms: flow.gradNorms, jacobianNorms: jacobian, saturation: sat.fractions, saturationThreshold: sat.threshold, spectralRadii: radii });
    });
}

/** Writes `<prefix>.json` and `<prefix>.svg` and prints the summary (or the JSON result). */
async function writeDiagnosis(
  o: Output,
  prefix: string,
  report: { readonly model: string; readonly gradNorms: readonly number[]; readonly vanishingRatio: number; readonly spectralRadii: Record<string, number>; readonly saturation: Record<string, number> },
  chart: DiagnosisData,
): Promise<void> {
  const last = report.gradNorms.length - 1;
  await writeFileAtomic(`${prefix}.json`, `${JSON.stringify(report, null, 2)}\n`);
  await writeFileAtomic(`${prefix}.svg`, await renderSvg(diagnosisSpec(chart)));
  o.result(
    { svg: `${prefix}.svg`, json: `${prefix}.json`, vanishingRatio: report.vanishingRatio, spectralRadii: report.spectralRadii, saturation: report.saturation },
    () =>
      `${report.model}: ||dL/dh_0|| / ||dL/dh_${last}|| = ${report.vanishingRatio.toExponential(2)}\n` +
      `spectral radius: ${Object.entries(report.spectralRadii).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(", ")}\n` +
      `saturated: ${Object.entries(report.saturation).map(([k, v]) => `${k} ${(100 * v).toFixed(1)}%`).join(", ")}\n` +
      `wrote ${prefix}.svg and ${prefix}.json`,
  );
}

/** What each sequence model's diagnosis holds for the report: the model's part, and what the loss is. */
interface SequenceDiagnosis {
  readonly label: string;
  readonly cell: "lstm" | "gru" | "rnn_tanh" | "rnn_relu";
  readonly hiddenSize: number;
  /** The steps the gradient flow covers: --length, or a numeric run's own window. */
  readonly length: number;
  readonly gradNorms: number[];
  readonly saturation: Record<string, number>;
  readonly saturationThreshold: number;
  readonly spectralRadii: Record<string, number>;
  /** Report fields of this kind: where the sequences came from, the pooling. */
  readonly fields: Record<string, unknown>;
  readonly lossAt: string;
}

async function diagnoseSequenceRun(kind: "sequence-tagger" | "sequence-forecaster" | "window-classifier" | "sequence-classifier", run: string, data: string | undefined, T: number, B: number, o: Output): Promise<SequenceDiagnosis> {
  const common = (d: { label: string; gradNorms: number[]; saturation: Record<string, number>; saturationThreshold: number; spectralRadii: Record<string, number> }, m: { cell: SequenceDiagnosis["cell"]; hiddenSize: number }) => ({
    label: d.label,
    cell: m.cell,
    hiddenSize: m.hiddenSize,
    gradNorms: d.gradNorms,
    saturation: d.saturation,
    saturationThreshold: d.saturationThreshold,
    spectralRadii: d.spectralRadii,
  });
  if (kind === "sequence-tagger") {
    const d = await diagnoseTagger(run, data, T, B);
    return { ...common(d, d.loaded.model.config), length: T, fields: { sentences: d.source }, lossAt: "the last step's tag loss; top layer, forward direction" };
  }
  if (kind === "sequence-forecaster") {
    const d = await diagnoseForecaster(run, data, B);
    const W = d.loaded.window;
    return { ...common(d, d.loaded.model.config), length: W, fields: { windows: d.source }, lossAt: `the forecast loss over the window of ${W} steps (the run's; --length does not apply); top layer, forward direction` };
  }
  if (kind === "window-classifier") {
    const d = await diagnoseWindowClassifier(run, data, B);
    const W = d.loaded.window;
    const pooling = d.loaded.model.config.pooling;
    return {
      ...common(d, d.loaded.model.config),
      length: W,
      fields: { windows: d.source, pooling },
      lossAt: `the class's loss through ${pooling} pooling over the window of ${W} rows (the run's; --length does not apply); top layer, forward direction`,
    };
  }
  const d = await diagnoseClassifier(run, data, T, B, o);
  const pooling = d.loaded.model.config.pooling;
  return { ...common(d, d.loaded.model.config), length: T, fields: { texts: d.source, pooling }, lossAt: `the class's loss through ${pooling} pooling; top layer, forward direction` };
}

/** A sequence model's diagnosis as the SVG and JSON files a language model's gets. */
async function writeSequenceDiagnosis(o: Output, out: string, kind: string, B: number, d: SequenceDiagnosis): Promise<void> {
  const report = {
    model: d.label,
    kind,
    ...d.fields,
    cell: d.cell,
    hiddenSize: d.hiddenSize,
    sequenceLength: d.length,
    batch: B,
    gradNorms: d.gradNorms,
    saturation: d.saturation,
    saturationThreshold: d.saturationThreshold,
    spectralRadii: d.spectralRadii,
    vanishingRatio: d.gradNorms[0]! / d.gradNorms[d.length - 1]!,
  };
  await writeDiagnosis(o, out, report, { title: d.label, cell: d.cell, gradNorms: d.gradNorms, jacobianNorms: null, saturation: d.saturation, saturationThreshold: d.saturationThreshold, spectralRadii: d.spectralRadii, lossAt: d.lossAt });
}

