import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import type { Command } from "commander";
import {
  LanguageModel,
  type LanguageModelCheckpointConfig,
  type LanguageModelConfig,
  readLanguageModelCheckpointConfig,
  type Tokenizer,
  tokenizerFromJSON,
  type TrainLmConfig,
} from "@unroll/nlp";
import { checkStateDict, decodeSafetensors, saveCheckpoint } from "@unroll/train";
import type { Tensor } from "@unroll/tensor";
import { UserError } from "../ui/errors.js";
import type { Output } from "../ui/output.js";
import { TORCH_EXPORT_FORMAT } from "./export-torch.js";

type Cell = LanguageModelConfig["cell"];
const CELLS: readonly Cell[] = ["lstm", "gru", "rnn_tanh", "rnn_relu"];
/** Rows of weight_hh per hidden unit: PyTorch stacks the gates (LSTM i, f, g, o; GRU r, z, n). */
const GATES: Readonly<Record<number, string>> = { 4: "lstm", 3: "gru", 1: "rnn_tanh or rnn_relu" };

/** The names `unroll export torch` writes (and `model.py`'s `LanguageModel.state_dict()` has). */
const LAYOUT = "embedding.weight [vocab, embedding] (absent for one-hot), rnn.weight_ih_l<k>, rnn.weight_hh_l<k>, rnn.bias_ih_l<k>, rnn.bias_hh_l<k> (k = 0 .. layers-1), head.weight [vocab, hidden] (absent when tied), head.bias [vocab]";
const NAME = /^(embedding\.weight|head\.weight|head\.bias|rnn\.(weight|bias)_(ih|hh)_l\d+)$/;

const shape = (t: Tensor): string => `[${t.shape.join(", ")}]`;

function layoutError(file: string, message: string, hint = `the layout of \`unroll export torch\` (model.py's LanguageModel): ${LAYOUT}`): UserError {
  return new UserError(`${file}: ${message}`, hint);
}

/** What the export's config.json (or train.py's, beside the weights) says, where one is there. */
interface ExportConfig {
  readonly model?: Partial<LanguageModelConfig>;
  readonly training?: Record<string, unknown>;
  readonly corpus?: unknown;
  readonly step?: number;
}

