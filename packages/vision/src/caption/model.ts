import {
  attend,
  attentionDecoderSequence,
  type AttentionMemory,
  fusedDecoderPays,
  Vocabulary,
} from "@unroll/nlp";
import {
  add,
  concat,
  div,
  dropout,
  expandDims,
  gather,
  matmul,
  mean,
  mul,
  ones,
  reshape,
  type Rng,
  ShapeError,
  softmaxCrossEntropy,
  split,
  squeeze,
  stack,
  sqrt,
  sub,
  sum,
  tanh,
  Tensor,
  transpose,
  ValueRangeError,
  zeros,
} from "@unroll/tensor";
import { type CellMode, GRU, Linear, LSTM, type Recurrent, type RecurrentState, RNN } from "@unroll/cells";
import type { LossFunction } from "@unroll/train";
import type { ImageEncoder } from "../encoder/encoder.js";
import { MobileNetV2Encoder, type MobileNetV2Params } from "../encoder/mobilenet.js";
import { type EncodedImages, type ResNetConfig, ResNetEncoder, type ResNetParams } from "../encoder/resnet.js";

/**
 * The three captioning decoders of the lecture:
 * - `show-tell` (Vinyals et al. 2015): the image vector, projected to a word embedding's size, is
 *   the decoder's input at a step before the start symbol;
 * - `inject`: the image vector joins every step's input through `W_ih v` (the cells' conditioned
 *   layer: `h_t = f(W_xh x_t + W_hh h_{t-1} + W_ih v)`);
 * - `attention` (Show, Attend and Tell, Xu et al. 2015): soft attention over the grid of image
 *   regions at every step (Bahdanau's scoring, the previous state as the query), the first state
 *   from the mean region, and the doubly stochastic regulariser that asks every region to be
 *   attended to about once over the caption.
 */
export type CaptionDecoderKind = "show-tell" | "inject" | "attention";
export const CAPTION_DECODERS: readonly CaptionDecoderKind[] = ["show-tell", "inject", "attention"];

/**
 * The pretrained MobileNetV2 that ships inside nsfwjs (an optional peer dependency; see
 * `MobileNetV2Encoder`) as the captioner's encoder: 224×224 images in [0, 1], a 7×7 grid of 1,280
 * features.
 */
export interface MobileNetEncoderConfig {
  readonly kind: "mobilenet";
  /**
   * true (the default): the imported weights stay as they are: they are not the captioner's
   * parameters (not trained, not in checkpoints: re-imported from nsfwjs on load). false: they are
   * parameters, fine-tuned with the decoder and saved.
   */
  readonly frozen?: boolean;
  /** The imported weights' fingerprint (`MobileNetV2Encoder.fingerprint`), checked when given: a checkpoint records it. */
  readonly weights?: string;
}

/** The captioner's encoder: the residual CNN trained from scratch (the default), or the pretrained MobileNetV2. */
export type CaptionEncoderConfig = (ResNetConfig & { readonly kind?: "resnet" }) | MobileNetEncoderConfig;

export interface CaptionerConfig {
  readonly vocabSize: number;
  /** Default "attention". */
  readonly decoder?: CaptionDecoderKind;
  /** Default "lstm". */
  readonly cell?: CellMode;
  /** Default 128. */
  readonly embeddingSize?: number;
  /** Default 256. */
  readonly hiddenSize?: number;
  /** Width of the attention's scoring layer. Default hiddenSize. */
  readonly attentionSize?: number;
  readonly encoder?: CaptionEncoderConfig;
  /** Dropout on embeddings and before the output layer. Default 0. */
  readonly dropout?: number;
  /**
   * Video captioning: the input is frames `[N, T, 3, H, W]`; each frame is encoded to its pooled
   * vector and an LSTM over the frames (S2VT-style, Venugopalan et al. 2015) gives the decoder its
   * memory: attention reads the LSTM's outputs over time, show-tell and inject its last output.
   * Frames without the LSTM would be a set, and a set cannot tell "moves left" from "moves right".
   * Default false.
   */
  readonly video?: boolean;
  /** λ of the doubly stochastic attention regulariser, `λ Σ_r (1 - Σ_t α_{t,r})²` (attention only). Default 1. */
  readonly doublyStochastic?: number;
}

