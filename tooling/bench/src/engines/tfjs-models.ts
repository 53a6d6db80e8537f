// The workloads in TensorFlow.js core ops (tf.variableGrads, tf.train.adam), the same models as
// unroll-models.ts: an LSTM written out with matMul/split/sigmoid/tanh exactly as PyTorch's cell
// (gates i, f, g, o; two biases), input projections of all steps in one product.
import * as tf from "@tensorflow/tfjs";
import type { CnnShape, GenShape, LmShape, MatmulShape, Seq2SeqShape, TrainSettings, WorkloadSpec } from "../config.js";
import { DataRng, sampleIndex } from "../data.js";
import { CNN_IMAGES, draw, type Drawn, samplerSeed } from "../weights.js";
import { type Runnable, UnsupportedWorkload } from "./harness.js";

export interface TfjsOptions {
  /**
   * Embedding lookup in training as a product with a constant one-hot matrix instead of
   * `tf.gather`. The gradient of gather is `UnsortedSegmentSum`, which tfjs 4.22's WebAssembly
   * backend lacks and its CPU backend computes with one masked full-tensor sum per vocabulary
   * entry (about 12 s for one W4 embedding, 640 rows of 128 into 1000, on the development
   * machine: most of the step). The one-hot product gives the same values and gradients, faster
   * on both backends, so both use it.
   */
  readonly oneHotEmbedding: boolean;
}

export const ONE_HOT_NOTE =
  "embedding in training as a one-hot product (tf.gather's gradient, UnsortedSegmentSum, is missing on the wasm backend and takes seconds per step on the cpu backend)";

interface LstmWeights {
  readonly wih: tf.Variable; // [4H, I]
  readonly whh: tf.Variable; // [4H, H]
  readonly bih: tf.Variable; // [4H]
  readonly bhh: tf.Variable; // [4H]
}

let counter = 0;
/** A trainable variable holding the drawn weight `name` (see ../weights.ts). */
function variables(drawn: Drawn): (name: string) => tf.Variable {
  return (name) => {
    const w = drawn.weights.get(name);
    if (!w) throw new Error(`no weight ${name}`);
    return tf.variable(tf.tensor(w.values, [...w.shape], "float32"), true, `${name}_${counter++}`);
  };
}

function lstmWeights(get: (name: string) => tf.Variable, prefix: string, layer: number): LstmWeights {
  return {
    wih: get(`${prefix}.weight_ih_l${layer}`),
    whh: get(`${prefix}.weight_hh_l${layer}`),
    bih: get(`${prefix}.bias_ih_l${layer}`),
    bhh: get(`${prefix}.bias_hh_l${layer}`),
  };
}

