// The settings of a language-model run, checked strictly wherever they come from: the options of
// `trainLanguageModel`, and the "config" of a checkpoint.json read back for `--resume`, `eval`,
// `sample` or an export. Names are own properties only ("__proto__", "toString" are unknown keys),
// every value has its type (no `true` for a number, no `[16]` for 16, no "fast" for a rate), and a
// problem names the key and what it must be.

import { CheckpointError } from "@unroll/train";
import { ValueRangeError } from "@unroll/tensor";
import { DataError } from "../data/errors.js";
import type { LanguageModelCheckpointConfig, TrainLmConfig } from "./train-lm.js";

/** What a value must be, or null when it is fine. */
type Rule = (v: unknown) => string | null;

const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const rule = (what: string, ok: (v: unknown) => boolean): Rule => (v) => (ok(v) ? null : what);
const positiveInteger = rule("a positive integer", (v) => Number.isSafeInteger(v) && (v as number) >= 1);
const nonNegativeInteger = rule("a non-negative integer", (v) => Number.isSafeInteger(v) && (v as number) >= 0);
const integer = rule("an integer", (v) => Number.isSafeInteger(v));
const positive = rule("a positive number", (v) => isNumber(v) && v > 0);
const nonNegative = rule("a number >= 0", (v) => isNumber(v) && v >= 0);
const finite = rule("a finite number", isNumber);
const fraction = rule("a number in [0, 1)", (v) => isNumber(v) && v >= 0 && v < 1);
const openUnit = rule("a number in (0, 1]", (v) => isNumber(v) && v > 0 && v <= 1);
const boolean = rule("true or false", (v) => typeof v === "boolean");
const string = rule("a string", (v) => typeof v === "string");
const oneOf = (...choices: string[]): Rule => rule(`one of ${choices.map((c) => JSON.stringify(c)).join(", ")}`, (v) => typeof v === "string" && choices.includes(v));
const either = (a: Rule, b: Rule, what: string): Rule => (v) => (a(v) === null || b(v) === null ? null : what);

interface Shape {
  readonly [key: string]: Rule | Shape;
}

const MODEL: Shape = {
  cell: oneOf("lstm", "gru", "rnn_tanh", "rnn_relu"),
  hiddenSize: positiveInteger,
  numLayers: positiveInteger,
  embeddingSize: either(positiveInteger, oneOf("one-hot"), 'a positive integer or "one-hot"'),
  dropout: fraction,
  tieWeights: boolean,
  init: oneOf("pytorch", "orthogonal", "xavier", "irnn", "np-rnn"),
  forgetBias: either(finite, rule("null", (v) => v === null), "a finite number or null"),
};

const TRAINING: Shape = {
  tokenizer: oneOf("char", "word", "bpe"),
  bpeVocabSize: positiveInteger,
  model: MODEL,
  optimizer: { name: oneOf("adam", "adamw", "sgd", "rmsprop", "adagrad"), lr: positive, weightDecay: nonNegative, momentum: nonNegative },
  schedule: {
    name: oneOf("constant", "cosine", "step", "plateau"),
    warmupSteps: nonNegativeInteger,
    stepSize: positiveInteger,
    gamma: positive,
    minLr: nonNegative,
    patience: nonNegativeInteger,
    factor: fraction,
  },
  clip: nonNegative,
  batchSize: positiveInteger,
  window: positiveInteger,
  batching: oneOf("stream", "shuffled"),
  trainFraction: openUnit,
  steps: positiveInteger,
  epochs: positive,
  timeBudgetMinutes: positive,
  data: string,
  evalEvery: positiveInteger,
  evalTokens: positiveInteger,
  patience: positiveInteger,
  seed: integer,
  kernels: oneOf("auto", "wasm", "reference"),
  threads: positiveInteger,
};

function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return `an array (${JSON.stringify(v).slice(0, 40)})`;
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  return String(v);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Checks `value` against `shape`; `fail` gets the first problem, as "<path> must be <what>, got <value>". */
function checkShape(value: unknown, shape: Shape, path: string, fail: (message: string) => never): void {
  if (!isPlainObject(value)) fail(`${path} must be an object of settings, got ${describe(value)}`);
  const known = new Map(Object.entries(shape));
  for (const [key, v] of Object.entries(value)) {
    const expected = known.get(key);
    const at = `${path}.${key}`;
    if (expected === undefined) fail(`${at} is not a setting (known: ${[...known.keys()].join(", ")})`);
    if (v === undefined) continue;
    if (typeof expected === "function") {
      const what = expected(v);
      if (what !== null) fail(`${at} must be ${what}, got ${describe(v)}`);
    } else checkShape(v, expected, at, fail);
  }
}

/**
 * Checks the settings given to `trainLanguageModel` (a ValueRangeError naming the setting). The CLI
 * validates its flags and config file first; this keeps programs that call the library as strict.
 */
