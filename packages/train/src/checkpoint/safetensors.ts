// The safetensors format (https://github.com/huggingface/safetensors), for float32, float64 and int32
// tensors. Plain TypeScript over Uint8Array: no Node API, so it runs in browsers too.
//
// Layout: an 8-byte little-endian unsigned header length N; N bytes of UTF-8 JSON mapping each tensor
// name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the data buffer), plus
// an optional "__metadata__" map of strings; then the data buffer, little-endian and row-major, every
// byte of it belonging to exactly one tensor.
//
// The writer reproduces the official library's `save`/`save_file` (safetensors/src/tensor.rs,
// `prepare` and `Metadata::serialize`) byte for byte:
// - tensors are laid out, and listed in the header, by dtype alignment, largest first (F64, then F32,
//   then I32: the official `Dtype` enum is declared in increasing alignment order and sorted
//   descending), then by name compared as UTF-8 bytes (Rust's `str` order, which differs from
//   JavaScript's UTF-16 order for characters above U+FFFF);
// - "__metadata__" comes first when given (an empty map is written too), then the tensors;
// - the JSON is compact (serde_json: no spaces; `"`, `\` and control characters escaped, `\u00XX` in
//   lower case, everything else, `/` and U+2028 included, written raw), with fields in the order
//   dtype, shape, data_offsets;
// - the header is padded with spaces to a multiple of 8 bytes, so the data starts 8-aligned.
// One deliberate difference: the official library keeps the metadata in a Rust HashMap, whose order
// is random on every call, so a file with two or more metadata keys has no single official form. We
// write metadata keys sorted (as UTF-8 bytes): identical to the official output whenever it has at
// most one key, and otherwise to one of the official outputs. (With no tensors and an empty metadata
// map the official writer emits invalid JSON, `{},"__metadata__":{}}`; we write `{"__metadata__":{}}`.)
//
// The reader is strict: anything but a well-formed file of these three dtypes is a CheckpointError
// naming the problem, never a raw JavaScript error. Every tensor it returns owns a fresh buffer.

import { type DataArray, type DType, Tensor } from "@unroll/tensor";
import { CheckpointError, quoteParseError } from "./errors.js";
import { utf8Decode, utf8Encode } from "./utf8.js";

/** The official reader's limit on the header size (safetensors' `MAX_HEADER_SIZE`). */
export const MAX_HEADER_BYTES = 100_000_000;

const METADATA_KEY = "__metadata__";

interface DTypeInfo {
  readonly tag: "F32" | "F64" | "I32";
  readonly bytes: number;
  /** Position in the official `Dtype` enum's order, relative to the other two. */
  readonly rank: number;
  readonly alloc: (buffer: ArrayBuffer) => DataArray;
}

const DTYPES: Readonly<Record<DType, DTypeInfo>> = {
  int32: { tag: "I32", bytes: 4, rank: 0, alloc: (b) => new Int32Array(b) },
  float32: { tag: "F32", bytes: 4, rank: 1, alloc: (b) => new Float32Array(b) },
  float64: { tag: "F64", bytes: 8, rank: 2, alloc: (b) => new Float64Array(b) },
};

const BY_TAG: ReadonlyMap<string, DType> = new Map([
  ["F32", "float32"],
  ["F64", "float64"],
  ["I32", "int32"],
]);

/** Dtypes of the safetensors specification that this library does not hold. */
const UNSUPPORTED_TAGS = new Set([
  "BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "U32", "I64", "U64", "C64",
  "F8_E5M2", "F8_E4M3", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2",
]);

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** UTF-8 of a string headed for the header; `what` describes it in the error ("tensor name \"x\""). */
function encodeName(op: string, what: string, s: string): Uint8Array {
  const encoded = utf8Encode(s);
  if (!(encoded instanceof Uint8Array)) {
    throw new CheckpointError(op, `${what} has a lone UTF-16 surrogate at index ${encoded.loneSurrogateAt}; safetensors headers are UTF-8`);
  }
  return encoded;
}

/** A typed array's bytes, little-endian, as a view (little-endian hosts) or a copy. */
function littleEndianBytes(data: DataArray): Uint8Array {
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN || data.BYTES_PER_ELEMENT === 1) return view;
  const out = new Uint8Array(data.byteLength);
  const k = data.BYTES_PER_ELEMENT;
  for (let i = 0; i < data.length; i++) for (let j = 0; j < k; j++) out[i * k + j] = view[i * k + k - 1 - j]!;
  return out;
}

