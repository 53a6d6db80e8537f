// The workloads written with unroll's public APIs: @unroll/tensor ops and autodiff, @unroll/cells
// layers, @unroll/train's Adam and clipping. The same models as tfjs-models.ts and ../../pytorch/workloads.py.
import {
  fromArray,
  gather,
  getKernels,
  type Kernels,
  matmul,
  noGrad,
  pinTensors,
  reshape,
  softmax,
  softmaxCrossEntropy,
  type Tensor,
  treeLeaves,
  valueAndGrad,
  withKernels,
} from "@unroll/tensor";
import { LSTM, Linear, type RecurrentState } from "@unroll/cells";
import { Seq2Seq } from "@unroll/nlp";
import { adam, clipGradNorm } from "@unroll/train";
import { ResNetEncoder, type ResNetParams } from "@unroll/vision";
import type { CnnShape, GenShape, LmShape, Seq2SeqShape, TrainSettings, WorkloadSpec } from "../config.js";
import { DataRng, sampleIndex } from "../data.js";
import { CNN_IMAGES, draw, type Drawn, samplerSeed } from "../weights.js";
import { type Runnable, UnsupportedWorkload } from "./harness.js";
import { batchParts, CompileError, type CompiledStep, compileStep } from "@unroll/onnx";

const ints = (values: Int32Array, shape: number[]): Tensor => fromArray(values, { shape, dtype: "int32" });

/** The drawn weights as tensors, by name (see ../weights.ts). */
function tensors(drawn: Drawn): (name: string) => Tensor {
  return (name) => {
    const w = drawn.weights.get(name);
    if (!w) throw new Error(`no weight ${name}`);
    return fromArray(w.values, { shape: [...w.shape] });
  };
}

/** An LSTM layer's parameters under PyTorch's names, from `prefix.weight_ih_l0`, ... */
function lstmParams(get: (name: string) => Tensor, prefix: string, lstm: LSTM): Record<string, Tensor> {
  return Object.fromEntries(Object.keys(lstm.parameterShapes()).map((k) => [k, get(`${prefix}.${k}`)]));
}

/** The character language model of W1-W3: embedding -> stacked LSTM -> linear. */
function lmModel(s: { vocab: number; embedding: number; hidden: number; layers: number }, drawn: Drawn) {
  const get = tensors(drawn);
  const lstm = new LSTM({ inputSize: s.embedding, hiddenSize: s.hidden, numLayers: s.layers });
  const head = new Linear(s.hidden, s.vocab);
  const params = { embedding: get("embedding"), lstm: lstmParams(get, "lstm", lstm), head: { weight: get("head.weight"), bias: get("head.bias") } };
  return { lstm, head, params };
}

/** One Adam step after clipping, returning the loss. */
function trainer<P>(loss: (p: P) => Tensor, params: P, train: TrainSettings): () => number {
  const step = valueAndGrad(loss);
  const opt = adam({ lr: train.lr, betas: [0.9, 0.999], eps: 1e-8 });
  return () => {
    const { value, grads } = step(params);
    const g = train.clipNorm === null ? grads : clipGradNorm(grads, train.clipNorm).grads;
    opt.step(params, g);
    return value.item();
  };
}

/** W1, W2: embedding -> LSTM over all steps (`LSTM.forward`) -> linear -> mean cross-entropy over B·T, full BPTT. */
export function lmTrain(s: LmShape, train: TrainSettings, drawn: Drawn): Runnable {
  const { lstm, head, params } = lmModel(s, drawn);
  const tokens = ints(drawn.data.get("tokens")!, [s.steps, s.batch]); // (T, B)
  const targets = ints(drawn.data.get("targets")!, [s.steps * s.batch]); // (T·B)
  const loss = (p: typeof params): Tensor => {
    const x = gather(p.embedding, tokens); // (T, B, E)
    const { output } = lstm.forward(p.lstm, x); // (T, B, H)
    const logits = head.forward(p.head, reshape(output, [s.steps * s.batch, s.hidden])); // (T·B, V)
    return softmaxCrossEntropy(logits, targets);
  };
  return { run: trainer(loss, params, train) };
}

/**
 * W3: batch 1, one character at a time through `LSTM.step`, sampled from the softmax and fed back.
 * The weights are pinned for the run (`pinTensors`: kept in the WebAssembly memory instead of
 * copied in for every product), as `unroll sample` does; the pinning's copy is part of the run.
 */
