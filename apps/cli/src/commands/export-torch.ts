import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { loadLanguageModel, type TrainLmConfig } from "@unroll/nlp";
import { type Checkpoint, encodeSafetensors, loadCheckpoint } from "@unroll/train";
import type { Tensor } from "@unroll/tensor";
import { UserError } from "../ui/errors.js";
import type { Output } from "../ui/output.js";

/** The format tag and version of an export's config.json (model.py's `read_config` checks both). */
export const TORCH_EXPORT_FORMAT = "unroll-torch-export";
export const TORCH_EXPORT_VERSION = 1;

/**
 * The Python files an export copies as they are: the module and the safetensors reader/writer, the
 * tokenizers, the training script. They live in src/torch/ beside the commands, which the package
 * ships (`files` holds `src`), so that the same files are read from src/ (tests) and from dist/.
 */
const TEMPLATES = fileURLToPath(new URL("../../src/torch/", import.meta.url));
export const TORCH_TEMPLATE_FILES = ["model.py", "tokenizer.py", "train.py"] as const;

// The defaults of trainLanguageModel (packages/nlp/src/train/train-lm.ts) and of its recipe
// (recipe.ts), written out so that config.json states every setting train.py follows.
const DEFAULTS = { batchSize: 32, window: 64, batching: "stream", trainFraction: 0.9, clip: 5, evalEvery: 200, seed: 0, lr: 2e-3 } as const;

/** Everything train.py needs to go on as `unroll train lm --resume` would, as plain JSON (config.json). */
export function torchExportConfig(checkpoint: Checkpoint, run: string): Record<string, unknown> {
  const config = checkpoint.config as { model: unknown; tokenizer: unknown; training?: TrainLmConfig; corpus?: unknown };
  const t = config.training ?? {};
  const optimizer = checkpoint.optimizer;
  const trainer = (checkpoint.trainer ?? {}) as { lrFactor?: number };
  const s = t.schedule ?? {};
  const schedule =
    s.name === "cosine"
      ? { name: "cosine", warmupSteps: s.warmupSteps ?? 0, minLr: s.minLr ?? 0, ...(t.steps !== undefined ? { totalSteps: t.steps } : {}) }
      : s.name === "step"
        ? { name: "step", stepSize: s.stepSize ?? 1000, gamma: s.gamma ?? 0.5 }
        : s.name === "plateau"
          ? { name: "plateau", lr: (checkpoint.schedule as { lr?: number } | null)?.lr ?? t.optimizer?.lr ?? DEFAULTS.lr }
          : { name: "constant" };
  return {
    format: TORCH_EXPORT_FORMAT,
    version: TORCH_EXPORT_VERSION,
    source: { run: resolve(run), step: checkpoint.step },
    model: config.model,
    training: {
      data: t.data ?? null,
      batchSize: t.batchSize ?? DEFAULTS.batchSize,
      window: t.window ?? DEFAULTS.window,
      batching: t.batching ?? DEFAULTS.batching,
      trainFraction: t.trainFraction ?? DEFAULTS.trainFraction,
      clip: t.clip ?? DEFAULTS.clip,
      evalEvery: t.evalEvery ?? DEFAULTS.evalEvery,
      ...(t.evalTokens !== undefined ? { evalTokens: t.evalTokens } : {}),
      seed: t.seed ?? DEFAULTS.seed,
      ...(t.steps !== undefined ? { steps: t.steps } : {}),
    },
    // name and hyper are the library's optimiser state (PyTorch's own settings); baseLr is the
    // rate before the schedule, lr the one the last step used, step the updates applied so far.
    optimizer: optimizer
      ? { name: optimizer.name, hyper: optimizer.hyper, baseLr: t.optimizer?.lr ?? DEFAULTS.lr, lr: optimizer.lr, step: optimizer.step }
      : { name: t.optimizer?.name ?? "adam", hyper: null, baseLr: t.optimizer?.lr ?? DEFAULTS.lr, lr: t.optimizer?.lr ?? DEFAULTS.lr, step: 0 },
    schedule,
    resume: { step: checkpoint.step, data: checkpoint.data ?? null, lrFactor: trainer.lrFactor ?? 1 },
    corpus: config.corpus ?? null,
  };
}

/** The carried hidden state (`carry.h`, `carry.c` of state.safetensors) as {h, c}. */
function carryOf(checkpoint: Checkpoint): Record<string, Tensor> {
  const carry: Record<string, Tensor> = {};
  for (const [key, t] of Object.entries(checkpoint.extra ?? {})) if (key.startsWith("carry.")) carry[key.slice("carry.".length)] = t;
  return carry;
}

