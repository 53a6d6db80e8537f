/// <reference types="node" />
// One file for a trained language model: `saveModel("lm.safetensors", trained)` and
// `loadModel("lm.safetensors")`. It is a safetensors file whose tensors are the model's state dict
// (the names of a checkpoint's model.safetensors, with "format": "pt", so that
// `safetensors.torch.load_file` reads it as one) and whose metadata holds everything else as JSON:
//
//   "unroll.format": "unroll-model", "unroll.format_version": "1"   what the file is, checked on load
//   "unroll.config": {"kind": "language-model", "model", "tokenizer", "training", "corpus"?}
//                    the same description as a checkpoint.json's "config" (tokenizer included)
//   "unroll.step":   the training step the weights are from
//
// It is written atomically (a temporary file beside it, fsynced, renamed over the path): a reader
// sees the old file or the new one, never half of one. Loading checks what a checkpoint's loading
// checks (the config, the tokenizer against the vocabulary, every weight's name, shape, dtype and
// finiteness) and says plainly what a wrong file is.

import { CheckpointError, decodeSafetensors, encodeSafetensors } from "@unroll/train";
import type { Tensor } from "@unroll/tensor";
import { treeEntries } from "@unroll/tensor";
import type { LanguageModel, LanguageModelParams } from "../model/language-model.js";
import type { Tokenizer } from "../tokenizers/tokenizer.js";
import type { CorpusFingerprint } from "./checkpoint-config.js";
import { type LanguageModelCheckpointConfig, languageModelFromCheckpoint, type LoadedLanguageModel, type TrainLmConfig } from "./train-lm.js";

/** The format tag of a model file (metadata "unroll.format"). */
export const MODEL_FILE_FORMAT = "unroll-model";
/** The version of that format this library writes and reads (metadata "unroll.format_version"). */
export const MODEL_FILE_VERSION = 1;

const KEYS = { format: "unroll.format", version: "unroll.format_version", config: "unroll.config", step: "unroll.step" } as const;

