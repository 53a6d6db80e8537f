// The training side of the playground: a language model, its Trainer and the diagnostics the page
// draws (loss, gradient norm and clipping, ||dL/dh_k|| through time, eigenvalues of W_hh). Plain
// TypeScript with no DOM: the training worker drives it in the browser, and the tests drive it in Node.
import { add, gather, matmul, Rng, slice, softmaxCrossEntropy, Tensor, treeEntries } from "@unroll/tensor";
import { eigenvalues, type RecurrentState } from "@unroll/cells";
import {
  CharTokenizer, evaluate, LanguageModel, type LanguageModelBatch, type LanguageModelConfig, type LanguageModelParams, splitText, streamBatches,
} from "@unroll/nlp";
import { adam, gradientFlow, type Optimizer, rmsprop, sgd, Trainer } from "@unroll/train";
import {
  defaultBlock,
  errorMessage,
  gateBlocks,
  type LiveSettings,
  type ModelSnapshot,
  type RunInfo,
  type RunSettings,
  type StepPoint,
  type TrainEvent,
} from "../protocol.js";
import { checkSettings } from "../settings.js";

export type Post = (event: TrainEvent, transfer?: Transferable[]) => void;

export interface SessionOptions {
  /** Name of the kernel table in use, reported to the page. */
  readonly kernels: string;
  /** Step points are sent in batches at most this often (ms). Default 100. */
  readonly flushEveryMs?: number;
  /**
   * Gradient flow and the spectrum are measured at most this often (ms), and never for more than a
   * fifth of the time (the interval grows with their cost). Default 400.
   */
  readonly diagnosticsEveryMs?: number;
  /** Validation loss every this many steps. Default 25. */
  readonly evalEvery?: number;
  /** Validation tokens scored each time (the start of the validation split). Default 3000. */
  readonly evalTokens?: number;
}

interface Run {
  readonly settings: RunSettings;
  readonly model: LanguageModel;
  readonly config: LanguageModelConfig;
  readonly tokenizer: CharTokenizer;
  readonly params: LanguageModelParams;
  readonly trainer: Trainer<LanguageModelParams, LanguageModelBatch, RecurrentState>;
  /** Mutated by live settings: the trainer reads both at every step. */
  readonly live: { lr: number; clip: { maxNorm?: number } };
  readonly probe: { inputs: Tensor; targets: Tensor; length: number };
  readonly info: RunInfo;
  spectrum: { layer: number; block: number };
}

function buildOptimizer(settings: RunSettings): Optimizer {
  switch (settings.optimizer) {
    case "adam":
      return adam({ lr: settings.lr });
    case "sgd":
      return sgd({ lr: settings.lr });
    case "sgd-momentum":
      return sgd({ lr: settings.lr, momentum: 0.9 });
    case "rmsprop":
      return rmsprop({ lr: settings.lr });
  }
}

/**
 * One training run at a time: `configure` builds it (the same settings and seed give the same
 * initial weights and batches, so runs that differ in one setting are comparable), `start` trains
 * until `pause`, and every step, evaluation and diagnostic goes to `post`.
 */
export class TrainingSession {
  private run: Run | null = null;
  private running: Promise<void> | null = null;
  private pending: StepPoint[] = [];
  private lastFlush = 0;
  private lastDiagnostics = 0;
  private diagnosticsCost = 0;

  constructor(
    private readonly post: Post,
    private readonly options: SessionOptions,
  ) {}

  get step(): number {
    return this.run?.trainer.step ?? 0;
  }

  get isRunning(): boolean {
    return this.running !== null;
  }

  /** Builds a fresh run (stopping the current one first) and reports its starting point. */
  async configure(settings: RunSettings, text: string): Promise<void> {
    await this.stop();
    this.run = null;
    const problem = checkSettings(settings, text);
    if (problem) {
      this.post({ type: "error", message: problem });
      return;
    }
    try {
      this.run = this.build(settings, text);
    } catch (e) {
      this.post({ type: "error", message: errorMessage(e) });
      return;
    }
    this.post({ type: "ready", info: this.run.info });
    this.diagnostics();
    this.postState();
  }

