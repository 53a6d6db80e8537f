// The long-range experiments of the source material: the adding problem and copy memory with a
// tanh RNN, IRNN, np-RNN and LSTM trained under one budget, and the clipping demonstration.
//
//   pnpm --filter @unroll/train experiment -- --task adding --T 150 --hidden 100 --steps 4000 \
//     --batch 32 --lr tanh=1e-3,irnn=1e-4,np-rnn=1e-4,lstm=1e-3 --results /tmp/adding-T150
//   pnpm --filter @unroll/train experiment -- --task clipping --T 50 --hidden 100 --steps 500
//
// Prints progress to stderr and the table to stdout; with --results PATH also writes PATH.json
// (every number, the learning curves) and PATH.md (the table). --jobs N trains the models in N
// child processes. Ctrl-C stops after the current step and reports what was trained so far.
import { fork } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname } from "node:path";
import {
  clippingTable,
  type ClippingRow,
  DEFAULT_LR,
  isModelKind,
  longRangeTable,
  type LongRangeOptions,
  type LongRangeRow,
  MODEL_KINDS,
  type ModelKind,
  type ProgressEvent,
  runClippingDemo,
  runLongRange,
} from "../src/index.js";

const USAGE = `usage: long-range [--task adding|copy|clipping] [--T N] [--hidden N] [--steps N] [--batch N]
  [--lr X | --lr tanh=X,irnn=X,np-rnn=X,lstm=X] [--clip X|none] [--optimizer adam|sgd] [--seed N]
  [--models tanh,irnn,np-rnn,lstm] [--test-size N] [--eval-every N] [--gain X] [--jobs N]
  [--progress-every N] [--results PATH]`;

interface Config {
  task: "adding" | "copy" | "clipping";
  T: number;
  hidden: number;
  steps: number;
  batch: number;
  lr: Partial<Record<ModelKind, number>> | number | undefined;
  clip: number | null;
  optimizer: "adam" | "sgd";
  seed: number;
  models: ModelKind[];
  testSize: number;
  evalEvery: number;
  gain: number;
  jobs: number;
  progressEvery: number;
  results: string | null;
}

function fail(message: string): never {
  console.error(`long-range: ${message}\n${USAGE}`);
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Config {
  const flags = new Map<string, string>();
  const args = argv[0] === "--" ? argv.slice(1) : argv; // pnpm passes the separator on
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--help" || arg === "-h") {
      console.log(USAGE);
      process.exit(0);
    }
    if (!arg.startsWith("--")) fail(`unexpected argument ${JSON.stringify(arg)}`);
    const [key, inline] = arg.slice(2).split("=", 2) as [string, string | undefined];
    const value = inline ?? args[++i];
    if (value === undefined) fail(`--${key} needs a value`);
    flags.set(key, value);
  }
  const known = ["task", "T", "hidden", "steps", "batch", "lr", "clip", "optimizer", "seed", "models", "test-size", "eval-every", "gain", "jobs", "progress-every", "results"];
  for (const key of flags.keys()) if (!known.includes(key)) fail(`unknown flag --${key}`);
  const int = (key: string, fallback: number, min = 1): number => {
    const raw = flags.get(key);
    if (raw === undefined) return fallback;
    const v = Number(raw);
    if (!Number.isInteger(v) || v < min) fail(`--${key} must be an integer >= ${min}, got ${raw}`);
    return v;
  };
  const num = (key: string, raw: string): number => {
    const v = Number(raw);
    if (!Number.isFinite(v) || v <= 0) fail(`--${key} must be a positive number, got ${raw}`);
    return v;
  };
  const task = flags.get("task") ?? "adding";
  if (task !== "adding" && task !== "copy" && task !== "clipping") fail(`--task must be adding, copy or clipping, got ${task}`);
  const clipping = task === "clipping";

  let lr: Config["lr"];
  const rawLr = flags.get("lr");
  if (rawLr !== undefined && rawLr.includes("=")) {
    const perModel: Partial<Record<ModelKind, number>> = {};
    for (const part of rawLr.split(",")) {
      const [name, value] = part.split("=") as [string, string | undefined];
      if (!isModelKind(name) || value === undefined) fail(`--lr expects model=rate pairs (models: ${MODEL_KINDS.join(", ")}), got ${part}`);
      perModel[name] = num("lr", value);
    }
    lr = perModel;
  } else if (rawLr !== undefined) {
    lr = num("lr", rawLr);
  }
  const rawClip = flags.get("clip") ?? "1";
  const models = (flags.get("models") ?? MODEL_KINDS.join(",")).split(",").map((m) => m.trim());
  for (const m of models) if (!isModelKind(m)) fail(`unknown model ${m}; expected ${MODEL_KINDS.join(", ")}`);
  const optimizer = flags.get("optimizer") ?? "adam";
  if (optimizer !== "adam" && optimizer !== "sgd") fail(`--optimizer must be adam or sgd, got ${optimizer}`);
  return {
    task,
    T: int("T", clipping ? 50 : 150, task === "copy" ? 1 : 2),
    hidden: int("hidden", 100),
    steps: int("steps", clipping ? 500 : 4000),
    batch: int("batch", 32),
    lr,
    clip: rawClip === "none" || rawClip === "0" ? null : num("clip", rawClip),
    optimizer,
    seed: int("seed", 0, 0),
    models: models as ModelKind[],
    testSize: int("test-size", 1000),
    evalEvery: int("eval-every", clipping ? 100 : 500, 0),
    gain: num("gain", flags.get("gain") ?? "2.5"),
    jobs: int("jobs", 1),
    progressEvery: int("progress-every", 100),
    results: flags.get("results") ?? null,
  };
}