function readme(run: string, step: number, data: string | null): string {
  const text = data ?? "input.txt";
  return [
    `# ${basename(resolve(run))}, step ${step}, for PyTorch`,
    "",
    "Written by `unroll export torch`. Needs PyTorch (and NumPy); nothing else.",
    "",
    "- `model.py`: the model as an `nn.Module`, and `load(dir)`: the module with `weights.safetensors` (read without the safetensors package)",
    "- `tokenizer.py` and `tokenizer.json`: the run's tokenizer, `encode` and `decode`",
    "- `train.py`: continues training (`--help`): on the run's text, batch and window it goes on where the run stopped",
    "- `config.json`: the model, the training settings, the optimiser, the step; `optimizer.safetensors` and `carry.safetensors`: the optimiser's moments and the carried hidden state",
    "",
    "```sh",
    `python3 train.py --data ${text} --steps 1000`,
    `torchrun --standalone --nproc_per_node 4 train.py --data ${text} --steps 1000`,
    "```",
    "",
    "```python",
    "import torch, model, tokenizer",
    'lm, config = model.load(".")',
    'tok = tokenizer.load("tokenizer.json")',
    'logits, state = lm(torch.tensor(tok.encode("Call me"))[:, None])  # (T, 1, V)',
    "```",
    "",
  ].join("\n");
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (e: NodeJS.ErrnoException) => e.code !== "ENOENT",
  );
}

async function refuseExisting(target: string): Promise<void> {
  if (await exists(target)) {
    throw new UserError(`${target} already exists`, "give a new --out: export torch writes a whole folder and never writes into or over an existing one");
  }
}

async function writeSynced(path: string, data: Uint8Array | string): Promise<void> {
  const handle = await open(path, "wx");
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes the export into a hidden folder beside `target` and renames it into place, so that the
 * folder appears whole or not at all; an existing `target` is refused before and again just
 * before the rename (which would replace an empty folder).
 */
async function writeFolderAtomic(target: string, files: ReadonlyMap<string, Uint8Array | string>): Promise<void> {
  await refuseExisting(target);
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${randomBytes(6).toString("hex")}`);
  try {
    await mkdir(dirname(target), { recursive: true });
    await mkdir(tmp);
    for (const [name, data] of files) await writeSynced(join(tmp, name), data);
    const dir = await open(tmp, "r");
    await dir.sync().finally(() => dir.close());
    await refuseExisting(target);
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    if (e instanceof UserError) throw e;
    throw new UserError(`cannot write ${target}: ${(e as Error).message}`, "check that its parent folder can be written");
  }
}

/** The files of an export of the language model in `run` (its latest checkpoint), by name. */
export async function torchExportFiles(run: string): Promise<{ files: Map<string, Uint8Array | string>; step: number }> {
  const checkpoint = await loadCheckpoint(run);
  const kind = (checkpoint.config as { kind?: unknown } | null)?.kind;
  if (kind !== "language-model") {
    const what = typeof kind === "string" ? `a ${kind} checkpoint` : "a checkpoint without a model kind";
    throw new UserError(
      `${run} holds ${what}; export torch writes language models (unroll train lm)`,
      kind === "translation-model" ? "export translation models with `unroll export onnx`" : "point at a run written by `unroll train lm`",
    );
  }
  // Every check of the library's loader: settings, tokenizer against the vocabulary, weights.
  const loaded = await loadLanguageModel(run);
  if (loaded.step !== checkpoint.step) throw new UserError(`${run} changed while it was read (step ${checkpoint.step}, then ${loaded.step})`, "export it again once its training has stopped");
  const config = torchExportConfig(checkpoint, run);
  const files = new Map<string, Uint8Array | string>();
  for (const name of TORCH_TEMPLATE_FILES) files.set(name, await readFile(join(TEMPLATES, name)));
  files.set("config.json", `${JSON.stringify(config, null, 2)}\n`);
  files.set("tokenizer.json", `${JSON.stringify(loaded.tokenizer.toJSON())}\n`);
  files.set("weights.safetensors", encodeSafetensors(checkpoint.params, { format: "pt" }));
  files.set("optimizer.safetensors", encodeSafetensors(checkpoint.optimizer?.buffers ?? {}, { format: "pt" }));
  files.set("carry.safetensors", encodeSafetensors(carryOf(checkpoint), { format: "pt" }));
  files.set("README.md", readme(run, checkpoint.step, (config.training as { data: string | null }).data));
  return { files, step: checkpoint.step };
}

export function registerExportTorch(program: Command, out: () => Output): void {
  // `export` is the group `export onnx` made (registered first); alone, this makes its own.
  const group = program.commands.find((c) => c.name() === "export") ?? program.command("export");
  group.description("export a trained model (export onnx: an ONNX file; export torch: a PyTorch module, its weights and a training script)");
  group
    .command("torch")
    .description(
      "write a language model for PyTorch into a new folder: model.py (an nn.Module and a safetensors loader), weights.safetensors, " +
        "tokenizer.json with tokenizer.py, and train.py, which continues training on one CPU or GPU or on many with torchrun",
    )
    .argument("<run>", "a run directory or checkpoint written by `unroll train lm`")
    .requiredOption("--out <dir>", "the folder to create (it must not exist)")
    .action(async (run: string, flags: { out: string }) => {
      const o = out();
      const target = resolve(flags.out);
      await refuseExisting(target);
      const { files, step } = await torchExportFiles(run);
      await writeFolderAtomic(target, files);
      o.result(
        { dir: target, files: [...files.keys()], step },
        () => `wrote ${flags.out} (${[...files.keys()].join(", ")}), from step ${step}; continue training with: python3 ${join(flags.out, "train.py")} --data <text> --steps 1000`,
      );
    });
}