  private build(settings: RunSettings, text: string): Run {
    const tokenizer = CharTokenizer.fromText(text);
    const { train, validation } = splitText(text, { trainFraction: 0.9 });
    const trainIds = tokenizer.encode(train);
    const validIds = tokenizer.encode(validation);
    const config: LanguageModelConfig = {
      vocabSize: tokenizer.vocabSize,
      cell: settings.cell,
      hiddenSize: settings.hiddenSize,
      numLayers: settings.numLayers,
      embeddingSize: settings.embeddingSize,
      init: settings.init,
    };
    const model = new LanguageModel(config);
    const params = model.init(new Rng(settings.seed));
    const data = streamBatches(trainIds, { batchSize: settings.batchSize, window: settings.window });
    const live: Run["live"] = { lr: settings.lr, clip: settings.clip === null ? {} : { maxNorm: settings.clip } };
    const evalIds = validIds.slice(0, (this.options.evalTokens ?? 3000) + 1);
    const trainer = new Trainer<LanguageModelParams, LanguageModelBatch, RecurrentState>({
      params,
      loss: model.lossFunction(),
      data,
      optimizer: buildOptimizer(settings),
      schedule: { name: "live", lr: () => live.lr },
      clip: live.clip,
      evaluate: { every: this.options.evalEvery ?? 25, run: (p) => ({ ...evaluate(model, p, evalIds, { batchSize: 8, window: 64 }) }) },
      seed: settings.seed,
      yieldEveryMs: 25,
      afterStep: () => this.afterStep(),
    });
    trainer.events.on("step", (e) => {
      this.pending.push({
        step: e.step, loss: e.loss, gradNorm: e.gradNorm, clipped: e.clipped, maxNorm: live.clip.maxNorm ?? null, lr: e.lr, tokensPerSecond: e.tokensPerSecond,
      });
    });
    trainer.events.on("eval", (e) => this.post({ type: "eval", step: e.step, loss: e.metrics.loss }));
    trainer.events.on("guard", (e) => this.post({ type: "guard", step: e.step, message: e.message }));
    trainer.events.on("skip", (e) => this.post({ type: "guard", step: e.step, message: `step ${e.step} skipped: ${e.reason}` }));

    const probe = probeBatch(validIds, settings.window);
    let parameters = 0;
    for (const shape of Object.values(model.parameterShapes())) parameters += shape.reduce((a, b) => a * b, 1);
    const info: RunInfo = {
      parameters,
      vocabSize: tokenizer.vocabSize,
      trainTokens: trainIds.length,
      validationTokens: validIds.length,
      kernels: this.options.kernels,
      blocks: gateBlocks(settings.cell),
      numLayers: settings.numLayers,
      probeLength: probe.length,
    };
    return { settings, model, config, tokenizer, params, trainer, live, probe, info, spectrum: { layer: 0, block: defaultBlock(settings.cell) } };
  }

  /** Trains until `pause` (or an error); resolves when training has stopped. */
  start(): Promise<void> {
    const run = this.run;
    if (!run) return Promise.resolve();
    if (this.running) return this.running;
    const done = (async () => {
      this.postState(true);
      try {
        await run.trainer.run();
      } catch (e) {
        this.post({ type: "error", message: errorMessage(e) });
      } finally {
        this.running = null;
        this.flush();
        this.diagnostics();
        this.postState();
      }
    })();
    this.running = done;
    return done;
  }

  pause(): void {
    this.run?.trainer.stop();
  }

  /** Stops training and waits until the current step has finished. */
  async stop(): Promise<void> {
    this.pause();
    await this.running;
  }

  /** Learning rate and clipping threshold, from the next step on. */
  live(settings: LiveSettings): void {
    const run = this.run;
    if (!run) return;
    if (settings.lr !== undefined && settings.lr > 0) run.live.lr = settings.lr;
    if (settings.clip !== undefined) {
      if (settings.clip === null) delete run.live.clip.maxNorm;
      else if (settings.clip > 0) run.live.clip.maxNorm = settings.clip;
    }
  }

  /** Chooses the W_hh block whose eigenvalues are reported, and reports them now. */
  selectSpectrum(layer: number, block: number): void {
    const run = this.run;
    if (!run) return;
    if (Number.isInteger(layer) && layer >= 0 && layer < run.info.numLayers && Number.isInteger(block) && block >= 0 && block < run.info.blocks.length) {
      run.spectrum = { layer, block };
      this.postSpectrum(run);
    }
  }

