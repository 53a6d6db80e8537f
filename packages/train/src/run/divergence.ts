// Divergence that the non-finite guard cannot see: a loss that stays finite but is far worse than a
// model that knows nothing, or that keeps rising. A model guessing uniformly over V classes scores
// ln V nats per token, so a validation loss far above ln V means training has made the model worse
// than knowing nothing: the learning rate is too high, or the data changed under it.

/** Settings of `DivergenceMonitor`. */
export interface DivergenceOptions {
  /** The loss of a uniform guess, ln V for V classes (a vocabulary's tokens). */
  readonly baseline: number;
  /** A loss above `farAbove * baseline` is flagged (default 2). */
  readonly farAbove?: number;
  /** A loss that rose at this many evaluations in a row is flagged (default 5). */
  readonly risingEvaluations?: number;
}

/** One warning of `DivergenceMonitor.observe`. */
export interface DivergenceWarning {
  readonly kind: "non-finite" | "far-above-baseline" | "rising";
  readonly step: number;
  readonly loss: number;
  readonly message: string;
}

const fmt = (x: number): string => (Number.isFinite(x) ? x.toFixed(4) : String(x));

/**
 * Watches the validation losses of a run and says when it diverges: a non-finite loss, a loss far
 * above the uniform baseline (warned once each time the loss crosses above it), or a loss that rose
 * at `risingEvaluations` evaluations in a row (warned again after as many more rises).
 */
export class DivergenceMonitor {
  private readonly baseline: number;
  private readonly limit: number;
  private readonly rising: number;
  private above = false;
  private rises = 0;
  private runStart: { step: number; loss: number } | null = null;
  private last: { step: number; loss: number } | null = null;

  constructor(options: DivergenceOptions) {
    const { baseline, farAbove = 2, risingEvaluations = 5 } = options;
    if (!(Number.isFinite(baseline) && baseline >= 0)) throw new RangeError(`DivergenceMonitor: baseline must be a finite number >= 0, got ${baseline}`);
    if (!(Number.isFinite(farAbove) && farAbove > 1)) throw new RangeError(`DivergenceMonitor: farAbove must be a number > 1, got ${farAbove}`);
    if (!(Number.isSafeInteger(risingEvaluations) && risingEvaluations >= 1)) {
      throw new RangeError(`DivergenceMonitor: risingEvaluations must be a positive integer, got ${risingEvaluations}`);
    }
    this.baseline = baseline;
    this.limit = farAbove * baseline;
    this.rising = risingEvaluations;
  }

  /** Records the validation loss at `step`; returns the warnings it raises (usually none). */
  observe(step: number, loss: number): DivergenceWarning[] {
    const warnings: DivergenceWarning[] = [];
    if (!Number.isFinite(loss)) {
      warnings.push({ kind: "non-finite", step, loss, message: `validation loss is ${loss} at step ${step}: the model has diverged; lower the learning rate` });
      this.last = null;
      this.rises = 0;
      return warnings;
    }
    const above = loss > this.limit;
    if (above && !this.above) {
      warnings.push({
        kind: "far-above-baseline",
        step,
        loss,
        message:
          `validation loss ${fmt(loss)} nats/token at step ${step} is far above ${fmt(this.baseline)}, the loss of a uniform guess (ln of the vocabulary size): ` +
          "training is diverging; lower the learning rate",
      });
    }
    this.above = above;
    if (this.last !== null && loss > this.last.loss) {
      if (this.rises === 0) this.runStart = this.last;
      this.rises++;
      if (this.rises >= this.rising) {
        const from = this.runStart!;
        warnings.push({
          kind: "rising",
          step,
          loss,
          message:
            `validation loss has risen at ${this.rises} evaluations in a row, from ${fmt(from.loss)} at step ${from.step} to ${fmt(loss)} at step ${step}: ` +
            "the run is diverging or overfitting; lower the learning rate, add dropout, or stop here",
        });
        this.rises = 0;
        this.runStart = null;
      }
    } else {
      this.rises = 0;
      this.runStart = null;
    }
    this.last = { step, loss };
    return warnings;
  }
}
