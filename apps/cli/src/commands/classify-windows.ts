import { resolve } from "node:path";
import {
  classifyWindows,
  DataError,
  evaluateWindowClassifier,
  type LoadedWindowClassifier,
  windowConfigOf,
  formatClassificationReport,
  loadText,
  type NumericTable,
  parseNumericCsv,
  seriesOf,
  trainWindowClassifier,
  type TrainWindowClassifierConfig,
} from "@unroll/nlp";
import { UserError } from "../ui/errors.js";
import type { Output } from "../ui/output.js";
import { loadCheckpoint } from "@unroll/train";
import { inRun, type MetricsSink, metricsSink, openRun, reportTraining } from "../training/run.js";
import { TrainingProgress } from "../ui/progress.js";

// `train classify` on a CSV of numbers: windows of the feature columns, each labelled by the
// label column at its last row (an event, a fault, a state), through nlp's trainWindowClassifier.

/** What a numeric run records about its data, for `eval classify --data other.csv`. */
export interface WindowDataSpec {
  readonly data: string;
  readonly label: string;
  readonly features: readonly string[];
  readonly group?: string;
}

export async function readNumericTable(path: string): Promise<NumericTable> {
  try {
    return parseNumericCsv(await loadText(path), path);
  } catch (e) {
    if (e instanceof DataError) throw new UserError(e.message, "a numeric classification file is a CSV: a header line, then rows of numbers, the label column among them");
    throw e;
  }
}

/** The series, their class ids per row and the class names (the label column's distinct values, in numeric order). */
export function labelledSeries(table: NumericTable, spec: WindowDataSpec, classes?: readonly string[]) {
  for (const name of [spec.label, ...spec.features, ...(spec.group ? [spec.group] : [])]) {
    if (!table.columns.includes(name)) throw new UserError(`there is no column "${name}" in ${spec.data}; its columns are ${table.columns.join(", ")}`);
  }
  if (spec.features.includes(spec.label)) throw new UserError(`the label column "${spec.label}" cannot be a feature too`, "drop it from --features");
  const series = seriesOf(table, spec.features, spec.group);
  const raw = seriesOf(table, [spec.label], spec.group).map((s) => s.values);
  const names = classes ?? [...new Set(raw.flatMap((v) => Array.from(v)))].sort((a, b) => a - b).map(String);
  const ids = new Map(names.map((n, i) => [n, i]));
  const labels = raw.map((values) =>
    Int32Array.from(values, (v) => {
      const id = ids.get(String(v));
      if (id === undefined) throw new UserError(`${spec.data}: the label ${v} is not one the model was trained on (${names.join(", ")})`);
      return id;
    }),
  );
  if (names.length < 2) throw new UserError(`${spec.data}: the label column "${spec.label}" holds one value only (${names[0]}): a classifier needs at least 2 classes`);
  return { series, labels, classes: names };
}

export async function trainWindows(
  out: Output,
  a: { dir: string; force: boolean; resume: boolean; spec: WindowDataSpec | null; config: TrainWindowClassifierConfig; checkpointEvery?: number; tensorboard?: string },
): Promise<void> {
  let spec = a.spec ? { ...a.spec, data: resolve(a.spec.data) } : null;
  // Everything about a new run's data is checked before the run folder is made.
  let data = spec ? labelledSeries(await readNumericTable(spec.data), spec) : null;
  const run = await openRun(out, { dir: a.dir, resume: a.resume, force: a.force, command: "unroll train classify" });
  run.releaseOnExit();
  await inRun(run, async () => {
    let config = a.config;
    if (a.resume) {
      // A resumed run reads the series it was trained on, with its own settings.
      const saved = windowConfigOf(await loadCheckpoint(run.checkpoint!), run.dir);
      spec = saved.data as unknown as WindowDataSpec;
      data = labelledSeries(await readNumericTable(spec.data), spec, saved.classes);
      config = { ...saved.training, ...a.config };
    }
    const { series, labels, classes } = data!;
    out.info(
      `window classifier of ${spec!.features.join(", ")} (${config.window ?? 24} rows per window, labelled by "${spec!.label}" at the last row; classes ${classes.join(", ")}), ${series.length} series` +
        (a.resume ? `; resuming from ${run.checkpoint}` : ""),
    );
    let progress: TrainingProgress | null = null;
    let metrics: (MetricsSink & { close(): void }) | null = null;
    let lastEvalStep = -1;
    let result;
    try {
      result = await trainWindowClassifier({
        series,
        labels,
        classes,
        config,
        checkpointDir: run.dir,
        ...(a.checkpointEvery !== undefined ? { checkpointEvery: a.checkpointEvery } : {}),
        resume: a.resume,
        keepBest: true,
        describe: { ...spec },
        onTrainer: async (trainer, info) => {
          const opened = await run.openMetrics(info.resumedFrom ?? undefined);
          metrics = await metricsSink(out, opened.log, { tensorboard: a.tensorboard, resumedFrom: info.resumedFrom });
          progress = new TrainingProgress(out, info.targetSteps, undefined, undefined, "windows");
          reportTraining(trainer, { progress, metrics, vocabSize: classes.length, lossUnit: "nats/window" });
          trainer.events.on("eval", (e) => (lastEvalStep = e.step));
        },
        onEvaluation: (step, r) => reportClassification(metrics as MetricsSink | null, progress as TrainingProgress | null, step, r, step !== lastEvalStep),
      }).catch((e: unknown) => {
        if (e instanceof DataError && e.code === "CHANGED") throw new UserError(e.message, `a resumed run must read the series it was trained on: restore ${spec!.data}, or start a new run with --force`);
        if (e instanceof DataError) throw new UserError(e.message, e.code === "TOO_SHORT" ? "use a smaller --window, or longer series" : "leave the column out of --features");
        throw e;
      });
    } finally {
      (progress as TrainingProgress | null)?.stop();
      (metrics as { close(): void } | null)?.close();
    }
    const best = result.best;
    const parts = [result.dev ? `dev\n${formatClassificationReport(result.dev)}` : null, result.test ? `test (the last 15% of every series)\n${formatClassificationReport(result.test)}` : null].filter(Boolean);
    out.result(
      { event: "done", steps: result.steps, stopReason: result.stopReason, checkpoint: run.dir, trainWindows: result.trainWindows, dev: result.dev, test: result.test, best: best ? { step: best.step, devLoss: best.loss, checkpoint: best.dir } : null },
      () =>
        `${result.stopReason === "early-stopping" ? "stopped early (the dev loss stopped improving: --patience)" : "finished"} at step ${result.steps}\n${parts.join("\n\n")}\ncheckpoint saved in ${run.dir}` +
        (best ? `; lowest dev loss ${best.loss.toFixed(4)} at step ${best.step}, kept in ${best.dir}` : "") +
        `; score other series with: unroll eval classify ${best ? best.dir : run.dir} --data other.csv`,
    );
  });
}

