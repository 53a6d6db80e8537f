/// <reference types="node" />
// A run folder: where one training writes its checkpoints (step-NNNNNNNN/, latest.json), its
// metrics.jsonl and, while it runs, its lock. Every training command opens its folder through
// `RunFolder.open`, which
// - takes the folder's exclusive lock (`run.lock`, see lock.ts) before it looks at anything, so
//   that two trainings never write into one folder and a replacement never touches a live run;
// - for a new run, refuses a folder that holds anything of an earlier run (a checkpoint, a pointer,
//   even a damaged one, leftovers of a crashed save, metrics) unless asked to replace it, and then
//   moves exactly those entries aside into a new sibling folder, or deletes exactly those, and
//   says which;
// - for a resume, finds the latest checkpoint and reports the real reason when it cannot be read;
// - opens metrics.jsonl for appending line by line, cut back to the resumed checkpoint's step.
// Files of the user's that are not a run's (notes, a diagnosis picture) are never touched.

import { CheckpointError } from "../checkpoint/errors.js";
import { isCheckpointEntry, latestCheckpoint } from "../checkpoint/checkpoint.js";
import { errorCode, errorMessage, RunFolderError } from "./errors.js";
import { RunLock } from "./lock.js";
import { METRICS_CSV_FILE, METRICS_FILE, MetricsLog, truncateMetrics, type TruncateResult } from "./metrics.js";
import { loadNode, type NodeModules } from "./node.js";

const STEP_DIR = /^step-(\d{8,})$/;
/** A temporary metrics.csv that a process killed while rewriting it left behind. */
const CSV_LEFTOVER = /^metrics\.csv\.tmp-[0-9a-f]+$/;

/**
 * The folder inside a run folder that holds the checkpoint of the best validation so far (a
 * checkpoint root: `best/latest.json` and one step directory), for the trainings that keep one.
 */
export const BEST_CHECKPOINT_DIR = "best";

/** Whether an entry of a run folder belongs to the run (and so is moved aside or refused as an old run's). */
function isRunEntry(name: string): boolean {
  return isCheckpointEntry(name) || name === METRICS_FILE || name === METRICS_CSV_FILE || name === BEST_CHECKPOINT_DIR || CSV_LEFTOVER.test(name);
}

/** What a folder holds of a run. */
export interface RunContents {
  /** The entries that belong to a run (checkpoints, pointer, leftovers of saves, metrics), sorted. */
  readonly entries: readonly string[];
  /** The steps of the checkpoint directories, ascending. */
  readonly steps: readonly number[];
  /** latest.json: the checkpoint it names, why it cannot be used, or null when there is none. */
  readonly latest: { readonly dir: string } | { readonly error: string } | null;
  readonly metrics: boolean;
}

/**
 * What `dir` holds of a run (nothing when it does not exist). Only reads. A latest.json that cannot
 * be read, or that names a missing checkpoint, is reported with the reason in `latest.error`.
 */
export async function inspectRunFolder(dir: string): Promise<RunContents> {
  const n = await loadNode();
  let names: string[];
  try {
    names = await n.fs.readdir(dir);
  } catch (e) {
    if (errorCode(e) === "ENOENT") return { entries: [], steps: [], latest: null, metrics: false };
    if (errorCode(e) === "ENOTDIR") throw new RunFolderError("NOT_A_FOLDER", dir, `${dir} is a file, not a run folder`);
    throw new RunFolderError("IO", dir, `cannot read the run folder ${dir}: ${errorMessage(e)}`, { cause: e });
  }
  const entries = names.filter(isRunEntry).sort();
  const steps = entries.flatMap((name) => {
    const m = STEP_DIR.exec(name);
    return m ? [Number(m[1])] : [];
  });
  steps.sort((a, b) => a - b);
  let latest: RunContents["latest"] = null;
  if (entries.includes("latest.json")) {
    try {
      const found = await latestCheckpoint(dir);
      latest = found === null ? null : { dir: n.path.basename(found) };
    } catch (e) {
      latest = { error: errorMessage(e) };
    }
  }
  return { entries, steps, latest, metrics: entries.includes(METRICS_FILE) };
}

