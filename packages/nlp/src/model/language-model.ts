import {
  add,
  dropout,
  gather,
  matmul,
  noGrad,
  oneHot,
  expandDims,
  squeeze,
  type Rng,
  ShapeError,
  softmaxCrossEntropy,
  type Tensor,
  ValueRangeError,
} from "@unroll/tensor";
import { type CellMode, GRU, init, type InitScheme, LSTM, Linear, type Recurrent, type RecurrentState, RNN } from "@unroll/cells";
import { checkStateDict, type LossFunction } from "@unroll/train";

/** Named initialisation schemes, so that a model's configuration is plain JSON. */
export type InitName = "pytorch" | "orthogonal" | "xavier" | "irnn" | "np-rnn";

/** A language model's configuration: plain JSON, stored with every checkpoint. */
export interface LanguageModelConfig {
  readonly vocabSize: number;
  readonly cell: CellMode;
  readonly hiddenSize: number;
  /** Default 1. */
  readonly numLayers?: number;
  /** Width of the token embedding, or "one-hot" to feed one-hot vectors. Default 64. */
  readonly embeddingSize?: number | "one-hot";
  /** Dropout on embeddings, between recurrent layers and before the output layer (Zaremba et al.). Default 0. */
  readonly dropout?: number;
  /** Share the embedding matrix with the output layer (needs embeddingSize === hiddenSize). Default false. */
  readonly tieWeights?: boolean;
  /** Default "pytorch" (U(-1/√H, 1/√H)). "irnn"/"np-rnn" need a relu RNN. */
  readonly init?: InitName;
  /** LSTM forget-gate bias (char-rnn uses 1). Default: none (the scheme's bias). */
  readonly forgetBias?: number;
}

/** Parameters, named as a PyTorch module's state dict: `embedding.weight`, `rnn.weight_ih_l0`, `head.weight`, `head.bias`. */
export interface LanguageModelParams {
  readonly embedding?: { readonly weight: Tensor };
  readonly rnn: Readonly<Record<string, Tensor>>;
  readonly head: { readonly weight?: Tensor; readonly bias: Tensor };
}

/** A training batch: int32 token ids, time-first `[T, B]`; `reset` starts a new stream (drop the carried state). */
export interface LanguageModelBatch {
  readonly inputs: Tensor;
  readonly targets: Tensor;
  readonly reset?: boolean;
}

export interface ForwardOutput {
  /** `[T, B, vocabSize]`. */
  readonly logits: Tensor;
  readonly state: RecurrentState;
}

/**
 * Embedding (or one-hot) -> stacked RNN/LSTM/GRU -> dropout -> linear -> softmax over the
 * vocabulary: the recurrent language model of the lecture, `h_t = f(W_hh h_{t-1} + W_xh x_t + b)`
 * with a softmax output and cross-entropy averaged over steps.
 */
export class LanguageModel {
  readonly config: Required<Omit<LanguageModelConfig, "forgetBias">> & { readonly forgetBias: number | null };
  readonly rnn: Recurrent;
  private readonly head: Linear;

