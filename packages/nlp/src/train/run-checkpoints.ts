import { BestCheckpoint, type BestRecord, type Checkpoint, checkpointEvery, saveTrainerCheckpoint, type StepEvent, type Trainer } from "@unroll/train";

/**
 * The checkpoints of a training run, as every `train*` function of this package keeps them: one
 * every `every` steps (the last `keep`), best/ with the lowest dev loss (saved after the step whose
 * evaluation beat it, with the run's checkpoint of that step), and a final checkpoint at the end.
 * Wire it with `afterStep` (the Trainer's option) and `watch(trainer)`; call `finish` after the run.
 */
export class RunCheckpoints {
  private savedStep: number;
  private newBest: { step: number; loss: number } | null = null;
  private readonly saveEvery: ((trainer: Trainer<unknown, unknown, unknown>, event: StepEvent) => Promise<void>) | null;

  private constructor(
    private readonly dir: string | undefined,
    private readonly config: unknown,
    private readonly keep: number,
    private readonly bestCheckpoint: BestCheckpoint | null,
    every: number,
    resumed: Checkpoint | null,
  ) {
    this.savedStep = resumed?.step ?? -1;
    this.saveEvery = dir ? checkpointEvery(dir, every, { config, keep, onSaved: (_d, step) => (this.savedStep = step) }) : null;
  }

  static async open(options: {
    /** Without it nothing is saved. */
    readonly dir?: string | undefined;
    /** The model description stored with every checkpoint. */
    readonly config: unknown;
    readonly every?: number;
    readonly keep?: number;
    readonly keepBest?: boolean;
    readonly resumed?: Checkpoint | null;
  }): Promise<RunCheckpoints> {
    const resumed = options.resumed ?? null;
    const best = options.keepBest && options.dir ? await BestCheckpoint.open(options.dir, { resumed }) : null;
    return new RunCheckpoints(options.dir, options.config, options.keep ?? 3, best, options.every ?? 500, resumed);
  }

  /** The Trainer's `afterStep`: best/ where the step's evaluation beat it, else the periodic checkpoint. */
  readonly afterStep = async <P, B, C>(trainer: Trainer<P, B, C>, event: StepEvent): Promise<void> => {
    if (this.bestCheckpoint && this.newBest?.step === event.step) {
      await this.bestCheckpoint.save(trainer, { loss: this.newBest.loss, config: this.config, keep: this.keep });
      this.savedStep = event.step;
    } else await this.saveEvery?.(trainer as Trainer<unknown, unknown, unknown>, event);
    this.newBest = null;
  };

  /** Follows the trainer's evaluations (a dev loss that beats best/ is saved after its step). */
  watch<P, B, C>(trainer: Trainer<P, B, C>): void {
    trainer.events.on("eval", (e) => {
      if (this.bestCheckpoint?.improves(e.metrics.loss)) this.newBest = { step: e.step, loss: e.metrics.loss };
    });
  }

  /**
   * After the run: best/ when `finalLoss` (the model as it ends, evaluated outside the trainer)
   * beats it, and the run's final checkpoint unless this step's is saved already.
   */
  async finish<P, B, C>(trainer: Trainer<P, B, C>, finalLoss: number | null): Promise<void> {
    if (finalLoss !== null && this.bestCheckpoint?.improves(finalLoss)) {
      await this.bestCheckpoint.save(trainer, { loss: finalLoss, config: this.config, keep: this.keep, runCheckpointSaved: this.savedStep === trainer.step });
      this.savedStep = trainer.step;
    }
    if (this.dir && this.savedStep !== trainer.step) await saveTrainerCheckpoint(trainer, this.dir, { config: this.config, keep: this.keep });
  }

  /** best/'s step and dev loss, and where it is; null without keepBest or before any evaluation. */
  get best(): (BestRecord & { readonly dir: string }) | null {
    const b = this.bestCheckpoint;
    return b?.best ? { ...b.best, dir: b.dir } : null;
  }
}