  /** The current weights, copied. */
  snapshot(): ModelSnapshot | null {
    const run = this.run;
    if (!run) return null;
    const tensors: Record<string, { shape: readonly number[]; data: Float32Array }> = {};
    for (const [name, t] of treeEntries(run.params)) tensors[name] = { shape: [...t.shape], data: Float32Array.from(t.data) };
    return { step: run.trainer.step, config: run.config, tokenizer: run.tokenizer.toJSON(), tensors };
  }

  postSnapshot(id: number): void {
    const snapshot = this.snapshot();
    if (!snapshot) {
      this.post({ type: "error", message: "no model yet: press Reset or Start first" });
      return;
    }
    this.post({ type: "snapshot", id, snapshot }, Object.values(snapshot.tensors).map((t) => t.data.buffer));
  }

  private afterStep(): void {
    const now = performance.now();
    if (now - this.lastFlush >= (this.options.flushEveryMs ?? 100)) this.flush();
    const interval = Math.max(this.options.diagnosticsEveryMs ?? 400, 4 * this.diagnosticsCost);
    if (now - this.lastDiagnostics >= interval) this.diagnostics();
  }

  private flush(): void {
    this.lastFlush = performance.now();
    if (this.pending.length === 0 || !this.run) return;
    this.post({ type: "steps", points: this.pending, clipFraction: this.run.trainer.clipFraction });
    this.pending = [];
  }

  private postState(running = this.running !== null): void {
    this.post({ type: "state", running, step: this.step });
  }

  /** Gradient flow through time and the spectrum of W_hh, at the current weights. */
  private diagnostics(): void {
    const run = this.run;
    if (!run) return;
    const t0 = performance.now();
    try {
      this.flush();
      this.post({ type: "flow", step: run.trainer.step, gradNorms: measureFlow(run.model, run.params, run.probe) });
      this.postSpectrum(run);
    } catch (e) {
      this.post({ type: "error", message: `diagnostics: ${errorMessage(e)}` });
    }
    this.lastDiagnostics = performance.now();
    this.diagnosticsCost = this.lastDiagnostics - t0;
  }

  private postSpectrum(run: Run): void {
    const { layer, block } = run.spectrum;
    const w = run.params.rnn[`weight_hh_l${layer}`]!;
    const H = w.shape[1]!;
    const blockData = w.data.slice(block * H * H, (block + 1) * H * H) as Float32Array;
    const { real, imag } = eigenvalues(new Tensor(blockData, [H, H]));
    let radius = 0;
    for (let i = 0; i < real.length; i++) radius = Math.max(radius, Math.hypot(real[i]!, imag[i]!));
    this.post({ type: "spectrum", spectrum: { step: run.trainer.step, layer, block, real, imag, radius } }, [real.buffer, imag.buffer]);
  }
}

/**
 * A fixed batch of the validation text for the gradient-flow probe: up to 4 windows of `window`
 * characters, and the character after each window as the target of the loss at the last step.
 */
export function probeBatch(ids: Int32Array, window: number): { inputs: Tensor; targets: Tensor; length: number } {
  const T = Math.max(1, Math.min(window, ids.length - 1));
  const B = Math.max(1, Math.min(4, Math.floor(ids.length / (T + 1))));
  const inputs = new Int32Array(T * B); // (T, B)
  const targets = new Int32Array(B); // (1, B)
  for (let b = 0; b < B; b++) {
    const start = b * (T + 1);
    for (let t = 0; t < T; t++) inputs[t * B + b] = ids[start + t]!;
    targets[b] = ids[start + T]!;
  }
  return { inputs: new Tensor(inputs, [T, B]), targets: new Tensor(targets, [1, B]), length: T };
}

/**
 * ||dL/dh_k|| for every step k of the probe windows (the last layer's hidden states), where L is
 * the cross-entropy of the prediction made at the last step only: how much that prediction can
 * learn from each earlier step. It shrinks geometrically backwards in time when gradients vanish.
 */
export function measureFlow(model: LanguageModel, params: LanguageModelParams, probe: { inputs: Tensor; targets: Tensor; length: number }): Float64Array {
  const T = probe.length;
  const x = gather(params.embedding!.weight, probe.inputs); // (T, B, E)
  const { gradNorms } = gradientFlow(model.rnn, params.rnn, x, (out) => {
    const last = slice(out.output, [T - 1], [T], [0]); // (1, B, H)
    const logits = add(matmul(last, params.head.weight!, { transB: true }), params.head.bias); // (1, B, V)
    return softmaxCrossEntropy(logits, probe.targets);
  });
  return Float64Array.from(gradNorms);
}
