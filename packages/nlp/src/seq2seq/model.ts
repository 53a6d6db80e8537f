import {
  argmax,
  concat,
  detach,
  dropout,
  gather,
  less,
  matmul,
  notEqual,
  reshape,
  type Rng,
  ShapeError,
  slice,
  softmaxCrossEntropy,
  split,
  squeeze,
  stack,
  tanh,
  Tensor,
  transpose,
  ValueRangeError,
  where,
  zeros,
} from "@unroll/tensor";
import { type CellMode, GRU, Linear, LSTM, type Recurrent, type RecurrentState, RNN } from "@unroll/cells";
import { checkStateDict, type LossFunction } from "@unroll/train";
import { ATTENTION_KINDS, attend, attentionKeys, type AttentionKind, type AttentionMemory, type AttentionParams } from "./attention.js";
import { attentionDecoderSequence, fusedDecoderPays } from "./fused.js";
import { labelSmoothedCrossEntropy } from "./loss.js";
import { Vocabulary } from "./vocabulary.js";

/** A translation model's configuration: plain JSON, stored with every checkpoint. */
export interface Seq2SeqConfig {
  readonly srcVocabSize: number;
  readonly tgtVocabSize: number;
  /** Encoder and decoder cell. Default "gru". */
  readonly cell?: CellMode;
  /** Token embedding width (both sides). Default 256. */
  readonly embeddingSize?: number;
  /** Encoder hidden units per direction. Default 256. */
  readonly encoderHiddenSize?: number;
  /** Decoder hidden units. Default 256. */
  readonly decoderHiddenSize?: number;
  /** Default 1. */
  readonly encoderLayers?: number;
  /** Default 1. */
  readonly decoderLayers?: number;
  /** A bidirectional encoder (its outputs are both directions' states side by side). Default true. */
  readonly bidirectional?: boolean;
  /** "none" (the bottleneck: the encoder's final state only), "bahdanau", "luong-dot", "luong-general". Default "bahdanau". */
  readonly attention?: AttentionKind;
  /** Width of Bahdanau's scoring layer. Default decoderHiddenSize. */
  readonly attentionSize?: number;
  /** Luong's input feeding: the previous attentional state joins the next step's input. Default true. */
  readonly inputFeeding?: boolean;
  /** Dropout on embeddings, between recurrent layers and before the output layer. Default 0. */
  readonly dropout?: number;
  /** One embedding table for both sides (a joint vocabulary: srcVocabSize === tgtVocabSize). Default false. */
  readonly sharedEmbeddings?: boolean;
}

export type ResolvedSeq2SeqConfig = Required<Seq2SeqConfig>;

/**
 * Parameters under a PyTorch module's state-dict names: `encoder.embedding.weight`,
 * `encoder.rnn.weight_ih_l0_reverse`, `bridge.weight`, `decoder.embedding.weight`,
 * `decoder.rnn.weight_hh_l0`, `attention.key.weight`, `attention.combine.weight`, `head.weight`.
 */
export interface Seq2SeqParams {
  readonly encoder: { readonly embedding: { readonly weight: Tensor }; readonly rnn: Readonly<Record<string, Tensor>> };
  /** Maps the encoder's final states to the decoder's first state (absent where the shapes already agree). */
  readonly bridge?: { readonly weight: Tensor; readonly bias: Tensor };
  /** The same for an LSTM's cell state. */
  readonly bridgeCell?: { readonly weight: Tensor; readonly bias: Tensor };
  readonly decoder: { readonly embedding?: { readonly weight: Tensor }; readonly rnn: Readonly<Record<string, Tensor>> };
  readonly attention?: AttentionParams & { readonly combine?: { readonly weight: Tensor } };
  readonly head: { readonly weight: Tensor; readonly bias: Tensor };
}

/**
 * A batch of sentence pairs, time-first and padded: `src [S, B]` with `srcLengths`, the decoder's
 * inputs `tgtIn [T, B]` (start symbol, then the target) and its targets `tgtOut [T, B]` (the
 * target, then the end symbol; -100 at padding).
 */
export interface Seq2SeqBatch {
  readonly src: Tensor;
  readonly srcLengths: Tensor;
  readonly tgtIn: Tensor;
  readonly tgtOut: Tensor;
}

