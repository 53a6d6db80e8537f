import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import {
  DataError,
  forecasterConfigOf,
  forecastNext,
  loadForecaster,
  type LoadedForecaster,
  loadText,
  type NumericTable,
  parseNumericCsv,
  prepareForecastData,
  sensorReadings,
  seriesOf,
  trainForecaster,
  type TrainForecastConfig,
} from "@unroll/nlp";
import { CheckpointError, loadCheckpoint, type RunFolder } from "@unroll/train";
import { pinTensors, treeLeaves } from "@unroll/tensor";
import { readConfigFile } from "../config.js";
import { chosenEngine, engineLabel, engineRefusal, engineSettings } from "../training/engine.js";
import { flagName, helpLine, kinds, readSettings, type SettingsTable } from "../settings/validate.js";
import { checkTensorBoardDir, inRun, type MetricsSink, metricsSink, openRun, printModelSummary, reportTraining, stopOnInterrupt } from "../training/run.js";
import { Interrupted, UserError } from "../ui/errors.js";
import type { Output } from "../ui/output.js";
import { TrainingProgress } from "../ui/progress.js";
import { useKernels } from "./kernel-flags.js";

/** The embedded series: Suthaharan et al.'s single-hop sensor network readings. */
const SENSORS = "sensors";

export const SETTINGS = {
  data: { kind: kinds.string, default: "none: required for a new run", help: `a CSV of numbers with a header line | ${SENSORS} (embedded: 4 motes' humidity and temperature every 5 s)` },
  target: { kind: kinds.string, default: "none: required for a new run", help: "the column to forecast" },
  features: { kind: kinds.string, help: "the columns read at every step, comma-separated (default: the target alone; the target is always among them)" },
  group: { kind: kinds.string, help: `a column that tells series apart (one sensor each; default for ${SENSORS}: mote_id)` },
  exclude: { kind: kinds.string, help: `a 0/1 column: training windows leave out the rows marked 1 (faults, introduced events; default for ${SENSORS}: label)` },
  window: { kind: kinds.positiveInteger, help: "steps read per forecast (default 48)" },
  horizon: { kind: kinds.positiveInteger, help: "steps forecast (default 1)" },
  stride: { kind: kinds.positiveInteger, help: "training windows start this many steps apart (default 1)" },
  season: { kind: kinds.positiveInteger, help: "period in steps for the seasonal-naive baseline (default: none)" },
  predict: { kind: kinds.choice("change", "value"), help: "change (default: from the last value read) | value" },
  out: { kind: kinds.string, default: "runs/forecast", help: "run directory (checkpoints, metrics.jsonl)" },
  cell: { kind: kinds.choice("lstm", "gru", "rnn_tanh", "rnn_relu"), default: "lstm", help: "lstm | gru | rnn_tanh | rnn_relu" },
  hidden: { kind: kinds.positiveInteger, help: "units (default 128)" },
  layers: { kind: kinds.positiveInteger, help: "recurrent layers (default 1)" },
  pooling: { kind: kinds.choice("last", "mean", "max"), help: "last (default) | mean | max" },
  loss: { kind: kinds.choice("mse", "mae"), help: "mse (default) | mae" },
  dropout: { kind: kinds.fraction, default: "0", help: "dropout between layers and before the output layer" },
  lr: { kind: kinds.positive, help: "learning rate (default 1e-3)" },
  clip: { kind: kinds.nonNegative, default: "5", help: "global gradient-norm clip (0: off; default 5)" },
  batch: { kind: kinds.positiveInteger, help: "windows per batch (default 64)" },
  steps: { kind: kinds.positiveInteger, default: "1000; none with --time alone", help: "training steps" },
  epochs: { kind: kinds.positive, default: "none: --steps decides", help: "passes over the training windows (instead of --steps)" },
  time: { kind: kinds.positive, default: "none", help: "time budget in minutes" },
  seed: { kind: kinds.integer, default: "0", help: "random seed" },
  evalEvery: { kind: kinds.positiveInteger, help: "dev errors every N steps (default 200)" },
  patience: { kind: kinds.positiveInteger, help: "early stopping: stop after N evaluations in a row without a lower dev loss (default: never)" },
  checkpointEvery: { kind: kinds.positiveInteger, help: "checkpoint every N steps (default 500; the lowest dev loss's is kept in <out>/best)" },
  kernels: { kind: kinds.choice("auto", "wasm", "reference"), default: "auto", help: "auto | wasm | reference" },
  ...engineSettings("LSTM or GRU"),
  tensorboard: { kind: kinds.string, default: "none", help: "also write TensorBoard event files into this directory" },
} as const satisfies SettingsTable;