/**
 * The safetensors bytes of `tensors` (and of `metadata`, written as the header's "__metadata__"),
 * byte-identical to the official library's `save` for the same input (see the notes at the top of
 * this file for metadata with several keys). Throws a CheckpointError for a name that cannot be
 * stored ("__metadata__", a lone surrogate), a value that is not a Tensor or a metadata value that
 * is not a string.
 */
export function encodeSafetensors(
  tensors: Readonly<Record<string, Tensor>>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const op = "encodeSafetensors";
  if (typeof tensors !== "object" || tensors === null) throw new CheckpointError(op, `tensors must be an object of name -> Tensor, got ${tensors === null ? "null" : typeof tensors}`);
  const entries = Object.entries(tensors).map(([name, t]) => {
    if (name === METADATA_KEY) throw new CheckpointError(op, `"${METADATA_KEY}" is reserved for the metadata map and cannot name a tensor`);
    if (!(t instanceof Tensor)) throw new CheckpointError(op, `${JSON.stringify(name)} is not a Tensor`);
    return { name, key: encodeName(op, `tensor name ${JSON.stringify(name)}`, name), tensor: t, info: DTYPES[t.dtype] };
  });
  entries.sort((a, b) => b.info.rank - a.info.rank || compareBytes(a.key, b.key));

  const fields: string[] = [];
  if (metadata !== undefined) {
    if (typeof metadata !== "object" || metadata === null) throw new CheckpointError(op, `metadata must be an object of string -> string, got ${metadata === null ? "null" : typeof metadata}`);
    const meta = Object.entries(metadata).map(([k, v]) => {
      if (typeof v !== "string") throw new CheckpointError(op, `metadata ${JSON.stringify(k)} must be a string, got ${typeof v}; safetensors metadata maps strings to strings`);
      encodeName(op, `the value of metadata ${JSON.stringify(k)}`, v);
      return { k, v, key: encodeName(op, `metadata key ${JSON.stringify(k)}`, k) };
    });
    meta.sort((a, b) => compareBytes(a.key, b.key));
    fields.push(`"${METADATA_KEY}":{${meta.map(({ k, v }) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",")}}`);
  }
  let offset = 0;
  for (const { name, tensor, info } of entries) {
    const end = offset + tensor.size * info.bytes;
    fields.push(`${JSON.stringify(name)}:{"dtype":"${info.tag}","shape":[${tensor.shape.join(",")}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = utf8Encode(`{${fields.join(",")}}`) as Uint8Array; // every string in it was checked above
  const headerBytes = json.length + ((8 - (json.length % 8)) % 8);

  const out = new Uint8Array(8 + headerBytes + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerBytes % 2 ** 32, true);
  view.setUint32(4, Math.floor(headerBytes / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerBytes);
  let at = 8 + headerBytes;
  for (const { tensor } of entries) {
    out.set(littleEndianBytes(tensor.data), at);
    at += tensor.data.byteLength;
  }
  return out;
}

function describeJson(x: unknown): string {
  if (x === null) return "null";
  if (Array.isArray(x)) return "an array";
  return typeof x === "object" ? "an object" : `${typeof x} ${JSON.stringify(x)}`;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  // Plain assignment would treat a tensor named "__proto__" as the prototype.
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

interface Entry {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: number[];
  readonly begin: number;
  readonly end: number;
}

function parseEntry(fail: (message: string) => never, name: string, raw: unknown): Entry {
  const what = `tensor ${JSON.stringify(name)}`;
  if (!isPlainObject(raw)) fail(`${what} must be an object with dtype, shape and data_offsets, got ${describeJson(raw)}`);
  for (const key of Object.keys(raw)) {
    if (key !== "dtype" && key !== "shape" && key !== "data_offsets") fail(`${what} has an unexpected field ${JSON.stringify(key)}`);
  }
  const tag = raw["dtype"];
  if (typeof tag !== "string") fail(`${what} has no dtype string (got ${describeJson(tag)})`);
  const dtype = BY_TAG.get(tag);
  if (dtype === undefined) {
    if (UNSUPPORTED_TAGS.has(tag)) fail(`${what} has dtype ${tag}, which this library does not hold (it reads F32, F64 and I32)`);
    fail(`${what} has an unknown dtype ${JSON.stringify(tag)} (expected F32, F64 or I32)`);
  }
  const shape = raw["shape"];
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    fail(`${what} has an invalid shape ${JSON.stringify(shape)} (expected an array of non-negative integers)`);
  }
  const offsets = raw["data_offsets"];
  if (
    !Array.isArray(offsets) || offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)
  ) {
    fail(`${what} has invalid data_offsets ${JSON.stringify(offsets)} (expected [begin, end], non-negative integers)`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) fail(`${what} has data_offsets [${begin},${end}] that end before they begin`);
  let bytes = DTYPES[dtype].bytes;
  for (const d of shape as number[]) bytes *= d;
  if (!Number.isSafeInteger(bytes)) fail(`${what} has shape [${shape.join(",")}], too large to address`);
  if (end - begin !== bytes) {
    fail(`${what} has shape [${shape.join(",")}] and dtype ${tag}, which need ${bytes} bytes, but its data_offsets [${begin},${end}] span ${end - begin}`);
  }
  return { name, dtype, shape: [...(shape as number[])], begin, end };
}

/**
 * Reads a safetensors file. Checks, each failure a CheckpointError that names it: the length (at
 * least the 8-byte header length), the header length (within the file and the official 100 MB
 * limit), the header (UTF-8, a JSON object, "__metadata__" a map of strings, each tensor exactly
 * dtype/shape/data_offsets with a known dtype of F32, F64 or I32 and offsets that match its shape),
 * and the data buffer (tensors neither overlapping nor leaving gaps, the last one ending at the end
 * of the file: no truncation, no trailing bytes). Tensors come back in file order, each with its own
 * buffer (a copy), so that they can be changed in place without touching `bytes` or each other.
 */
export function decodeSafetensors(bytes: Uint8Array): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const fail: (message: string) => never = (message) => {
    throw new CheckpointError("decodeSafetensors", message);
  };
  if (!(bytes instanceof Uint8Array)) fail(`expected a Uint8Array, got ${describeJson(bytes)}`);
  if (bytes.length < 8) fail(`truncated: ${bytes.length} bytes, but a safetensors file starts with an 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerBytes = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (headerBytes > MAX_HEADER_BYTES) {
    fail(`header length ${headerBytes} is over the 100 MB limit${headerBytes > bytes.length - 8 ? ` and runs past the end of the file (${bytes.length} bytes)` : ""}; is this a safetensors file?`);
  }
  if (headerBytes > bytes.length - 8) fail(`header length ${headerBytes} runs past the end of the file (${bytes.length} bytes): truncated, or not a safetensors file`);

  const text = utf8Decode(bytes.subarray(8, 8 + headerBytes));
  if (typeof text !== "string") fail(`the header is not valid UTF-8 (byte ${8 + text.invalidAt})`);
  let header: unknown;
  try {
    header = JSON.parse(text as string);
  } catch (e) {
    fail(`the header is not valid JSON (${quoteParseError(e)})`);
  }
  if (!isPlainObject(header)) fail(`the header must be a JSON object, got ${describeJson(header)}`);
  const head = header as Record<string, unknown>;

  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, raw] of Object.entries(head)) {
    if (name === METADATA_KEY) {
      if (raw === null) continue; // the official reader takes null as "no metadata"
      if (!isPlainObject(raw)) fail(`"${METADATA_KEY}" must be an object of strings, got ${describeJson(raw)}`);
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== "string") fail(`"${METADATA_KEY}" entry ${JSON.stringify(k)} must be a string, got ${describeJson(v)}`);
        setOwn(metadata, k, v as string);
      }
    } else {
      entries.push(parseEntry(fail, name, raw));
    }
  }

  const dataStart = 8 + headerBytes;
  const dataBytes = bytes.length - dataStart;
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: Entry | undefined;
  for (const e of entries) {
    if (e.end > dataBytes) {
      fail(`tensor ${JSON.stringify(e.name)} ends at byte ${e.end} of the data buffer, which has only ${dataBytes} bytes: truncated file`);
    }
    if (e.begin > covered) {
      fail(`bytes ${covered}..${e.begin} of the data buffer belong to no tensor (a gap before ${JSON.stringify(e.name)})`);
    }
    if (e.begin < covered) {
      fail(`tensor ${JSON.stringify(e.name)} at [${e.begin},${e.end}] overlaps ${JSON.stringify(previous?.name)}, which ends at ${covered}`);
    }
    covered = e.end;
    previous = e;
  }
  if (covered < dataBytes) fail(`${dataBytes - covered} trailing bytes after the last tensor (the data buffer has ${dataBytes} bytes, the tensors cover ${covered})`);

  const tensors: Record<string, Tensor> = {};
  for (const e of entries) {
    const info = DTYPES[e.dtype];
    const buffer = new ArrayBuffer(e.end - e.begin);
    const out = new Uint8Array(buffer);
    out.set(bytes.subarray(dataStart + e.begin, dataStart + e.end));
    if (!LITTLE_ENDIAN) {
      const k = info.bytes;
      for (let i = 0; i < out.length; i += k) out.subarray(i, i + k).reverse();
    }
    setOwn(tensors, e.name, new Tensor(info.alloc(buffer), e.shape));
  }
  return { tensors, metadata };
}
