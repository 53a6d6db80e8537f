// Training checkpoints on disk: one directory per step, written atomically, verified on load.
//
//   <root>/
//     latest.json                 {"format": "unroll-checkpoint-pointer", "version": 1, "step", "dir"}
//     step-00001200/
//       model.safetensors         the weights, keyed by state_dict paths ({"format": "pt"} metadata),
//                                 so that safetensors.torch.load_file reads them as a state dict
//       optimizer.safetensors     the optimiser's buffers (no tensors when there is no optimiser)
//       state.safetensors         extra training tensors, e.g. a carried hidden state (may hold none)
//       checkpoint.json           format tag, version, step, config, optimiser settings, schedule, RNG
//                                 state, data position, metrics, trainer counters, and each file's
//                                 size and sha256
//
// A save writes everything into a hidden `.step-<n>.tmp-<random>` directory, fsyncs every file and
// the directory, renames it to `step-<n>`, and only then replaces latest.json (a temporary file,
// fsynced, renamed over the old pointer). A crash at any point leaves the previous checkpoint and the
// previous pointer as they were: a reader follows latest.json, which always names a complete
// directory. Leftovers of a crashed save (hidden `.tmp`/`.old` entries) are ignored by loads and
// removed by the next save. One process saves into a root at a time.
//
// Loading checks the format tags and versions, every file's size and sha256, and the safetensors
// structure; it only reads. Any problem is a CheckpointError naming the file and what is wrong.

/// <reference types="node" />
import type * as NodeCrypto from "node:crypto";
import type * as NodeFs from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import type * as NodePath from "node:path";
import { Rng, type RngState, type Tensor } from "@unroll/tensor";
import { CheckpointError, quoteParseError } from "./errors.js";
import { decodeSafetensors, encodeSafetensors } from "./safetensors.js";
import type { OptimizerState } from "../optim/optimizer.js";

// Node's modules are loaded when a checkpoint is first read or written, not when this module is
// imported: the package's index stays importable in browsers, where the trainer runs without files.
interface NodeModules {
  readonly crypto: typeof NodeCrypto;
  readonly fs: typeof NodeFs;
  readonly path: typeof NodePath;
}
let nodeModules: NodeModules | undefined;

async function loadNode(): Promise<void> {
  nodeModules ??= { crypto: await import("node:crypto"), fs: await import("node:fs/promises"), path: await import("node:path") };
}

function node(): NodeModules {
  if (!nodeModules) throw new CheckpointError("checkpoint", "checkpoint files need Node.js's file system");
  return nodeModules;
}

const join = (...parts: string[]): string => node().path.join(...parts);

export const CHECKPOINT_FORMAT = "unroll-checkpoint";
export const CHECKPOINT_POINTER_FORMAT = "unroll-checkpoint-pointer";
export const CHECKPOINT_VERSION = 1;

/**
 * An optimiser's state (`Optimizer.stateDict()`): its settings go to checkpoint.json, its buffers
 * to optimizer.safetensors.
 */
export type OptimizerCheckpoint = OptimizerState;

/** Everything needed to resume training exactly. JSON-valued fields must be plain JSON data. */
export interface Checkpoint {
  readonly step: number;
  /** Model and training settings, as JSON. */
  readonly config: unknown;
  /** The weights, keyed by state_dict-style paths (`treeEntries`). */
  readonly params: Readonly<Record<string, Tensor>>;
  readonly optimizer?: OptimizerCheckpoint | null;
  readonly schedule?: unknown;
  readonly rng?: RngState | null;
  /** The position in the data, as JSON. */
  readonly data?: unknown;
  readonly metrics?: unknown;
  /** The training loop's own counters (the non-finite guard's learning-rate factor, early-stopping state), as JSON. */
  readonly trainer?: unknown;
  /** Extra training tensors, such as a hidden state carried across truncated-BPTT windows. */
  readonly extra?: Readonly<Record<string, Tensor>>;
}

export interface SaveCheckpointOptions {
  /** After a successful save, keep only this many step directories: the new one and the highest steps. */
  readonly keep?: number;
}

const MODEL = "model.safetensors";
const OPTIMIZER = "optimizer.safetensors";
const STATE = "state.safetensors";
const MANIFEST = "checkpoint.json";
const POINTER = "latest.json";
const TENSOR_FILES = [MODEL, OPTIMIZER, STATE] as const;
const STEP_DIR = /^step-(\d{8,})$/;
const LEFTOVER = /^(?:\.step-\d{8,}\.(?:tmp|old)-[0-9a-f]+|latest\.json\.tmp-[0-9a-f]+)$/;

