// What every training command (`train lm`; `train mt` and captioning to come) does around its
// library call: open the run folder (lock, refuse or move aside an old run, find the checkpoint to
// resume), turn the library's run-folder errors into messages with this command line's fixes, log
// metrics.jsonl line by line, warn about divergence, and stop cleanly on Ctrl-C.

import { CheckpointError, DivergenceMonitor, type MetricsLog, RunFolder, RunFolderError, type StepEvent, type TrainerEvents } from "@unroll/train";
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

/**
 * Wires a trainer to the output: progress, validation lines (a non-finite perplexity is never
 * "(best)"), divergence warnings against the uniform baseline ln V, guard warnings, and one
 * metrics.jsonl line per step and per validation, written as it happens. metrics.jsonl holds only
 * what a resumed run reproduces exactly (no timings), so that a run interrupted any number of times
 * ends with the same file as an uninterrupted one.
 */
export function reportTraining(trainer: EventSource, a: { progress: TrainingProgress; metrics: MetricsLog; vocabSize: number }): void {
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
    progress.line(
      `step ${e.step}: validation loss ${loss.toFixed(4)} nats/token (${(loss / Math.LN2).toFixed(3)} bits), perplexity ${Number.isFinite(perplexity) ? perplexity.toFixed(2) : "overflows (above 1e308)"}${best ? " (best)" : ""}`,
      { event: "validation", step: e.step, loss, bitsPerToken: loss / Math.LN2, perplexity: Number.isFinite(perplexity) ? perplexity : null, best },
    );
    for (const w of divergence.observe(e.step, loss)) progress.line(`warning: ${w.message}`, { event: "warning", kind: w.kind, step: w.step, loss: Number.isFinite(w.loss) ? w.loss : null, message: w.message });
  });
  trainer.events.on("guard", (e) => progress.line(`warning: ${e.message}`, { event: "guard", ...e }));
}