export type ResolvedCaptionerConfig = Required<Omit<CaptionerConfig, "encoder">> & { readonly encoder: Required<ResNetConfig> | Required<MobileNetEncoderConfig> };

export interface CaptionerParams {
  /** A frozen MobileNetV2's are empty: its weights are the encoder's own. */
  readonly encoder: ResNetParams | MobileNetV2Params;
  /** Video: the LSTM over the frames' vectors. */
  readonly frames?: Readonly<Record<string, Tensor>>;
  readonly embedding: { readonly weight: Tensor };
  /** Attention: the mean region -> first hidden state, and cell state for an LSTM. */
  readonly init?: { readonly h: { readonly weight: Tensor; readonly bias: Tensor }; readonly c?: { readonly weight: Tensor; readonly bias: Tensor } };
  /** Show and Tell: the image vector -> the input of the step before the start symbol. */
  readonly image?: { readonly weight: Tensor; readonly bias: Tensor };
  readonly rnn: Readonly<Record<string, Tensor>>;
  readonly attention?: { readonly query: { readonly weight: Tensor }; readonly key: { readonly weight: Tensor }; readonly v: Tensor };
  readonly head: { readonly weight: Tensor; readonly bias: Tensor };
}

/** A captioning batch: images `[N, 3, H, W]`, the decoder's inputs `[T, N]` (start + caption) and targets `[T, N]` (caption + end, -100 padding). */
export interface CaptionBatch {
  readonly images: Tensor;
  readonly tgtIn: Tensor;
  readonly tgtOut: Tensor;
}

/** What the encoder leaves for the decoder: the image vector, the attention memory and the first state. */
export interface EncodedCaption {
  readonly pooled: Tensor;
  readonly memory: AttentionMemory | null;
  readonly state: RecurrentState;
  readonly grid: readonly [number, number];
}

/** The decoder's state between steps: the recurrent state, and (inject) the image vector it reads at every step. */
export interface CaptionState {
  readonly rnn: RecurrentState;
  readonly condition: Tensor | null;
}

/**
 * A CNN encoder and a recurrent decoder language model conditioned on the image. The decoding
 * (greedy and beam search over `captionDecoder`) and the vocabulary are nlp's, shared with
 * translation; the attention decoder trains through nlp's fused Bahdanau decoder where the kernels
 * have one.
 */
export class Captioner {
  readonly config: ResolvedCaptionerConfig;
  readonly encoder: ResNetEncoder | MobileNetV2Encoder;
  readonly rnn: Recurrent;
  private readonly head: Linear;
  private readonly initH: Linear | null;
  private readonly initC: Linear | null;
  private readonly imageInput: Linear | null;
  private readonly frameRnn: Recurrent | null;
  /** A frozen MobileNetV2: its own weights, constants of every forward pass. */
  private readonly frozen: MobileNetV2Params | null;

  /** A captioner whose MobileNetV2 encoder (if its config asks for one) is imported from nsfwjs first. */
  static async create(config: CaptionerConfig): Promise<Captioner> {
    return new Captioner(config, config.encoder?.kind === "mobilenet" ? { encoder: await MobileNetV2Encoder.fromNsfwjs() } : {});
  }