/** A sentence on what a folder holds: "its latest checkpoint is step-00000300 (3 checkpoints, metrics.jsonl)". */
export function describeRunContents(contents: RunContents): string {
  const parts: string[] = [];
  if (contents.steps.length > 0) parts.push(`${contents.steps.length} checkpoint${contents.steps.length === 1 ? "" : "s"}`);
  if (contents.metrics) parts.push("metrics.jsonl");
  if (contents.entries.includes(METRICS_CSV_FILE)) parts.push(METRICS_CSV_FILE);
  if (contents.entries.includes(BEST_CHECKPOINT_DIR)) parts.push(`${BEST_CHECKPOINT_DIR}/`);
  const others = contents.entries.filter((e) => !STEP_DIR.test(e) && ![METRICS_FILE, METRICS_CSV_FILE, BEST_CHECKPOINT_DIR, "latest.json"].includes(e));
  if (others.length > 0) parts.push(`leftovers of an interrupted save: ${others.join(", ")}`);
  const list = parts.length > 0 ? ` (${parts.join(", ")})` : "";
  if (contents.latest === null) {
    return contents.entries.includes("latest.json") ? `latest.json names no checkpoint${list}` : `it has no latest.json${list}`;
  }
  if ("error" in contents.latest) return `its latest.json cannot be used: ${contents.latest.error}${list}`;
  return `its latest checkpoint is ${contents.latest.dir}${list}`;
}

/** What became of the run a new one replaced. */
export type ReplacedRun =
  | { readonly action: "moved"; readonly to: string; readonly entries: readonly string[] }
  | { readonly action: "deleted"; readonly entries: readonly string[] };

export interface OpenRunFolderOptions {
  /** "new": start a run; "resume": continue the one whose latest checkpoint is in the folder. */
  readonly mode: "new" | "resume";
  /**
   * A new run in a folder that holds one: "refuse" (the default) throws a RunFolderError
   * "HOLDS_RUN"; "move" moves the old run's entries into a new sibling folder
   * `<dir>.replaced-<UTC time>` (`previous.to`); "delete" deletes exactly those entries.
   */
  readonly replace?: "refuse" | "move" | "delete";
  /** The command line, recorded in the lock for the message another process prints. */
  readonly command?: string;
  /** The time that names the sibling folder of a moved run (default: now). */
  readonly now?: Date;
}

/** An open run folder: its lock is held until `close`. */
export class RunFolder {
  private metricsLog: MetricsLog | null = null;
  private onExit: (() => void) | null = null;

  private constructor(
    private readonly n: NodeModules,
    /** The folder, resolved. */
    readonly dir: string,
    readonly lock: RunLock,
    /** What the folder held when it was opened. */
    readonly contents: RunContents,
    /** A resume: the directory of the latest checkpoint; else null. */
    readonly checkpoint: string | null,
    /** A new run that replaced an old one: what happened to it; else null. */
    readonly previous: ReplacedRun | null,
    /** A new run that made the folder itself (it did not exist). */
    private readonly created: boolean = false,
  ) {}

  /**
   * Opens `dir` for a training (creating it for a new run), taking its lock first. Throws a
   * RunFolderError: "LOCKED" (another process trains there: its pid is in the message),
   * "HOLDS_RUN" (a new run in a folder holding an old one, without `replace`), "NO_CHECKPOINT" (a
   * resume with nothing to resume: the message says what the folder holds), "NOT_A_FOLDER", "IO";
   * or the CheckpointError that says why the latest checkpoint of a resume cannot be used. The
   * lock is released again whenever opening fails.
   */
  static async open(dir: string, options: OpenRunFolderOptions): Promise<RunFolder> {
    let created = false;
    const n = await loadNode();
    const root = n.path.resolve(dir);
    if (options.mode === "resume") {
      const before = await inspectRunFolder(root);
      if (before.entries.length === 0) {
        let exists = true;
        await n.fs.stat(root).catch(() => (exists = false));
        throw new RunFolderError("NO_CHECKPOINT", root, exists ? `there is no run to resume in ${root}: it holds no checkpoint` : `there is no run to resume: ${root} does not exist`);
      }
    } else {
      try {
        created = (await n.fs.mkdir(root, { recursive: true })) !== undefined;
      } catch (e) {
        throw new RunFolderError(errorCode(e) === "EEXIST" || errorCode(e) === "ENOTDIR" ? "NOT_A_FOLDER" : "IO", root, `cannot create the run folder ${root}: ${errorMessage(e)}`, { cause: e });
      }
    }
    const lock = await RunLock.acquire(root, options.command !== undefined ? { command: options.command } : {});
    try {
      const contents = await inspectRunFolder(root);
      if (options.mode === "resume") {
        let checkpoint: string | null;
        try {
          checkpoint = await latestCheckpoint(root);
        } catch (e) {
          if (e instanceof CheckpointError) throw e; // the real reason, naming latest.json
          throw new RunFolderError("IO", root, `cannot read the latest checkpoint of ${root}: ${errorMessage(e)}`, { cause: e });
        }
        if (checkpoint === null) {
          throw new RunFolderError("NO_CHECKPOINT", root, `there is no checkpoint to resume in ${root}: ${describeRunContents(contents)}`);
        }
        return new RunFolder(n, root, lock, contents, checkpoint, null);
      }
      let previous: ReplacedRun | null = null;
      if (contents.entries.length > 0) {
        const replace = options.replace ?? "refuse";
        if (replace === "refuse") {
          throw new RunFolderError("HOLDS_RUN", root, `${root} already holds a run: ${describeRunContents(contents)}`);
        }
        previous = replace === "move" ? await moveAside(n, root, contents.entries, options.now ?? new Date()) : await remove(n, root, contents.entries);
      }
      return new RunFolder(n, root, lock, contents, null, previous, created);
    } catch (e) {
      await lock.release().catch(() => undefined);
      throw e;
    }
  }