function minutes(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return "?";
  return ms < 60_000 ? `${(ms / 1000).toFixed(0)} s` : `${(ms / 60_000).toFixed(1)} min`;
}

function progressPrinter(every: number): (e: ProgressEvent) => void {
  return (e) => {
    if (e.test) {
      const acc = e.test.accuracy === undefined ? "" : `, accuracy ${(100 * e.test.accuracy).toFixed(1)}%`;
      console.error(`[${e.model}] step ${e.step}/${e.steps}: test loss ${e.test.loss.toFixed(4)}${acc} (${minutes(e.elapsedMs)} elapsed)`);
    } else if (e.step % every === 0 || e.step === 1) {
      console.error(
        `[${e.model}] step ${e.step}/${e.steps}: loss ${e.loss.toFixed(4)}, grad norm ${e.gradNorm.toPrecision(3)}, ` +
          `${minutes(e.elapsedMs)} elapsed, about ${minutes(e.etaMs)} to go`,
      );
    }
  };
}

function longRangeOptions(config: Config, models: readonly ModelKind[], signal: AbortSignal): LongRangeOptions {
  return {
    task: config.task === "copy" ? "copy" : "adding",
    length: config.T,
    hiddenSize: config.hidden,
    steps: config.steps,
    batchSize: config.batch,
    clip: config.clip,
    models,
    ...(config.lr === undefined ? {} : { lr: config.lr }),
    optimizer: config.optimizer,
    seed: config.seed,
    testSize: config.testSize,
    evalEvery: config.evalEvery,
    onProgress: progressPrinter(config.progressEvery),
    signal,
  };
}

/** Splits the models over `jobs` processes, the LSTM (about 4x a plain RNN's step time) counted as 4. */
function partition(models: readonly ModelKind[], jobs: number): ModelKind[][] {
  const groups = Array.from({ length: Math.min(jobs, models.length) }, () => ({ cost: 0, models: [] as ModelKind[] }));
  const cost = (m: ModelKind): number => (m === "lstm" ? 4 : 1);
  for (const m of [...models].sort((a, b) => cost(b) - cost(a))) {
    const g = groups.reduce((best, x) => (x.cost < best.cost ? x : best));
    g.cost += cost(m);
    g.models.push(m);
  }
  return groups.map((g) => g.models);
}

async function inChildren(config: Config, groups: ModelKind[][]): Promise<LongRangeRow[]> {
  const script = process.argv[1]!;
  const runs = groups.map(
    (models) =>
      new Promise<LongRangeRow[]>((resolve, reject) => {
        const args = process.argv.slice(2).filter((a) => a !== "--");
        const child = fork(script, [...args, "--models", models.join(","), "--jobs", "1"], {
          env: { ...process.env, LONG_RANGE_CHILD: "1" },
          execArgv: process.execArgv,
        });
        let rows: LongRangeRow[] | null = null;
        child.on("message", (m) => (rows = m as LongRangeRow[]));
        child.on("exit", (code) => (rows ? resolve(rows) : reject(new Error(`the job for ${models.join(",")} exited with ${code}`))));
      }),
  );
  const byModel = new Map((await Promise.all(runs)).flat().map((r) => [r.model, r]));
  return config.models.flatMap((m) => (byModel.has(m) ? [byModel.get(m)!] : []));
}