  /** `options.encoder`: the imported MobileNetV2 that an `encoder: { kind: "mobilenet" }` config needs (or use `Captioner.create`). */
  constructor(config: CaptionerConfig, options: { readonly encoder?: MobileNetV2Encoder } = {}) {
    const hiddenSize = config.hiddenSize ?? 256;
    const { encoder, resolved } = captionEncoder(config.encoder, options.encoder);
    const c: ResolvedCaptionerConfig = {
      vocabSize: config.vocabSize,
      decoder: config.decoder ?? "attention",
      cell: config.cell ?? "lstm",
      embeddingSize: config.embeddingSize ?? 128,
      hiddenSize,
      attentionSize: config.attentionSize ?? hiddenSize,
      encoder: resolved,
      dropout: config.dropout ?? 0,
      doublyStochastic: config.doublyStochastic ?? 1,
      video: config.video ?? false,
    };
    const op = "Captioner";
    for (const key of ["vocabSize", "embeddingSize", "hiddenSize", "attentionSize"] as const) {
      if (!Number.isInteger(c[key]) || c[key] < 1) throw new ValueRangeError(op, `${key} must be a positive integer, got ${String(c[key])}`);
    }
    if (c.vocabSize <= Vocabulary.EOS) throw new ValueRangeError(op, `vocabSize must hold the special symbols (pad, start, end) and more, got ${c.vocabSize}`);
    if (!CAPTION_DECODERS.includes(c.decoder)) throw new ValueRangeError(op, `decoder must be one of ${CAPTION_DECODERS.join(", ")}; got ${String(c.decoder)}`);
    if (!(c.dropout >= 0 && c.dropout < 1)) throw new ValueRangeError(op, `dropout must be in [0, 1), got ${c.dropout}`);
    if (!(c.doublyStochastic >= 0)) throw new ValueRangeError(op, `doublyStochastic must be >= 0, got ${c.doublyStochastic}`);
    this.config = c;
    this.encoder = encoder;
    this.frozen = "kind" in resolved && resolved.frozen ? (encoder as MobileNetV2Encoder).weights : null;
    const F = encoder.features;
    this.frameRnn = c.video ? new LSTM({ inputSize: 4 * F, hiddenSize: F }) : null;
    const input = c.embeddingSize + (c.decoder === "attention" ? F : 0);
    const o = { inputSize: input, hiddenSize, ...(c.decoder === "inject" ? { conditionSize: F } : {}) };
    this.rnn = c.cell === "lstm" ? new LSTM(o) : c.cell === "gru" ? new GRU(o) : new RNN({ ...o, nonlinearity: c.cell === "rnn_relu" ? "relu" : "tanh" });
    // The first state from the image (Show and Tell) or the mean region (attention); inject starts from zeros.
    // Attention starts from the mean region (Xu et al.); Show and Tell reads the image as the input
    // of a step before the start symbol (Vinyals et al.); inject starts from zeros.
    this.initH = c.decoder === "attention" ? new Linear(F, hiddenSize) : null;
    this.initC = c.decoder === "attention" && c.cell === "lstm" ? new Linear(F, hiddenSize) : null;
    this.imageInput = c.decoder === "show-tell" ? new Linear(F, c.embeddingSize) : null;
    this.head = new Linear(c.decoder === "attention" ? hiddenSize + F : hiddenSize, c.vocabSize);
  }

  /** Every parameter's state-dict name and shape. */
  parameterShapes(): Record<string, number[]> {
    const c = this.config;
    const shapes: Record<string, number[]> = {};
    if (!this.frozen) for (const [n, s] of Object.entries(this.encoder.parameterShapes())) shapes[`encoder.${n}`] = s;
    if (this.frameRnn) for (const [n, s] of Object.entries(this.frameRnn.parameterShapes())) shapes[`frames.${n}`] = s;
    shapes["embedding.weight"] = [c.vocabSize, c.embeddingSize];
    if (this.initH) Object.assign(shapes, { "init.h.weight": [c.hiddenSize, this.encoder.features], "init.h.bias": [c.hiddenSize] });
    if (this.initC) Object.assign(shapes, { "init.c.weight": [c.hiddenSize, this.encoder.features], "init.c.bias": [c.hiddenSize] });
    if (this.imageInput) Object.assign(shapes, { "image.weight": [c.embeddingSize, this.encoder.features], "image.bias": [c.embeddingSize] });
    for (const [n, s] of Object.entries(this.rnn.parameterShapes())) shapes[`rnn.${n}`] = s;
    if (c.decoder === "attention") {
      Object.assign(shapes, { "attention.query.weight": [c.attentionSize, c.hiddenSize], "attention.key.weight": [c.attentionSize, this.encoder.features], "attention.v": [c.attentionSize] });
    }
    shapes["head.weight"] = [this.head.outFeatures, this.head.inFeatures];
    shapes["head.bias"] = [this.head.outFeatures];
    return shapes;
  }

