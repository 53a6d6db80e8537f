// `unroll diagnose` on a tagger's run: the gradient of the last step's tag loss with respect to the
// top layer's forward hidden state at every step (how far back one tag's loss reaches through the
// recurrence), the gates' saturation and the spectral radii of W_hh, over tagged sentences of the run.
import { gather, noGrad, type Tensor } from "@unroll/tensor";
import { encodeSentences, type LoadedTagger, loadTagger, taggerGradientFlow, taggingBatch } from "@unroll/nlp";
import { recurrentSpectralRadii, saturation } from "@unroll/train";
import { UserError } from "../ui/errors.js";
import { loadRunWith } from "./classify.js";
import { readTagged } from "./train-tag.js";

export interface TaggerDiagnosis {
  readonly label: string;
  readonly loaded: LoadedTagger;
  readonly gradNorms: number[];
  readonly saturation: Record<string, number>;
  readonly saturationThreshold: number;
  readonly spectralRadii: Record<string, number>;
  readonly source: string;
}

/** The first `B` sentences with at least `T` tokens (of `--data`, else the run's dev file, else its training file), cut to `T`. */
export async function diagnoseTagger(run: string, data: string | undefined, T: number, B: number): Promise<TaggerDiagnosis> {
  const loaded = await loadRunWith(run, loadTagger, "unroll train tag");
  const training = loaded.config.training;
  const source = data ?? training.dev ?? training.data;
  if (source === undefined) throw new UserError(`the run in ${run} does not record its sentences`, "pass --data with tagged sentences");
  const sentences = (await readTagged(source)).filter((s) => s.tokens.length >= T);
  if (sentences.length < B) throw new UserError(`${source} has ${sentences.length} sentences of at least --length ${T} tokens, fewer than --batch ${B}`, "lower --length or --batch, or pass --data with longer sentences");
  const cut = sentences.slice(0, B).map((s) => ({ tokens: s.tokens.slice(0, T), tags: s.tags.slice(0, T) }));
  const batch = taggingBatch(encodeSentences(cut, loaded.vocabulary, loaded.tags, source));
  const gradNorms = taggerGradientFlow(loaded.model, loaded.params, batch);
  const x: Tensor = noGrad(() => gather(loaded.params.embedding!.weight, batch.inputs));
  const sat = saturation(loaded.model.encoder.rnn, loaded.params.rnn, x);
  return {
    label: `${run} (step ${loaded.step}, tagger)`,
    loaded,
    gradNorms,
    saturation: sat.fractions,
    saturationThreshold: sat.threshold,
    spectralRadii: recurrentSpectralRadii(loaded.params.rnn),
    source,
  };
}
