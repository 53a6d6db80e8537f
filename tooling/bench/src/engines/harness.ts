// The child-process side of an engine: read the job, time each workload, write the JSON.
// Usage (the runner does this): node [--expose-gc] --import tsx src/engines/<engine>.ts --job job.json --out result.json
import { readFileSync, writeFileSync } from "node:fs";
import { metricOf, type Job, type JobWorkload, type RunPlan, workPerRun } from "../config.js";
import type { EngineResult, WorkloadResult } from "../protocol.js";

export function readArgs(argv: readonly string[] = process.argv.slice(2)): { job: Job; out: string } {
  const get = (flag: string): string => {
    const i = argv.indexOf(flag);
    const v = i >= 0 ? argv[i + 1] : undefined;
    if (v === undefined) throw new Error(`engine child: missing ${flag} <path>`);
    return v;
  };
  return { job: JSON.parse(readFileSync(get("--job"), "utf8")) as Job, out: get("--out") };
}

export function writeResult(out: string, result: EngineResult): void {
  writeFileSync(out, JSON.stringify(result, null, 2));
}

/** Busy CPU seconds of the whole machine so far (all cores), from /proc/stat; null off Linux. */
export function machineBusySeconds(): number | null {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ...: busy = all but idle and iowait.
    const busy = f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + (f[7] ?? 0);
    return busy / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

const REPEAT_TARGET_S = 0.05;
/** How many sampled characters of W3 the result keeps for the cross-engine check. */
const SAMPLE_LENGTH = 100;
/** /proc/stat counts in 10 ms ticks: shorter measurements cannot say what else ran. */
const MIN_WALL_FOR_LOAD_S = 0.5;
const MAX_REPEATS = 10_000;

/** One workload, built: `run` performs one timed unit (a training step, a generation, a product). */
export interface Runnable {
  /** Returns the training loss of the step, if any. */
  run(): number | undefined | Promise<number | undefined>;
  readonly notes?: readonly string[];
  /** W3: the characters the last run sampled (compared across engines). */
  sample?(): readonly number[];
  dispose?(): void;
}

/** Warm-up runs, then timed runs as the plan says; the metric of each run from its wall time. */
export async function measure(w: JobWorkload, runnable: Runnable, log: (s: string) => void): Promise<WorkloadResult> {
  const plan: RunPlan = w.plan;
  const { unit, scale } = metricOf(w.spec);
  const work = workPerRun(w.spec);
  const losses: number[] = [];
  const record = (loss: number | undefined): void => {
    if (loss !== undefined) losses.push(loss);
  };
  // Warm-up: `plan.warmup` runs, but only one where a run takes longer than `plan.warmupSeconds`
  // (a 60-second training step is warm after one).
  let warmup = 0;
  let lastWarmup = 0;
  const warmStart = performance.now();
  while (warmup < plan.warmup && (warmup === 0 || (performance.now() - warmStart) / 1000 < plan.warmupSeconds)) {
    const t0 = performance.now();
    record(await runnable.run());
    lastWarmup = (performance.now() - t0) / 1000;
    warmup++;
  }
  // A matrix product takes well under a millisecond at 256³ on a fast engine: one timed run
  // repeats it until a run lasts about REPEAT_TARGET_S, from the last warm-up run's time.
  const repeats = w.spec.kind === "matmul" ? Math.min(MAX_REPEATS, Math.max(1, Math.ceil(REPEAT_TARGET_S / Math.max(1e-6, lastWarmup)))) : 1;
  const seconds: number[] = [];
  const busy0 = machineBusySeconds();
  const own0 = ownCpuSeconds();
  const start = performance.now();
  while (seconds.length < plan.runs || (seconds.length < plan.maxRuns && (performance.now() - start) / 1000 < plan.minSeconds)) {
    const t0 = performance.now();
    for (let r = 0; r < repeats; r++) record(await runnable.run());
    seconds.push((performance.now() - t0) / 1000);
  }
  const wall = (performance.now() - start) / 1000;
  const busy1 = machineBusySeconds();
  const own = ownCpuSeconds() - own0;
  const values = seconds.map((s) => ((work * repeats) / s) * scale);
  const median = [...values].sort((a, b) => a - b)[values.length >> 1]!;
  log(`${w.spec.id}: ${seconds.length} runs, median ${median.toPrecision(4)} ${unit}`);
  return {
    id: w.spec.id,
    spec: w.spec,
    unit,
    warmup,
    repeats,
    seconds,
    values,
    ...(losses.length ? { losses } : {}),
    backgroundCores: busy0 !== null && busy1 !== null && wall >= MIN_WALL_FOR_LOAD_S ? Math.max(0, (busy1 - busy0 - own) / wall) : null,
    ownCores: wall > 0 ? own / wall : null,
    ...(runnable.notes?.length ? { notes: runnable.notes } : {}),
    ...(runnable.sample ? { sample: runnable.sample().slice(0, SAMPLE_LENGTH) } : {}),
  };
}

/**
 * Thrown while building a workload that the engine cannot run at all (an operation it lacks): the
 * row says so, and unlike an error it does not fail the benchmark.
 */
export class UnsupportedWorkload extends Error {
  override name = "UnsupportedWorkload";
}

/** Runs every workload of the job, each error caught and reported in its row. */
export async function runAll(
  job: Job,
  build: (w: JobWorkload) => Runnable | Promise<Runnable>,
  log: (s: string) => void,
): Promise<WorkloadResult[]> {
  const results: WorkloadResult[] = [];
  for (const w of job.workloads) {
    try {
      const runnable = await build(w);
      try {
        results.push(await measure(w, runnable, log));
      } finally {
        runnable.dispose?.();
      }
    } catch (e) {
      const { unit } = metricOf(w.spec);
      const empty = { id: w.spec.id, spec: w.spec, unit, warmup: w.plan.warmup, repeats: 1, seconds: [], values: [], backgroundCores: null, ownCores: null };
      if (e instanceof UnsupportedWorkload) {
        log(`${w.spec.id}: not supported: ${e.message}`);
        results.push({ ...empty, unsupported: e.message });
        continue;
      }
      const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      log(`${w.spec.id}: failed: ${message}`);
      results.push({ ...empty, error: message });
    }
  }
  return results;
}

export function logger(label: string): (s: string) => void {
  return (s) => process.stderr.write(`  [${label}] ${s}\n`);
}