async function readExportConfig(path: string): Promise<ExportConfig | null> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return null;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${path} is not JSON (${(e as Error).message})`, "remove or repair it: import torch reads the config.json that export torch (or its train.py) writes beside the weights");
  }
  const c = json as Record<string, unknown> | null;
  if (c === null || typeof c !== "object" || c["format"] !== TORCH_EXPORT_FORMAT) return null; // someone else's config.json: not ours to read
  const resume = c["resume"] as { step?: unknown } | undefined;
  const step = typeof resume?.step === "number" ? resume.step : undefined;
  return {
    ...(c["model"] && typeof c["model"] === "object" ? { model: c["model"] as Partial<LanguageModelConfig> } : {}),
    ...(c["training"] && typeof c["training"] === "object" ? { training: c["training"] as Record<string, unknown> } : {}),
    ...(c["corpus"] && typeof c["corpus"] === "object" ? { corpus: c["corpus"] } : {}),
    ...(step !== undefined ? { step } : {}),
  };
}

/**
 * The language model that a PyTorch state dict of export torch's layout describes, read from the
 * tensors' names and shapes (cell from the gate rows of weight_hh, layers, hidden, vocabulary,
 * embedding or one-hot, tied head), and the state dict itself, every tensor checked against it.
 */
export function inferLanguageModel(
  tensors: Readonly<Record<string, Tensor>>,
  file: string,
  given: { readonly cell?: Cell; readonly dropout?: number } = {},
): { config: LanguageModelConfig; params: Record<string, Tensor>; notes: string[] } {
  const notes: string[] = [];
  let sd: Record<string, Tensor> = { ...tensors };
  const names = Object.keys(sd);
  if (names.length === 0) throw layoutError(file, "holds no tensors");
  // DistributedDataParallel's state dict: every name under "module.".
  if (names.every((n) => n.startsWith("module."))) {
    sd = Object.fromEntries(Object.entries(sd).map(([n, t]) => [n.slice("module.".length), t]));
    notes.push('dropped the "module." prefix of DistributedDataParallel');
  }
  for (const [name, t] of Object.entries(sd)) {
    if (!NAME.test(name)) {
      const why = /_reverse$/.test(name)
        ? " (a bidirectional RNN: a language model reads left to right, so only unidirectional RNNs import)"
        : /weight_hr_l/.test(name)
          ? " (an LSTM with proj_size: not part of this model)"
          : "";
      throw layoutError(file, `has a tensor named ${name} ${shape(t)}, which is not part of the model${why}`);
    }
    if (t.dtype !== "float32") {
      throw new UserError(`${file}: tensor ${name} is ${t.dtype}; the model's weights are float32`, "save the state dict of the model in float32 (model.float().state_dict())");
    }
  }
  const bias = sd["head.bias"];
  if (!bias) throw layoutError(file, "has no head.bias (expected shape [vocab]): the output layer's bias gives the vocabulary size");
  if (bias.rank !== 1) throw layoutError(file, `head.bias has shape ${shape(bias)}, expected [vocab]`);
  const vocabSize = bias.shape[0]!;
  const hh = sd["rnn.weight_hh_l0"];
  if (!hh) throw layoutError(file, "has no rnn.weight_hh_l0 (expected shape [gates x hidden, hidden]): the first recurrent layer's weights give the cell and the hidden size");
  if (hh.rank !== 2 || hh.shape[1]! < 1 || hh.shape[0]! % hh.shape[1]! !== 0 || GATES[hh.shape[0]! / hh.shape[1]!] === undefined) {
    throw layoutError(file, `rnn.weight_hh_l0 has shape ${shape(hh)}, expected [4 x hidden, hidden] (LSTM), [3 x hidden, hidden] (GRU) or [hidden, hidden] (RNN)`);
  }
  const hiddenSize = hh.shape[1]!;
  const gates = hh.shape[0]! / hiddenSize;
  let cell: Cell = gates === 4 ? "lstm" : gates === 3 ? "gru" : given.cell === "rnn_relu" ? "rnn_relu" : "rnn_tanh";
  if (given.cell !== undefined && given.cell !== cell) {
    throw layoutError(file, `rnn.weight_hh_l0 has shape ${shape(hh)}: ${gates} gate${gates === 1 ? "" : "s"} of ${hiddenSize}, a ${GATES[gates]} layer, not ${given.cell}`, `leave out --cell (it is read from the weights), or import the weights of a ${given.cell} model`);
  }
  if (gates === 1 && given.cell === undefined) notes.push("an RNN's weights do not say its nonlinearity: read as tanh (pass --cell rnn_relu for a relu RNN)");
  cell = given.cell ?? cell;
  let numLayers = 0;
  while (sd[`rnn.weight_hh_l${numLayers}`] !== undefined || sd[`rnn.weight_ih_l${numLayers}`] !== undefined) numLayers++;
  const embedding = sd["embedding.weight"];
  let embeddingSize: number | "one-hot" = "one-hot";
  if (embedding) {
    if (embedding.rank !== 2) throw layoutError(file, `embedding.weight has shape ${shape(embedding)}, expected [vocab, embedding] = [${vocabSize}, embedding]`);
    embeddingSize = embedding.shape[1]!;
  }
  let tieWeights = false;
  const head = sd["head.weight"];
  if (embedding && !head) tieWeights = true;
  else if (embedding && head && sameValues(embedding, head)) {
    // PyTorch's tied head (head.weight = embedding.weight) is one tensor under both names.
    tieWeights = true;
    delete sd["head.weight"];
    notes.push("head.weight is embedding.weight (tied weights)");
  }
  const config: LanguageModelConfig = { vocabSize, cell, hiddenSize, numLayers, embeddingSize, tieWeights, ...(given.dropout !== undefined ? { dropout: given.dropout } : {}) };
  let model: LanguageModel;
  try {
    model = new LanguageModel(config);
  } catch (e) {
    throw layoutError(file, `its tensors describe no model of this layout: ${(e as Error).message}`);
  }
  // Every tensor against the model those names and shapes describe: missing, unexpected, shapes, finite values.
  const expected = model.parameterShapes();
  const problems = checkStateDict(
    new Map(Object.entries(expected).map(([n, s]) => [n, { shape: s, dtype: "float32" as const }])),
    sd,
    { finite: true },
  ).map((p) => (p.startsWith("missing ") ? `${p} (expected shape [${expected[p.slice("missing ".length)]!.join(", ")}])` : p));
  if (problems.length > 0) {
    const what = `a ${numLayers}-layer ${cell} of hidden size ${hiddenSize} over ${vocabSize} tokens${embeddingSize === "one-hot" ? " (one-hot input)" : `, embedding ${embeddingSize}`}${tieWeights ? ", tied head" : ""}`;
    throw layoutError(file, `read as ${what}, but ${problems.join("; ")}`);
  }
  return { config, params: sd, notes };
}

