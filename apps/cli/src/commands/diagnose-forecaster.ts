// `unroll diagnose` on a forecaster's run: the gradient of the forecast loss with respect to the top
// layer's forward hidden state at every step of the window (how far back a forecast reaches), the
// gates' saturation and the spectral radii of W_hh, over the first dev windows of the run's series.
import { DataError, forecasterDevBatch, forecasterGradientFlow, type LoadedForecaster, loadForecaster } from "@unroll/nlp";
import { recurrentSpectralRadii, saturation } from "@unroll/train";
import { UserError } from "../ui/errors.js";
import { loadRunWith } from "./classify.js";
import { readTable, seriesFor } from "./train-forecast.js";

export interface ForecasterDiagnosis {
  readonly label: string;
  readonly loaded: LoadedForecaster;
  readonly gradNorms: number[];
  readonly saturation: Record<string, number>;
  readonly saturationThreshold: number;
  readonly spectralRadii: Record<string, number>;
  readonly source: string;
}

/** The first `B` dev windows of the series the run was trained on (or of `--data`, a CSV with the same columns). */
export async function diagnoseForecaster(run: string, data: string | undefined, B: number): Promise<ForecasterDiagnosis> {
  const loaded = await loadRunWith(run, loadForecaster, "unroll train forecast");
  const training = loaded.config.training;
  const source = data ?? training.data;
  if (source === undefined) throw new UserError(`the run in ${run} does not record its series`, "pass --data with a CSV of the same columns");
  const { series, exclude } = seriesFor(await readTable(source), { ...training, data: source });
  let batch;
  try {
    batch = forecasterDevBatch(loaded, series, B, exclude);
  } catch (e) {
    if (e instanceof Error && (e.name === "ValueRangeError" || e instanceof DataError)) throw new UserError(`${source}: ${e.message.replace(/^\w+: /, "")}`, "lower --batch, or pass --data with longer series");
    throw e;
  }
  const gradNorms = forecasterGradientFlow(loaded.model, loaded.params, batch);
  const sat = saturation(loaded.model.encoder.rnn, loaded.params.rnn, batch.inputs);
  return {
    label: `${run} (step ${loaded.step}, forecaster)`,
    loaded,
    gradNorms,
    saturation: sat.fractions,
    saturationThreshold: sat.threshold,
    spectralRadii: recurrentSpectralRadii(loaded.params.rnn),
    source: `${source} (dev windows)`,
  };
}
