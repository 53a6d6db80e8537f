// `unroll diagnose` on a sequence classifier's run: the gradient of the classification loss with
// respect to the top layer's hidden state at every step (how far back the loss reaches through the
// pooling), the gates' saturation and the spectral radii of W_hh, over held-out texts of the run.
import { noGrad, gather, type Tensor } from "@unroll/tensor";
import { classificationBatch, classifierGradientFlow, encodeExamples, type LoadedClassifier } from "@unroll/nlp";
import { recurrentSpectralRadii, saturation } from "@unroll/train";
import { UserError } from "../ui/errors.js";
import type { Output } from "../ui/output.js";
import { loadClassifierRun } from "./classify.js";
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