/** One LSTM step from the input side `xProj` = x W_ihᵀ + b_ih: PyTorch's equations. */
function lstmStep(w: LstmWeights, xProj: tf.Tensor2D, h: tf.Tensor2D, c: tf.Tensor2D): [tf.Tensor2D, tf.Tensor2D] {
  const z = tf.add(tf.add(xProj, tf.matMul(h, w.whh, false, true)), w.bhh) as tf.Tensor2D; // (B, 4H)
  const [i, f, g, o] = tf.split(z, 4, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
  const cNext = tf.add(tf.mul(tf.sigmoid(f), c), tf.mul(tf.sigmoid(i), tf.tanh(g))) as tf.Tensor2D;
  const hNext = tf.mul(tf.sigmoid(o), tf.tanh(cNext)) as tf.Tensor2D;
  return [hNext, cNext];
}

/** One LSTM layer over T steps of `x` `[T·B, I]` (time-major rows): outputs `[T·B, H]` and the final state. */
function lstmLayer(w: LstmWeights, x: tf.Tensor2D, T: number, B: number, H: number, h0?: tf.Tensor2D, c0?: tf.Tensor2D) {
  const xProj = tf.add(tf.matMul(x, w.wih, false, true), w.bih) as tf.Tensor2D; // all steps at once
  const steps = tf.split(xProj, T, 0) as tf.Tensor2D[];
  let h = h0 ?? tf.zeros<tf.Rank.R2>([B, H]);
  let c = c0 ?? tf.zeros<tf.Rank.R2>([B, H]);
  const hs: tf.Tensor2D[] = [];
  for (let t = 0; t < T; t++) {
    [h, c] = lstmStep(w, steps[t]!, h, c);
    hs.push(h);
  }
  return { output: tf.concat(hs, 0) as tf.Tensor2D, h, c };
}

/**
 * Embedding rows for int32 `indices` `[N]`: gather, or a one-hot product (see `TfjsOptions`).
 * The constant tensors it makes go into `keep`, to be disposed with the workload.
 */
function embedder(table: tf.Variable, indices: Int32Array, vocab: number, options: TfjsOptions, keep: tf.Tensor[]): () => tf.Tensor2D {
  const idx = tf.tensor1d(indices, "int32");
  keep.push(idx);
  if (!options.oneHotEmbedding) return () => tf.gather(table, idx) as tf.Tensor2D;
  const oneHot = tf.tidy(() => tf.oneHot(idx, vocab).toFloat()) as tf.Tensor2D; // constant (N, V)
  keep.push(oneHot);
  return () => tf.matMul(oneHot, table as tf.Tensor2D);
}

/** One-hot float targets `[N, V]` for tf.losses.softmaxCrossEntropy. */
function oneHotTargets(indices: Int32Array, vocab: number, keep: tf.Tensor[]): tf.Tensor2D {
  const t = tf.tidy(() => tf.oneHot(tf.tensor1d(indices, "int32"), vocab).toFloat()) as tf.Tensor2D;
  keep.push(t);
  return t;
}

/** A training step: gradients of all variables, global-norm clip (as PyTorch's clip_grad_norm_), Adam. */
function trainStep(loss: () => tf.Scalar, vars: readonly tf.Variable[], constants: readonly tf.Tensor[], train: TrainSettings): Runnable {
  const opt = tf.train.adam(train.lr, 0.9, 0.999, 1e-8);
  const run = (): number => {
    const { value, grads } = tf.variableGrads(loss, [...vars]);
    let applied = grads;
    if (train.clipNorm !== null) {
      const norm = tf.tidy(() => tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))))).dataSync()[0]!;
      const coef = train.clipNorm / (norm + 1e-6);
      if (coef < 1) applied = tf.tidy(() => Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.mul(g, coef)])));
    }
    opt.applyGradients(Object.entries(applied).map(([name, tensor]) => ({ name, tensor })));
    const lossValue = value.dataSync()[0]!;
    tf.dispose([value, grads, applied]);
    return lossValue;
  };
  return {
    run,
    dispose: () => {
      opt.dispose();
      tf.dispose([...vars, ...constants]);
    },
  };
}

function lmVariables(s: { layers: number }, drawn: Drawn) {
  const get = variables(drawn);
  return {
    embedding: get("embedding"),
    layers: Array.from({ length: s.layers }, (_, l) => lstmWeights(get, "lstm", l)),
    headW: get("head.weight"),
    headB: get("head.bias"),
  };
}

export function lmTrain(s: LmShape, train: TrainSettings, drawn: Drawn, options: TfjsOptions): Runnable {
  const v = lmVariables(s, drawn);
  const constants: tf.Tensor[] = [];
  const embed = embedder(v.embedding, drawn.data.get("tokens")!, s.vocab, options, constants); // time-major (T·B)
  const targets = oneHotTargets(drawn.data.get("targets")!, s.vocab, constants);
  const loss = (): tf.Scalar => {
    let x = embed(); // (T·B, E)
    for (const w of v.layers) x = lstmLayer(w, x, s.steps, s.batch, s.hidden).output; // (T·B, H)
    const logits = tf.add(tf.matMul(x, v.headW, false, true), v.headB); // (T·B, V)
    return tf.losses.softmaxCrossEntropy(targets, logits) as tf.Scalar; // mean over T·B
  };
  const vars = [v.embedding, ...v.layers.flatMap((w) => [w.wih, w.whh, w.bih, w.bhh]), v.headW, v.headB];
  return { ...trainStep(loss, vars, constants, train), ...(options.oneHotEmbedding ? { notes: [ONE_HOT_NOTE] } : {}) };
}