/** What the encoder leaves for the decoder: the attention memory and the decoder's first state. */
export interface Encoded {
  readonly memory: AttentionMemory | null;
  readonly state: RecurrentState;
  /** Batch size and source lengths, for decoding limits. */
  readonly lengths: readonly number[];
}

/** The decoder's state between steps: the recurrent state and, with input feeding, the last attentional state `[B, H]`. */
export interface DecoderState {
  readonly rnn: RecurrentState;
  readonly feed: Tensor | null;
}

export interface DecoderStepOutput {
  /** `[B, tgtVocabSize]`. */
  readonly logits: Tensor;
  readonly state: DecoderState;
  /** `[B, S]`, or null for the bottleneck decoder. */
  readonly attention: Tensor | null;
}

export interface Seq2SeqForwardOptions {
  /** Return the logits as `[T·B, V]` (time-major rows), which is how the loss reads them: no copy of the largest tensor of a step. */
  readonly flat?: boolean;
  readonly training?: boolean;
  readonly rng?: Rng;
  /** Probability of feeding the gold previous token (teacher forcing) rather than the model's own argmax. Default 1. */
  readonly teacherForcing?: number;
  /**
   * Run a teacher-forced one-layer Bahdanau decoder as one fused primitive (true) or `decodeStep`
   * step by step (false, the oracle the fused kernel is tested against). Default: fused where the
   * active kernels have a fused kernel of their own (faster than op by op).
   */
  readonly fused?: boolean;
}

export interface LossOptions extends Seq2SeqForwardOptions {
  /** PyTorch's `label_smoothing`: the target distribution is (1 - ε) one-hot + ε / V. Default 0. */
  readonly labelSmoothing?: number;
}

/**
 * Sequence to sequence with attention: an embedding and a stacked, optionally bidirectional
 * RNN/LSTM/GRU encoder over padded, variable-length source batches; a stacked decoder language
 * model conditioned on it, in three variants that share the code:
 *
 * - `none`: the bottleneck baseline. The whole source reaches the decoder through the encoder's
 *   final state only, `s_0 = tanh(W_b [h→_S; h←_1] + b)`.
 * - `bahdanau`: additive attention with the previous state as query, the context joins the input,
 *   `s_t = f(s_{t-1}, [E y_{t-1}; c_t])`, logits `W_o [s_t; c_t] + b`.
 * - `luong-dot` / `luong-general`: multiplicative attention with the current state as query,
 *   `h̃_t = tanh(W_c [c_t; s_t])`, logits `W_o h̃_t + b`, and input feeding
 *   `s_t = f(s_{t-1}, [E y_{t-1}; h̃_{t-1}])`.
 *
 * Parameters live outside the model (pure functions of `params`), as the language model's do.
 */
export class Seq2Seq {
  readonly config: ResolvedSeq2SeqConfig;
  readonly encoder: Recurrent;
  readonly decoder: Recurrent;
  private readonly bridge: Linear | null;
  private readonly bridgeCell: Linear | null;
  private readonly head: Linear;

