import {
  add,
  cast,
  concat,
  div,
  dropout,
  expandDims,
  formatShape,
  gather,
  less,
  arange,
  matmul,
  max,
  mul,
  notEqual,
  reshape,
  type Rng,
  ShapeError,
  slice,
  softmax,
  squeeze,
  sum,
  tanh,
  Tensor,
  transpose,
  ValueRangeError,
  where,
} from "@unroll/tensor";
import { type CellMode, type ForwardOptions, GRU, LSTM, type Recurrent, RNN } from "@unroll/cells";

/**
 * How a sequence of outputs becomes one vector: the last state (both directions' final states
 * side by side), the mean or the maximum over the real steps, or additive attention pooling
 * `α = softmax_t(vᵀ tanh(W o_t + b))`, `Σ_t α_t o_t`, whose weights are returned.
 */
export type Pooling = "last" | "mean" | "max" | "attention";

export const POOLINGS: readonly Pooling[] = ["last", "mean", "max", "attention"];

/** The reading part of a sequence model: what goes in, and the recurrent layers over it. */
export interface SequenceEncoderConfig {
  /** Token ids in (an embedding table of this many rows). Give this or `inputSize`. */
  readonly vocabSize?: number | null;
  /** Numeric features per step in (`[T, B, inputSize]` floats). Give this or `vocabSize`. */
  readonly inputSize?: number | null;
  /** Default "lstm". */
  readonly cell?: CellMode;
  /** Embedding width for token input. Default 128. */
  readonly embeddingSize?: number;
  /** Hidden units per direction. Default 128. */
  readonly hiddenSize?: number;
  /** Default 1. */
  readonly numLayers?: number;
  /** Default true for the tagger and classifier: each step sees the whole sequence. */
  readonly bidirectional?: boolean;
  /** Dropout on the embeddings, between layers and before the head. Default 0. */
  readonly dropout?: number;
}

export interface ResolvedEncoderConfig {
  readonly vocabSize: number | null;
  readonly inputSize: number | null;
  readonly cell: CellMode;
  readonly embeddingSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bidirectional: boolean;
  readonly dropout: number;
}

/** The encoder's parameters under PyTorch-style names: `embedding.weight`, `rnn.weight_ih_l0`, ... */
export interface SequenceEncoderParams {
  readonly embedding?: { readonly weight: Tensor };
  readonly rnn: Readonly<Record<string, Tensor>>;
}

export interface EncodeOptions {
  readonly training?: boolean;
  readonly rng?: Rng;
  /** Passed to the recurrent layer (see `ForwardOptions.onHidden`): diagnostics probe dL/dh_t here. */
  readonly onHidden?: ForwardOptions["onHidden"];
}

/** What the recurrent layers leave: every step's top-layer output and the final states. */
export interface EncodedSequence {
  /** `[T, B, D·H]`, zero on padding. */
  readonly outputs: Tensor;
  /** The top layer's final state, both directions side by side, `[B, D·H]`. */
  readonly last: Tensor;
  /** `[T, B]`: 1 on real steps, 0 on padding (computed from the lengths tensor, so traces keep it). */
  readonly mask: Tensor;
}