export function lmGenerate(s: GenShape, drawn: Drawn, seed: number): Runnable {
  const { lstm, head, params } = lmModel(s, drawn);
  const sampled: number[] = [];
  return {
    run: () => {
      const sampler = new DataRng(samplerSeed(seed));
      sampled.length = 0;
      const release = pinTensors(treeLeaves(params));
      try {
        noGrad(() => {
          let state: RecurrentState = lstm.initialState(1);
          let ch = 0;
          for (let i = 0; i < s.chars; i++) {
            const x = gather(params.embedding, ints(Int32Array.of(ch), [1])); // (1, E)
            const r = lstm.step(params.lstm, state, x);
            state = r.state;
            const probs = softmax(head.forward(params.head, r.output)); // (1, V)
            ch = sampleIndex(probs.data, sampler.next());
            sampled.push(ch);
          }
        });
      } finally {
        release();
      }
      return undefined;
    },
    sample: () => sampled,
  };
}

/**
 * W4 on the project's own translation model, nlp's `Seq2Seq` (unidirectional LSTM encoder, LSTM
 * decoder stepped per target position from the encoder's final state, Bahdanau attention from the
 * previous decoder state: e_s = vᵀ tanh(W_q h_{t-1} + W_k h^enc_s), α = softmax_s(e),
 * ctx = Σ_s α_s h^enc_s; the decoder reads [E y_{t-1}; ctx], the output layer [h_t; ctx]), its
 * loss (mean cross-entropy over B·T target tokens), Adam.
 */
/** W4's model, parameters and batch, and its loss as a function of parameters and batch. */
export function seq2seqModel(s: Seq2SeqShape, drawn: Drawn) {
  const get = tensors(drawn);
  const { batch: B, srcLength: S, tgtLength: T, hidden: H, attention: A, embedding: E } = s;
  const model = new Seq2Seq({
    srcVocabSize: s.srcVocab, tgtVocabSize: s.tgtVocab, embeddingSize: E, encoderHiddenSize: H, decoderHiddenSize: H,
    attentionSize: A, cell: "lstm", bidirectional: false, attention: "bahdanau",
  });
  const lstm = (prefix: string): Record<string, Tensor> =>
    Object.fromEntries(["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"].map((k) => [`${prefix}.rnn.${k}`, get(`${prefix}.${k}`)]));
  const params = model.paramsFromStateDict({
    "encoder.embedding.weight": get("src_embedding"),
    "decoder.embedding.weight": get("tgt_embedding"),
    ...lstm("encoder"),
    ...lstm("decoder"),
    "attention.query.weight": get("attention.query"),
    "attention.key.weight": get("attention.key"),
    "attention.v": reshape(get("attention.v"), [A]),
    "head.weight": get("out.weight"),
    "head.bias": get("out.bias"),
  });
  const batch = {
    src: ints(drawn.data.get("src")!, [S, B]),
    srcLengths: ints(new Int32Array(B).fill(S), [B]),
    tgtIn: ints(drawn.data.get("tgt_in")!, [T, B]), // BOS + target[:-1] in a real task
  };
  const tgtOut = ints(drawn.data.get("tgt_out")!, [T, B]);
  const loss = (p: typeof params, b: typeof batch & { tgtOut: Tensor }) => ({ loss: model.loss(model.forward(p, b).logits, b.tgtOut) });
  return { params, batch: { ...batch, tgtOut }, loss };
}

export function seq2seqTrain(s: Seq2SeqShape, train: TrainSettings, drawn: Drawn): Runnable {
  const { params, batch, loss } = seq2seqModel(s, drawn);
  return { run: trainer((p: typeof params) => loss(p, batch).loss, params, train) };
}

/** vision's ResNetEncoder and its parameters from the drawn weights (state-dict names), and the images. */
function cnnModel(s: CnnShape, drawn: Drawn) {
  const get = tensors(drawn);
  const encoder = new ResNetEncoder({ channels: s.channels, blocks: s.blocks });
  const conv = (name: string) => ({ weight: get(`${name}.weight`), bias: get(`${name}.bias`) });
  const params: ResNetParams = {
    stages: s.channels.map((_, stage) => ({
      down: conv(`stages.${stage}.down`),
      blocks: Array.from({ length: s.blocks }, (_, b) => ({ conv1: conv(`stages.${stage}.blocks.${b}.conv1`), conv2: conv(`stages.${stage}.blocks.${b}.conv2`) })),
    })),
  };
  return { encoder, params, images: get(CNN_IMAGES) };
}

/** The mean of the pooled features, a checksum every engine's forward pass must reproduce (post-ReLU, so no cancellation). */
export function pooledChecksum(pooled: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < pooled.length; i++) s += pooled[i]!;
  return s / pooled.length;
}