  constructor(config: Seq2SeqConfig) {
    const decoderHiddenSize = config.decoderHiddenSize ?? 256;
    const c: ResolvedSeq2SeqConfig = {
      srcVocabSize: config.srcVocabSize,
      tgtVocabSize: config.tgtVocabSize,
      cell: config.cell ?? "gru",
      embeddingSize: config.embeddingSize ?? 256,
      encoderHiddenSize: config.encoderHiddenSize ?? 256,
      decoderHiddenSize,
      encoderLayers: config.encoderLayers ?? 1,
      decoderLayers: config.decoderLayers ?? 1,
      bidirectional: config.bidirectional ?? true,
      attention: config.attention ?? "bahdanau",
      attentionSize: config.attentionSize ?? decoderHiddenSize,
      inputFeeding: config.inputFeeding ?? true,
      dropout: config.dropout ?? 0,
      sharedEmbeddings: config.sharedEmbeddings ?? false,
    };
    const op = "Seq2Seq";
    for (const key of ["srcVocabSize", "tgtVocabSize", "embeddingSize", "encoderHiddenSize", "decoderHiddenSize", "encoderLayers", "decoderLayers", "attentionSize"] as const) {
      const v = c[key];
      if (!Number.isInteger(v) || v < 1) throw new ValueRangeError(op, `${key} must be a positive integer, got ${String(v)}`);
    }
    if (c.tgtVocabSize <= Vocabulary.EOS) throw new ValueRangeError(op, `tgtVocabSize must hold the special symbols (pad, start, end) and more, got ${c.tgtVocabSize}`);
    if (!["rnn_tanh", "rnn_relu", "lstm", "gru"].includes(c.cell)) throw new ValueRangeError(op, `cell must be one of rnn_tanh, rnn_relu, lstm, gru; got ${String(c.cell)}`);
    if (!ATTENTION_KINDS.includes(c.attention)) throw new ValueRangeError(op, `attention must be one of ${ATTENTION_KINDS.join(", ")}; got ${String(c.attention)}`);
    if (!(c.dropout >= 0 && c.dropout < 1)) throw new ValueRangeError(op, `dropout must be in [0, 1), got ${c.dropout}`);
    if (c.sharedEmbeddings && c.srcVocabSize !== c.tgtVocabSize) {
      throw new ValueRangeError(op, `sharedEmbeddings needs one joint vocabulary (srcVocabSize ${c.srcVocabSize} ≠ tgtVocabSize ${c.tgtVocabSize})`);
    }
    const memoryWidth = c.encoderHiddenSize * (c.bidirectional ? 2 : 1);
    if (c.attention === "luong-dot" && memoryWidth !== c.decoderHiddenSize) {
      throw new ValueRangeError(
        op,
        `dot attention scores the decoder state against the encoder outputs, so decoderHiddenSize (${c.decoderHiddenSize}) must equal the encoder's output width (${memoryWidth}${c.bidirectional ? ": 2 directions" : ""}); use luong-general or change the sizes`,
      );
    }
    this.config = c;
    const build = (inputSize: number, hiddenSize: number, numLayers: number, bidirectional: boolean): Recurrent => {
      const o = { inputSize, hiddenSize, numLayers, bidirectional, dropout: c.dropout };
      return c.cell === "lstm" ? new LSTM(o) : c.cell === "gru" ? new GRU(o) : new RNN({ ...o, nonlinearity: c.cell === "rnn_relu" ? "relu" : "tanh" });
    };
    this.encoder = build(c.embeddingSize, c.encoderHiddenSize, c.encoderLayers, c.bidirectional);
    const extraInput = c.attention === "bahdanau" ? memoryWidth : c.attention !== "none" && c.inputFeeding ? c.decoderHiddenSize : 0;
    this.decoder = build(c.embeddingSize + extraInput, c.decoderHiddenSize, c.decoderLayers, false);
    // The encoder's final state feeds the decoder as it is when the shapes agree, else through a layer.
    const same = !c.bidirectional && c.encoderHiddenSize === c.decoderHiddenSize && c.encoderLayers === c.decoderLayers;
    this.bridge = same ? null : new Linear(memoryWidth, c.decoderLayers * c.decoderHiddenSize);
    this.bridgeCell = same || c.cell !== "lstm" ? null : new Linear(memoryWidth, c.decoderLayers * c.decoderHiddenSize);
    const headInput = c.attention === "bahdanau" ? c.decoderHiddenSize + memoryWidth : c.decoderHiddenSize;
    this.head = new Linear(headInput, c.tgtVocabSize);
  }

  /** Width of the encoder's outputs (both directions). */
  get memoryWidth(): number {
    return this.config.encoderHiddenSize * (this.config.bidirectional ? 2 : 1);
  }