  /** The folder's metrics.jsonl. */
  get metricsPath(): string {
    return this.n.path.join(this.dir, METRICS_FILE);
  }

  /**
   * Opens metrics.jsonl for appending, line by line, and metrics.csv beside it with the same rows
   * (unless `csv: false`). A new run gets fresh files; a resume first cuts metrics.jsonl back to
   * `resumedStep`, the step of the checkpoint it continues from (see `truncateMetrics`), so that no
   * line is lost or repeated, and writes metrics.csv anew from it.
   */
  async openMetrics(resumedStep?: number, options: { readonly csv?: boolean } = {}): Promise<{ log: MetricsLog; truncated: TruncateResult | null }> {
    if (this.metricsLog !== null) throw new RunFolderError("IO", this.metricsPath, `${this.metricsPath} is open already`);
    let truncated: TruncateResult | null = null;
    if (resumedStep !== undefined) truncated = await truncateMetrics(this.metricsPath, resumedStep);
    for (const name of await this.n.fs.readdir(this.dir)) if (CSV_LEFTOVER.test(name)) await this.n.fs.rm(this.n.path.join(this.dir, name), { force: true });
    this.metricsLog = await MetricsLog.open(this.metricsPath, {
      fresh: resumedStep === undefined,
      ...(options.csv !== false ? { csv: this.n.path.join(this.dir, METRICS_CSV_FILE) } : {}),
    });
    return { log: this.metricsLog, truncated };
  }

  /**
   * Releases the lock if the process exits without `close` (a second Ctrl-C, `process.exit`). A
   * process killed outright leaves a stale lock, which the next open takes over.
   */
  releaseOnExit(): void {
    if (this.onExit !== null) return;
    this.onExit = () => this.lock.releaseSync();
    process.on("exit", this.onExit);
  }

  /**
   * Closes metrics.jsonl and releases the lock. `discardIfNoCheckpoint`: a new run that made its
   * folder and failed before its first checkpoint leaves no folder behind (there is nothing to
   * resume, and a half-written metrics file helps nobody).
   */
  async close(options: { readonly discardIfNoCheckpoint?: boolean } = {}): Promise<void> {
    this.metricsLog?.close();
    this.metricsLog = null;
    if (this.onExit !== null) process.off("exit", this.onExit);
    this.onExit = null;
    await this.lock.release();
    if (options.discardIfNoCheckpoint && this.created && (await latestCheckpoint(this.dir).catch(() => "unreadable")) === null) {
      await this.n.fs.rm(this.dir, { recursive: true, force: true });
    }
  }
}

function stamp(now: Date): string {
  const p = (x: number): string => String(x).padStart(2, "0");
  return `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}-${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
}

/** Moves `entries` of `root` into a new sibling folder `<root>.replaced-<time>[-k]`. */
async function moveAside(n: NodeModules, root: string, entries: readonly string[], now: Date): Promise<ReplacedRun> {
  const base = `${root}.replaced-${stamp(now)}`;
  let to = base;
  for (let k = 2; ; k++) {
    try {
      await n.fs.mkdir(to);
      break;
    } catch (e) {
      if (errorCode(e) !== "EEXIST" || k > 1000) throw new RunFolderError("IO", to, `cannot create ${to} to move the old run into: ${errorMessage(e)}`, { cause: e });
      to = `${base}-${k}`;
    }
  }
  // The pointer first: from then on the folder no longer looks like a run to resume.
  const order = [...entries].sort((a, b) => Number(b === "latest.json") - Number(a === "latest.json"));
  const moved: string[] = [];
  for (const name of order) {
    try {
      await n.fs.rename(n.path.join(root, name), n.path.join(to, name));
      moved.push(name);
    } catch (e) {
      const done = moved.length > 0 ? `; already moved: ${moved.join(", ")}` : "";
      throw new RunFolderError("IO", root, `cannot move ${name} of the old run in ${root} to ${to}: ${errorMessage(e)}${done}`, { cause: e });
    }
  }
  return { action: "moved", to, entries: order };
}

async function remove(n: NodeModules, root: string, entries: readonly string[]): Promise<ReplacedRun> {
  for (const name of entries) {
    try {
      await n.fs.rm(n.path.join(root, name), { recursive: true, force: true });
    } catch (e) {
      throw new RunFolderError("IO", root, `cannot delete ${name} of the old run in ${root}: ${errorMessage(e)}`, { cause: e });
    }
  }
  return { action: "deleted", entries: [...entries] };
}