/**
 * W5: `ResNetEncoder.forward` on the batch without recording (inference): the pooled vector and
 * the region grid `[N, h·w, C]` it returns; the run's "loss" is the pooled checksum.
 */
export function cnnForward(s: CnnShape, drawn: Drawn): Runnable {
  const { encoder, params, images } = cnnModel(s, drawn);
  return { run: () => pooledChecksum(noGrad(() => encoder.forward(params, images)).pooled.data) };
}

/** W6: one training step: the encoder, mean cross-entropy of the pooled vector (as logits) against the labels, Adam. */
export function cnnTrain(s: CnnShape, train: TrainSettings, drawn: Drawn): Runnable {
  const { encoder, params, images } = cnnModel(s, drawn);
  const labels = ints(drawn.data.get("labels")!, [s.batch]);
  const loss = (p: ResNetParams): Tensor => softmaxCrossEntropy(encoder.forward(p, images).pooled, labels);
  return { run: trainer(loss, params, train) };
}

/** C = A·B for n×n float32 matrices. */
export function matmulRun(drawn: Drawn): Runnable {
  const get = tensors(drawn);
  const a = get("a");
  const b = get("b");
  return {
    run: () => {
      matmul(a, b);
      return undefined;
    },
  };
}

/**
 * W1, W2 (and W4 where its model compiles) with the loss and gradients of each step from the step
 * compiled into one onnxruntime graph (@unroll/onnx `compileStep`, compiled once before the timed
 * runs: the compile time is a note); clipping and Adam as in `trainer`, on the JavaScript side.
 */
export async function buildCompiled(spec: WorkloadSpec, seed: number, threads: number): Promise<Runnable> {
  if (spec.kind !== "lm-train" && spec.kind !== "seq2seq-train") {
    throw new UnsupportedWorkload("the compiled engine runs training steps (W1, W2, W4); generation and products run on the library's kernels");
  }
  const drawn = draw(spec, seed);
  // As onnxruntimeEngine runs its sessions: without the memory arena and memory patterns.
  const sessionOptions = { intraOpNumThreads: threads, enableCpuMemArena: false, enableMemPattern: false };
  // onnxruntime's memory is native: process.memoryUsage()'s heap figures do not see it, the
  // resident set size does (with code, JIT and allocator slack: an upper bound of what a step holds).
  (globalThis as { gc?: () => void }).gc?.();
  const rssBefore = process.memoryUsage().rss;
  const start = performance.now();
  let step: CompiledStep<unknown, unknown>;
  let params: unknown;
  let batch: Tensor[];
  try {
    if (spec.kind === "lm-train") {
      const s = spec.shape;
      const { lstm, head, params: p } = lmModel(s, drawn);
      const tokens = ints(drawn.data.get("tokens")!, [s.steps, s.batch]);
      const targets = ints(drawn.data.get("targets")!, [s.steps * s.batch]);
      const loss = (q: typeof p, b: { tokens: Tensor; targets: Tensor }) => {
        const { output } = lstm.forward(q.lstm, gather(q.embedding, b.tokens));
        return { loss: softmaxCrossEntropy(head.forward(q.head, reshape(output, [s.steps * s.batch, s.hidden])), b.targets) };
      };
      step = (await compileStep(loss, { params: p, batch: { tokens, targets }, carry: undefined }, { sessionOptions })) as CompiledStep<unknown, unknown>;
      params = p;
      batch = [tokens, targets];
    } else {
      const m = seq2seqModel(spec.shape, drawn);
      step = (await compileStep(m.loss, { params: m.params, batch: m.batch, carry: undefined }, { sessionOptions })) as CompiledStep<unknown, unknown>;
      params = m.params;
      batch = batchParts(m.batch).tensors;
    }
  } catch (e) {
    if (e instanceof CompileError) throw new UnsupportedWorkload(e.message);
    throw e;
  }
  const compileSeconds = (performance.now() - start) / 1000;
  const rssCompiled = process.memoryUsage().rss;
  let rssPeak = rssCompiled;
  const train = spec.train;
  const opt = adam({ lr: train.lr, betas: [0.9, 0.999], eps: 1e-8 });
  const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);
  const compiledNote = `compiled in ${compileSeconds.toFixed(2)} s: ${step.nodeCount} ONNX nodes, onnxruntime intraOpNumThreads ${threads}`;
  return {
    // Read after the timed runs, so the peak is theirs.
    get notes() {
      return [
        compiledNote,
        `resident set size ${mib(rssBefore)} MiB before compiling, ${mib(rssCompiled)} MiB compiled (+${mib(rssCompiled - rssBefore)}), at most ${mib(rssPeak)} MiB after a training step (+${mib(rssPeak - rssBefore)}; onnxruntime's memory arena off)`,
      ];
    },
    run: async () => {
      const { loss, grads } = await step.run(params, batch, undefined);
      const g = train.clipNorm === null ? grads : clipGradNorm(grads, train.clipNorm).grads;
      opt.step(params, g);
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      return loss;
    },
    dispose: () => void step.release(),
  };
}