export function lmGenerate(s: GenShape, drawn: Drawn, seed: number): Runnable {
  const v = lmVariables(s, drawn);
  const sampled: number[] = [];
  return {
    run: () => {
      const sampler = new DataRng(samplerSeed(seed));
      sampled.length = 0;
      let hs = v.layers.map(() => tf.zeros<tf.Rank.R2>([1, s.hidden]));
      let cs = v.layers.map(() => tf.zeros<tf.Rank.R2>([1, s.hidden]));
      let ch = 0;
      for (let i = 0; i < s.chars; i++) {
        const [probs, ...state] = tf.tidy(() => {
          let x = tf.gather(v.embedding, tf.tensor1d([ch], "int32")) as tf.Tensor2D; // (1, E)
          const nh: tf.Tensor2D[] = [];
          const nc: tf.Tensor2D[] = [];
          v.layers.forEach((w, l) => {
            const [h, c] = lstmStep(w, tf.add(tf.matMul(x, w.wih, false, true), w.bih) as tf.Tensor2D, hs[l]!, cs[l]!);
            nh.push(h);
            nc.push(c);
            x = h;
          });
          return [tf.softmax(tf.add(tf.matMul(x, v.headW, false, true), v.headB)), ...nh, ...nc];
        });
        tf.dispose([...hs, ...cs]);
        hs = state.slice(0, v.layers.length) as tf.Tensor2D[];
        cs = state.slice(v.layers.length) as tf.Tensor2D[];
        const p = probs!.dataSync();
        probs!.dispose();
        ch = sampleIndex(p, sampler.next());
        sampled.push(ch);
      }
      tf.dispose([...hs, ...cs]);
      return undefined;
    },
    sample: () => sampled,
    dispose: () => tf.dispose([v.embedding, ...v.layers.flatMap((w) => [w.wih, w.whh, w.bih, w.bhh]), v.headW, v.headB]),
  };
}

/**
 * W4 as unroll-models.ts's `seq2seqTrain`. tfjs's softmax works on the last axis only, so the
 * attention runs batch-major (`[B, S, ·]`, the encoder output transposed once); the arithmetic is
 * the same.
 */
export function seq2seqTrain(s: Seq2SeqShape, train: TrainSettings, drawn: Drawn, options: TfjsOptions): Runnable {
  const get = variables(drawn);
  const { batch: B, srcLength: S, tgtLength: T, hidden: H, attention: A } = s;
  const srcEmbedding = get("src_embedding");
  const tgtEmbedding = get("tgt_embedding");
  const encoder = lstmWeights(get, "encoder", 0);
  const decoder = lstmWeights(get, "decoder", 0);
  const wq = get("attention.query"); // (A, H)
  const wk = get("attention.key"); // (A, H)
  const va = get("attention.v"); // (A, 1)
  const outW = get("out.weight");
  const outB = get("out.bias");
  const constants: tf.Tensor[] = [];
  const embedSrc = embedder(srcEmbedding, drawn.data.get("src")!, s.srcVocab, options, constants); // time-major (S·B)
  const embedTgt = embedder(tgtEmbedding, drawn.data.get("tgt_in")!, s.tgtVocab, options, constants); // (T·B)
  const targets = oneHotTargets(drawn.data.get("tgt_out")!, s.tgtVocab, constants);
  const loss = (): tf.Scalar => {
    const enc = lstmLayer(encoder, embedSrc(), S, B, H); // output (S·B, H)
    const encB = tf.transpose(tf.reshape(enc.output, [S, B, H]), [1, 0, 2]); // (B, S, H)
    const keys = tf.reshape(tf.matMul(tf.reshape(encB, [B * S, H]), wk, false, true), [B, S, A]); // W_k h_enc, once
    const ys = tf.split(embedTgt(), T, 0) as tf.Tensor2D[]; // T × (B, E)
    let h = enc.h;
    let c = enc.c;
    const outputs: tf.Tensor2D[] = [];
    for (let t = 0; t < T; t++) {
      const q = tf.reshape(tf.matMul(h, wq, false, true), [B, 1, A]);
      const e = tf.tanh(tf.add(keys, q)); // (B, S, A)
      const scores = tf.reshape(tf.matMul(tf.reshape(e, [B * S, A]), va), [B, S]);
      const alpha = tf.softmax(scores); // over the source positions
      const context = tf.sum(tf.mul(tf.reshape(alpha, [B, S, 1]), encB), 1) as tf.Tensor2D; // (B, H)
      const x = tf.concat([ys[t]!, context], 1) as tf.Tensor2D; // (B, E + H)
      [h, c] = lstmStep(decoder, tf.add(tf.matMul(x, decoder.wih, false, true), decoder.bih) as tf.Tensor2D, h, c);
      outputs.push(tf.concat([h, context], 1) as tf.Tensor2D); // (B, 2H): the state and the context

    }
    const logits = tf.add(tf.matMul(tf.concat(outputs, 0), outW, false, true), outB); // (T·B, V)
    return tf.losses.softmaxCrossEntropy(targets, logits) as tf.Scalar;
  };
  const vars = [srcEmbedding, tgtEmbedding, ...[encoder, decoder].flatMap((w) => [w.wih, w.whh, w.bih, w.bhh]), wq, wk, va, outW, outB];
  return { ...trainStep(loss, vars, constants, train), ...(options.oneHotEmbedding ? { notes: [ONE_HOT_NOTE] } : {}) };
}