  init(rng: Rng): CaptionerParams {
    const c = this.config;
    const encoder = this.frozen ? {} : this.encoder.init(rng);
    const frames = this.frameRnn ? this.frameRnn.init(rng) : undefined;
    const embedding = { weight: rng.normal([c.vocabSize, c.embeddingSize], 0, 1) };
    const init = this.initH
      ? { h: this.initH.init(rng) as { weight: Tensor; bias: Tensor }, ...(this.initC ? { c: this.initC.init(rng) as { weight: Tensor; bias: Tensor } } : {}) }
      : undefined;
    const image = this.imageInput ? (this.imageInput.init(rng) as { weight: Tensor; bias: Tensor }) : undefined;
    const rnn = this.rnn.init(rng);
    const linear = (out: number, inp: number): Tensor => new Linear(inp, out, { bias: false }).init(rng).weight;
    const attention =
      c.decoder === "attention"
        ? {
            query: { weight: linear(c.attentionSize, c.hiddenSize) },
            key: { weight: linear(c.attentionSize, this.encoder.features) },
            v: rng.uniform([c.attentionSize], -1 / Math.sqrt(c.attentionSize), 1 / Math.sqrt(c.attentionSize)),
          }
        : undefined;
    const head = this.head.init(rng) as { weight: Tensor; bias: Tensor };
    return { encoder, ...(frames ? { frames } : {}), embedding, ...(init ? { init } : {}), ...(image ? { image } : {}), rnn, ...(attention ? { attention } : {}), head };
  }

  /** Images `[N, 3, H, W]` to the decoder's inputs: the image vector, the region memory, the first state. */
  encode(params: CaptionerParams, images: Tensor): EncodedCaption {
    const c = this.config;
    // Standardised per image and region: without it the decoder's gradient drives the
    // from-scratch encoder to features that are large and the same for every image (a bias for
    // the decoder's first steps), and Show and Tell learned nothing from the images.
    if (!this.frameRnn && images.rank === 5) {
      throw new ShapeError("Captioner", `this captioner reads images [N, 3, H, W], got frames [${images.shape.join(", ")}]: build it with video: true to caption videos`);
    }
    const encoded = this.frameRnn ? this.encodeFrames(params, images) : this.encodeImages(params, images);
    const pooled = standardise(encoded.pooled);
    const regions = standardise(encoded.regions);
    const grid = encoded.grid;
    const N = images.shape[0]!;
    const S = grid[0] * grid[1];
    let memory: AttentionMemory | null = null;
    let source = pooled; // what the first state is made from
    if (c.decoder === "attention") {
      const a = params.attention!;
      const keys = matmul(transpose(regions, [1, 0, 2]), a.key.weight, { transB: true }); // (S, N, A), time-first as Bahdanau's
      memory = { values: regions, keys, keysBatchAxis: 1, mask: ones([N, S], regions.dtype) };
      source = mean(regions, 1); // the mean region (Show, Attend and Tell)
    }
    const layered = (x: Tensor): Tensor => expandDims(x, 0); // (1, N, H)
    let state: RecurrentState;
    if (this.initH) {
      const h = layered(tanh(this.initH.forward(params.init!.h, source)));
      state = this.initC ? { h, c: layered(tanh(this.initC.forward(params.init!.c!, source))) } : { h };
    } else {
      state = this.rnn.initialState(N, images.dtype as "float32" | "float64");
      if (this.imageInput) state = this.rnn.step(params.rnn, state, this.imageInput.forward(params.image!, pooled)).state;
    }
    return { pooled, memory, state, grid };
  }

