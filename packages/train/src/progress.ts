// A progress reporter for the Trainer, switched on in one line:
//
//   reportProgress(trainer, { every: 50, total: 400 });   // to stderr; { print: console.log } for the console
//
// prints what the CLI prints in a log: step, loss, tokens per second, gradient norm, learning rate
// and the time left, plus the validations (marked "(best)"), the guard's rollbacks and why
// training stopped. It only listens to `trainer.events`; it changes nothing in the run.

import type { StepEvent, TrainerEvents } from "./trainer.js";

/** Something that lines are written to: `process.stderr`, a file stream, a test's collector. */
export interface ProgressStream {
  write(text: string): unknown;
}

export interface ProgressOptions {
  /** A line every `every` steps (default 10), and for the first step. */
  readonly every?: number;
  /** The step target, for "step 40/400" (the ETA itself comes from the trainer's run limits). */
  readonly total?: number;
  /** Where lines go (default: `process.stderr` in Node, `console.log` elsewhere). */
  readonly stream?: ProgressStream;
  /** Instead of a stream, a function that takes each line without its newline (`console.log`, a UI's log). */
  readonly print?: (line: string) => void;
}

/** A trainer, as far as the reporter needs one. */
export interface TrainerEventSource {
  readonly events: { on<K extends keyof TrainerEvents>(name: K, fn: (e: TrainerEvents[K]) => void): () => void };
}

/** A duration as the CLI shows it: `1m02s`, `2h05m`, `?` when unknown. */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return "?";
  const s = Math.round(Math.max(0, ms) / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : `${m}m${String(s % 60).padStart(2, "0")}s`;
}

/**
 * One progress line: `step 40/400  loss 2.1034  12,345 tok/s  |g| 0.53  lr 2.0e-3  ETA 1m02s`.
 * `loss` is the one to show (the reporter gives the mean since its last line).
 */
export function formatStep(e: StepEvent, options: { readonly total?: number | null; readonly loss?: number } = {}): string {
  const of = options.total !== undefined && options.total !== null ? `/${options.total}` : "";
  return (
    `step ${e.step}${of}  loss ${(options.loss ?? e.loss).toFixed(4)}  ${Math.round(e.tokensPerSecond).toLocaleString("en-US")} tok/s  ` +
    `|g| ${e.gradNorm.toFixed(2)}  lr ${e.lr.toExponential(1)}  ETA ${formatDuration(e.etaMs)}`
  );
}

function defaultStream(): ProgressStream {
  const stderr = (globalThis as { process?: { stderr?: ProgressStream } }).process?.stderr;
  if (stderr && typeof stderr.write === "function") return stderr;
  return { write: (text: string) => console.log(text.replace(/\n$/, "")) };
}

/**
 * Prints the training's progress as it runs (see the top of this file); returns the function that
 * stops it. The loss of a line is the mean over the steps since the previous line, so a line every
 * 100 steps is not one noisy batch; when the run stops, the steps since the last line get theirs.
 */
export function reportProgress(trainer: TrainerEventSource, options: ProgressOptions = {}): () => void {
  const every = options.every ?? 10;
  if (!Number.isSafeInteger(every) || every < 1) throw new TypeError(`reportProgress: every must be a positive integer (steps between lines), got ${String(every)}`);
  const stream = options.stream ?? defaultStream();
  const print = options.print ?? ((line: string): void => void stream.write(`${line}\n`));
  let sum = 0;
  let count = 0;
  let last: StepEvent | null = null;
  const flush = (): void => {
    if (last === null || count === 0) return;
    print(formatStep(last, { total: options.total ?? null, loss: sum / count }));
    sum = 0;
    count = 0;
  };
  const off = [
    trainer.events.on("step", (e) => {
      sum += e.loss;
      count++;
      last = e;
      if (e.step % every === 0 || e.step === 1 || e.step === options.total) flush();
    }),
    trainer.events.on("eval", (e) => {
      const extra = Object.entries(e.metrics).filter(([k, v]) => k !== "loss" && typeof v === "number" && Number.isFinite(v));
      print(
        `step ${e.step}: validation loss ${e.metrics.loss.toFixed(4)}` +
          extra.map(([k, v]) => `, ${k} ${v.toFixed(4)}`).join("") +
          (e.improved ? " (best)" : ""),
      );
    }),
    trainer.events.on("guard", (e) => print(`warning: ${e.message}`)),
    trainer.events.on("skip", (e) => print(`warning: skipped step ${e.step}: ${e.reason}`)),
    trainer.events.on("stop", (e) => {
      flush(); // the last steps since the last line
      const why = {
        steps: "reached its step target",
        time: "its time budget is spent",
        data: "the data ran out",
        "early-stopping": "early stopping: the validation loss stopped improving",
        stopped: "stopped on request",
      }[e.reason];
      print(`stopped at step ${e.step}: ${why}`);
    }),
  ];
  return () => off.forEach((f) => f());
}