function sameValues(a: Tensor, b: Tensor): boolean {
  if (a.rank !== b.rank || a.shape.some((d, i) => d !== b.shape[i])) return false;
  for (let i = 0; i < a.data.length; i++) if (!Object.is(a.data[i], b.data[i])) return false;
  return true;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (e: NodeJS.ErrnoException) => e.code !== "ENOENT",
  );
}

async function readTokenizer(path: string, vocabSize: number, weights: string): Promise<Tokenizer> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === "ENOENT";
    throw new UserError(`${missing ? "no tokenizer at" : "cannot read"} ${path}`, "pass --tokenizer FILE: the tokenizer.json that `unroll export torch` wrote (or a tokenizer's toJSON())");
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${path} is not JSON (${(e as Error).message})`, "pass the tokenizer.json that `unroll export torch` wrote");
  }
  let tokenizer: Tokenizer;
  try {
    tokenizer = tokenizerFromJSON(json);
  } catch (e) {
    throw new UserError(`${path} is not a tokenizer: ${(e as Error).message}`, "pass the tokenizer.json that `unroll export torch` wrote");
  }
  if (tokenizer.vocabSize !== vocabSize) {
    throw new UserError(
      `${path} has ${tokenizer.vocabSize} tokens, but ${weights} is a model over ${vocabSize} (head.bias [${vocabSize}]): they do not belong together`,
      "pass the tokenizer the model was trained with (the tokenizer.json of its export)",
    );
  }
  return tokenizer;
}

/** The training settings of an export's config.json that a checkpoint keeps (its nulls left out). */
function trainingOf(saved: Record<string, unknown> | undefined, tokenizer: Tokenizer): TrainLmConfig {
  const keep = ["data", "batchSize", "window", "batching", "trainFraction", "clip", "evalEvery", "evalTokens", "seed"];
  const out: Record<string, unknown> = { tokenizer: tokenizer.kind };
  for (const k of keep) if (saved?.[k] !== undefined && saved[k] !== null) out[k] = saved[k];
  return out as TrainLmConfig;
}

export interface ImportedRun {
  readonly dir: string;
  readonly step: number;
  readonly model: LanguageModelConfig;
  readonly notes: readonly string[];
}

/** Reads, checks and writes: nothing is created unless everything fits, and the run appears whole. */
export async function importTorch(weightsArg: string, flags: { out: string; tokenizer?: string; cell?: string }): Promise<ImportedRun> {
  const target = resolve(flags.out);
  if (await exists(target)) throw new UserError(`${flags.out} already exists`, "give a new --out: import torch writes a whole run folder and never writes into or over an existing one");
  if (flags.cell !== undefined && !CELLS.includes(flags.cell as Cell)) throw new UserError(`--cell must be one of ${CELLS.join(", ")}, got ${JSON.stringify(flags.cell)}`, "leave it out: only a relu RNN needs it (--cell rnn_relu)");
  // An export folder (or train.py's --out folder) stands for its weights.safetensors.
  const info = await stat(weightsArg).catch(() => null);
  if (info === null) throw new UserError(`no such file: ${weightsArg}`, "pass a .safetensors state dict, or the folder `unroll export torch` (or its train.py) wrote");
  const weights = info.isDirectory() ? join(weightsArg, "weights.safetensors") : weightsArg;
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(weights));
  } catch (e) {
    throw new UserError(`cannot read ${weights}: ${(e as Error).message}`, "pass a .safetensors state dict, or the folder `unroll export torch` (or its train.py) wrote");
  }
  let tensors: Record<string, Tensor>;
  try {
    tensors = { ...decodeSafetensors(bytes).tensors };
  } catch (e) {
    throw new UserError(`${weights} is not a safetensors file this library reads: ${(e as Error).message.replace(/^decodeSafetensors: /, "")}`, "save the model's state dict with safetensors.torch.save_file(model.state_dict(), path), in float32");
  }
  const saved = await readExportConfig(join(dirname(weights), "config.json"));
  const cell = (flags.cell as Cell | undefined) ?? (saved?.model?.cell === "rnn_relu" ? "rnn_relu" : undefined);
  const dropout = typeof saved?.model?.dropout === "number" ? saved.model.dropout : undefined;
  const { config: model, params, notes } = inferLanguageModel(tensors, weights, { ...(cell !== undefined ? { cell } : {}), ...(dropout !== undefined ? { dropout } : {}) });
  const tokenizerPath = flags.tokenizer ?? join(dirname(weights), "tokenizer.json");
  const tokenizer = await readTokenizer(tokenizerPath, model.vocabSize, weights);
  const config: LanguageModelCheckpointConfig = {
    kind: "language-model",
    model,
    tokenizer: tokenizer.toJSON(),
    training: trainingOf(saved?.training, tokenizer),
    ...(saved?.corpus !== undefined ? { corpus: saved.corpus as LanguageModelCheckpointConfig["corpus"] } : {}),
  };
  // The checks every reader of the run makes (loadLanguageModel): the config, then the weights.
  try {
    readLanguageModelCheckpointConfig(config, join(dirname(weights), "config.json"), "import torch");
    new LanguageModel(model).paramsFromStateDict(params);
  } catch (e) {
    throw new UserError(`${weights} cannot make a run: ${(e as Error).message}`, "check the config.json beside the weights, or import the weights alone (a folder without config.json)");
  }
  const step = saved?.step !== undefined && Number.isSafeInteger(saved.step) && saved.step >= 0 ? saved.step : 0;
  // The run is written as a checkpoint root in a hidden folder beside --out, renamed into place.
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${randomBytes(6).toString("hex")}`);
  try {
    await mkdir(dirname(target), { recursive: true });
    await saveCheckpoint(tmp, { step, config, params, metrics: { imported: { from: "torch", weights: resolve(weights) } } });
    if (await exists(target)) throw new UserError(`${flags.out} already exists`, "give a new --out: import torch never writes into or over an existing folder");
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    if (e instanceof UserError) throw e;
    throw new UserError(`cannot write ${flags.out}: ${(e as Error).message}`, "check that its parent folder can be written");
  }
  return { dir: target, step, model, notes };
}