/** `eval classify RUN --data other.csv` for a window classifier: every window of every series in the file. */
export async function evalWindows(
  o: Output,
  loaded: Parameters<typeof evaluateWindowClassifier>[0] & { readonly config: { readonly data?: Readonly<Record<string, unknown>> }; readonly step: number },
  data: string | undefined,
  svg: (report: ReturnType<typeof evaluateWindowClassifier>, title: string) => Promise<void>,
): Promise<void> {
  if (data === undefined) throw new UserError("a window classifier is scored on a CSV of other series", "pass --data other.csv (with the columns it was trained on)");
  const recorded = loaded.config.data as unknown as WindowDataSpec | undefined;
  if (!recorded) throw new UserError("the run does not record its data columns", "it was not written by `unroll train classify --label`");
  const { series, labels } = labelledSeries(await readNumericTable(data), { ...recorded, data }, loaded.classes);
  const report = evaluateWindowClassifier(loaded, series, labels);
  await svg(report, `${data}: accuracy ${(100 * report.accuracy).toFixed(1)}%, macro-F1 ${(100 * report.macroF1).toFixed(1)}%`);
  o.result({ data, step: loaded.step, examples: report.examples, accuracy: report.accuracy, macroF1: report.macroF1, perClass: report.perClass, confusion: report.confusion, classes: report.classes }, () => `${data}, step ${loaded.step}\n${formatClassificationReport(report)}`);
}

/**
 * `classify RUN < rows.csv` for a window classifier: one line out per data row, the class of the
 * window that ends at that row (empty for the first window - 1 rows, which no window ends at).
 */
export async function classifyWindowRows(o: Output, loaded: LoadedWindowClassifier, text: string, where: string): Promise<void> {
  let table: NumericTable;
  try {
    table = parseNumericCsv(text, where);
  } catch (e) {
    if (e instanceof DataError) throw new UserError(e.message, "give a header line naming the model's feature columns, then rows of numbers");
    throw e;
  }
  const features = loaded.scaler.features;
  for (const f of features) if (!table.columns.includes(f)) throw new UserError(`${where} has no column "${f}"; the model reads ${features.join(", ")}`);
  if (table.rows < loaded.window) throw new UserError(`${where} has ${table.rows} rows; a window is ${loaded.window}`, `give at least ${loaded.window} rows`);
  const [series] = seriesOf(table, features);
  const [classes] = classifyWindows(loaded, [series!]);
  for (let row = 1; row <= table.rows; row++) {
    const c = row >= loaded.window ? loaded.classes[classes![row - loaded.window]!]! : null;
    if (o.json) o.result({ row, label: c });
    else process.stdout.write(`${c ?? ""}\n`);
  }
}

/**
 * A classifier's dev evaluation in metrics.jsonl and on the progress line. `outsideTrainer`: the
 * final evaluation of a run that ended between validations, whose dev loss is logged too (plot draws it).
 */
export function reportClassification(
  metrics: MetricsSink | null,
  progress: TrainingProgress | null,
  step: number,
  r: { readonly loss: number; readonly accuracy: number; readonly macroF1: number },
  outsideTrainer: boolean,
): void {
  if (outsideTrainer) metrics?.append({ step, validation: r.loss });
  metrics?.append({ step, accuracy: r.accuracy, macroF1: r.macroF1 });
  progress?.line(`step ${step}: dev accuracy ${(100 * r.accuracy).toFixed(2)}%, macro-F1 ${(100 * r.macroF1).toFixed(2)}%`, { event: "classification", step, accuracy: r.accuracy, macroF1: r.macroF1, loss: r.loss });
}