  /** Every parameter's state-dict name and shape. */
  parameterShapes(): Record<string, number[]> {
    const c = this.config;
    const shapes: Record<string, number[]> = { "encoder.embedding.weight": [c.srcVocabSize, c.embeddingSize] };
    for (const [name, shape] of Object.entries(this.encoder.parameterShapes())) shapes[`encoder.rnn.${name}`] = shape;
    if (this.bridge) Object.assign(shapes, { "bridge.weight": [this.bridge.outFeatures, this.bridge.inFeatures], "bridge.bias": [this.bridge.outFeatures] });
    if (this.bridgeCell) Object.assign(shapes, { "bridgeCell.weight": [this.bridgeCell.outFeatures, this.bridgeCell.inFeatures], "bridgeCell.bias": [this.bridgeCell.outFeatures] });
    if (!c.sharedEmbeddings) shapes["decoder.embedding.weight"] = [c.tgtVocabSize, c.embeddingSize];
    for (const [name, shape] of Object.entries(this.decoder.parameterShapes())) shapes[`decoder.rnn.${name}`] = shape;
    const H = c.decoderHiddenSize;
    if (c.attention === "bahdanau") {
      Object.assign(shapes, { "attention.query.weight": [c.attentionSize, H], "attention.key.weight": [c.attentionSize, this.memoryWidth], "attention.v": [c.attentionSize] });
    } else if (c.attention !== "none") {
      if (c.attention === "luong-general") shapes["attention.weight"] = [H, this.memoryWidth];
      shapes["attention.combine.weight"] = [H, this.memoryWidth + H];
    }
    shapes["head.weight"] = [this.head.outFeatures, this.head.inFeatures];
    shapes["head.bias"] = [this.head.outFeatures];
    return shapes;
  }

  /** Fresh parameters: embeddings N(0, 1), recurrent and linear layers as PyTorch initialises them. */
  init(rng: Rng): Seq2SeqParams {
    const c = this.config;
    const H = c.decoderHiddenSize;
    const encoder = { embedding: { weight: rng.normal([c.srcVocabSize, c.embeddingSize], 0, 1) }, rnn: this.encoder.init(rng) };
    const bridge = this.bridge ? (this.bridge.init(rng) as { weight: Tensor; bias: Tensor }) : undefined;
    const bridgeCell = this.bridgeCell ? (this.bridgeCell.init(rng) as { weight: Tensor; bias: Tensor }) : undefined;
    const decoder = {
      ...(c.sharedEmbeddings ? {} : { embedding: { weight: rng.normal([c.tgtVocabSize, c.embeddingSize], 0, 1) } }),
      rnn: this.decoder.init(rng),
    };
    const linear = (out: number, inp: number): Tensor => new Linear(inp, out, { bias: false }).init(rng).weight;
    let attention: Seq2SeqParams["attention"];
    if (c.attention === "bahdanau") {
      const bound = 1 / Math.sqrt(c.attentionSize);
      attention = {
        query: { weight: linear(c.attentionSize, H) },
        key: { weight: linear(c.attentionSize, this.memoryWidth) },
        v: rng.uniform([c.attentionSize], -bound, bound),
      };
    } else if (c.attention !== "none") {
      attention = {
        ...(c.attention === "luong-general" ? { weight: linear(H, this.memoryWidth) } : {}),
        combine: { weight: linear(H, this.memoryWidth + H) },
      };
    }
    const head = this.head.init(rng) as { weight: Tensor; bias: Tensor };
    return { encoder, ...(bridge ? { bridge } : {}), ...(bridgeCell ? { bridgeCell } : {}), decoder, ...(attention ? { attention } : {}), head };
  }