/** JSON cannot hold Infinity or NaN: they are written as strings. */
function toJSON(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v), 2);
}

function writeResults(path: string, config: Config, command: string, totalMs: number, table: string, rows: unknown[]): void {
  const base = path.replace(/\.(json|md)$/, "");
  mkdirSync(dirname(base), { recursive: true });
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model ?? "?", node: process.version, platform: process.platform };
  writeFileSync(
    `${base}.json`,
    toJSON({ format: "unroll-long-range-results", version: 1, command, config, machine, totalWallMs: totalMs, finishedAt: new Date().toISOString(), rows }) + "\n",
  );
  writeFileSync(
    `${base}.md`,
    `# Long-range experiment: ${config.task}\n\n\`${command}\`\n\n${table}\n\nTotal wall time ${minutes(totalMs)} ` +
      `on ${machine.cpus} x ${machine.cpu}, Node ${machine.node}.\n`,
  );
  console.error(`wrote ${base}.json and ${base}.md`);
}

async function main(): Promise<void> {
  const config = parseArgs(process.argv.slice(2));
  const command = `pnpm --filter @unroll/train experiment -- ${process.argv.slice(2).filter((a) => a !== "--").join(" ")}`.trim();
  const controller = new AbortController();
  process.on("SIGINT", () => {
    if (controller.signal.aborted) process.exit(130);
    console.error("stopping after the current step (Ctrl-C again to quit now)");
    controller.abort();
  });
  const start = performance.now();

  if (process.env.LONG_RANGE_CHILD === "1" && process.send) {
    const rows = await runLongRange(longRangeOptions(config, config.models, controller.signal));
    process.send(rows, () => process.exit(0));
    return;
  }

  if (config.task === "clipping") {
    console.error(`clipping demo: tanh RNN, W_hh ~ N(0, (${config.gain}/√H)²), SGD lr ${config.lr ?? 0.1}, T ${config.T}, H ${config.hidden}, ${config.steps} steps`);
    if (typeof config.lr === "object") fail("--lr takes one number for the clipping demo");
    const rows: ClippingRow[] = await runClippingDemo({
      length: config.T,
      hiddenSize: config.hidden,
      steps: config.steps,
      batchSize: config.batch,
      ...(config.lr === undefined ? {} : { lr: config.lr }),
      gain: config.gain,
      maxNorm: config.clip ?? 1,
      seed: config.seed,
      testSize: config.testSize,
      evalEvery: config.evalEvery,
      onProgress: progressPrinter(config.progressEvery),
      signal: controller.signal,
    });
    const table = clippingTable(rows);
    const totalMs = performance.now() - start;
    console.log(`${table}\n\ntotal wall time ${minutes(totalMs)}`);
    if (config.results) writeResults(config.results, config, command, totalMs, table, rows);
    return;
  }

  const lrs = config.models.map((m) => `${m} ${typeof config.lr === "number" ? config.lr : (config.lr?.[m] ?? DEFAULT_LR[m])}`);
  console.error(
    `${config.task} T=${config.T}, hidden ${config.hidden}, ${config.steps} ${config.optimizer} steps of batch ${config.batch}, ` +
      `clip ${config.clip ?? "none"}, seed ${config.seed}, test set ${config.testSize}; lr: ${lrs.join(", ")}`,
  );
  const groups = partition(config.models, config.jobs);
  const rows =
    groups.length > 1 ? await inChildren(config, groups) : await runLongRange(longRangeOptions(config, config.models, controller.signal));
  const table = longRangeTable(rows);
  const totalMs = performance.now() - start;
  console.log(`${table}\n\ntotal wall time ${minutes(totalMs)}${groups.length > 1 ? ` (${groups.length} processes: ${groups.map((g) => g.join("+")).join(" | ")})` : ""}`);
  if (config.results) writeResults(config.results, config, command, totalMs, table, rows);
}

await main();