  constructor(config: LanguageModelConfig) {
    const c = {
      vocabSize: config.vocabSize,
      cell: config.cell,
      hiddenSize: config.hiddenSize,
      numLayers: config.numLayers ?? 1,
      embeddingSize: config.embeddingSize ?? 64,
      dropout: config.dropout ?? 0,
      tieWeights: config.tieWeights ?? false,
      init: config.init ?? "pytorch",
      forgetBias: config.forgetBias ?? null,
    };
    if (!Number.isInteger(c.vocabSize) || c.vocabSize < 1) throw new ValueRangeError("LanguageModel", `vocabSize must be a positive integer, got ${c.vocabSize}`);
    if (!["rnn_tanh", "rnn_relu", "lstm", "gru"].includes(c.cell)) {
      throw new ValueRangeError("LanguageModel", `cell must be one of rnn_tanh, rnn_relu, lstm, gru; got ${String(c.cell)}`);
    }
    if (c.tieWeights && c.embeddingSize !== c.hiddenSize) {
      throw new ValueRangeError("LanguageModel", `tieWeights needs embeddingSize (${c.embeddingSize}) equal to hiddenSize (${c.hiddenSize})`);
    }
    if ((c.init === "irnn" || c.init === "np-rnn") && c.cell !== "rnn_relu") {
      throw new ValueRangeError("LanguageModel", `init "${c.init}" is meant for a relu RNN (cell: "rnn_relu"), not ${c.cell}`);
    }
    if (c.forgetBias !== null && c.cell !== "lstm") throw new ValueRangeError("LanguageModel", "forgetBias applies to LSTM cells only");
    this.config = c;
    const inputSize = c.embeddingSize === "one-hot" ? c.vocabSize : c.embeddingSize;
    const options = { inputSize, hiddenSize: c.hiddenSize, numLayers: c.numLayers, dropout: c.dropout };
    this.rnn =
      c.cell === "lstm" ? new LSTM(options) : c.cell === "gru" ? new GRU(options) : new RNN({ ...options, nonlinearity: c.cell === "rnn_relu" ? "relu" : "tanh" });
    this.head = new Linear(c.hiddenSize, c.vocabSize);
  }

  private scheme(): InitScheme {
    const c = this.config;
    const base: InitScheme =
      c.init === "orthogonal"
        ? { weightHH: init.perGate(init.orthogonal()), weightIH: init.xavierUniform() }
        : c.init === "xavier"
          ? { weightHH: init.xavierUniform(), weightIH: init.xavierUniform() }
          : c.init === "irnn"
            ? init.irnnScheme()
            : c.init === "np-rnn"
              ? init.npRnnScheme()
              : {};
    return c.forgetBias !== null ? { ...base, ...init.lstmForgetBias(c.forgetBias) } : base;
  }

  /** Fresh parameters from a seeded generator. */
  init(rng: Rng): LanguageModelParams {
    const c = this.config;
    const embedding = c.embeddingSize === "one-hot" ? undefined : { weight: rng.normal([c.vocabSize, c.embeddingSize], 0, 1) };
    const rnn = this.rnn.init(rng, this.scheme());
    const head = this.head.init(rng);
    return {
      ...(embedding ? { embedding } : {}),
      rnn,
      head: c.tieWeights ? { bias: head.bias! } : { weight: head.weight, bias: head.bias! },
    };
  }

  /** Every parameter's state_dict name and shape. */
  parameterShapes(): Record<string, number[]> {
    const c = this.config;
    const shapes: Record<string, number[]> = {};
    if (c.embeddingSize !== "one-hot") shapes["embedding.weight"] = [c.vocabSize, c.embeddingSize];
    for (const [name, shape] of Object.entries(this.rnn.parameterShapes())) shapes[`rnn.${name}`] = shape;
    if (!c.tieWeights) shapes["head.weight"] = [c.vocabSize, c.hiddenSize];
    shapes["head.bias"] = [c.vocabSize];
    return shapes;
  }

  /**
   * Parameters from a flat state dict (`embedding.weight`, `rnn.weight_ih_l0`, ...), as a
   * checkpoint's model.safetensors holds them. Every name, shape and dtype (float32) is checked,
   * names as own properties only (a tensor named "toString" is unexpected, not Object's method), and
   * every value must be finite (NaN or infinite weights are a diverged or damaged model); a problem
   * names the tensor. Only reads: nothing is allocated before everything is checked.
   */
  paramsFromStateDict(tensors: Readonly<Record<string, Tensor>>): LanguageModelParams {
    const expected = new Map(Object.entries(this.parameterShapes()).map(([name, shape]) => [name, { shape, dtype: "float32" as const }]));
    const problems = checkStateDict(expected, tensors, { finite: true });
    if (problems.length > 0) throw new ShapeError("LanguageModel", `the weights do not fit this model: ${problems.join("; ")}`);
    const byName = new Map(Object.entries(tensors));
    const rnn: Record<string, Tensor> = {};
    for (const [name, t] of byName) if (name.startsWith("rnn.")) rnn[name.slice(4)] = t;
    const embedding = byName.get("embedding.weight");
    const headWeight = byName.get("head.weight");
    return {
      ...(embedding ? { embedding: { weight: embedding } } : {}),
      rnn,
      head: { ...(headWeight ? { weight: headWeight } : {}), bias: byName.get("head.bias")! },
    };
  }

