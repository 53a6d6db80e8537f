/// <reference types="node" />
// metrics.jsonl: one JSON object per line, each with the `step` it belongs to, appended as the
// events happen (one write per line, no buffer), so that a process killed at any moment loses at
// most the line being written. A resumed run first cuts the file back to the step of the checkpoint
// it resumes from: the lines after a crash are then exactly those of an uninterrupted run.

import { errorMessage, RunFolderError } from "./errors.js";
import { loadNode, type NodeModules } from "./node.js";

/** The metrics file's name inside a run folder. */
export const METRICS_FILE = "metrics.jsonl";
/** The same records as CSV, beside it. */
export const METRICS_CSV_FILE = "metrics.csv";

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

// metrics.csv: the same rows as metrics.jsonl, for spreadsheets and pandas. Its header is the union
// of the records' keys (`step` first, then in the order they first appear), so a column that first
// appears later (the validation loss at step 200, BLEU at step 500) makes the file be rewritten
// whole (a temporary file renamed over it) with the new header; otherwise a row is appended per
// record. It is always derived from metrics.jsonl, the file of record: a run that opens the log
// (a resume, after the jsonl is cut back) writes it anew from the jsonl, so the two never disagree.

/** One CSV field (RFC 4180): numbers as JSON writes them, null as empty, text quoted when it must be. */
function csvField(value: unknown): string {
  if (value === null || value === undefined) return "";
  const text = typeof value === "string" ? value : typeof value === "number" || typeof value === "boolean" ? String(value) : JSON.stringify(value);
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The columns of `records`: `step`, then every other key in the order it first appears. */
function csvColumns(records: Iterable<Readonly<Record<string, unknown>>>, into: string[] = ["step"]): string[] {
  for (const r of records) for (const key of Object.keys(r)) if (!into.includes(key)) into.push(key);
  return into;
}

function csvRow(record: Readonly<Record<string, unknown>>, columns: readonly string[]): string {
  return `${columns.map((c) => csvField(Object.hasOwn(record, c) ? record[c] : undefined)).join(",")}\n`;
}

/**
 * metrics.jsonl's records as CSV text: a header of the union of their keys (`step` first), then one
 * row per record, in order; a key a record lacks is an empty field.
 */
export function metricsToCsv(records: readonly Readonly<Record<string, unknown>>[]): string {
  const columns = csvColumns(records);
  return `${columns.map(csvField).join(",")}\n${records.map((r) => csvRow(r, columns)).join("")}`;
}

/** The records of a metrics.jsonl text (blank lines skipped; an unfinished last line is not a record yet). */
function parseRecords(path: string, text: string): Record<string, unknown>[] {
  const lines = text.split("\n");
  lines.pop(); // what follows the last newline: empty, or a line still being written
  const records: Record<string, unknown>[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    if (recordStep(line) === null) {
      throw new RunFolderError("METRICS_DAMAGED", path, `${path} line ${i + 1} is not a metrics record (a JSON object with a "step"): the file was edited or damaged; fix or remove that line`);
    }
    records.push(JSON.parse(line) as Record<string, unknown>);
  });
  return records;
}

/** An open metrics.jsonl that records are appended to, one write per line (and metrics.csv beside it, if asked). */
export class MetricsLog {
  private fd: number | null;
  private csv: { readonly path: string; fd: number; columns: string[] } | null = null;

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
   * if missing and appended to (a resumed run, after `truncateMetrics`). `csv`: also keep this CSV
   * file (see `METRICS_CSV_FILE`), written anew now from what `path` holds.
   */
  static async open(path: string, options: { readonly fresh: boolean; readonly csv?: string }): Promise<MetricsLog> {
    const n = await loadNode();
    let log: MetricsLog;
    try {
      log = new MetricsLog(n, path, n.fsSync.openSync(path, options.fresh ? "wx" : "a"));
    } catch (e) {
      if ((e as { code?: unknown }).code === "EEXIST") {
        throw new RunFolderError("HOLDS_RUN", path, `${path} already exists: it holds another run's metrics`);
      }
      throw new RunFolderError("IO", path, `cannot open ${path}: ${errorMessage(e)}`, { cause: e });
    }
    if (options.csv !== undefined) {
      try {
        log.rewriteCsv(options.csv);
      } catch (e) {
        log.close();
        throw e;
      }
    }
    return log;
  }

  /** The CSV file kept beside the log, or null. */
  get csvPath(): string | null {
    return this.csv?.path ?? null;
  }

  /**
   * Writes `record` as one line, now (a synchronous write: the line is in the file when this
   * returns, whatever happens to the process next). Non-finite numbers are written as null. The
   * CSV gets the same row (the whole file anew, when the record brings a new column).
   */
  append(record: MetricsRecord): void {
    if (this.fd === null) throw new RunFolderError("IO", this.path, `${this.path} is closed`);
    const json = JSON.stringify(record);
    this.writeAll(this.fd, Buffer.from(`${json}\n`, "utf8"));
    if (this.csv === null) return;
    // The row is the jsonl line read back, so the two files hold the same values (NaN -> null -> empty).
    const row = JSON.parse(json) as Record<string, unknown>;
    if (Object.keys(row).some((k) => !this.csv!.columns.includes(k))) this.rewriteCsv(this.csv.path);
    else this.writeAll(this.csv.fd, Buffer.from(csvRow(row, this.csv.columns), "utf8"));
  }

  /** The CSV anew from the jsonl as it is: a temporary file, renamed over the old one. */
  private rewriteCsv(csvPath: string): void {
    const { fsSync } = this.n;
    let records: Record<string, unknown>[];
    try {
      records = parseRecords(this.path, fsSync.readFileSync(this.path, "utf8"));
    } catch (e) {
      if (e instanceof RunFolderError) throw e;
      throw new RunFolderError("IO", this.path, `cannot read ${this.path}: ${errorMessage(e)}`, { cause: e });
    }
    const tmp = `${csvPath}.tmp-${this.n.crypto.randomBytes(6).toString("hex")}`;
    try {
      fsSync.writeFileSync(tmp, metricsToCsv(records), { flag: "wx" });
      fsSync.renameSync(tmp, csvPath);
    } catch (e) {
      fsSync.rmSync(tmp, { force: true });
      throw new RunFolderError("IO", csvPath, `cannot write ${csvPath}: ${errorMessage(e)}`, { cause: e });
    }
    if (this.csv !== null) fsSync.closeSync(this.csv.fd);
    this.csv = { path: csvPath, fd: fsSync.openSync(csvPath, "a"), columns: csvColumns(records) };
  }

  private writeAll(fd: number, bytes: Buffer): void {
    let written = 0;
    while (written < bytes.length) written += this.n.fsSync.writeSync(fd, bytes, written, bytes.length - written);
  }

  close(): void {
    if (this.csv !== null) {
      this.n.fsSync.closeSync(this.csv.fd);
      this.csv = null;
    }
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    this.n.fsSync.closeSync(fd);
  }
}