/** What `saveModel` stores: a trained model (`trainLanguageModel`'s result, `loadLanguageModel`'s, or your own). */
export interface SavableLanguageModel {
  readonly model: LanguageModel;
  readonly params: LanguageModelParams;
  readonly tokenizer: Tokenizer;
  /** The training settings and corpus fingerprint to keep with it (a loaded run's `config`). */
  readonly config?: { readonly training?: TrainLmConfig; readonly corpus?: CorpusFingerprint };
  /** The step the weights are from (`step`, or a training result's `steps`; default 0). */
  readonly step?: number;
  readonly steps?: number;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Writes a language model, its tokenizer and its settings into one safetensors file at `path`,
 * atomically (see the top of this file); returns the number of bytes written. A model and
 * tokenizer that do not belong together (vocabulary sizes differ) are refused before anything is
 * written.
 */
export async function saveModel(path: string, m: SavableLanguageModel): Promise<number> {
  const op = "saveModel";
  if (m.tokenizer.vocabSize !== m.model.config.vocabSize) {
    throw new CheckpointError(op, `the tokenizer has ${m.tokenizer.vocabSize} tokens but the model's vocabulary is ${m.model.config.vocabSize}: they do not belong together`);
  }
  const { forgetBias, ...rest } = m.model.config;
  const config: LanguageModelCheckpointConfig = {
    kind: "language-model",
    model: forgetBias === null ? rest : { ...rest, forgetBias },
    tokenizer: m.tokenizer.toJSON(),
    training: m.config?.training ?? {},
    ...(m.config?.corpus !== undefined ? { corpus: m.config.corpus } : {}),
  };
  const step = m.step ?? m.steps ?? 0;
  const tensors: Record<string, Tensor> = Object.fromEntries(treeEntries(m.params));
  // The weights must be the model's, as a load would check them: a wrong file is never written.
  languageModelFromCheckpoint({ config, params: tensors }, path, { config: path, weights: path, op });
  const bytes = encodeSafetensors(tensors, {
    format: "pt",
    [KEYS.format]: MODEL_FILE_FORMAT,
    [KEYS.version]: String(MODEL_FILE_VERSION),
    [KEYS.config]: JSON.stringify(config),
    [KEYS.step]: String(step),
  });
  const fs = await import("node:fs/promises");
  const { dirname, basename, join } = await import("node:path");
  const { randomBytes } = await import("node:crypto");
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${randomBytes(6).toString("hex")}`);
  try {
    const handle = await fs.open(tmp, "wx");
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, path);
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw new CheckpointError(op, `cannot write ${path}: ${errorMessage(e)}`, { file: path, cause: e });
  }
  try {
    const dir = await fs.open(dirname(path), "r");
    await dir.sync().finally(() => dir.close());
  } catch {
    // Directories cannot be fsynced everywhere (Windows); the rename itself is atomic.
  }
  return bytes.length;
}

/**
 * Reads a file written by `saveModel`: the model, its weights, its tokenizer and its settings, all
 * checked. A missing file, a directory, a file that is not safetensors, a safetensors file without
 * unroll's metadata (a plain state dict), another format or version, or weights that do not fit
 * the model are each a CheckpointError naming the file and saying what it is.
 */
export async function loadModel(path: string): Promise<LoadedLanguageModel> {
  const op = "loadModel";
  const fs = await import("node:fs/promises");
  let bytes: Uint8Array;
  try {
    const info = await fs.stat(path);
    if (info.isDirectory()) {
      throw new CheckpointError(op, "is a directory, not a model file: a run or checkpoint directory is read by loadLanguageModel(dir)", { file: path });
    }
    bytes = new Uint8Array(await fs.readFile(path));
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    const code = (e as { code?: unknown }).code;
    throw new CheckpointError(op, code === "ENOENT" ? "no such file" : `cannot be read (${errorMessage(e)})`, { file: path, cause: e });
  }
  let decoded: ReturnType<typeof decodeSafetensors>;
  try {
    decoded = decodeSafetensors(bytes);
  } catch (e) {
    throw new CheckpointError(op, `is not a model file written by saveModel: it is not a valid safetensors file (${errorMessage(e)})`, { file: path, cause: e });
  }
  const meta = new Map(Object.entries(decoded.metadata));
  const format = meta.get(KEYS.format);
  if (format === undefined) {
    throw new CheckpointError(
      op,
      "is a safetensors file without unroll's model metadata (a plain state dict, such as a checkpoint's model.safetensors): " +
        "load a run's checkpoint with loadLanguageModel(dir), or write a model file with saveModel",
      { file: path },
    );
  }
  if (format !== MODEL_FILE_FORMAT) throw new CheckpointError(op, `is a "${format}" file, not an "${MODEL_FILE_FORMAT}" (a model file written by saveModel)`, { file: path });
  const version = meta.get(KEYS.version);
  if (version !== String(MODEL_FILE_VERSION)) {
    throw new CheckpointError(op, `has format version ${JSON.stringify(version ?? null)}; this library reads version ${MODEL_FILE_VERSION}`, { file: path });
  }
  let config: unknown;
  try {
    config = JSON.parse(meta.get(KEYS.config) ?? "");
  } catch (e) {
    throw new CheckpointError(op, `its metadata "${KEYS.config}" is not JSON (${errorMessage(e)}): the file was damaged or edited`, { file: path, cause: e });
  }
  const stepText = meta.get(KEYS.step) ?? "0";
  const step = /^\d+$/.test(stepText) ? Number(stepText) : NaN;
  if (!Number.isSafeInteger(step)) throw new CheckpointError(op, `its metadata "${KEYS.step}" must be a non-negative integer, got ${JSON.stringify(stepText)}`, { file: path });
  const loaded = languageModelFromCheckpoint({ config, params: decoded.tensors }, path, { config: `${path} (metadata ${KEYS.config})`, weights: path, op });
  return { ...loaded, step };
}
