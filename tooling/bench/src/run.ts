// The side-by-side benchmark: unroll against TensorFlow.js (CPU and WebAssembly backends) and
// PyTorch, each engine in its own child process, one after the other.
//
//   pnpm bench                                   (from the repository root: turbo builds the packages first)
//   pnpm --filter @unroll/bench bench -- --quick --only W1,W3 --engines unroll,torch --runs 7
//
// Writes results/latest.json and results/latest.md next to this package (both ignored by git).
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  defaultPlan,
  ENGINE_NAMES,
  type EngineName,
  type Job,
  SIZES,
  type SizeName,
  WORKLOAD_IDS,
  type WorkloadId,
} from "./config.js";
import { probeTool, toolPath } from "@unroll/testing/optional-tools";
import { machineBusySeconds } from "./engines/harness.js";
import { unrollVariants } from "./engines/unroll.js";
import { type EngineResult, isEngineResult } from "./protocol.js";
import { drawsOf } from "./weights.js";
import {
  consistency,
  consistencyLines,
  DISTURBED_CORES,
  isDisturbed,
  markdownTable,
  memoryLines,
  summarizeResults,
  tableCells,
  textTable,
} from "./report.js";

export const PACKAGE_DIR = resolve(fileURLToPath(new URL("..", import.meta.url)));

export interface Options {
  readonly size: SizeName;
  readonly only: readonly WorkloadId[];
  readonly engines: readonly EngineName[];
  readonly runs: number | undefined;
  readonly outDir: string;
  readonly seed: number;
  /** Before each engine, wait up to this many seconds for other processes to leave the CPU. */
  readonly waitIdle: number;
}

const USAGE = `usage: tsx src/run.ts [--quick] [--only W1,W2,W3,W4,W5,W6,MM256,MM1024] [--engines ${ENGINE_NAMES.join(",")}] [--runs N] [--out DIR]
  --quick    smaller models and 3 runs: a smoke run of the whole suite in about a minute
  --only     workloads to run (MM selects both matrix products, CNN both encoder workloads W5,W6); default all
  --engines  engines to run; default all (torch runs at 1 thread, at every core, and at every core with OMP_WAIT_POLICY=PASSIVE)
  --runs     timed runs per workload (at least; full size keeps going to 3 s, at most 25 runs); default 5
  --out      directory for latest.json and latest.md; default results/ in this package
  --wait-idle S  before each engine, wait up to S seconds until other processes leave it the cores it needs`;

