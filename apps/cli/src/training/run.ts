// What every training command (`train lm`, `train mt`, captioning) does around its library call:
// open the run folder (lock, refuse or move aside an old run, find the checkpoint to resume), turn
// the library's run-folder errors into messages with this command line's fixes, print the model's
// summary, log metrics.jsonl (and metrics.csv, and TensorBoard events with --tensorboard) line by
// line, warn about divergence, and stop cleanly on Ctrl-C.

import { resolve } from "node:path";
import {
  CheckpointError,
  DivergenceMonitor,
  formatModelSummary,
  type MetricsRecord,
  modelSummary,
  RunFolder,
  RunFolderError,
  type StepEvent,
  tensorBoardEventFiles,
  TensorBoardWriter,
  type TrainerEvents,
} from "@unroll/train";
import { UserError } from "../ui/errors.js";
import type { Output } from "../ui/output.js";
import type { TrainingProgress } from "../ui/progress.js";

export interface OpenRunOptions {
  /** The run folder (--out). */
  readonly dir: string;
  readonly resume: boolean;
  readonly force: boolean;
  /** The command as typed, e.g. "unroll train lm", for the hints and the lock. */
  readonly command: string;
}

/**
 * Opens the run folder for a training: takes its lock, refuses a folder holding an old run unless
 * --force (which moves the old run into a sibling folder and says so), and for --resume finds the
 * latest checkpoint, reporting the real reason it cannot be read. Errors become UserErrors with the
 * flags that fix them.
 */
export async function openRun(out: Output, options: OpenRunOptions): Promise<RunFolder> {
  const { dir, command } = options;
  if (options.resume && options.force) {
    throw new UserError("--resume and --force ask for opposite things", `--resume continues the run in ${dir}; --force starts a new one there (moving the old one aside)`);
  }
  let run: RunFolder;
  try {
    run = await RunFolder.open(dir, { mode: options.resume ? "resume" : "new", replace: options.force ? "move" : "refuse", command: `${command} --out ${dir}${options.resume ? " --resume" : ""}` });
  } catch (e) {
    if (e instanceof RunFolderError) {
      const hints: Partial<Record<RunFolderError["code"], string>> = {
        HOLDS_RUN: "continue it with --resume, or choose another --out (or pass --force to move the old run aside into a new folder beside it)",
        LOCKED: `wait until it has finished (or stop it), or choose another --out`,
        NO_CHECKPOINT: `start a run first (\`${command} --out ${dir}\`), or point --out at the folder of the run to continue`,
        NOT_A_FOLDER: "point --out at a folder",
      };
      throw new UserError(e.message, hints[e.code]);
    }
    if (e instanceof CheckpointError && options.resume) {
      throw new UserError(
        `the run in ${dir} cannot be resumed: ${e.message}`,
        `restore the file from a backup; or start a new run with --force, which moves this one aside into a new folder beside ${dir}`,
      );
    }
    throw e;
  }
  const previous = run.previous;
  if (previous?.action === "moved") out.info(`moved the old run in ${dir} (${previous.entries.join(", ")}) to ${previous.to}`);
  return run;
}

/** Ctrl-C: the first one stops after the current step and saves; a second one quits at once. */
export function stopOnInterrupt(out: Output): { readonly signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts > 1) process.exit(130); // the run folder's exit handler releases the lock
    out.info("\nstopping after this step and saving a checkpoint (Ctrl-C again to quit without saving)...");
    controller.abort();
  };
  process.on("SIGINT", onSigint);
  return { signal: controller.signal, dispose: () => process.off("SIGINT", onSigint) };
}

/** A trainer's events, as far as the CLI listens to them. */
interface EventSource {
  readonly events: { on<K extends keyof TrainerEvents>(name: K, fn: (e: TrainerEvents[K]) => void): unknown };
}

/** Where a training's metrics records go: metrics.jsonl (and metrics.csv), and TensorBoard with --tensorboard. */
export interface MetricsSink {
  append(record: MetricsRecord): void;
}

/** The model's parameters per module and in total (Keras's model.summary()), printed at the start of a training. */
export function printModelSummary(out: Output, shapes: Readonly<Record<string, readonly number[]>>): void {
  const summary = modelSummary(shapes);
  if (out.json) out.result({ event: "model", parameters: summary.total, modules: summary.modules.map((m) => ({ name: m.name, parameters: m.parameters })) });
  else out.info(formatModelSummary(summary));
}

/** TensorBoard's names for metrics.jsonl's keys: grouped as train/ and validation/ in its scalar dashboard. */
const TENSORBOARD_TAGS: Readonly<Record<string, string>> = {
  loss: "train/loss",
  gradNorm: "train/grad_norm",
  lr: "train/lr",
  validation: "validation/loss",
  bleu: "validation/bleu",
  chrf: "validation/chrf",
};

/**
 * --tensorboard DIR, checked before a new run starts: a directory that holds another run's event
 * files would show both as one run, so it is refused unless --force (then this run's file starts by
 * hiding the old events from TensorBoard; nothing is deleted).
 */