type Key = keyof typeof SETTINGS;
type Values = ReadonlyMap<string, number | string | boolean>;

const DEFAULTS = { out: "runs/forecast", steps: 1000, checkpointEvery: 500 } as const;
const ON_RESUME = new Set<Key>(["out", "steps", "time", "patience", "kernels", "threads", "engine", "tensorboard", "data"]);
const RESUME_LIST = "--steps, --time, --patience, --kernels, --threads, --engine and --tensorboard";

export async function readTable(data: string): Promise<NumericTable> {
  try {
    if (data === SENSORS) return parseNumericCsv(await sensorReadings(), SENSORS);
    return parseNumericCsv(await loadText(data), data);
  } catch (e) {
    if (e instanceof DataError) throw new UserError(e.message, e.code === "NOT_FOUND" ? `give a CSV file with a header line, or --data ${SENSORS}` : "fix the file: every cell a number, every row as many cells as the header");
    throw e;
  }
}

/** The series, feature columns and exclusion marks a config names, with user errors for unknown columns. */
export function seriesFor(table: NumericTable, config: TrainForecastConfig) {
  const known = (name: string, what: string): void => {
    if (!table.columns.includes(name)) throw new UserError(`there is no ${what} column "${name}" in ${config.data}; its columns are ${table.columns.join(", ")}`);
  };
  known(config.target, "target");
  for (const f of config.features) known(f, "feature");
  if (config.groupBy) known(config.groupBy, "--group");
  if (config.exclude) known(config.exclude, "--exclude");
  const series = seriesOf(table, config.features, config.groupBy);
  const exclude = config.exclude ? seriesOf(table, [config.exclude], config.groupBy).map((s) => s.values) : undefined;
  return { series, exclude };
}

/** Every problem the data can bring, found before the run folder is made. */
function checkData(data: ReturnType<typeof seriesFor>, config: TrainForecastConfig): void {
  try {
    prepareForecastData(data.series, config, data.exclude ? { exclude: data.exclude } : {});
  } catch (e) {
    throw forecastDataError(e);
  }
}

function forecastDataError(e: unknown): unknown {
  if (e instanceof DataError) return new UserError(e.message, e.code === "TOO_SHORT" ? "use a smaller --window or --horizon, or longer series" : "leave the column out of --features");
  return e;
}

function toConfig(v: Values, source: ReadonlyMap<string, string>, resume: boolean): TrainForecastConfig {
  const get = <T extends number | string | boolean>(key: Key): T | undefined => v.get(key) as T | undefined;
  const set = (target: Record<string, unknown>, name: string, key: Key): void => {
    if (v.has(key)) target[name] = v.get(key);
  };
  const data = get<string>("data");
  const sensors = data === SENSORS;
  const target = get<string>("target");
  const model: Record<string, unknown> = {};
  set(model, "cell", "cell");
  set(model, "hiddenSize", "hidden");
  set(model, "numLayers", "layers");
  set(model, "pooling", "pooling");
  set(model, "loss", "loss");
  set(model, "dropout", "dropout");
  const config: Record<string, unknown> = { model };
  if (v.has("lr")) config.optimizer = { lr: get("lr") };
  if (target !== undefined) {
    const listed = (get<string>("features") ?? target).split(",").map((s) => s.trim()).filter(Boolean);
    config.features = listed.includes(target) ? listed : [...listed, target];
    config.target = target;
  } else if (v.has("features")) throw new UserError(`${source.get("features")} needs --target (the column to forecast)`);
  set(config, "window", "window");
  set(config, "horizon", "horizon");
  set(config, "stride", "stride");
  set(config, "season", "season");
  set(config, "predict", "predict");
  set(config, "clip", "clip");
  set(config, "batchSize", "batch");
  if (v.has("epochs")) config.epochs = get("epochs");
  else if (v.has("steps") || (!v.has("time") && !resume)) config.steps = get<number>("steps") ?? DEFAULTS.steps;
  set(config, "timeBudgetMinutes", "time");
  set(config, "seed", "seed");
  set(config, "evalEvery", "evalEvery");
  set(config, "patience", "patience");
  set(config, "kernels", "kernels");
  set(config, "threads", "threads");
  if (data !== undefined) config.data = sensors ? SENSORS : resolve(data);
  const group = get<string>("group") ?? (sensors ? "mote_id" : undefined);
  if (group !== undefined) config.groupBy = group;
  const exclude = get<string>("exclude") ?? (sensors ? "label" : undefined);
  if (exclude !== undefined) config.exclude = exclude;
  return config as unknown as TrainForecastConfig;
}