export function buildUnroll(spec: WorkloadSpec, seed: number): Runnable {
  const drawn = draw(spec, seed);
  switch (spec.kind) {
    case "lm-train":
      return lmTrain(spec.shape, spec.train, drawn);
    case "lm-generate":
      return lmGenerate(spec.shape, drawn, seed);
    case "seq2seq-train":
      return seq2seqTrain(spec.shape, spec.train, drawn);
    case "cnn-forward":
      return cnnForward(spec.shape, drawn);
    case "cnn-train":
      return cnnTrain(spec.shape, spec.train, drawn);
    case "matmul":
      return matmulRun(drawn);
  }
}

/**
 * Peak live memory of W1 training: heapUsed + arrayBuffers after a full garbage collection
 * (node --expose-gc), plus the kernel table's WebAssembly memory (`memoryBytes`), sampled at the end of every forward pass, after every backward pass and,
 * through a wrapper around the active kernel table, before every `kernelStride`-th kernel call, so
 * that the transient buffers of the backward pass are seen too. Several steps, so that Adam's
 * moments exist. (One gc() call can return before V8 has released the freed ArrayBuffers'
 * memory; three in a row do.)
 */
export function lmTrainMemory(
  s: LmShape,
  train: TrainSettings,
  seed: number,
  { steps = 3, kernelStride = 1 } = {},
): { baselineMB: number; peakMB: number; peakAt: string; baselineRssMB: number; peakRssMB: number; samples: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("memory measurement needs node --expose-gc");
  const MIB = 2 ** 20;
  let peakRssMB = 0;
  let samples = 0;
  const sample = (): number => {
    gc();
    gc();
    gc();
    samples++;
    const m = process.memoryUsage();
    peakRssMB = Math.max(peakRssMB, m.rss / MIB);
    // A WebAssembly memory is not in arrayBuffers: the kernel table reports its size.
    return (m.heapUsed + m.arrayBuffers + (getKernels().memoryBytes?.() ?? 0)) / MIB;
  };
  const baselineMB = sample();
  const baselineRssMB = peakRssMB;
  // Built in a function so that the drawn arrays are garbage once the tensors hold copies.
  const build = () => {
    const drawn = draw({ id: "W1", kind: "lm-train", shape: s, train }, seed);
    const tokens = ints(drawn.data.get("tokens")!, [s.steps, s.batch]);
    const targets = ints(drawn.data.get("targets")!, [s.steps * s.batch]);
    return { ...lmModel(s, drawn), tokens, targets };
  };
  const { lstm, head, params, tokens, targets } = build();
  let peakMB = baselineMB;
  let peakAt = "baseline";
  let phase = "forward";
  const note = (mb: number, at: string): void => {
    if (mb > peakMB) [peakMB, peakAt] = [mb, at];
  };
  const inner = getKernels();
  let calls = 0;
  const watched = Object.fromEntries(
    Object.entries(inner).map(([k, f]) => [
      k,
      typeof f === "function" && k !== "memoryBytes"
        ? (...args: unknown[]) => {
            if (++calls % kernelStride === 0) note(sample(), `during ${phase} (before a ${k} kernel)`);
            return (f as (...a: unknown[]) => unknown).apply(inner, args);
          }
        : f,
    ]),
  ) as unknown as Kernels;
  const step = valueAndGrad((p: typeof params): Tensor => {
    phase = "forward";
    const { output } = lstm.forward(p.lstm, gather(p.embedding, tokens));
    const l = softmaxCrossEntropy(head.forward(p.head, reshape(output, [s.steps * s.batch, s.hidden])), targets);
    note(sample(), "end of forward");
    phase = "backward";
    return l;
  });
  const opt = adam({ lr: train.lr });
  withKernels(watched, () => {
    for (let i = 0; i < steps; i++) {
      const { grads } = step(params);
      note(sample(), "after backward");
      phase = "clipping and the update";
      opt.step(params, train.clipNorm === null ? grads : clipGradNorm(grads, train.clipNorm).grads);
    }
  });
  return { baselineMB, peakMB, peakAt, baselineRssMB, peakRssMB, samples };
}