  /**
   * Parameters from a flat state dict, as a checkpoint's model.safetensors holds them. Every name,
   * shape and dtype is checked; a mismatch names the tensor.
   */
  paramsFromStateDict(tensors: Readonly<Record<string, Tensor>>): Seq2SeqParams {
    const expected = new Map(Object.entries(this.parameterShapes()).map(([name, shape]) => [name, { shape, dtype: "float32" as const }]));
    const problems = checkStateDict(expected, tensors, { finite: true });
    if (problems.length > 0) throw new ShapeError("Seq2Seq", `the weights do not fit this model: ${problems.join("; ")}`);
    const byName = new Map(Object.entries(tensors));
    const get = (name: string): Tensor => byName.get(name)!;
    const prefixed = (prefix: string): Record<string, Tensor> =>
      Object.fromEntries([...byName].filter(([n]) => n.startsWith(prefix)).map(([n, t]) => [n.slice(prefix.length), t]));
    const c = this.config;
    let attention: Seq2SeqParams["attention"];
    if (c.attention === "bahdanau") attention = { query: { weight: get("attention.query.weight") }, key: { weight: get("attention.key.weight") }, v: get("attention.v") };
    else if (c.attention !== "none") {
      attention = { ...(c.attention === "luong-general" ? { weight: get("attention.weight") } : {}), combine: { weight: get("attention.combine.weight") } };
    }
    return {
      encoder: { embedding: { weight: get("encoder.embedding.weight") }, rnn: prefixed("encoder.rnn.") },
      ...(this.bridge ? { bridge: { weight: get("bridge.weight"), bias: get("bridge.bias") } } : {}),
      ...(this.bridgeCell ? { bridgeCell: { weight: get("bridgeCell.weight"), bias: get("bridgeCell.bias") } } : {}),
      decoder: { ...(c.sharedEmbeddings ? {} : { embedding: { weight: get("decoder.embedding.weight") } }), rnn: prefixed("decoder.rnn.") },
      ...(attention ? { attention } : {}),
      head: { weight: get("head.weight"), bias: get("head.bias") },
    };
  }

  /**
   * Reads the source batch: `src` int32 `[S, B]` padded with 0, `lengths` the real lengths (at
   * least 1 each). Returns the attention memory (batch-first, zero on padding) and the decoder's
   * first state.
   */
  encode(params: Seq2SeqParams, src: Tensor, lengths: Tensor | readonly number[], options: Seq2SeqForwardOptions = {}): Encoded {
    const c = this.config;
    if (src.dtype !== "int32" || src.rank !== 2) throw new ShapeError("Seq2Seq", `src must be int32 token ids [S, B], got ${src.dtype} [${src.shape.join(",")}]`);
    const [S, B] = src.shape as [number, number];
    const lens = lengthList(lengths, B, S);
    checkPadding(src, lens);
    const drop = this.dropper(options);
    const embedded = drop(gather(params.encoder.embedding.weight, src)); // (S, B, E)
    const out = this.encoder.forward(params.encoder.rnn, embedded, { lengths: lengths instanceof Tensor ? lengths : lens, ...this.rnnTraining(options) });
    const D = this.encoder.directions;
    const L = c.encoderLayers;
    // The top layer's final state, both directions side by side: (B, D*H).
    const finals = [];
    for (let d = 0; d < D; d++) finals.push(squeeze(slice(out.h, [(L - 1) * D + d], [(L - 1) * D + d + 1], [0]), [0]));
    const top = D === 1 ? finals[0]! : concat(finals, -1);
    const state = this.bridgeState(params, out, top, B);
    let memory: AttentionMemory | null = null;
    if (c.attention !== "none") {
      const values = transpose(out.output, [1, 0, 2]); // (B, S, D*H)
      // Padding is id 0 (`Vocabulary.PAD`) and nothing else is (checked above): the mask is read off
      // the tokens, so that a traced graph computes it from its input.
      const mask = notEqual(transpose(src, [1, 0]), Vocabulary.PAD, { dtype: "float32" }); // (B, S)
      memory = { values, keys: attentionKeys(c.attention, params.attention ?? {}, values), keysBatchAxis: c.attention === "bahdanau" ? 1 : 0, mask };
    }
    return { memory, state, lengths: lens };
  }

  private bridgeState(params: Seq2SeqParams, out: RecurrentState, top: Tensor, B: number): RecurrentState {
    const c = this.config;
    if (!this.bridge) return { h: out.h, ...(out.c ? { c: out.c } : {}) };
    const L = c.decoderLayers;
    const H = c.decoderHiddenSize;
    const layered = (x: Tensor): Tensor => transpose(reshape(x, [B, L, H]), [1, 0, 2]); // (L, B, H)
    const h = layered(tanh(this.bridge.forward(params.bridge!, top)));
    if (c.cell !== "lstm") return { h };
    // The cell state from the final cell states of the top layer, through its own layer.
    const D = this.encoder.directions;
    const cells = [];
    for (let d = 0; d < D; d++) cells.push(squeeze(slice(out.c!, [(c.encoderLayers - 1) * D + d], [(c.encoderLayers - 1) * D + d + 1], [0]), [0]));
    const cTop = D === 1 ? cells[0]! : concat(cells, -1);
    return { h, c: layered(tanh(this.bridgeCell!.forward(params.bridgeCell!, cTop))) };
  }

