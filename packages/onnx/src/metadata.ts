import { OnnxFormatError } from "./errors.js";
import { decodeModel, type ModelProto } from "./proto/onnx.js";

/** The format tag of files written by `exportLanguageModel` (metadata `unroll.format`). */
export const ONNX_FORMAT = "unroll-onnx";
/** The version of that format this library writes and reads (metadata `unroll.format_version`). */
export const ONNX_FORMAT_VERSION = 1;

/** Metadata keys (`ModelProto.metadata_props`) this package writes. */
export const METADATA_KEYS = {
  format: "unroll.format",
  formatVersion: "unroll.format_version",
  /** What the graph computes: "language-model/step" or "language-model/sequence". */
  graph: "unroll.graph",
  /** The model's configuration, JSON. */
  config: "unroll.model_config",
  /** The tokenizer (its `toJSON()`), JSON: the vocabulary travels with the model. */
  tokenizer: "unroll.tokenizer",
  /** Which inputs and outputs are the tokens, the lengths, the logits and the state (a `GraphSignature`), JSON. */
  signature: "unroll.signature",
} as const;

/** One recurrent state tensor: fed as `input`, returned as `output`; `shape` has "batch" for the batch axis. */
/** The keys every exported file carries: the format, its version, which graph it is, the model's configuration. */
export function formatMetadata(graph: string, config: unknown): Record<string, string> {
  return {
    [METADATA_KEYS.format]: ONNX_FORMAT,
    [METADATA_KEYS.formatVersion]: String(ONNX_FORMAT_VERSION),
    [METADATA_KEYS.graph]: graph,
    [METADATA_KEYS.config]: JSON.stringify(config),
  };
}

export interface StateSignature {
  readonly input: string;
  readonly output: string;
  readonly shape: readonly (number | "batch")[];
}

/** The roles of a language model graph's inputs and outputs, as stored in `unroll.signature`. */
export interface GraphSignature {
  readonly tokens: string;
  /** Element type of the tokens input (this package writes int32; PyTorch's exports take int64). */
  readonly tokenType: "int32" | "int64";
  readonly lengths?: string;
  readonly logits: string;
  readonly state: readonly StateSignature[];
}

export { OnnxFormatError };

/**
 * The metadata_props of a model (a file's bytes or a decoded model) as a plain record. Keys come
 * from the file: each is an own property ("__proto__" included), never the record's prototype.
 */
export function readMetadata(model: Uint8Array | ModelProto): Record<string, string> {
  const proto = model instanceof Uint8Array ? decodeModel(model) : model;
  const out: Record<string, string> = {};
  for (const { key, value } of proto.metadata_props ?? []) {
    Object.defineProperty(out, String(key ?? ""), { value: String(value ?? ""), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function describe(v: unknown): string {
  if (v === undefined) return "missing";
  if (Array.isArray(v)) return "an array";
  if (v === null) return "null";
  return typeof v === "object" ? "an object" : JSON.stringify(v);
}

/**
 * Checks a graph signature read from a file (`unroll.signature`): tokens, tokenType, logits,
 * optional lengths, and state entries of input, output and shape (positive integers or "batch").
 * Throws an OnnxFormatError naming the field.
 */
export function checkSignature(op: string, value: unknown): GraphSignature {
  const fail = (message: string): never => {
    throw new OnnxFormatError(op, `metadata ${METADATA_KEYS.signature} is not a graph signature: ${message}`);
  };
  if (typeof value !== "object" || value === null || Array.isArray(value)) return fail(`expected an object, got ${describe(value)}`);
  const o = value as Record<string, unknown>;
  const own = (k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined);
  for (const key of ["tokens", "logits"]) if (typeof own(key) !== "string") fail(`${key} must be a string, got ${describe(own(key))}`);
  if (own("tokenType") !== "int32" && own("tokenType") !== "int64") fail(`tokenType must be "int32" or "int64", got ${describe(own("tokenType"))}`);
  if (own("lengths") !== undefined && typeof own("lengths") !== "string") fail(`lengths must be a string, got ${describe(own("lengths"))}`);
  const state = own("state");
  if (!Array.isArray(state)) return fail(`state must be an array, got ${describe(state)}`);
  state.forEach((s: unknown, i) => {
    if (typeof s !== "object" || s === null || Array.isArray(s)) fail(`state[${i}] must be an object, got ${describe(s)}`);
    const e = s as Record<string, unknown>;
    const get = (k: string): unknown => (Object.hasOwn(e, k) ? e[k] : undefined);
    for (const key of ["input", "output"]) if (typeof get(key) !== "string") fail(`state[${i}].${key} must be a string, got ${describe(get(key))}`);
    const shape = get("shape");
    if (!Array.isArray(shape) || !shape.every((d) => d === "batch" || (Number.isSafeInteger(d) && (d as number) >= 1 && (d as number) <= 1 << 24))) {
      fail(`state[${i}].shape must be a list of positive integers and "batch", got ${describe(shape)}`);
    }
  });
  return value as GraphSignature;
}

/** What `readModelInfo` finds in a file this package wrote. */
export interface ModelInfo {
  readonly formatVersion: number;
  readonly graph: string;
  /** The model configuration (`LanguageModel.config`), or null. */
  readonly config: unknown;
  /** The tokenizer's JSON (pass it to nlp's `tokenizerFromJSON`), or null. */
  readonly tokenizer: unknown;
  readonly signature: GraphSignature | null;
  readonly metadata: Readonly<Record<string, string>>;
}

function parse(op: string, key: string, text: string | undefined): unknown {
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new OnnxFormatError(op, `metadata ${key} is not valid JSON`);
  }
}

/** The checked signature of a model's metadata, or null when it has none. */
export function signatureOf(op: string, meta: Readonly<Record<string, string>>): GraphSignature | null {
  const text = Object.hasOwn(meta, METADATA_KEYS.signature) ? meta[METADATA_KEYS.signature] : undefined;
  return text === undefined ? null : checkSignature(op, parse(op, METADATA_KEYS.signature, text));
}

/**
 * Reads and checks the metadata of a model written by this package: the format tag
 * ("unroll-onnx"), the format version (1), then the configuration, tokenizer and signature.
 */
export function readModelInfo(model: Uint8Array | ModelProto | Readonly<Record<string, string>>): ModelInfo {
  const op = "readModelInfo";
  const meta = model instanceof Uint8Array || "graph" in model ? readMetadata(model as Uint8Array | ModelProto) : (model as Record<string, string>);
  const format = meta[METADATA_KEYS.format];
  if (format !== ONNX_FORMAT) {
    throw new OnnxFormatError(
      op,
      format === undefined
        ? `the model has no ${METADATA_KEYS.format} metadata: it was not written by @unroll/onnx's exportLanguageModel (pass its signature yourself)`
        : `metadata ${METADATA_KEYS.format} is ${JSON.stringify(format)}, expected "${ONNX_FORMAT}"`,
    );
  }
  const version = Number(meta[METADATA_KEYS.formatVersion]);
  if (version !== ONNX_FORMAT_VERSION) {
    throw new OnnxFormatError(op, `the model has format version ${meta[METADATA_KEYS.formatVersion]}; this library reads version ${ONNX_FORMAT_VERSION}`);
  }
  return {
    formatVersion: version,
    graph: meta[METADATA_KEYS.graph] ?? "",
    config: parse(op, METADATA_KEYS.config, meta[METADATA_KEYS.config]),
    tokenizer: parse(op, METADATA_KEYS.tokenizer, meta[METADATA_KEYS.tokenizer]),
    signature: signatureOf(op, meta),
    metadata: meta,
  };
}