  /** Frames `[N, T, 3, H, W]` -> the frame LSTM's outputs as the memory `[N, T, C]` (grid `[1, T]`) and its last output. */
  private encodeFrames(params: CaptionerParams, videos: Tensor): { pooled: Tensor; regions: Tensor; grid: readonly [number, number] } {
    if (videos.rank !== 5 || videos.shape[2] !== 3) {
      throw new ShapeError("Captioner", `a video captioner reads frames [N, T, 3, H, W], got [${videos.shape.join(", ")}]: stack each video's frames with videosToTensor`);
    }
    const [N, T, , H, W] = videos.shape as [number, number, number, number, number];
    const { regions, grid } = this.encodeImages(params, reshape(videos, [N * T, 3, H, W]));
    const C = this.encoder.features;
    // Each frame's grid averaged over its four quadrants: where the shape is, which a global
    // average would lose, and motion is a change of where.
    const quadrants = matmul(transpose(regions, [0, 2, 1]), quadrantPooling(grid, regions.dtype)); // (N·T, C, 4)
    const perFrame = transpose(reshape(quadrants, [N, T, 4 * C]), [1, 0, 2]); // (T, N, 4C)
    const out = this.frameRnn!.forward(params.frames!, perFrame);
    return { pooled: squeeze(out.h, [0]), regions: transpose(out.output, [1, 0, 2]), grid: [1, T] };
  }

  /** The encoder's pooled vector and regions; a frozen encoder's weights are constants (no gradient reaches them, nothing is recorded for them). */
  private encodeImages(params: CaptionerParams, images: Tensor): EncodedImages {
    return (this.encoder as ImageEncoder<CaptionerParams["encoder"]>).forward(this.frozen ?? params.encoder, images);
  }

  initialDecoderState(encoded: EncodedCaption): CaptionState {
    return { rnn: encoded.state, condition: this.config.decoder === "inject" ? encoded.pooled : null };
  }

  /** One decoder step: the previous tokens `[N]`, the state and the memory -> logits `[N, V]`, the new state, the attention `[N, S]`. */
  decodeStep(params: CaptionerParams, memory: AttentionMemory | null, state: CaptionState, tokens: Tensor, options: { training?: boolean; rng?: Rng } = {}): { logits: Tensor; state: CaptionState; attention: Tensor | null } {
    const c = this.config;
    const drop = this.dropper(options);
    const embedded = drop(gather(params.embedding.weight, tokens)); // (N, E)
    if (c.decoder === "attention") {
      const { weights, context } = attend("bahdanau", params.attention!, memory!, squeeze(state.rnn.h, [0]));
      const r = this.rnn.step(params.rnn, state.rnn, concat([embedded, context], -1));
      return { logits: this.head.forward(params.head, drop(concat([r.output, context], -1))), state: { rnn: r.state, condition: null }, attention: weights };
    }
    const r = this.rnn.step(params.rnn, state.rnn, embedded, state.condition ? { condition: state.condition } : {});
    return { logits: this.head.forward(params.head, drop(r.output)), state: { rnn: r.state, condition: state.condition }, attention: null };
  }