  /** The decoder's state before the first step. */
  initialDecoderState(encoded: Encoded): DecoderState {
    const c = this.config;
    const B = encoded.lengths.length;
    const dtype = encoded.state.h.dtype as "float32" | "float64";
    const feed = c.attention.startsWith("luong") && c.inputFeeding ? zeros([B, c.decoderHiddenSize], dtype) : null;
    return { rnn: encoded.state, feed };
  }

  /**
   * One decoder step for a batch: the previous tokens `[B]` (int32), the state and the encoder's
   * memory. Returns the logits of the next token, the new state and the attention weights.
   */
  decodeStep(params: Seq2SeqParams, memory: AttentionMemory | null, state: DecoderState, tokens: Tensor, options: Seq2SeqForwardOptions = {}): DecoderStepOutput {
    const out = this.decodeFeatures(params, memory, state, tokens, options);
    return { logits: this.head.forward(params.head, this.dropper(options)(out.features)), state: out.state, attention: out.attention };
  }

  /** A step up to the output layer: what the head reads (`[B, F]`), the new state and the attention weights. */
  private decodeFeatures(params: Seq2SeqParams, memory: AttentionMemory | null, state: DecoderState, tokens: Tensor, options: Seq2SeqForwardOptions): { features: Tensor; state: DecoderState; attention: Tensor | null } {
    const c = this.config;
    const drop = this.dropper(options);
    const embedded = drop(gather(this.targetEmbedding(params), tokens)); // (B, E)
    const top = (s: RecurrentState): Tensor => squeeze(slice(s.h, [c.decoderLayers - 1], [c.decoderLayers], [0]), [0]); // (B, H)
    const a = params.attention ?? {};
    if (c.attention === "none") {
      const r = this.decoder.step(params.decoder.rnn, state.rnn, embedded);
      return { features: r.output, state: { rnn: r.state, feed: null }, attention: null };
    }
    if (c.attention === "bahdanau") {
      const { weights, context } = attend(c.attention, a, memory!, top(state.rnn)); // query: the previous state
      const r = this.decoder.step(params.decoder.rnn, state.rnn, concat([embedded, context], -1));
      return { features: concat([r.output, context], -1), state: { rnn: r.state, feed: null }, attention: weights };
    }
    const input = state.feed ? concat([embedded, state.feed], -1) : embedded;
    const r = this.decoder.step(params.decoder.rnn, state.rnn, input);
    const { weights, context } = attend(c.attention, a, memory!, r.output); // query: the current state
    const attentional = tanh(matmul(concat([context, r.output], -1), a.combine!.weight, { transB: true })); // h̃ (B, H)
    return { features: attentional, state: { rnn: r.state, feed: c.inputFeeding ? attentional : null }, attention: weights };
  }