interface ConvVariables {
  readonly filter: tf.Variable; // [3, 3, C_in, C_out] (HWIO)
  readonly bias: tf.Variable; // [C_out]
}

/**
 * W5, W6's encoder in NHWC, TensorFlow.js's layout (its backends run convolutions in it): the drawn
 * `[C_out, C_in, 3, 3]` weights become `[3, 3, C_in, C_out]` filters and the NCHW images NHWC,
 * once, outside the timing.
 */
function cnnVariables(s: CnnShape, drawn: Drawn, trainable: boolean) {
  const w = (name: string) => {
    const t = drawn.weights.get(name);
    if (!t) throw new Error(`no weight ${name}`);
    return t;
  };
  const conv = (name: string): ConvVariables => {
    const weight = w(`${name}.weight`);
    const filter = tf.tidy(() => tf.transpose(tf.tensor4d(weight.values, weight.shape as [number, number, number, number]), [2, 3, 1, 0]));
    return { filter: tf.variable(filter, trainable, `${name}.filter_${counter++}`), bias: tf.variable(tf.tensor1d(w(`${name}.bias`).values), trainable, `${name}.bias_${counter++}`) };
  };
  const stages = s.channels.map((_, stage) => ({
    down: conv(`stages.${stage}.down`),
    blocks: Array.from({ length: s.blocks }, (_, b) => ({ conv1: conv(`stages.${stage}.blocks.${b}.conv1`), conv2: conv(`stages.${stage}.blocks.${b}.conv2`) })),
  }));
  const images = tf.tidy(() => tf.transpose(tf.tensor4d(w(CNN_IMAGES).values, [s.batch, 3, s.size, s.size]), [0, 2, 3, 1])) as tf.Tensor4D;
  const vars = stages.flatMap((st) => [st.down, ...st.blocks.flatMap((b) => [b.conv1, b.conv2])]).flatMap((c) => [c.filter, c.bias]);
  return { stages, images, vars };
}

/** PyTorch's padding 1 on both sides of H and W (tf's "same" pads a stride-2 convolution of an even size at the bottom/right only). */
const PAD_1: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [1, 1], [1, 1], [0, 0]];

/** A 3×3 convolution with bias and optional ReLU as one fused op (`tf.fused.conv2d`: XNNPACK fuses them on the wasm backend). */
function fusedConv(x: tf.Tensor4D, c: ConvVariables, stride: number, relu: boolean): tf.Tensor4D {
  return tf.fused.conv2d({ x, filter: c.filter as tf.Tensor4D, strides: stride, pad: PAD_1, bias: c.bias, activation: relu ? "relu" : "linear" });
}