export function registerTrainForecast(train: Command, out: () => Output): void {
  const cmd = train
    .command("forecast")
    .description("train a forecaster of a numeric column's next values (sensor series), scored against the naive last-value and seasonal forecasts")
    .option("--config <file>", "JSON or YAML file with the settings below (flags override it)")
    .option("--resume", "continue the run in --out exactly where its last checkpoint left it")
    .option("--force", "start a new run in --out even if it holds one (the old run is moved into a new folder beside it, <out>.replaced-<time>)");
  for (const [key, spec] of Object.entries(SETTINGS)) cmd.option(`--${flagName(key)} <value>`, helpLine(spec));
  cmd.addHelpText(
    "after",
    `\nDefaults: --out ${DEFAULTS.out} --steps ${DEFAULTS.steps}; --window 48 --horizon 1, an LSTM of 128 reading the window, predicting the change from the\n` +
      `last value, MSE, Adam 1e-3, clip 5, batch 64. Every series is split in time order: the first 70% trains, the next 15% selects (dev),\n` +
      `the last 15% tests; the features are standardised on the training part (saved with the model). On --resume only ${RESUME_LIST}\nmay change. Examples:\n` +
      `  unroll train forecast --data ${SENSORS} --target temperature --window 24 --horizon 6 --season 12\n` +
      `  unroll train forecast --data load.csv --target kw --features kw,temp --horizon 24 --season 24 --out runs/load\n` +
      `  tail -n 49 load.csv | unroll forecast runs/load/best   # needs the header line first: see forecast --help`,
  );
  cmd.action(async (flags: Record<string, unknown>) => trainForecast(flags, out()));
}

async function trainForecast(flags: Record<string, unknown>, out: Output): Promise<void> {
  const file = flags.config === undefined ? undefined : String(flags.config);
  const { values, source } = readSettings(SETTINGS, flags, file === undefined ? {} : await readConfigFile(file), file);
  const resume = Boolean(flags.resume);
  if (resume) {
    const changed = [...values.keys()].filter((k) => !ON_RESUME.has(k as Key));
    if (changed.length > 0) {
      throw new UserError(`${changed.map((k) => source.get(k)).join(", ")} cannot change on --resume: the run continues with its own settings`, `drop them; only ${RESUME_LIST} may change`);
    }
  } else {
    if (!values.has("data")) throw new UserError(`train forecast needs numeric series: --data series.csv (a header line, then numbers) or --data ${SENSORS}`);
    if (!values.has("target")) throw new UserError("train forecast needs --target: the column to forecast", "e.g. --target temperature");
  }
  const config = toConfig(values, source, resume);
  const dir = resolve(String(values.get("out") ?? DEFAULTS.out));
  // A new run reads and checks its series before it touches --out.
  const table = resume ? null : await readTable(config.data!);
  const data = table ? seriesFor(table, config) : null;
  if (data) checkData(data, config);
  await checkTensorBoardDir(values.get("tensorboard") as string | undefined, { resume, force: Boolean(flags.force) });
  const run = await openRun(out, { dir, resume, force: Boolean(flags.force), command: "unroll train forecast" });
  run.releaseOnExit();
  await inRun(run, () => trainIn(run, { values, config, resume, data }, out));
}