export function parseArgs(argv: readonly string[]): Options {
  let size: SizeName = "full";
  let only: WorkloadId[] = [...WORKLOAD_IDS];
  let engines: EngineName[] = [...ENGINE_NAMES];
  let runs: number | undefined;
  let outDir = join(PACKAGE_DIR, "results");
  let seed = 1234;
  let waitIdle = 0;
  const list = (v: string | undefined, flag: string): string[] => {
    if (!v) throw new Error(`${flag} needs a value\n${USAGE}`);
    return v.split(",").map((s) => s.trim()).filter(Boolean);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string | undefined => argv[++i];
    if (a === "--") continue;
    if (a === "--quick") size = "quick";
    else if (a === "--size") size = value() as SizeName;
    else if (a === "--only") {
      only = list(value(), a).flatMap((w) => {
        const u = w.toUpperCase();
        if (u === "MM") return ["MM256", "MM1024"] as WorkloadId[];
        if (u === "CNN") return ["W5", "W6"] as WorkloadId[];
        if (!(WORKLOAD_IDS as readonly string[]).includes(u)) throw new Error(`unknown workload ${w}\n${USAGE}`);
        return [u as WorkloadId];
      });
    } else if (a === "--engines") {
      engines = list(value(), a).map((e) => {
        if (!(ENGINE_NAMES as readonly string[]).includes(e)) throw new Error(`unknown engine ${e}\n${USAGE}`);
        return e as EngineName;
      });
    } else if (a === "--runs") {
      runs = Number(value());
      if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs needs a positive integer\n${USAGE}`);
    } else if (a === "--out") outDir = resolve(value() ?? "");
    else if (a === "--seed") seed = Number(value());
    else if (a === "--wait-idle") {
      waitIdle = Number(value());
      if (!(waitIdle >= 0)) throw new Error(`--wait-idle needs a number of seconds\n${USAGE}`);
    }
    else if (a === "--help" || a === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  if (!(size in SIZES)) throw new Error(`unknown size ${size}`);
  return { size, only, engines, runs, outDir, seed, waitIdle };
}

/** Whether PyTorch imports in the interpreter UNROLL_PYTHON names (default Debian's /usr/bin/python3). */
export function torchInstalled(): boolean {
  return probeTool("pytorch").found;
}

interface Launch {
  readonly job: Job;
  /** The threads the engine computes with. */
  readonly threads: number;
  readonly command: string;
  readonly args: string[];
  readonly env: NodeJS.ProcessEnv;
}

function nodeLaunch(job: Job): Launch {
  return { job, threads: 1, command: process.execPath, args: ["--expose-gc", "--import", "tsx", join(PACKAGE_DIR, "src/child.ts")], env: process.env };
}

/**
 * PyTorch's thread settings, each a row. Debian's torch runs its own operators on an OpenMP team
 * and its matrix products on OpenBLAS's pthreads; with libgomp's default (active) wait policy, the
 * OpenMP threads spin after every parallel region and take the cores from OpenBLAS's threads, so
 * on 2 cores "2 threads" is slower than 1 for the training steps. `OMP_WAIT_POLICY=PASSIVE` lets
 * them sleep: the best setting measured here (README).
 */
export interface TorchSetting {
  /** The job's variant: "1", "2", "2-passive". */
  readonly variant: string;
  readonly threads: number;
  readonly env: Readonly<Record<string, string>>;
}

export function torchSettings(cores: number): TorchSetting[] {
  const env = (n: number): Record<string, string> => ({ OMP_NUM_THREADS: String(n), OPENBLAS_NUM_THREADS: String(n), MKL_NUM_THREADS: String(n) });
  const settings: TorchSetting[] = [{ variant: "1", threads: 1, env: env(1) }];
  if (cores > 1) {
    settings.push({ variant: String(cores), threads: cores, env: env(cores) });
    settings.push({ variant: `${cores}-passive`, threads: cores, env: { ...env(cores), OMP_WAIT_POLICY: "PASSIVE" } });
  }
  return settings;
}

function torchLaunch(job: Job, setting: TorchSetting): Launch {
  // Thread pools read these when torch loads; torch.set_num_threads follows in the script.
  return {
    job,
    threads: setting.threads,
    command: toolPath("pytorch"),
    args: ["-I", join(PACKAGE_DIR, "pytorch/workloads.py")],
    env: { ...process.env, OMP_WAIT_POLICY: undefined, ...setting.env },
  };
}

/** CPU in use by all processes (this one idles meanwhile), in cores, over `ms` milliseconds. */
async function busyCores(ms: number): Promise<number | null> {
  const b0 = machineBusySeconds();
  await new Promise((r) => setTimeout(r, ms));
  const b1 = machineBusySeconds();
  return b0 === null || b1 === null ? null : (b1 - b0) / (ms / 1000);
}

/** Waits until `threads` cores are free (other processes, checked over 2 s, would not disturb) or `seconds` pass. */
async function waitForIdle(seconds: number, threads: number, cores: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const busy = await busyCores(2000);
    if (busy === null || !isDisturbed(busy, threads, cores)) return;
    if (Date.now() >= deadline) {
      process.stderr.write(`  (other processes still use ${busy.toFixed(2)} cores; going on)\n`);
      return;
    }
    process.stderr.write(`  (waiting: other processes use ${busy.toFixed(2)} cores)\n`);
    await new Promise((r) => setTimeout(r, 10_000));
  }
}

/** Runs one child, its progress on our stderr; returns its result or a row saying why there is none. */
async function runChild(l: Launch, dir: string, index: number): Promise<EngineResult> {
  const jobPath = join(dir, `job-${index}.json`);
  const outPath = join(dir, `result-${index}.json`);
  writeFileSync(jobPath, JSON.stringify(l.job));
  const label = `${l.job.engine}${l.job.variant ? ` (${l.job.variant})` : ""}`;
  process.stderr.write(`> ${label}\n`);
  const tail: string[] = [];
  const code = await new Promise<number | null>((done) => {
    const child = spawn(l.command, [...l.args, "--job", jobPath, "--out", outPath], { cwd: PACKAGE_DIR, env: l.env, stdio: ["ignore", "pipe", "pipe"] });
    const forward = (chunk: Buffer): void => {
      process.stderr.write(chunk);
      tail.push(...chunk.toString().split("\n").filter(Boolean));
      tail.splice(0, Math.max(0, tail.length - 8));
    };
    child.stdout.on("data", forward);
    child.stderr.on("data", forward);
    child.on("close", done);
  });
  try {
    const parsed: unknown = JSON.parse(readFileSync(outPath, "utf8"));
    if (isEngineResult(parsed)) return parsed;
    throw new Error("malformed result");
  } catch {
    return {
      engine: l.job.engine,
      variant: l.job.variant,
      label,
      threads: 0,
      threadsNote: "",
      versions: {},
      info: {},
      workloads: [],
      unavailable: `failed (exit ${code}): ${tail.slice(-3).join(" / ")}`,
    };
  }
}

function git(args: string[]): string {
  const r = spawnSync("git", args, { cwd: PACKAGE_DIR, encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : "";
}

export async function main(argv: readonly string[]): Promise<number> {
  const o = parseArgs(argv);
  const specs = SIZES[o.size];
  const plan = defaultPlan(o.size, o.runs);
  const workloads = o.only.map((id) => ({ spec: specs[id], plan, draws: drawsOf(specs[id]) }));
  const cores = cpus().length;
  const launches: Launch[] = [];
  const skipped: EngineResult[] = [];
  const notes: string[] = [];
  for (const engine of o.engines) {
    // Every sample is three full collections (tens of ms): the tiny size of the tests samples only at the pass boundaries.
    const memory = { kernelStride: o.size === "tiny" ? 1_000_000 : 1 };
    const job = (variant: string, withMemory = false): Job => ({ engine, variant, seed: o.seed, workloads, memory: withMemory ? memory : null });
    if (engine === "unroll") {
      for (const variant of unrollVariants(cores)) launches.push(nodeLaunch(job(variant, true)));
    } else if (engine === "torch") {
      if (torchInstalled()) for (const setting of torchSettings(cores)) launches.push(torchLaunch(job(setting.variant), setting));
      else skipped.push({ engine, variant: "", label: "torch", threads: 0, threadsNote: "", versions: {}, info: {}, workloads: [], unavailable: `not installed (${probeTool("pytorch").detail})` });
    } else launches.push(nodeLaunch(job("")));
  }

  const started = new Date();
  const load0 = loadavg();
  const dir = mkdtempSync(join(tmpdir(), "unroll-bench-"));
  const results: EngineResult[] = [];
  try {
    for (const [i, l] of launches.entries()) {
      if (o.waitIdle > 0) await waitForIdle(o.waitIdle, l.threads, cores);
      results.push(await runChild(l, dir, i));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  results.push(...skipped);
  const seconds = (Date.now() - started.getTime()) / 1000;

  const summaries = summarizeResults(results, o.only, cores);
  const { header, body } = tableCells(summaries);
  const machine = {
    cpu: cpus()[0]?.model ?? "unknown",
    cores,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAverageBefore: load0,
    loadAverageAfter: loadavg(),
  };
  const commit = git(["rev-parse", "--short", "HEAD"]);
  const dirty = git(["status", "--porcelain", "--untracked-files=no", "--", "../../packages"]).split("\n").filter(Boolean).length;
  const command = `tsx src/run.ts ${argv.filter((a) => a !== "--").join(" ")}`.trim();
  const disturbed = summaries.flatMap((s) => s.rows.filter((r) => r.disturbed).map((r) => `${s.id} ${r.label} (${r.backgroundCores!.toFixed(2)} cores)`));
  if (disturbed.length) {
    notes.push(`other processes competed for the cores (their use + the engine's threads > ${cores} + ${DISTURBED_CORES}) during: ${disturbed.join(", ")} (marked "!"): rerun those for clean numbers`);
  }
  const threads = results.map((r) => `${r.label}: ${r.unavailable ?? r.threadsNote}`);
  const info = results.filter((r) => Object.keys(r.info).length).map((r) => `${r.label}: ${Object.entries(r.info).map(([k, v]) => `${k}=${v}`).join(", ")}`);
  const memory = results.filter((r) => r.memory).map((r) => ({ label: r.label, ...r.memory! }));
  const same = consistency(results, o.only);
  if (same.some((c) => !c.ok)) notes.push("some engines do not reproduce the reference row's losses or samples (MISMATCH above): they may not run the same model");
  const sameHeading = `same model check (relative Δ to ${results.find((r) => r.unavailable === undefined)?.label ?? "?"}; all engines start from the same weights and data):`;

  const heading = `unroll benchmark, ${o.size} size, ${started.toISOString()}: ${machine.cpu}, ${cores} cores, Node ${machine.node}; git ${commit || "?"}${dirty ? ` + ${dirty} modified files in packages/` : ""}; ${seconds.toFixed(0)} s`;
  const lines = [
    heading,
    "",
    textTable(header, body),
    "",
    "ratio columns: the unroll row's median over this row's (throughput: above 1 means unroll is faster)",
    "bg cores: CPU used by other processes during the timed runs, in cores; \"!\": they competed with the engine for the cores",
    "",
    "threads:",
    ...threads.map((t) => `  ${t}`),
    "engine details:",
    ...info.map((t) => `  ${t}`),
    "",
    sameHeading,
    ...consistencyLines(same).map((l) => `  ${l}`),
    ...memory.flatMap((m) => ["", `${m.label}:`, ...memoryLines(m)]),
    ...(notes.length ? ["", "notes:", ...notes.map((n) => `  ${n}`)] : []),
  ];
  console.log(lines.join("\n"));

  mkdirSync(o.outDir, { recursive: true });
  const report = {
    format: "unroll-bench",
    version: 1,
    date: started.toISOString(),
    seconds,
    command,
    machine,
    git: { commit, modifiedFilesInPackages: dirty },
    settings: { size: o.size, plan, workloads: o.only, engines: o.engines, seed: o.seed, waitIdle: o.waitIdle },
    summary: summaries,
    consistency: same,
    threads,
    notes,
    engines: results,
  };
  writeFileSync(join(o.outDir, "latest.json"), JSON.stringify(report, null, 2));
  const md = [
    `# ${heading}`,
    "",
    `Command: \`${command}\``,
    "",
    markdownTable(header, body),
    "",
    "Ratio columns: the unroll row's median over this row's (above 1: unroll is faster). bg cores: CPU used by other processes during the timed runs; \"!\": they competed with the engine for the cores.",
    "",
    "Threads:",
    "",
    ...threads.map((t) => `- ${t}`),
    "",
    "Engine details:",
    "",
    ...info.map((t) => `- ${t}`),
    "",
    sameHeading.replace(/^same/, "Same").replace(/:$/, "."),
    "",
    "```",
    ...consistencyLines(same),
    "```",
    ...memory.flatMap((m) => ["", "```", ...memoryLines(m), "```"]),
    ...(notes.length ? ["", "Notes:", "", ...notes.map((n) => `- ${n}`)] : []),
    "",
  ];
  writeFileSync(join(o.outDir, "latest.md"), md.join("\n"));
  process.stderr.write(`wrote ${join(o.outDir, "latest.json")} and latest.md\n`);
  const failed = results.some((r) => r.unavailable?.startsWith("failed") || r.workloads.some((w) => w.error !== undefined));
  return failed || same.some((c) => !c.ok) ? 1 : 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