  /**
   * Teacher-forced decoding of a batch: logits `[T·N, V]` (time-major rows) and the attention
   * `[T, N, S]` (null without attention).
   */
  forward(params: CaptionerParams, batch: Pick<CaptionBatch, "images" | "tgtIn">, options: { training?: boolean; rng?: Rng; fused?: boolean } = {}): { logits: Tensor; attention: Tensor | null } {
    const c = this.config;
    const { tgtIn } = batch;
    if (tgtIn.dtype !== "int32" || tgtIn.rank !== 2) throw new ShapeError("Captioner", `tgtIn must be int32 token ids [T, N], got ${tgtIn.dtype} [${tgtIn.shape.join(",")}]`);
    const [T, N] = tgtIn.shape as [number, number];
    if (batch.images.shape[0] !== N) throw new ShapeError("Captioner", `${batch.images.shape[0]} images but ${N} captions`);
    const encoded = this.encode(params, batch.images);
    const drop = this.dropper(options);
    const features: Tensor[] = [];
    const weights: Tensor[] = [];
    if (c.decoder === "attention" && (options.fused ?? fusedDecoderPays()) && c.cell !== "rnn_relu") {
      const out = attentionDecoderSequence(c.cell, {
        x: drop(gather(params.embedding.weight, tgtIn)),
        weightIH: params.rnn["weight_ih_l0"]!,
        biasIH: params.rnn["bias_ih_l0"]!,
        weightHH: params.rnn["weight_hh_l0"]!,
        biasHH: params.rnn["bias_hh_l0"]!,
        h0: squeeze(encoded.state.h, [0]),
        c0: encoded.state.c ? squeeze(encoded.state.c, [0]) : null,
        values: encoded.memory!.values,
        keys: encoded.memory!.keys,
        mask: encoded.memory!.mask,
        weightQ: params.attention!.query.weight,
        v: params.attention!.v,
      });
      const F = concat([out.hs, out.contexts], -1); // (T, N, H + D)
      const logits = this.head.forward(params.head, drop(reshape(F, [T * N, F.shape[2]!])));
      return { logits, attention: out.weights };
    }
    let state = this.initialDecoderState(encoded);
    const gold = T > 0 ? split(tgtIn, T, 0).map((t) => reshape(t, [N])) : [];
    for (let t = 0; t < T; t++) {
      const out = this.decodeStep(params, encoded.memory, state, gold[t]!, options);
      state = out.state;
      features.push(out.logits);
      if (out.attention) weights.push(out.attention);
    }
    const logits = T > 0 ? reshape(stack(features), [T * N, c.vocabSize]) : zeros([0, c.vocabSize]);
    return { logits, attention: weights.length > 0 ? stack(weights) : null };
  }

  /**
   * The loss for `Trainer`: mean cross-entropy over the caption tokens (the end symbol included),
   * plus, with attention, the doubly stochastic regulariser `λ mean_n Σ_r (1 - Σ_t α_{t,n,r})²`
   * over the real (non-padding) steps. Step events report the cross-entropy alone.
   */
  lossFunction(): LossFunction<CaptionerParams, CaptionBatch, never> {
    return (params, batch, _carry, ctx) => {
      const { logits, attention } = this.forward(params, batch, { training: true, rng: ctx.rng });
      const crossEntropy = softmaxCrossEntropy(logits, reshape(batch.tgtOut, [batch.tgtOut.size]), { ignoreIndex: -100 });
      const lambda = this.config.doublyStochastic;
      const loss = attention && lambda > 0 ? add(crossEntropy, mul(this.attentionPenalty(attention, batch.tgtOut), lambda)) : crossEntropy;
      let tokens = 0;
      for (let i = 0; i < batch.tgtOut.size; i++) if (batch.tgtOut.data[i] !== -100) tokens++;
      // Step events show the cross-entropy alone: it is what the validation loss measures.
      return { loss, tokens, reportedLoss: crossEntropy.item() };
    };
  }

  /** Mean cross-entropy of `forward`'s logits against `tgtOut [T, N]` (-100 ignored), plus the attention regulariser. */
  loss(logits: Tensor, attention: Tensor | null, tgtOut: Tensor): Tensor {
    const loss = softmaxCrossEntropy(logits, reshape(tgtOut, [tgtOut.size]), { ignoreIndex: -100 });
    const lambda = this.config.doublyStochastic;
    return attention && lambda > 0 ? add(loss, mul(this.attentionPenalty(attention, tgtOut), lambda)) : loss;
  }

