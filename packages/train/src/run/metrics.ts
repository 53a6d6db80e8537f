/// <reference types="node" />
// metrics.jsonl: one JSON object per line, each with the `step` it belongs to, appended as the
// events happen (one write per line, no buffer), so that a process killed at any moment loses at
// most the line being written. A resumed run first cuts the file back to the step of the checkpoint
// it resumes from: the lines after a crash are then exactly those of an uninterrupted run.

import { errorMessage, RunFolderError } from "./errors.js";
import { loadNode, type NodeModules } from "./node.js";

/** The metrics file's name inside a run folder. */
export const METRICS_FILE = "metrics.jsonl";

/** A metrics record: JSON data with the step it belongs to. */
export type MetricsRecord = { readonly step: number } & Readonly<Record<string, unknown>>;

/** What `truncateMetrics` kept and dropped. */
export interface TruncateResult {
  /** Complete lines kept (every one with a step <= the checkpoint's). */
  readonly kept: number;
  /** Lines removed: those of later steps, and an unfinished last line. */
  readonly dropped: number;
  /** The file's length afterwards, in bytes. */
  readonly bytes: number;
}

/**
 * Cuts `path` back to the lines of steps up to `step` (a checkpoint's): it keeps the lines up to the
 * first one of a later step and drops that one and everything after, plus an unfinished last line (a
 * write cut short by a crash). Blank lines are kept. A complete line that is not a JSON object with
 * a non-negative integer `step` is refused (RunFolderError "METRICS_DAMAGED", naming the line)
 * before anything changes: it is not this program's, and what follows it cannot be placed. A
 * missing file is nothing to cut.
 */
export async function truncateMetrics(path: string, step: number): Promise<TruncateResult> {
  const n = await loadNode();
  let bytes: Buffer;
  try {
    bytes = await n.fs.readFile(path);
  } catch (e) {
    if ((e as { code?: unknown }).code === "ENOENT") return { kept: 0, dropped: 0, bytes: 0 };
    throw new RunFolderError("IO", path, `cannot read ${path}: ${errorMessage(e)}`, { cause: e });
  }
  let at = 0;
  let kept = 0;
  let line = 0;
  let cut = -1;
  while (at < bytes.length) {
    const end = bytes.indexOf(0x0a, at);
    if (end < 0) {
      cut = at; // unfinished: the write of this line was cut short
      break;
    }
    line++;
    const text = bytes.subarray(at, end).toString("utf8");
    if (text.trim() !== "") {
      const lineStep = recordStep(text);
      if (lineStep === null) {
        throw new RunFolderError(
          "METRICS_DAMAGED",
          path,
          `${path} line ${line} is not a metrics record (a JSON object with a "step"): the file was edited or damaged; fix or remove that line`,
        );
      }
      if (lineStep > step) {
        cut = at;
        break;
      }
      kept++;
    }
    at = end + 1;
  }
  if (cut < 0) return { kept, dropped: 0, bytes: bytes.length };
  let dropped = 0;
  for (let i = cut; i < bytes.length; i++) if (bytes[i] === 0x0a) dropped++;
  if (bytes[bytes.length - 1] !== 0x0a) dropped++;
  try {
    await n.fs.truncate(path, cut);
  } catch (e) {
    throw new RunFolderError("IO", path, `cannot cut ${path} back to step ${step}: ${errorMessage(e)}`, { cause: e });
  }
  return { kept, dropped, bytes: cut };
}

function recordStep(text: string): number | null {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc) || !Object.hasOwn(doc, "step")) return null;
  const step = (doc as { step: unknown }).step;
  return Number.isSafeInteger(step) && (step as number) >= 0 ? (step as number) : null;
}

/** An open metrics.jsonl that records are appended to, one write per line. */
export class MetricsLog {
  private fd: number | null;

  private constructor(
    private readonly n: NodeModules,
    /** The file. */
    readonly path: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  /**
   * Opens `path` for appending. `fresh`: the file must not exist yet (a new run; a RunFolderError
   * "HOLDS_RUN" otherwise, so that no run's lines are ever mixed into another's); else it is created
   * if missing and appended to (a resumed run, after `truncateMetrics`).
   */
  static async open(path: string, options: { readonly fresh: boolean }): Promise<MetricsLog> {
    const n = await loadNode();
    try {
      return new MetricsLog(n, path, n.fsSync.openSync(path, options.fresh ? "wx" : "a"));
    } catch (e) {
      if ((e as { code?: unknown }).code === "EEXIST") {
        throw new RunFolderError("HOLDS_RUN", path, `${path} already exists: it holds another run's metrics`);
      }
      throw new RunFolderError("IO", path, `cannot open ${path}: ${errorMessage(e)}`, { cause: e });
    }
  }

  /**
   * Writes `record` as one line, now (a synchronous write: the line is in the file when this
   * returns, whatever happens to the process next). Non-finite numbers are written as null.
   */
  append(record: MetricsRecord): void {
    if (this.fd === null) throw new RunFolderError("IO", this.path, `${this.path} is closed`);
    const line = Buffer.from(`${JSON.stringify(record)}\n`, "utf8");
    let written = 0;
    while (written < line.length) written += this.n.fsSync.writeSync(this.fd, line, written, line.length - written);
  }

  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    this.n.fsSync.closeSync(fd);
  }
}