export async function checkTensorBoardDir(dir: string | undefined, a: { resume: boolean; force: boolean }): Promise<void> {
  if (dir === undefined || a.resume || a.force) return;
  const files = await tensorBoardEventFiles(resolve(dir));
  if (files.length > 0) {
    throw new UserError(
      `${resolve(dir)} already holds TensorBoard event files (${files.length}, another run's): TensorBoard would draw them and this run's as one run`,
      "choose another --tensorboard directory (TensorBoard shows each subdirectory of its --logdir as a run), or pass --force to hide the old events from TensorBoard (nothing is deleted)",
    );
  }
}

/**
 * metrics.jsonl (with metrics.csv beside it), and with --tensorboard a new event file in that
 * directory with the same numbers: a resumed run's file starts by dropping what an earlier process
 * wrote after the checkpoint it continues from, a new run (--force) by dropping everything before it.
 */
export async function metricsSink(out: Output, log: MetricsSink, a: { tensorboard: string | undefined; resumedFrom: number | null }): Promise<MetricsSink & { close(): void }> {
  if (a.tensorboard === undefined) return { append: (r) => log.append(r), close: () => undefined };
  const dir = resolve(a.tensorboard);
  const hasOld = (await tensorBoardEventFiles(dir)).length > 0;
  const purgeStep = a.resumedFrom !== null ? a.resumedFrom + 1 : hasOld ? 1 : undefined;
  const tb = await TensorBoardWriter.open(dir, purgeStep !== undefined ? { purgeStep } : {}).catch((e: Error) => {
    throw new UserError(e.message, "choose a --tensorboard directory that can be written");
  });
  out.info(`TensorBoard events: ${tb.path} (tensorboard --logdir ${dir})`);
  return {
    append: (record) => {
      log.append(record);
      const scalars: Record<string, number> = {};
      for (const [key, value] of Object.entries(record)) if (key !== "step" && typeof value === "number") scalars[TENSORBOARD_TAGS[key] ?? key] = value;
      if (Object.keys(scalars).length > 0) tb.scalars(record.step, scalars);
    },
    close: () => tb.close(),
  };
}

/**
 * Wires a trainer to the output: progress, validation lines (a non-finite perplexity is never
 * "(best)"), divergence warnings against the uniform baseline ln V, guard warnings, and one
 * metrics.jsonl line per step and per validation, written as it happens. metrics.jsonl holds only
 * what a resumed run reproduces exactly (no timings), so that a run interrupted any number of times
 * ends with the same file as an uninterrupted one.
 */
export function reportTraining(
  trainer: EventSource,
  a: {
    progress: TrainingProgress;
    metrics: MetricsSink;
    vocabSize: number;
    /** Without it, a loss in nats per token, with bits and perplexity; else the unit printed after the loss ("nats/text", "scaled MSE"). */
    lossUnit?: string;
  },
): void {
  const { progress, metrics } = a;
  const divergence = new DivergenceMonitor({ baseline: Math.log(Math.max(2, a.vocabSize)) });
  trainer.events.on("step", (e: StepEvent) => {
    // The line is in the file before the step is reported: whatever the output shows, the file has.
    metrics.append({ step: e.step, loss: e.loss, gradNorm: e.gradNorm, lr: e.lr });
    progress.step(e);
  });
  trainer.events.on("eval", (e) => {
    const loss = e.metrics.loss;
    const perplexity = Math.exp(loss);
    metrics.append({ step: e.step, validation: loss });
    const best = e.improved && Number.isFinite(perplexity);
    if (a.lossUnit !== undefined) {
      progress.line(`step ${e.step}: validation loss ${loss.toFixed(4)} ${a.lossUnit}${e.improved ? " (best)" : ""}`, { event: "validation", step: e.step, loss, best: e.improved });
    } else progress.line(
      `step ${e.step}: validation loss ${loss.toFixed(4)} nats/token (${(loss / Math.LN2).toFixed(3)} bits), perplexity ${Number.isFinite(perplexity) ? perplexity.toFixed(2) : "overflows (above 1e308)"}${best ? " (best)" : ""}`,
      { event: "validation", step: e.step, loss, bitsPerToken: loss / Math.LN2, perplexity: Number.isFinite(perplexity) ? perplexity : null, best },
    );
    for (const w of divergence.observe(e.step, loss)) progress.line(`warning: ${w.message}`, { event: "warning", kind: w.kind, step: w.step, loss: Number.isFinite(w.loss) ? w.loss : null, message: w.message });
  });
  trainer.events.on("guard", (e) => progress.line(`warning: ${e.message}`, { event: "guard", ...e }));
}

/**
 * Runs a training in its open run folder and closes it; a new run that fails before its first
 * checkpoint leaves no folder behind (see `RunFolder.close`).
 */
export async function inRun<T>(run: RunFolder, work: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await work();
  } catch (e) {
    await run.close({ discardIfNoCheckpoint: true });
    throw e;
  }
  await run.close();
  return result;
}