  /** `mean_n Σ_r (1 - Σ_t α_{t,n,r})²` over each caption's real steps. */
  attentionPenalty(attention: Tensor, tgtOut: Tensor): Tensor {
    const [T, N] = tgtOut.shape as [number, number];
    const m = attention.dtype === "float64" ? new Float64Array(T * N) : new Float32Array(T * N);
    for (let i = 0; i < T * N; i++) m[i] = tgtOut.data[i] === -100 ? 0 : 1;
    const real = new Tensor(m, [T, N, 1]); // 1 on the caption's steps, 0 on padding
    const total = sum(mul(attention, real), 0); // (N, S): how much each region was attended to
    return mean(sum(mul(sub(1, total), sub(1, total)), 1));
  }

  private dropper(options: { training?: boolean; rng?: Rng }): (x: Tensor) => Tensor {
    const p = this.config.dropout;
    if (!(options.training && p > 0)) return (x) => x;
    if (!options.rng) throw new ValueRangeError("Captioner", "training with dropout needs an rng");
    return (x) => dropout(x, p, options.rng!);
  }
}

/** The encoder a config asks for, and its resolved (stored) config. */
function captionEncoder(
  config: CaptionEncoderConfig | undefined,
  imported: MobileNetV2Encoder | undefined,
): { encoder: ResNetEncoder | MobileNetV2Encoder; resolved: Required<ResNetConfig> | Required<MobileNetEncoderConfig> } {
  const op = "Captioner";
  const kind = config?.kind ?? "resnet";
  if (kind === "mobilenet") {
    const m = config as MobileNetEncoderConfig;
    if (!(imported instanceof MobileNetV2Encoder)) {
      throw new ValueRangeError(op, "a MobileNetV2 encoder needs its imported weights: pass { encoder: await MobileNetV2Encoder.fromNsfwjs() } as the second argument, or build the captioner with await Captioner.create(config)");
    }
    const frozen = m.frozen ?? true;
    if (typeof frozen !== "boolean") throw new ValueRangeError(op, `encoder.frozen must be true or false, got ${JSON.stringify(frozen)}`);
    if (m.weights !== undefined && m.weights !== imported.fingerprint) {
      throw new ValueRangeError(
        op,
        `this model was trained on MobileNetV2 weights ${m.weights}, but the imported ones are ${imported.fingerprint}: install the nsfwjs version it was trained with`,
      );
    }
    return { encoder: imported, resolved: { kind: "mobilenet", frozen, weights: imported.fingerprint } };
  }
  if (kind !== "resnet") throw new ValueRangeError(op, `encoder.kind must be "resnet" or "mobilenet", got ${JSON.stringify(kind)}`);
  const { kind: _, ...shape } = (config ?? {}) as ResNetConfig & { kind?: "resnet" };
  const encoder = new ResNetEncoder(shape);
  return { encoder, resolved: { channels: encoder.channels, blocks: encoder.blocks } };
}

/** `(x - mean) / sqrt(var + 1e-5)` over the last axis (a layer normalisation without its scale and shift). */
function standardise(x: Tensor): Tensor {
  const axis = x.rank - 1;
  const centred = sub(x, mean(x, axis, true));
  return div(centred, sqrt(add(mean(mul(centred, centred), axis, true), 1e-5)));
}

/** `[h·w, 4]`: column q averages the regions of quadrant q (top left, top right, bottom left, bottom right); a 1-wide grid shares its middle. */
function quadrantPooling([h, w]: readonly [number, number], dtype: string): Tensor {
  const m = dtype === "float64" ? new Float64Array(h * w * 4) : new Float32Array(h * w * 4);
  const halves = (n: number): [number, number][] => [[0, Math.ceil(n / 2)], [Math.floor(n / 2), n]];
  halves(h).forEach(([y0, y1], qy) => {
    halves(w).forEach(([x0, x1], qx) => {
      const q = qy * 2 + qx;
      const count = (y1 - y0) * (x1 - x0);
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[(y * w + x) * 4 + q] = 1 / count;
    });
  });
  return new Tensor(m, [h * w, 4]);
}
