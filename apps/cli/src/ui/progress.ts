import { SingleBar } from "cli-progress";
import { formatDuration as duration, type StepEvent } from "@unroll/train";
import type { Output } from "./output.js";

/**
 * Training progress: a progress bar on a terminal, a plain line every few seconds elsewhere (logs,
 * CI), JSON lines with --json. Shows step, loss, tokens/s, gradient norm, learning rate and ETA (the
 * library's `reportProgress` prints the same line, for programs that use the Trainer directly).
 */
export class TrainingProgress {
  private bar: SingleBar | null = null;
  private lastLine = 0;
  private smoothed: number | null = null;

  constructor(
    private readonly out: Output,
    private readonly total: number | null,
    private readonly tty: boolean = Boolean(process.stderr.isTTY),
    /** Where the bar is drawn (a terminal). */
    private readonly stream: NodeJS.WriteStream = process.stderr,
    /** What the speed counts: "tok" (tokens), "texts" (a classifier's examples). */
    private readonly unit: string = "tok",
  ) {}

  step(e: StepEvent): void {
    this.smoothed = this.smoothed === null ? e.loss : 0.8 * this.smoothed + 0.2 * e.loss;
    if (this.out.json) {
      this.out.result({ event: "step", step: e.step, loss: e.loss, gradNorm: e.gradNorm, lr: e.lr, tokensPerSecond: Math.round(e.tokensPerSecond), etaMs: e.etaMs });
      return;
    }
    const fields = {
      loss: this.smoothed.toFixed(4),
      tps: Math.round(e.tokensPerSecond).toLocaleString("en-US"),
      gnorm: e.gradNorm.toFixed(2),
      lr: e.lr.toExponential(1),
      // Not "eta": cli-progress fills its own {eta} token (bare seconds) before the payload's.
      remaining: duration(e.etaMs),
    };
    if (this.tty && this.total !== null) {
      if (!this.bar) {
        this.bar = new SingleBar({
          format: `{bar} step {value}/{total} | loss {loss} | {tps} ${this.unit}/s | |g| {gnorm} | lr {lr} | ETA {remaining}`,
          barsize: 24,
          hideCursor: true,
          stream: this.stream,
        });
        this.bar.start(this.total, e.step - 1, fields);
      }
      this.bar.update(e.step, fields);
      return;
    }
    const now = performance.now();
    if (now - this.lastLine >= 2000 || e.step === 1 || e.step === this.total) {
      this.lastLine = now;
      const of = this.total !== null ? `/${this.total}` : "";
      this.out.info(`step ${e.step}${of}  loss ${fields.loss}  ${fields.tps} ${this.unit}/s  |g| ${fields.gnorm}  lr ${fields.lr}  ETA ${fields.remaining}`);
    }
  }

  /** A line that must not be overwritten by the bar (validation results, warnings). */
  line(text: string, record?: Record<string, unknown>): void {
    if (this.out.json) {
      if (record) this.out.result(record);
      return;
    }
    if (this.bar) {
      // cli-progress redraws on the next update; print above it.
      process.stderr.write("\r\x1b[2K");
    }
    this.out.info(text);
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