/**
 * Whether a directory entry of a checkpoint root is a checkpoint's: a step directory, latest.json, or
 * what a crashed save left behind (hidden `.step-<n>.tmp-*`/`.old-*` directories, pointer temp files).
 */
export function isCheckpointEntry(name: string): boolean {
  return STEP_DIR.test(name) || name === POINTER || LEFTOVER.test(name);
}

/** `step-00001200`: the directory name of a step's checkpoint. */
export function checkpointDirName(step: number): string {
  return `step-${String(step).padStart(8, "0")}`;
}

// ------------------------------------------------------------------------------------------------
// Validation shared by save and load

function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (Array.isArray(x)) return "an array";
  if (typeof x === "object") return "an object";
  if (typeof x === "string") return `the string ${JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}...` : x)}`;
  return `${typeof x} ${String(x)}`;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== "object" || x === null || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

function isStep(x: unknown): x is number {
  return Number.isSafeInteger(x) && (x as number) >= 0;
}

/** Throws unless `value` survives JSON.stringify/JSON.parse unchanged (undefined object fields aside). */
function checkJson(fail: (message: string) => never, value: unknown, path: string, seen: Set<object> = new Set()): void {
  if (value === null || typeof value === "string" || typeof value === "boolean") return;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) fail(`${path} is ${value}, which JSON cannot hold`);
    return;
  }
  if (typeof value !== "object") fail(`${path} is a ${typeof value}, which JSON cannot hold`);
  const obj = value as object;
  if (seen.has(obj)) fail(`${path} refers back to one of its containers (a cycle)`);
  seen.add(obj);
  if (Array.isArray(obj)) {
    for (let i = 0; i < obj.length; i++) {
      if (obj[i] === undefined) fail(`${path}[${i}] is undefined, which JSON cannot hold in an array`);
      checkJson(fail, obj[i], `${path}[${i}]`, seen);
    }
  } else if (isPlainObject(obj)) {
    for (const [k, v] of Object.entries(obj)) if (v !== undefined) checkJson(fail, v, `${path}.${k}`, seen);
  } else {
    fail(`${path} is a ${obj.constructor?.name ?? "non-plain object"}, not plain JSON data (objects, arrays, strings, finite numbers, booleans, null)`);
  }
  seen.delete(obj);
}

function checkRngState(fail: (message: string) => never, rng: unknown, where: string): void {
  try {
    Rng.fromState(rng as RngState);
  } catch (e) {
    fail(`${where} is not a valid RNG state (${e instanceof Error ? e.message : String(e)})`);
  }
}

function checkOptimizerSettings(fail: (message: string) => never, opt: unknown, where: string): void {
  if (!isPlainObject(opt)) fail(`${where} must be an object or null, got ${describe(opt)}`);
  const o = opt as Record<string, unknown>;
  if (typeof o["name"] !== "string" || o["name"] === "") fail(`${where}.name must be a non-empty string, got ${describe(o["name"])}`);
  if (o["version"] !== 1) fail(`${where}.version is ${describe(o["version"])}; this library reads optimiser state version 1`);
  if (!isPlainObject(o["hyper"])) fail(`${where}.hyper must be an object of numbers and booleans, got ${describe(o["hyper"])}`);
  for (const [k, v] of Object.entries(o["hyper"] as Record<string, unknown>)) {
    if (typeof v !== "boolean" && !(typeof v === "number" && Number.isFinite(v))) {
      fail(`${where}.hyper.${k} must be a finite number or a boolean, got ${describe(v)}`);
    }
  }
  if (!isStep(o["step"])) fail(`${where}.step must be a non-negative integer, got ${describe(o["step"])}`);
  if (typeof o["lr"] !== "number" || !Number.isFinite(o["lr"])) fail(`${where}.lr must be a finite number, got ${describe(o["lr"])}`);
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function errorCode(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : undefined;
}

// ------------------------------------------------------------------------------------------------
// Files

async function writeFileSynced(path: string, data: Uint8Array | string): Promise<void> {
  const handle = await node().fs.open(path, "wx");
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsyncs a directory so that renames and new entries in it are durable (a no-op where unsupported). */
async function syncDir(path: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await node().fs.open(path, "r");
    await handle.sync();
  } catch (e) {
    if (!["EISDIR", "EINVAL", "EPERM", "EBADF", "ENOTSUP", "EACCES"].includes(errorCode(e) ?? "")) throw e;
  } finally {
    await handle?.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await node().fs.stat(path);
    return true;
  } catch (e) {
    if (errorCode(e) === "ENOENT" || errorCode(e) === "ENOTDIR") return false;
    throw e;
  }
}

function sha256(bytes: Uint8Array): string {
  return node().crypto.createHash("sha256").update(bytes).digest("hex");
}

function randomSuffix(): string {
  return node().crypto.randomBytes(6).toString("hex");
}

interface Pointer {
  readonly step: number;
  readonly dir: string;
}

/** latest.json of `root`, checked; null when there is none. */
async function readPointer(op: string, root: string): Promise<Pointer | null> {
  const path = join(root, POINTER);
  const fail = (message: string, cause?: unknown): never => {
    throw new CheckpointError(op, message, { file: path, cause });
  };
  let text: string;
  try {
    text = await node().fs.readFile(path, "utf8");
  } catch (e) {
    if (errorCode(e) === "ENOENT") return null;
    return fail(`cannot be read (${errorMessage(e)})`, e);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return fail(`is not JSON (${quoteParseError(e)}); expected a checkpoint pointer`, e);
  }
  if (!isPlainObject(doc) || doc["format"] !== CHECKPOINT_POINTER_FORMAT) {
    return fail(`is not a checkpoint pointer (expected "format": "${CHECKPOINT_POINTER_FORMAT}", found ${isPlainObject(doc) ? describe(doc["format"]) : describe(doc)})`);
  }
  if (doc["version"] !== CHECKPOINT_VERSION) return fail(`has version ${describe(doc["version"])}; this library reads checkpoint pointer version ${CHECKPOINT_VERSION}`);
  const step = doc["step"];
  if (!isStep(step)) return fail(`has an invalid step ${describe(step)}`);
  if (doc["dir"] !== checkpointDirName(step)) return fail(`names directory ${describe(doc["dir"])}, expected "${checkpointDirName(step)}" for step ${step}`);
  return { step, dir: checkpointDirName(step) };
}

// ------------------------------------------------------------------------------------------------
// Save

/** @internal Moments of a save at which tests look at the disk as a crash would leave it, or fail. */
export type SaveStage =
  | "tmp-created"
  | `wrote ${(typeof TENSOR_FILES)[number] | typeof MANIFEST}`
  | "renamed"
  | "pointer-written"
  | "pointer-renamed"
  | "pruned";

/** @internal */
export interface SaveHooks {
  readonly onStage?: (stage: SaveStage) => void | Promise<void>;
}

interface Prepared {
  readonly step: number;
  readonly files: ReadonlyArray<readonly [string, Uint8Array | string]>;
}

/** Checks the checkpoint and builds every file's bytes before anything touches the disk. */
function prepare(op: string, c: Checkpoint): Prepared {
  const fail: (message: string) => never = (message) => {
    throw new CheckpointError(op, message);
  };
  if (!isPlainObject(c)) fail(`expected a checkpoint object, got ${describe(c)}`);
  if (!isStep(c.step)) fail(`step must be a non-negative integer, got ${describe(c.step)}`);
  checkJson(fail, c.config ?? null, "config");
  checkJson(fail, c.schedule ?? null, "schedule");
  checkJson(fail, c.data ?? null, "data");
  checkJson(fail, c.metrics ?? null, "metrics");
  checkJson(fail, c.trainer ?? null, "trainer");
  if (c.rng !== undefined && c.rng !== null) {
    checkJson(fail, c.rng, "rng");
    checkRngState(fail, c.rng, "rng");
  }
  const opt = c.optimizer ?? null;
  if (opt !== null) checkOptimizerSettings(fail, opt, "optimizer");

  const encode = (file: string, what: string, tensors: unknown, metadata?: Record<string, string>): Uint8Array => {
    if (!isPlainObject(tensors)) fail(`${what} must be an object of name -> Tensor, got ${describe(tensors)}`);
    try {
      return encodeSafetensors(tensors as Record<string, Tensor>, metadata);
    } catch (e) {
      throw new CheckpointError(op, `${what} cannot be written to ${file}: ${errorMessage(e)}`, { cause: e });
    }
  };
  const model = encode(MODEL, "params", c.params, { format: "pt" });
  const optimizer = encode(OPTIMIZER, "optimizer.buffers", opt === null ? {} : opt.buffers);
  const state = encode(STATE, "extra", c.extra ?? {});

  const files: Record<string, { bytes: number; sha256: string }> = {};
  for (const [name, bytes] of [[MODEL, model], [OPTIMIZER, optimizer], [STATE, state]] as const) {
    files[name] = { bytes: bytes.length, sha256: sha256(bytes) };
  }
  const manifest = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    step: c.step,
    config: c.config ?? null,
    optimizer: opt === null ? null : { name: opt.name, version: opt.version, hyper: opt.hyper, step: opt.step, lr: opt.lr },
    schedule: c.schedule ?? null,
    rng: c.rng ?? null,
    data: c.data ?? null,
    metrics: c.metrics ?? null,
    trainer: c.trainer ?? null,
    files,
  };
  return {
    step: c.step,
    files: [[MODEL, model], [OPTIMIZER, optimizer], [STATE, state], [MANIFEST, `${JSON.stringify(manifest, null, 2)}\n`]],
  };
}

/** Removes what crashed saves left behind: hidden step directories and pointer temp files. */
async function removeLeftovers(root: string): Promise<void> {
  for (const name of await node().fs.readdir(root)) {
    if (LEFTOVER.test(name)) await node().fs.rm(join(root, name), { recursive: true, force: true });
  }
}

async function prune(root: string, saved: string, keep: number): Promise<void> {
  const others: { name: string; step: number }[] = [];
  for (const entry of await node().fs.readdir(root, { withFileTypes: true })) {
    const m = STEP_DIR.exec(entry.name);
    if (m && entry.isDirectory() && entry.name !== saved) others.push({ name: entry.name, step: Number(m[1]) });
  }
  others.sort((a, b) => b.step - a.step);
  for (const { name } of others.slice(keep - 1)) await node().fs.rm(join(root, name), { recursive: true, force: true });
}

/**
 * Saves `checkpoint` as `<root>/step-<8-digit step>/` and points `<root>/latest.json` at it, atomically
 * (see the top of this file); returns the directory. Everything is checked before the disk is
 * touched: JSON fields must be plain JSON data (no NaN, Infinity, class instances or cycles), and
 * tensors must be Tensors. Saving a step whose directory exists replaces it, unless it is the one
 * latest.json names (that cannot be done atomically: save under another step). With `keep`, older step
 * directories beyond the newest `keep` are removed after the save, never the one just written.
 */
export async function saveCheckpoint(root: string, checkpoint: Checkpoint, options: SaveCheckpointOptions = {}): Promise<string> {
  await loadNode();
  return saveCheckpointWithHooks(root, checkpoint, options, {});
}

/** @internal `saveCheckpoint` with a test seam at each stage. */
export async function saveCheckpointWithHooks(
  root: string,
  checkpoint: Checkpoint,
  options: SaveCheckpointOptions,
  hooks: SaveHooks,
): Promise<string> {
  await loadNode();
  const op = "saveCheckpoint";
  const keep = options.keep;
  if (keep !== undefined && !(Number.isSafeInteger(keep) && keep >= 1)) {
    throw new CheckpointError(op, `keep must be a positive integer (the number of checkpoints to keep), got ${describe(keep)}`);
  }
  const prepared = prepare(op, checkpoint);
  const name = checkpointDirName(prepared.step);
  const dir = join(root, name);
  const stage = async (s: SaveStage): Promise<void> => {
    await hooks.onStage?.(s);
  };
  try {
    await node().fs.mkdir(root, { recursive: true });
    await removeLeftovers(root);
    let latest: Pointer | null = null;
    try {
      latest = await readPointer(op, root);
    } catch {
      // An unreadable pointer names nothing we could protect; the new one replaces it.
    }
    if (latest?.dir === name && (await exists(dir))) {
      throw new CheckpointError(op, `${dir} already exists and is the latest checkpoint; it cannot be replaced atomically (save under another step, or remove it first)`);
    }

    const tmp = join(root, `.${name}.tmp-${randomSuffix()}`);
    await node().fs.mkdir(tmp);
    try {
      await stage("tmp-created");
      for (const [file, bytes] of prepared.files) {
        await writeFileSynced(join(tmp, file), bytes);
        await stage(`wrote ${file}` as SaveStage);
      }
      await syncDir(tmp);
      // A directory of this step that latest.json does not name (from a crashed or abandoned run).
      const aside = (await exists(dir)) ? join(root, `.${name}.old-${randomSuffix()}`) : undefined;
      if (aside !== undefined) await node().fs.rename(dir, aside);
      try {
        await node().fs.rename(tmp, dir);
      } catch (e) {
        if (aside !== undefined) await node().fs.rename(aside, dir).catch(() => undefined);
        throw e;
      }
      await syncDir(root);
      if (aside !== undefined) await node().fs.rm(aside, { recursive: true, force: true });
      await stage("renamed");
    } catch (e) {
      await node().fs.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      throw e;
    }

    const pointer = { format: CHECKPOINT_POINTER_FORMAT, version: CHECKPOINT_VERSION, step: prepared.step, dir: name };
    const pointerTmp = join(root, `${POINTER}.tmp-${randomSuffix()}`);
    try {
      await writeFileSynced(pointerTmp, `${JSON.stringify(pointer, null, 2)}\n`);
      await stage("pointer-written");
      await node().fs.rename(pointerTmp, join(root, POINTER));
      await syncDir(root);
      await stage("pointer-renamed");
    } catch (e) {
      await node().fs.rm(pointerTmp, { force: true }).catch(() => undefined);
      throw e;
    }
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(op, `saving step ${prepared.step} into ${root} failed: ${errorMessage(e)}`, { cause: e });
  }

  if (keep !== undefined) {
    try {
      await prune(root, name, keep);
      await stage("pruned");
    } catch (e) {
      throw new CheckpointError(op, `the checkpoint was saved to ${dir}, but removing old checkpoints (keep: ${keep}) failed: ${errorMessage(e)}`, { cause: e });
    }
  }
  return dir;
}

// ------------------------------------------------------------------------------------------------
// Load

/**
 * The directory that `<root>/latest.json` names, or null when the root or its pointer does not exist.
 * A pointer that is not valid, or that names a missing directory, is a CheckpointError.
 */
export async function latestCheckpoint(root: string): Promise<string | null> {
  await loadNode();
  const pointer = await readPointer("latestCheckpoint", root);
  if (pointer === null) return null;
  const dir = join(root, pointer.dir);
  if (!(await exists(join(dir, MANIFEST)))) {
    throw new CheckpointError("latestCheckpoint", `points to ${pointer.dir}, which holds no ${MANIFEST}`, { file: join(root, POINTER) });
  }
  return dir;
}

async function readChecked(op: string, path: string): Promise<Uint8Array> {
  try {
    return await node().fs.readFile(path);
  } catch (e) {
    const code = errorCode(e);
    if (code === "ENOENT") throw new CheckpointError(op, "missing", { file: path, cause: e });
    throw new CheckpointError(op, `cannot be read (${errorMessage(e)})`, { file: path, cause: e });
  }
}

async function loadDir(op: string, dir: string, expectedStep: number | undefined): Promise<Checkpoint> {
  const manifestPath = join(dir, MANIFEST);
  const fail: (message: string) => never = (message) => {
    throw new CheckpointError(op, message, { file: manifestPath });
  };
  const raw = await readChecked(op, manifestPath);
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("utf8"));
  } catch (e) {
    fail(`is not JSON (${quoteParseError(e)}); expected an unroll checkpoint manifest`);
  }
  if (!isPlainObject(doc) || doc["format"] !== CHECKPOINT_FORMAT) {
    fail(`is not an unroll checkpoint (expected "format": "${CHECKPOINT_FORMAT}", found ${isPlainObject(doc) ? describe(doc["format"]) : describe(doc)})`);
  }
  const m = doc as Record<string, unknown>;
  if (m["version"] !== CHECKPOINT_VERSION) fail(`has version ${describe(m["version"])}; this library reads checkpoint version ${CHECKPOINT_VERSION}`);
  for (const key of ["step", "config", "optimizer", "schedule", "rng", "data", "metrics", "trainer", "files"]) {
    if (!Object.hasOwn(m, key)) fail(`has no "${key}" field`);
  }
  const step = m["step"];
  if (!isStep(step)) fail(`has an invalid step ${describe(step)}`);
  if (expectedStep !== undefined && step !== expectedStep) {
    fail(`is for step ${String(step)}, but latest.json says step ${expectedStep}`);
  }
  if (m["optimizer"] !== null) checkOptimizerSettings(fail, m["optimizer"], "optimizer");
  if (m["rng"] !== null) checkRngState(fail, m["rng"], "rng");

  const files = m["files"];
  if (!isPlainObject(files)) fail(`"files" must be an object, got ${describe(files)}`);
  const listed = files as Record<string, unknown>;
  for (const name of Object.keys(listed)) {
    if (!(TENSOR_FILES as readonly string[]).includes(name)) fail(`"files" lists an unknown file ${JSON.stringify(name)}`);
  }
  const decoded: Record<string, ReturnType<typeof decodeSafetensors>> = {};
  for (const name of TENSOR_FILES) {
    const entry = Object.hasOwn(listed, name) ? listed[name] : undefined;
    if (!isPlainObject(entry) || !isStep(entry["bytes"]) || typeof entry["sha256"] !== "string" || !/^[0-9a-f]{64}$/.test(entry["sha256"])) {
      fail(`"files" has no valid entry for ${name} (expected {"bytes": n, "sha256": "<64 hex digits>"})`);
    }
    const { bytes: size, sha256: digest } = entry as { bytes: number; sha256: string };
    const path = join(dir, name);
    const bytes = await readChecked(op, path);
    if (bytes.length !== size) {
      throw new CheckpointError(op, `has ${bytes.length} bytes, but ${MANIFEST} records ${size}: the file is truncated or was replaced`, { file: path });
    }
    const actual = sha256(bytes);
    if (actual !== digest) {
      throw new CheckpointError(op, `sha256 is ${actual}, but ${MANIFEST} records ${digest}: the file is corrupted or was modified`, { file: path });
    }
    try {
      decoded[name] = decodeSafetensors(bytes);
    } catch (e) {
      throw new CheckpointError(op, `is not a valid safetensors file: ${errorMessage(e)}`, { file: path, cause: e });
    }
  }

  const buffers = decoded[OPTIMIZER]!.tensors;
  const opt = m["optimizer"] as Omit<OptimizerCheckpoint, "buffers"> | null;
  if (opt === null && Object.keys(buffers).length > 0) {
    throw new CheckpointError(op, `holds ${Object.keys(buffers).length} tensors, but ${MANIFEST} records no optimizer`, { file: join(dir, OPTIMIZER) });
  }
  return {
    step: step as number,
    config: m["config"],
    params: decoded[MODEL]!.tensors,
    optimizer: opt === null ? null : { name: opt.name, version: 1, hyper: opt.hyper, step: opt.step, lr: opt.lr, buffers },
    schedule: m["schedule"],
    rng: m["rng"] as RngState | null,
    data: m["data"],
    metrics: m["metrics"],
    trainer: m["trainer"],
    extra: decoded[STATE]!.tensors,
  };
}

/**
 * Loads a checkpoint from its directory, or from a root (a directory holding latest.json) through the
 * pointer. Verifies the format tags and versions, each file's size and sha256 against checkpoint.json,
 * and each safetensors file's structure; any problem is a CheckpointError that names the file. Only
 * reads: nothing on disk changes. Every tensor returned owns its buffer; `optimizer` is null and
 * `extra` empty when the checkpoint has none.
 */
export async function loadCheckpoint(dirOrRoot: string): Promise<Checkpoint> {
  await loadNode();
  const op = "loadCheckpoint";
  let isDir: boolean;
  try {
    isDir = (await node().fs.stat(dirOrRoot)).isDirectory();
  } catch (e) {
    throw new CheckpointError(op, errorCode(e) === "ENOENT" ? "no such directory" : `cannot be read (${errorMessage(e)})`, { file: dirOrRoot, cause: e });
  }
  if (!isDir) throw new CheckpointError(op, "is not a directory (pass a checkpoint directory or a checkpoint root)", { file: dirOrRoot });
  if (await exists(join(dirOrRoot, MANIFEST))) return loadDir(op, dirOrRoot, undefined);

  const pointer = await readPointer(op, dirOrRoot);
  if (pointer === null) {
    for (const name of TENSOR_FILES) {
      if (await exists(join(dirOrRoot, name))) {
        throw new CheckpointError(op, `missing (the directory holds ${name} but no ${MANIFEST})`, { file: join(dirOrRoot, MANIFEST) });
      }
    }
    throw new CheckpointError(op, `holds neither ${MANIFEST} (a checkpoint directory) nor ${POINTER} (a checkpoint root)`, { file: dirOrRoot });
  }
  const dir = join(dirOrRoot, pointer.dir);
  if (!(await exists(dir))) {
    throw new CheckpointError(op, `points to ${pointer.dir}, which does not exist`, { file: join(dirOrRoot, POINTER) });
  }
  return loadDir(op, dir, pointer.step);
}