export function resolveEncoderConfig(op: string, config: SequenceEncoderConfig, defaults: { bidirectional: boolean }): ResolvedEncoderConfig {
  const c: ResolvedEncoderConfig = {
    vocabSize: config.vocabSize ?? null,
    inputSize: config.inputSize ?? null,
    cell: config.cell ?? "lstm",
    embeddingSize: config.embeddingSize ?? 128,
    hiddenSize: config.hiddenSize ?? 128,
    numLayers: config.numLayers ?? 1,
    bidirectional: config.bidirectional ?? defaults.bidirectional,
    dropout: config.dropout ?? 0,
  };
  if ((c.vocabSize === null) === (c.inputSize === null)) {
    throw new ValueRangeError(op, "give exactly one of vocabSize (token ids in) and inputSize (numeric features in)");
  }
  for (const key of ["vocabSize", "inputSize", "embeddingSize", "hiddenSize", "numLayers"] as const) {
    const v = c[key];
    if (v !== null && (!Number.isInteger(v) || v < 1)) throw new ValueRangeError(op, `${key} must be a positive integer, got ${String(v)}`);
  }
  if (!["rnn_tanh", "rnn_relu", "lstm", "gru"].includes(c.cell)) throw new ValueRangeError(op, `cell must be one of rnn_tanh, rnn_relu, lstm, gru; got ${String(c.cell)}`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new ValueRangeError(op, `dropout must be in [0, 1), got ${c.dropout}`);
  return c;
}

/**
 * Token ids (embedded) or numeric features, then a stacked, optionally bidirectional RNN/LSTM/GRU
 * over a padded, time-first batch with its lengths. Shared by the classifier, the tagger and the
 * forecaster; parameters live outside (pure functions of `params`), as everywhere in the library.
 */
export class SequenceEncoder {
  readonly config: ResolvedEncoderConfig;
  readonly rnn: Recurrent;
  private readonly op: string;

  constructor(op: string, config: ResolvedEncoderConfig) {
    this.op = op;
    this.config = config;
    const o = {
      inputSize: config.vocabSize !== null ? config.embeddingSize : config.inputSize!,
      hiddenSize: config.hiddenSize,
      numLayers: config.numLayers,
      bidirectional: config.bidirectional,
      dropout: config.dropout,
    };
    this.rnn = config.cell === "lstm" ? new LSTM(o) : config.cell === "gru" ? new GRU(o) : new RNN({ ...o, nonlinearity: config.cell === "rnn_relu" ? "relu" : "tanh" });
  }

  /** Width of each step's output (both directions). */
  get outputWidth(): number {
    return this.config.hiddenSize * (this.config.bidirectional ? 2 : 1);
  }

  parameterShapes(): Record<string, number[]> {
    const shapes: Record<string, number[]> = {};
    if (this.config.vocabSize !== null) shapes["embedding.weight"] = [this.config.vocabSize, this.config.embeddingSize];
    for (const [name, shape] of Object.entries(this.rnn.parameterShapes())) shapes[`rnn.${name}`] = shape;
    return shapes;
  }

  /** Embeddings N(0, 1) as `nn.Embedding`; the recurrent layers as PyTorch's. */
  init(rng: Rng): SequenceEncoderParams {
    const c = this.config;
    return { ...(c.vocabSize !== null ? { embedding: { weight: rng.normal([c.vocabSize, c.embeddingSize], 0, 1) } } : {}), rnn: this.rnn.init(rng) };
  }

  fromStateDict(get: (name: string) => Tensor, prefixed: (prefix: string) => Record<string, Tensor>): SequenceEncoderParams {
    return { ...(this.config.vocabSize !== null ? { embedding: { weight: get("embedding.weight") } } : {}), rnn: prefixed("rnn.") };
  }

  /** Checks a batch's inputs `[T, B]` int32 ids or `[T, B, F]` floats and lengths `[B]` (1..T each). */
  checkInputs(inputs: Tensor, lengths: Tensor): void {
    const c = this.config;
    if (c.vocabSize !== null) {
      if (inputs.dtype !== "int32" || inputs.rank !== 2) throw new ShapeError(this.op, `inputs must be int32 token ids [T, B], got ${inputs.dtype} ${formatShape(inputs.shape)}`);
    } else if (inputs.dtype === "int32" || inputs.rank !== 3 || inputs.shape[2] !== c.inputSize) {
      throw new ShapeError(this.op, `inputs must be float features [T, B, ${c.inputSize}], got ${inputs.dtype} ${formatShape(inputs.shape)}`);
    }
    const [T, B] = inputs.shape as [number, number];
    if (lengths.dtype !== "int32" || lengths.rank !== 1 || lengths.shape[0] !== B) {
      throw new ShapeError(this.op, `lengths must be int32 [${B}] (one per example), got ${lengths.dtype} ${formatShape(lengths.shape)}`);
    }
    for (let b = 0; b < B; b++) {
      const n = lengths.data[b]!;
      if (n < 1 || n > T) throw new ValueRangeError(this.op, `lengths[${b}] = ${n} is outside 1..${T}: every example needs at least one step`);
      if (c.vocabSize === null) continue;
      // Id 0 pads and nothing else does: the mask is read off the tokens, so a traced graph computes it from its input.
      for (let t = 0; t < T; t++) {
        const id = inputs.data[t * B + b]!;
        if ((id === 0) !== (t >= n)) {
          throw new ValueRangeError(this.op, `example ${b} has id ${id} at step ${t} with length ${n}: id 0 is padding, after the real steps only (shift real ids to start at 1)`);
        }
      }
    }
  }

  encode(params: SequenceEncoderParams, inputs: Tensor, lengths: Tensor, options: EncodeOptions = {}): EncodedSequence {
    this.checkInputs(inputs, lengths);
    const c = this.config;
    const [T, B] = inputs.shape as [number, number];
    const drop = (x: Tensor): Tensor => (options.training && c.dropout > 0 && options.rng ? dropout(x, c.dropout, options.rng) : x);
    const x = c.vocabSize !== null ? drop(gather(params.embedding!.weight, inputs)) : inputs;
    const training = options.training && options.rng ? { training: true, rng: options.rng } : {};
    const out = this.rnn.forward(params.rnn, x, { lengths, ...training, ...(options.onHidden ? { onHidden: options.onHidden } : {}) });
    const D = this.rnn.directions;
    const L = c.numLayers;
    const finals: Tensor[] = [];
    for (let d = 0; d < D; d++) finals.push(squeeze(slice(out.h, [(L - 1) * D + d], [(L - 1) * D + d + 1], [0]), [0]));
    const last = D === 1 ? finals[0]! : concat(finals, -1);
    const dtype = out.output.dtype as "float32" | "float64";
    // Token input: the mask from the ids (0 pads), which exports with a dynamic time axis; numeric
    // input: from the lengths (a graph of fixed length T).
    const mask = c.vocabSize !== null ? notEqual(inputs, 0, { dtype }) : less(reshape(arange(0, T, 1, "int32"), [T, 1]), reshape(lengths, [1, B]), { dtype });
    return { outputs: drop(out.output), last: drop(last), mask };
  }
}

/** Additive attention pooling's parameters: `W [A, D]`, `b [A]`, `v [A]`. */
export interface AttentionPoolParams {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly v: Tensor;
}

/**
 * One vector per sequence `[B, D]` from the encoder's outputs; for attention, also the weights
 * `[B, T]` (exactly zero on padding).
 */
export function pool(kind: Pooling, encoded: EncodedSequence, attention?: AttentionPoolParams): { pooled: Tensor; weights: Tensor | null } {
  const { outputs, mask } = encoded;
  switch (kind) {
    case "last":
      return { pooled: encoded.last, weights: null };
    case "mean": {
      // Padding is zero in the outputs, so the sum runs over the real steps only.
      const count = sum(mask, 0); // (B)
      return { pooled: div(sum(outputs, 0), expandDims(count, 1)), weights: null };
    }
    case "max":
      return { pooled: max(where(expandDims(mask, 2), outputs, -Infinity), 0), weights: null };
    case "attention": {
      if (!attention) throw new ShapeError("pool", "attention pooling needs its parameters (attention.weight, attention.bias, attention.v)");
      const hidden = tanh(add(matmul(outputs, attention.weight, { transB: true }), attention.bias)); // (T, B, A)
      const scores = squeeze(matmul(hidden, expandDims(attention.v, 1)), [2]); // (T, B)
      const weights = softmax(where(mask, scores, -Infinity), 0); // (T, B)
      const pooled = sum(mul(outputs, expandDims(weights, 2)), 0); // (B, D)
      return { pooled, weights: transpose(weights, [1, 0]) };
    }
  }
}

/** Lengths as an int32 tensor (accepting a plain list). */
export function lengthsTensor(lengths: Tensor | readonly number[]): Tensor {
  if (lengths instanceof Tensor) return lengths.dtype === "int32" ? lengths : cast(lengths, "int32");
  return new Tensor(Int32Array.from(lengths), [lengths.length]);
}

/** The Euclidean norm of a tensor's values: ‖dL/dh_t‖ of a gradient-flow probe. */
export function l2Norm(t: Tensor): number {
  let s = 0;
  for (let i = 0; i < t.size; i++) s += t.data[i]! * t.data[i]!;
  return Math.sqrt(s);
}