  /**
   * Teacher-forced decoding of a whole batch: logits `[T, B, V]` for the targets and the attention
   * weights of every step `[T, B, S]` (null for the bottleneck). With `teacherForcing` below 1,
   * each example's previous token is, with that probability, the gold one, else the model's own
   * argmax (scheduled sampling); needs `rng`.
   */
  forward(params: Seq2SeqParams, batch: Pick<Seq2SeqBatch, "src" | "srcLengths" | "tgtIn">, options: Seq2SeqForwardOptions = {}): { logits: Tensor; attention: Tensor | null } {
    const ratio = options.teacherForcing ?? 1;
    if (!(ratio >= 0 && ratio <= 1)) throw new ValueRangeError("Seq2Seq", `teacherForcing must be in [0, 1], got ${ratio}`);
    if (ratio < 1 && !options.rng) throw new ValueRangeError("Seq2Seq", "teacherForcing below 1 draws which tokens to feed: pass an rng");
    const { tgtIn } = batch;
    if (tgtIn.dtype !== "int32" || tgtIn.rank !== 2) throw new ShapeError("Seq2Seq", `tgtIn must be int32 token ids [T, B], got ${tgtIn.dtype} [${tgtIn.shape.join(",")}]`);
    const [T, B] = tgtIn.shape as [number, number];
    if (batch.src.shape[1] !== B) throw new ShapeError("Seq2Seq", `src has batch ${batch.src.shape[1]} but tgtIn has batch ${B}`);
    const V = this.config.tgtVocabSize;
    const encoded = this.encode(params, batch.src, batch.srcLengths, options);
    let state = this.initialDecoderState(encoded);
    if (T === 0) return { logits: zeros([0, B, V]), attention: null };
    const c = this.config;
    if (ratio === 1 && (options.fused ?? fusedDecoderPays()) && c.attention === "bahdanau" && c.decoderLayers === 1 && c.cell !== "rnn_relu") {
      return this.fusedBahdanau(params, encoded, tgtIn, options);
    }
    const gold = split(tgtIn, T, 0).map((t) => reshape(t, [B]));
    const features: Tensor[] = [];
    const logits: Tensor[] = [];
    const weights: Tensor[] = [];
    let previous: Tensor | null = null;
    for (let t = 0; t < T; t++) {
      const tokens = t > 0 && ratio < 1 ? mixTokens(gold[t]!, previous!, ratio, options.rng!) : gold[t]!;
      const out = this.decodeFeatures(params, encoded.memory, state, tokens, options);
      state = out.state;
      if (out.attention) weights.push(out.attention);
      if (ratio < 1) {
        // The next input depends on this step's prediction: the output layer runs step by step.
        const step = this.head.forward(params.head, this.dropper(options)(out.features));
        logits.push(step);
        // Not under noGrad, which would hide the choice from a trace (a compiled step); argmax has no gradient anyway.
        previous = argmax(detach(step), -1);
      } else features.push(out.features);
    }
    const attention = weights.length > 0 ? stack(weights) : null;
    if (ratio < 1) {
      const stacked = stack(logits); // (T, B, V)
      return { logits: options.flat ? reshape(stacked, [T * B, V]) : stacked, attention };
    }
    // Teacher forcing: the output layer once over all steps, one large product instead of T small
    // ones (each of which would read the whole [V, F] weight).
    const all = stack(features); // (T, B, F)
    const F = all.shape[2]!;
    const flat = this.head.forward(params.head, this.dropper(options)(reshape(all, [T * B, F]))); // (T·B, V)
    return { logits: options.flat ? flat : reshape(flat, [T, B, V]), attention };
  }

  /** `forward` for a teacher-forced one-layer Bahdanau decoder: the whole decoder as one fused primitive. */
  private fusedBahdanau(params: Seq2SeqParams, encoded: Encoded, tgtIn: Tensor, options: Seq2SeqForwardOptions): { logits: Tensor; attention: Tensor | null } {
    const c = this.config;
    const [T, B] = tgtIn.shape as [number, number];
    const D = this.memoryWidth;
    const drop = this.dropper(options);
    const rnn = params.decoder.rnn;
    const memory = encoded.memory!;
    const top = (s: Tensor): Tensor => squeeze(s, [0]); // one layer: (1, B, H) -> (B, H)
    const out = attentionDecoderSequence(c.cell, {
      x: drop(gather(this.targetEmbedding(params), tgtIn)), // (T, B, E)
      weightIH: rnn["weight_ih_l0"]!, // (GH, E + D): the cell reads [E y_{t-1}; ctx_t]
      biasIH: rnn["bias_ih_l0"]!,
      weightHH: rnn["weight_hh_l0"]!,
      biasHH: rnn["bias_hh_l0"]!,
      h0: top(encoded.state.h),
      c0: encoded.state.c ? top(encoded.state.c) : null,
      values: memory.values,
      keys: memory.keys,
      mask: memory.mask,
      weightQ: params.attention!.query!.weight,
      v: params.attention!.v!,
    });
    const features = concat([out.hs, out.contexts], -1); // (T, B, H + D), as decodeStep's [h_t; ctx_t]
    const flat = this.head.forward(params.head, drop(reshape(features, [T * B, c.decoderHiddenSize + D]))); // (T·B, V)
    return { logits: options.flat ? flat : reshape(flat, [T, B, c.tgtVocabSize]), attention: out.weights };
  }