  /** Zero state for a batch. */
  initialState(batch: number): RecurrentState {
    return this.rnn.initialState(batch);
  }

  /**
   * Logits for every step of `inputs` (int32 `[T, B]`), continuing from `state`. `lengths` (int32
   * `[B]`, or numbers) marks a padded batch: padding changes no state, the final state of an example
   * is its state at its own last step, and its logits past that are the head's bias.
   */
  forward(
    params: LanguageModelParams,
    inputs: Tensor,
    state?: RecurrentState | null,
    options: { training?: boolean; rng?: Rng; lengths?: Tensor | readonly number[] } = {},
  ): ForwardOutput {
    const c = this.config;
    if (inputs.dtype !== "int32" || inputs.rank !== 2) {
      throw new ShapeError("LanguageModel", `inputs must be int32 token ids [T, B], got ${inputs.dtype} [${inputs.shape.join(",")}]`);
    }
    const training = options.training === true && c.dropout > 0;
    if (training && !options.rng) throw new ValueRangeError("LanguageModel", "training with dropout needs an rng");
    const drop = (x: Tensor): Tensor => (training ? dropout(x, c.dropout, options.rng!) : x);
    let x = c.embeddingSize === "one-hot" ? oneHot(inputs, c.vocabSize) : gather(this.embeddingOf(params), inputs); // (T, B, E)
    x = drop(x);
    const out = this.rnn.forward(params.rnn, x, {
      ...(state ? { initialState: state } : {}),
      ...(options.lengths !== undefined ? { lengths: options.lengths } : {}),
      ...(training ? { training: true, rng: options.rng! } : {}),
    });
    const h = drop(out.output); // (T, B, H)
    const weight = c.tieWeights ? this.embeddingOf(params) : params.head.weight!;
    // A batched product keeps the recorded graph free of sizes (dynamic batch and time axes on export).
    const logits = add(matmul(h, weight, { transB: true }), params.head.bias); // (T, B, V)
    return { logits, state: { h: out.h, ...(out.c ? { c: out.c } : {}) } };
  }

  private embeddingOf(params: LanguageModelParams): Tensor {
    if (!params.embedding) throw new ShapeError("LanguageModel", "parameters have no embedding.weight (a one-hot model's parameters?)");
    return params.embedding.weight;
  }

  /**
   * The loss function for `Trainer`: mean cross-entropy (nats per token) over the batch's
   * targets (ignore index -100), carrying the state across batches until a batch says `reset`.
   */
  lossFunction(): LossFunction<LanguageModelParams, LanguageModelBatch, RecurrentState> {
    return (params, batch, carry, ctx) => {
      const { logits, state } = this.forward(params, batch.inputs, batch.reset ? null : carry, { training: true, rng: ctx.rng });
      return {
        loss: softmaxCrossEntropy(logits, batch.targets, { ignoreIndex: -100 }),
        carry: state,
        tokens: countTargets(batch.targets),
      };
    };
  }

  /**
   * One generation step for a batch of tokens `[B]` (no gradients recorded): the logits of the
   * next token `[B, vocabSize]` and the new state. This is the step function decoding runs on.
   */
  step(params: LanguageModelParams, tokens: Tensor, state: RecurrentState | null): { logits: Tensor; state: RecurrentState } {
    return noGrad(() => {
      const { logits, state: next } = this.forward(params, expandDims(tokens, 0), state);
      return { logits: squeeze(logits, [0]), state: next };
    });
  }
}

/** The targets of a batch that count (not the ignored -100): a batch's tokens, for throughput. */
export function languageModelTokens(batch: LanguageModelBatch): number {
  return countTargets(batch.targets);
}

function countTargets(targets: Tensor): number {
  let n = 0;
  for (let i = 0; i < targets.size; i++) if (targets.data[i] !== -100) n++;
  return n;
}