export function checkTrainLmConfig(config: unknown): asserts config is TrainLmConfig {
  checkShape(config, TRAINING, "config", (message) => {
    throw new ValueRangeError("trainLanguageModel", message);
  });
}

const SHA256 = /^[0-9a-f]{64}$/;

/**
 * The "config" of a language model's checkpoint.json, checked: kind, model, tokenizer (an object;
 * its fields are read by `tokenizerFromJSON`), training settings, corpus fingerprint. Any problem is
 * a CheckpointError naming `file` and the key.
 */
export function readLanguageModelCheckpointConfig(config: unknown, file: string, op = "loadLanguageModel"): LanguageModelCheckpointConfig {
  const fail = (message: string): never => {
    throw new CheckpointError(op, message, { file });
  };
  const own = (o: Record<string, unknown>, k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined);
  if (!isPlainObject(config) || own(config, "kind") !== "language-model") {
    const kind = isPlainObject(config) ? own(config, "kind") : undefined;
    fail(`holds a checkpoint of another kind (${kind === undefined ? "no model description" : `"${String(kind)}"`}), not a language model`);
  }
  const c = config as Record<string, unknown>;
  for (const key of Object.keys(c)) {
    if (!["kind", "model", "tokenizer", "training", "corpus"].includes(key)) fail(`config.${key} is not part of a language model's checkpoint`);
  }
  const model = own(c, "model");
  if (!isPlainObject(model)) fail(`config.model must be an object (the model's settings), got ${describe(model)}`);
  const m = model as Record<string, unknown>;
  const vocabSize = own(m, "vocabSize");
  if (!Number.isSafeInteger(vocabSize) || (vocabSize as number) < 1) fail(`config.model.vocabSize must be a positive integer, got ${describe(vocabSize)}`);
  const { vocabSize: _v, ...rest } = m;
  checkShape(rest, MODEL, "config.model", fail);
  if (own(m, "cell") === undefined || own(m, "hiddenSize") === undefined) fail("config.model must give cell and hiddenSize");
  const tokenizer = own(c, "tokenizer");
  if (!isPlainObject(tokenizer)) fail(`config.tokenizer is ${tokenizer === undefined ? "missing" : describe(tokenizer)}: the checkpoint carries no tokenizer, so its token ids cannot be read`);
  const training = own(c, "training");
  checkShape(training, TRAINING, "config.training", fail);
  const corpus = own(c, "corpus");
  if (corpus !== undefined) {
    if (!isPlainObject(corpus)) fail(`config.corpus must be {"sha256", "bytes"}, got ${describe(corpus)}`);
    const k = corpus as Record<string, unknown>;
    if (Object.keys(k).some((key) => key !== "sha256" && key !== "bytes")) fail('config.corpus must hold only "sha256" and "bytes"');
    const sha = own(k, "sha256");
    const bytes = own(k, "bytes");
    if (typeof sha !== "string" || !SHA256.test(sha)) fail(`config.corpus.sha256 must be 64 hex digits, got ${describe(sha)}`);
    if (!Number.isSafeInteger(bytes) || (bytes as number) < 0) fail(`config.corpus.bytes must be a non-negative integer, got ${describe(bytes)}`);
  }
  return config as unknown as LanguageModelCheckpointConfig;
}

/** What identifies a training text: the sha256 of its UTF-8 bytes, and their number. */
export interface CorpusFingerprint {
  readonly sha256: string;
  readonly bytes: number;
}

/** The sha256 and UTF-8 length of `text` (Node only). */
export async function corpusFingerprint(text: string): Promise<CorpusFingerprint> {
  const { createHash } = await import("node:crypto");
  const bytes = Buffer.from(text, "utf8");
  return { sha256: createHash("sha256").update(bytes).digest("hex"), bytes: bytes.length };
}

/**
 * Throws a DataError ("CHANGED") unless `text` is the text the run was trained on, as its
 * checkpoint records it (`config.corpus`). `source` names where the text came from. A checkpoint
 * written before corpora were recorded has nothing to compare: returns false; else true.
 */
export async function verifyCorpus(config: LanguageModelCheckpointConfig, text: string, source: string): Promise<boolean> {
  const recorded = config.corpus;
  if (recorded === undefined) return false;
  const actual = await corpusFingerprint(text);
  if (actual.sha256 !== recorded.sha256) {
    throw new DataError(
      "CHANGED",
      `${source} is not the text this run was trained on: its sha256 is ${actual.sha256} (${actual.bytes.toLocaleString("en-US")} bytes), ` +
        `the checkpoint records ${recorded.sha256} (${recorded.bytes.toLocaleString("en-US")} bytes)`,
      { path: source },
    );
  }
  return true;
}