  /**
   * The loss function for `Trainer`: mean cross-entropy (nats per target token, the end symbol
   * included, padding excluded), optionally label-smoothed.
   */
  lossFunction(options: Omit<LossOptions, "rng" | "training"> = {}): LossFunction<Seq2SeqParams, Seq2SeqBatch, never> {
    const smoothing = options.labelSmoothing ?? 0;
    if (!(smoothing >= 0 && smoothing < 1)) throw new ValueRangeError("Seq2Seq", `labelSmoothing must be in [0, 1), got ${smoothing}`);
    return (params, batch, _carry, ctx) => {
      const { logits } = this.forward(params, batch, { ...options, training: true, rng: ctx.rng, flat: true });
      return { loss: this.loss(logits, reshape(batch.tgtOut, [batch.tgtOut.size]), smoothing), tokens: countTargets(batch.tgtOut) };
    };
  }

  /** Mean cross-entropy of logits `[T, B, V]` (or `[T·B, V]`) against targets `[T, B]` (or `[T·B]`; -100: padding). */
  loss(logits: Tensor, targets: Tensor, labelSmoothing = 0): Tensor {
    return labelSmoothing > 0 ? labelSmoothedCrossEntropy(logits, targets, labelSmoothing) : softmaxCrossEntropy(logits, targets, { ignoreIndex: -100 });
  }

  private targetEmbedding(params: Seq2SeqParams): Tensor {
    return this.config.sharedEmbeddings ? params.encoder.embedding.weight : params.decoder.embedding!.weight;
  }

  private dropper(options: Seq2SeqForwardOptions): (x: Tensor) => Tensor {
    const p = this.config.dropout;
    if (!(options.training && p > 0)) return (x) => x;
    if (!options.rng) throw new ValueRangeError("Seq2Seq", "training with dropout needs an rng");
    return (x) => dropout(x, p, options.rng!);
  }

  private rnnTraining(options: Seq2SeqForwardOptions): { training?: boolean; rng?: Rng } {
    return options.training && this.config.dropout > 0 ? { training: true, rng: options.rng! } : {};
  }
}

/** Lengths as numbers, checked: integers in [1, S]. */
function lengthList(lengths: Tensor | readonly number[], B: number, S: number): number[] {
  const list = lengths instanceof Tensor ? Array.from(lengths.data) : [...lengths];
  if (list.length !== B) throw new ShapeError("Seq2Seq", `${list.length} source lengths for a batch of ${B}`);
  list.forEach((n, i) => {
    if (!Number.isInteger(n) || n < 1 || n > S) throw new ValueRangeError("Seq2Seq", `source length ${n} of example ${i} is not in [1, ${S}] (an empty source cannot be attended to)`);
  });
  return list;
}

/** Every position before an example's length holds a token (not id 0), and every one after it padding (id 0). */
function checkPadding(src: Tensor, lengths: readonly number[]): void {
  const [S, B] = src.shape as [number, number];
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < S; s++) {
      const pad = src.data[s * B + b] === Vocabulary.PAD;
      if (pad !== s >= lengths[b]!) {
        throw new ValueRangeError(
          "Seq2Seq",
          `example ${b} has length ${lengths[b]} but ${pad ? "padding (id 0)" : `token ${src.data[s * B + b]}`} at position ${s}: pad with id ${Vocabulary.PAD} after the last token, and use no id ${Vocabulary.PAD} before it`,
        );
      }
    }
  }
}

/** Per example, the gold token with probability `ratio`, else the model's previous prediction. */
function mixTokens(gold: Tensor, predicted: Tensor, ratio: number, rng: Rng): Tensor {
  // Chosen by tensor operations, not by reading the draws in JavaScript: a traced graph (a
  // compiled training step) then chooses anew at every step.
  return where(less(rng.uniform([gold.size]), ratio), gold, predicted);
}

/** The target tokens of a translation batch that count (not the -100 padding): for an engine's throughput. */
export function translationTokens(batch: Seq2SeqBatch): number {
  return countTargets(batch.tgtOut);
}

function countTargets(targets: Tensor): number {
  let n = 0;
  for (let i = 0; i < targets.size; i++) if (targets.data[i] !== -100) n++;
  return n;
}