export function registerImportTorch(program: Command, out: () => Output): void {
  const group = program.commands.find((c) => c.name() === "import") ?? program.command("import").description("bring a model trained elsewhere in as a run (import torch: a PyTorch state dict)");
  group
    .command("torch")
    .description(
      "turn a PyTorch language model's state dict (safetensors; the layout `unroll export torch` writes: embedding, stacked RNN/LSTM/GRU, head) into a run " +
        "that sample, eval and export read; cell, layers, hidden size and vocabulary are read from the tensors' names and shapes",
    )
    .argument("<weights>", "a .safetensors state dict, or a folder written by `unroll export torch` or its train.py (its weights.safetensors)")
    .requiredOption("--out <run>", "the run folder to create (it must not exist)")
    .option("--tokenizer <file>", "the tokenizer's JSON (default: tokenizer.json beside the weights)")
    .option("--cell <cell>", "rnn_relu for a relu RNN (the weights do not say); lstm, gru and rnn_tanh are read from the weights")
    .action(async (weights: string, flags: { out: string; tokenizer?: string; cell?: string }) => {
      const o = out();
      const r = await importTorch(weights, flags);
      for (const note of r.notes) o.info(`note: ${note}`);
      const m = r.model;
      o.result(
        { dir: r.dir, step: r.step, model: m },
        () =>
          `wrote ${flags.out}: a ${m.numLayers}-layer ${m.cell} (hidden ${m.hiddenSize}, vocabulary ${m.vocabSize}, ${m.embeddingSize === "one-hot" ? "one-hot input" : `embedding ${m.embeddingSize}`}${m.tieWeights ? ", tied head" : ""}) at step ${r.step}; ` +
          `try: unroll sample ${flags.out}`,
      );
    });
}
