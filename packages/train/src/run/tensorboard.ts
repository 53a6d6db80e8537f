/// <reference types="node" />
// TensorBoard event files (Node only): scalar summaries that `tensorboard --logdir DIR` draws.
//
// The format, as TensorFlow writes it (tensorflow/core/util/event.proto, summary.proto, and
// tensorflow/core/lib/io/record_writer.cc):
//   - the file is a sequence of TFRecords: uint64 length (little-endian), uint32 masked CRC32C of
//     those 8 bytes, the data, uint32 masked CRC32C of the data; mask(crc) = ((crc >>> 15) |
//     (crc << 17)) + 0xa282ead8;
//   - each record's data is an `Event` protocol buffer: wall_time (1, double), step (2, int64),
//     file_version (3, string: the first event says "brain.Event:2"), summary (5, a `Summary` of
//     repeated `Value`s (1): tag (1, string), simple_value (2, float)), session_log (7: status (1)
//     START = 1, which makes TensorBoard drop the events of steps at or after its step: a resumed
//     run's restart);
//   - its name holds "tfevents": events.out.tfevents.<seconds>.<host>.<pid>.<n>, and TensorBoard
//     reads the files of a directory in the order of their names.
//
// No npm package writes these files without TensorFlow itself (@tensorflow/tfjs-node's
// summaryFileWriter needs the native libtensorflow that its install script downloads), so the few
// fields needed are encoded here by hand: a varint writer and the wire format's five field kinds.

import { errorMessage, RunFolderError } from "./errors.js";
import { loadNode, type NodeModules } from "./node.js";

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[i] = c >>> 0;
  }
  return table;
})();

/** CRC-32C (Castagnoli), the checksum of TFRecords. */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: ((crc >>> 15) | (crc << 17)) + 0xa282ead8, as a uint32. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord: length, its masked CRC, the data, the data's masked CRC. */
export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + 4 + data.length + 4);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

// ------------------------------------------------------------------------------------------------
// Protocol buffers: just the wire format of the fields above.

class ProtoWriter {
  private readonly parts: number[] = [];

  private varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.parts.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.parts.push(Number(v));
  }

  private key(field: number, wire: 0 | 1 | 2 | 5): void {
    this.varint((field << 3) | wire);
  }

  uint(field: number, value: number): this {
    this.key(field, 0);
    this.varint(value);
    return this;
  }

  double(field: number, value: number): this {
    this.key(field, 1);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, value, true);
    this.parts.push(...b);
    return this;
  }

  float(field: number, value: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.parts.push(...b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.key(field, 2);
    this.varint(value.length);
    for (const x of value) this.parts.push(x);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** What one event of a file holds (the fields this writer uses). */
export interface TensorBoardEvent {
  readonly wallTime: number;
  readonly step: number;
  readonly fileVersion?: string;
  /** Scalars: tag -> value (stored as float32, as TensorBoard's simple_value is). */
  readonly scalars?: Readonly<Record<string, number>>;
  /** A session start at `step`: TensorBoard drops the events of this step and later ones before it. */
  readonly sessionStart?: boolean;
}

/** The `Event` protocol buffer of `event`. */
export function encodeEvent(event: TensorBoardEvent): Uint8Array {
  const w = new ProtoWriter().double(1, event.wallTime).uint(2, event.step);
  if (event.fileVersion !== undefined) w.string(3, event.fileVersion);
  if (event.scalars !== undefined) {
    const summary = new ProtoWriter();
    for (const [tag, value] of Object.entries(event.scalars)) summary.bytes(1, new ProtoWriter().string(1, tag).float(2, value).finish());
    w.bytes(5, summary.finish());
  }
  if (event.sessionStart) w.bytes(7, new ProtoWriter().uint(1, 1).finish());
  return w.finish();
}

const EVENT_FILE = /^events\.out\.tfevents\.(\d+)\./;

/** The TensorBoard event files in `dir` (none when it does not exist), sorted as TensorBoard reads them. */
export async function tensorBoardEventFiles(dir: string): Promise<string[]> {
  const n = await loadNode();
  try {
    return (await n.fs.readdir(dir)).filter((name) => name.includes("tfevents")).sort();
  } catch (e) {
    if ((e as { code?: unknown }).code === "ENOENT") return [];
    throw new RunFolderError("IO", dir, `cannot read ${dir}: ${errorMessage(e)}`, { cause: e });
  }
}

export interface TensorBoardWriterOptions {
  /**
   * A resumed run's first new step: the file starts with a session start there, so that TensorBoard
   * drops what an earlier process wrote for this step and later ones (and the curves of a run killed
   * after its last checkpoint do not show twice). A new run that replaces an old one's events in the
   * same directory passes 1.
   */
  readonly purgeStep?: number;
  /** The time that names the file (default now). */
  readonly now?: Date;
}

/**
 * An event file that scalars are appended to, one event per call, each written at once (a
 * synchronous write: a killed process loses at most the event being written). The file is a new
 * one in `dir` for every writer, named to sort after the files already there.
 */
export class TensorBoardWriter {
  private fd: number | null;

  private constructor(
    private readonly n: NodeModules,
    /** The event file. */
    readonly path: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  static async open(dir: string, options: TensorBoardWriterOptions = {}): Promise<TensorBoardWriter> {
    const n = await loadNode();
    try {
      await n.fs.mkdir(dir, { recursive: true });
    } catch (e) {
      throw new RunFolderError("IO", dir, `cannot create the TensorBoard directory ${dir}: ${errorMessage(e)}`, { cause: e });
    }
    let seconds = Math.floor((options.now ?? new Date()).getTime() / 1000);
    for (const name of await tensorBoardEventFiles(dir)) {
      const m = EVENT_FILE.exec(name);
      if (m) seconds = Math.max(seconds, Number(m[1]) + 1); // sorts after every file there
    }
    const host = n.os.hostname().replace(/[^A-Za-z0-9._-]/g, "_") || "localhost";
    let fd: number | undefined;
    let path = "";
    for (let k = 0; fd === undefined; k++) {
      path = n.path.join(dir, `events.out.tfevents.${String(seconds).padStart(10, "0")}.${host}.${process.pid}.${k}`);
      try {
        fd = n.fsSync.openSync(path, "wx");
      } catch (e) {
        if ((e as { code?: unknown }).code !== "EEXIST" || k > 1000) throw new RunFolderError("IO", path, `cannot create ${path}: ${errorMessage(e)}`, { cause: e });
      }
    }
    const writer = new TensorBoardWriter(n, path, fd);
    const wallTime = Date.now() / 1000;
    writer.write({ wallTime, step: options.purgeStep ?? 0, fileVersion: "brain.Event:2" });
    if (options.purgeStep !== undefined) writer.write({ wallTime, step: options.purgeStep, sessionStart: true });
    return writer;
  }

  /** Appends one event with `scalars` (tag -> value) at `step`, now. */
  scalars(step: number, scalars: Readonly<Record<string, number>>, wallTime: number = Date.now() / 1000): void {
    if (!Number.isSafeInteger(step) || step < 0) throw new TypeError(`TensorBoardWriter: step must be a non-negative integer, got ${step}`);
    this.write({ wallTime, step, scalars });
  }

  private write(event: TensorBoardEvent): void {
    if (this.fd === null) throw new RunFolderError("IO", this.path, `${this.path} is closed`);
    const bytes = tfRecord(encodeEvent(event));
    let written = 0;
    while (written < bytes.length) written += this.n.fsSync.writeSync(this.fd, bytes, written, bytes.length - written);
  }

  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    this.n.fsSync.closeSync(fd);
  }
}