async function trainIn(
  run: RunFolder,
  a: { values: Values; config: TrainForecastConfig; resume: boolean; data: ReturnType<typeof seriesFor> | null },
  out: Output,
): Promise<void> {
  let { config } = a;
  let data = a.data;
  if (a.resume) {
    let saved: TrainForecastConfig;
    try {
      saved = forecasterConfigOf(await loadCheckpoint(run.checkpoint!), run.dir).training;
    } catch (e) {
      if (e instanceof CheckpointError) throw new UserError(`the run in ${run.dir} cannot be resumed: ${e.message}`, "restore the file from a backup, or start a new run with --force");
      throw e;
    }
    if (config.data !== undefined && config.data !== saved.data) throw new UserError(`the run in ${run.dir} was trained on ${saved.data}, not ${config.data}`, "resume without --data");
    data = seriesFor(await readTable(saved.data!), saved);
    config = { ...config, features: saved.features, target: saved.target };
  }
  const interrupt = stopOnInterrupt(out);
  let progress: TrainingProgress | null = null;
  const tell = (line: string): void => ((progress as TrainingProgress | null) ? (progress as TrainingProgress).line(line, { event: "engine", text: line }) : out.info(line));
  let metrics: (MetricsSink & { close(): void }) | null = null;
  let lastEvalStep = -1;
  try {
    const result = await trainForecaster({
      series: data!.series,
      ...(data!.exclude ? { exclude: data!.exclude } : {}),
      config,
      checkpointDir: run.dir,
      checkpointEvery: (a.values.get("checkpointEvery") as number | undefined) ?? DEFAULTS.checkpointEvery,
      resume: a.resume,
      ...chosenEngine(a.values, { tell }),
      keepBest: true,
      signal: interrupt.signal,
      onTrainer: async (trainer, info) => {
        const m = info.model.config;
        out.info(
          `${m.cell} forecaster (${m.numLayers} × ${m.hiddenSize}, ${m.pooling}) of ${info.target} ${info.horizon} step${info.horizon === 1 ? "" : "s"} ahead from ${info.window} steps of ${info.scaler.features.join(", ")}` +
            ` (predicting the ${info.predict}), ${info.parameters.toLocaleString("en-US")} parameters, ${data!.series.length} series, ` +
            `${info.trainWindows.toLocaleString("en-US")} training / ${info.devWindows} dev / ${info.testWindows} test windows, ${engineLabel(a.values, info.kernels)}` +
            (info.resumedFrom !== null ? `; resuming from step ${info.resumedFrom}` : ""),
        );
        printModelSummary(out, info.model.parameterShapes());
        const opened = await run.openMetrics(info.resumedFrom ?? undefined);
        metrics = await metricsSink(out, opened.log, { tensorboard: a.values.get("tensorboard") as string | undefined, resumedFrom: info.resumedFrom });
        progress = new TrainingProgress(out, info.targetSteps, undefined, undefined, "windows");
        reportTraining(trainer, { progress, metrics, vocabSize: 2, lossUnit: "(scaled MSE)" });
        trainer.events.on("eval", (e) => (lastEvalStep = e.step));
      },
      onEvaluation: (step, r) => {
        const log = metrics as MetricsSink | null;
        if (step !== lastEvalStep) log?.append({ step, validation: r.loss });
        log?.append({ step, mae: r.mae, rmse: r.rmse });
        (progress as TrainingProgress | null)?.line(`step ${step}: dev MAE ${r.mae.toPrecision(4)}, RMSE ${r.rmse.toPrecision(4)} (${config.target}'s units)`, { event: "forecast", step, mae: r.mae, rmse: r.rmse, loss: r.loss });
      },
    }).catch((e: unknown) => {
      const refused = engineRefusal(e);
      if (refused) throw refused;
      throw forecastDataError(e);
    });
    (progress as TrainingProgress | null)?.stop();
    const stopped = result.stopReason === "stopped";
    const t = result.test;
    const fmt = (x: number): string => x.toPrecision(4);
    out.result(
      { event: "done", steps: result.steps, stopReason: result.stopReason, dev: result.evaluation, test: t, checkpoint: run.dir, best: result.best ? { step: result.best.step, devLoss: result.best.loss, checkpoint: result.best.dir } : null },
      () =>
        `${stopped ? "stopped" : "finished"} at step ${result.steps}; checkpoint saved in ${run.dir}` +
        (t
          ? `\ntest (${t.model.windows} windows, the last 15% of every series): MAE ${fmt(t.model.mae)}, RMSE ${fmt(t.model.rmse)}; ` +
            `last value MAE ${fmt(t.lastValue.mae)}, RMSE ${fmt(t.lastValue.rmse)}` +
            (t.seasonal ? `; seasonal MAE ${fmt(t.seasonal.mae)}, RMSE ${fmt(t.seasonal.rmse)}` : "")
          : "") +
        (stopped ? `\nresume with: unroll train forecast --out ${run.dir} --resume` : `\nforecast with: unroll forecast ${result.best ? result.best.dir : run.dir} < recent.csv`),
    );
    if (stopped) throw new Interrupted();
  } finally {
    (progress as TrainingProgress | null)?.stop();
    (metrics as { close(): void } | null)?.close();
    interrupt.dispose();
  }
}

