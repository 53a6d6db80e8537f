// `unroll diagnose` on a sequence classifier's run: the gradient of the classification loss with
// respect to the top layer's hidden state at every step (how far back the loss reaches through the
// pooling), the gates' saturation and the spectral radii of W_hh, over held-out texts of the run.
import { noGrad, gather, Tensor } from "@unroll/tensor";
import { classificationBatch, classifierGradientFlow, encodeExamples, type LoadedClassifier, type LoadedWindowClassifier, loadWindowClassifier } from "@unroll/nlp";
import { recurrentSpectralRadii, saturation } from "@unroll/train";
import { UserError } from "../ui/errors.js";
import type { Output } from "../ui/output.js";
import { loadClassifierRun, loadRunWith } from "./classify.js";
import { labelledSeries, readNumericTable, type WindowDataSpec } from "./classify-windows.js";
import { dataSpecOf, readClassifyData, readTsv } from "./train-classify.js";

export interface ClassifierDiagnosis {
  readonly label: string;
  readonly loaded: LoadedClassifier;
  readonly loss: null;
  readonly gradNorms: number[];
  readonly saturation: Record<string, number>;
  readonly saturationThreshold: number;
  readonly spectralRadii: Record<string, number>;
  readonly source: string;
}

/**
 * The first `B` texts with at least `T` tokens (of `--data`, else the run's dev split, else its
 * training texts), cut to `T` tokens: one batch without padding, so every step has all B examples.
 */
export async function diagnoseClassifier(run: string, data: string | undefined, T: number, B: number, o: Output): Promise<ClassifierDiagnosis> {
  const loaded = await loadClassifierRun(run);
  if (loaded.model.config.vocabSize === null) throw new UserError("diagnose reads texts: this classifier reads numeric windows", "diagnose a text classifier or a language model");
  let examples;
  let source: string;
  if (data !== undefined) {
    examples = await readTsv(data);
    source = data;
  } else {
    const spec = dataSpecOf(loaded.config.training, run);
    const parts = await readClassifyData({ data: spec.data, ...(spec.dev ? { dev: spec.dev } : {}), ...(spec.presidents ? { presidents: spec.presidents } : {}), ...(spec.passageWords !== undefined ? { passageWords: spec.passageWords } : {}) }, o);
    examples = parts.dev ?? parts.train;
    source = `${spec.data}${parts.dev ? " (dev split)" : ""}`;
  }
  const encoded = encodeExamples(examples, loaded.vocabulary, loaded.labels, Number.MAX_SAFE_INTEGER, source).examples.filter((e) => e.ids.length >= T);
  if (encoded.length < B) {
    throw new UserError(`${source} has ${encoded.length} texts of at least --length ${T} tokens, fewer than --batch ${B}`, "lower --length or --batch, or pass --data with longer texts");
  }
  const batch = classificationBatch(encoded.slice(0, B).map((e) => ({ ids: e.ids.subarray(0, T), label: e.label })));
  const gradNorms = classifierGradientFlow(loaded.model, loaded.params, batch);
  const x: Tensor = noGrad(() => gather(loaded.params.embedding!.weight, batch.inputs));
  const sat = saturation(loaded.model.encoder.rnn, loaded.params.rnn, x);
  return {
    label: `${run} (step ${loaded.step}, ${loaded.model.config.pooling} pooling)`,
    loaded,
    loss: null,
    gradNorms,
    saturation: sat.fractions,
    saturationThreshold: sat.threshold,
    spectralRadii: recurrentSpectralRadii(loaded.params.rnn),
    source,
  };
}

/**
 * A window classifier's run: `B` windows spread evenly over the series of `--data` (else the CSV
 * it was trained on), scaled as in training, labelled by their last row; the class loss's gradient
 * at every step of the window (`--length` does not apply: the window is the run's).
 */
export async function diagnoseWindowClassifier(run: string, data: string | undefined, B: number): Promise<Omit<ClassifierDiagnosis, "loaded"> & { readonly loaded: LoadedWindowClassifier }> {
  const loaded = await loadRunWith(run, loadWindowClassifier, "unroll train classify --label");
  const recorded = loaded.config.data as unknown as WindowDataSpec | undefined;
  if (!recorded) throw new UserError("the run does not record its data columns", "it was not written by `unroll train classify --label`");
  const source = data ?? recorded.data;
  const { series, labels } = labelledSeries(await readNumericTable(source), { ...recorded, data: source }, loaded.classes);
  const T = loaded.window;
  const F = loaded.scaler.features.length;
  const ends = series.flatMap((s, i) => Array.from({ length: Math.max(0, s.length - T + 1) }, (_, k) => ({ series: i, end: T + k })));
  if (ends.length < B) throw new UserError(`${source} has ${ends.length} windows of ${T} rows, fewer than --batch ${B}`, "lower --batch, or pass --data with longer series");
  const picked = Array.from({ length: B }, (_, b) => ends[Math.floor((b * ends.length) / B)]!);
  const scaled = series.map((s) => loaded.scaler.transform(s.values));
  const inputs = new Float32Array(T * B * F);
  picked.forEach((w, b) => {
    for (let t = 0; t < T; t++) inputs.set(scaled[w.series]!.subarray((w.end - T + t) * F, (w.end - T + t + 1) * F), (t * B + b) * F);
  });
  const batch = {
    inputs: new Tensor(inputs, [T, B, F]),
    lengths: new Tensor(new Int32Array(B).fill(T), [B]),
    labels: new Tensor(Int32Array.from(picked, (w) => labels[w.series]![w.end - 1]!), [B]),
  };
  const gradNorms = classifierGradientFlow(loaded.model, loaded.params, batch);
  const sat = saturation(loaded.model.encoder.rnn, loaded.params.rnn, batch.inputs);
  return {
    label: `${run} (step ${loaded.step}, window classifier, ${loaded.model.config.pooling} pooling)`,
    loaded,
    loss: null,
    gradNorms,
    saturation: sat.fractions,
    saturationThreshold: sat.threshold,
    spectralRadii: recurrentSpectralRadii(loaded.params.rnn),
    source: `${source} (${B} windows of ${T} rows)`,
  };
}