/** ResNetEncoder.forward in NHWC: the pooled vector `[N, C]` and the region grid `[N, h·w, C]` (a reshape in this layout). */
function cnnEncode(v: ReturnType<typeof cnnVariables>): { pooled: tf.Tensor2D; regions: tf.Tensor3D } {
  let x = v.images;
  for (const stage of v.stages) {
    x = fusedConv(x, stage.down, 2, true);
    for (const block of stage.blocks) x = tf.relu(tf.add(x, fusedConv(fusedConv(x, block.conv1, 1, true), block.conv2, 1, false)));
  }
  const [N, h, w, C] = x.shape;
  return { pooled: tf.mean(x, [1, 2]), regions: tf.reshape(x, [N, h * w, C]) };
}

/** The mean of the pooled features (see unroll-models.ts's pooledChecksum). */
function pooledChecksum(pooled: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < pooled.length; i++) s += pooled[i]!;
  return s / pooled.length;
}

/** W5: the encoder's forward pass (no gradients), the pooled vector read back. */
export function cnnForward(s: CnnShape, drawn: Drawn): Runnable {
  const v = cnnVariables(s, drawn, false);
  return {
    run: () => {
      const pooled = tf.tidy(() => cnnEncode(v).pooled);
      const checksum = pooledChecksum(pooled.dataSync());
      pooled.dispose();
      return checksum;
    },
    notes: ["fused conv2d + bias + ReLU (tf.fused.conv2d), NHWC"],
    dispose: () => tf.dispose([...v.vars, v.images]),
  };
}

/**
 * W6: one training step, the mean cross-entropy of the pooled vector against the labels, Adam.
 * The WebAssembly backend of 4.22 has no Conv2DBackpropFilter kernel (a convolution's weight
 * gradient), so it cannot run this step.
 */
export function cnnTrain(s: CnnShape, train: TrainSettings, drawn: Drawn): Runnable {
  if (tf.getKernel("Conv2DBackpropFilter", tf.getBackend()) === undefined) {
    throw new UnsupportedWorkload(`the ${tf.getBackend()} backend has no Conv2DBackpropFilter kernel (a convolution's weight gradient)`);
  }
  const v = cnnVariables(s, drawn, true);
  const constants: tf.Tensor[] = [v.images];
  const labels = oneHotTargets(drawn.data.get("labels")!, s.channels.at(-1)!, constants);
  const loss = (): tf.Scalar => tf.losses.softmaxCrossEntropy(labels, cnnEncode(v).pooled) as tf.Scalar;
  return { ...trainStep(loss, v.vars, constants, train), notes: ["fused conv2d + bias + ReLU (tf.fused.conv2d), NHWC"] };
}

export function matmulRun(s: MatmulShape, drawn: Drawn): Runnable {
  const a = tf.tensor2d(drawn.weights.get("a")!.values, [s.n, s.n]);
  const b = tf.tensor2d(drawn.weights.get("b")!.values, [s.n, s.n]);
  return {
    // The CPU and WebAssembly backends compute eagerly: the product is done when matMul returns.
    run: () => {
      tf.matMul(a, b).dispose();
      return undefined;
    },
    dispose: () => tf.dispose([a, b]),
  };
}

export function buildTfjs(spec: WorkloadSpec, seed: number, options: TfjsOptions): Runnable {
  const drawn = draw(spec, seed);
  switch (spec.kind) {
    case "lm-train":
      return lmTrain(spec.shape, spec.train, drawn, options);
    case "lm-generate":
      return lmGenerate(spec.shape, drawn, seed);
    case "seq2seq-train":
      return seq2seqTrain(spec.shape, spec.train, drawn, options);
    case "cnn-forward":
      return cnnForward(spec.shape, drawn);
    case "cnn-train":
      return cnnTrain(spec.shape, spec.train, drawn);
    case "matmul":
      return matmulRun(spec.shape, drawn);
  }
}