/** `unroll forecast RUN < recent.csv`: the next values after the last window of rows. */
export function registerForecast(program: Command, out: () => Output): void {
  program
    .command("forecast")
    .description("forecast the next values of a trained forecaster's target from a CSV of recent rows (header line, then at least --window rows; the last rows are read)")
    .argument("<run>", "a run directory or a checkpoint directory written by `unroll train forecast` (such as <out>/best)")
    .option("--input <file>", "the CSV to read (default: standard input)")
    .option("--kernels <k>", "auto | wasm | reference", "auto")
    .option("--threads <n>", "threads for the WebAssembly kernels (default: the cores, at most 8)")
    .action(async (run: string, flags: Record<string, string | undefined>) => {
      const o = out();
      useKernels(flags);
      let loaded: LoadedForecaster;
      try {
        loaded = await loadForecaster(run);
      } catch (e) {
        if ((e as Error).name === "CheckpointError") throw new UserError((e as Error).message, "point at a run directory written by `unroll train forecast`");
        if ((e as Error).name === "ValueRangeError") throw new UserError((e as Error).message.replace(/^\w+: /, ""));
        throw e;
      }
      const where = flags.input ?? "standard input";
      const text = flags.input !== undefined ? await readFile(flags.input, "utf8") : await new Promise<string>((done) => {
        let s = "";
        process.stdin.on("data", (d: Buffer) => (s += d.toString()));
        process.stdin.on("end", () => done(s));
      });
      let table: NumericTable;
      try {
        table = parseNumericCsv(text, where);
      } catch (e) {
        if (e instanceof DataError) throw new UserError(e.message, "give a header line naming the model's feature columns, then rows of numbers");
        throw e;
      }
      const features = loaded.scaler.features;
      for (const f of features) if (!table.columns.includes(f)) throw new UserError(`${where} has no column "${f}"; the model reads ${features.join(", ")}`);
      if (table.rows < loaded.window) throw new UserError(`${where} has ${table.rows} rows; the model reads the last ${loaded.window}`, `give at least ${loaded.window} rows`);
      const [s] = seriesOf(table, features);
      const last = s!.values.subarray((s!.length - loaded.window) * features.length);
      const release = pinTensors(treeLeaves(loaded.params));
      let values: Float64Array;
      try {
        values = forecastNext(loaded, last, loaded.window);
      } finally {
        release();
      }
      o.result({ target: loaded.target, horizon: loaded.horizon, forecast: Array.from(values) }, () => Array.from(values, (v) => String(Number(v.toPrecision(6)))).join("\n"));
    });
}
