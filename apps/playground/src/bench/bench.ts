// The WebGPU checks and the benchmark of the bench page, without the DOM (the page in bench/main.ts
// shows them; the browser test reads them through window.bench). Every exported model family the
// page can build (language models of each cell; the translation model's encoder and decoder-step
// graphs, with beam search in TypeScript over them) runs on onnxruntime-web's WebGPU provider and on
// its WebAssembly provider, beside the library's own engine, on the same inputs.
import { Rng, type Tensor } from "@unroll/tensor";
import {
  beamSearch, CharTokenizer, collect, generateText, LanguageModel, makeBatch, modelStep, Seq2Seq, seq2seqDecoder, type StepFunction, Vocabulary,
} from "@unroll/nlp";
import {
  exportLanguageModel, exportTranslationModel, loweringFor, onnxCaptionDecoder, OnnxSession, onnxStepFunction, onnxTranslationDecoder, type OrtModule,
} from "@unroll/onnx";

export type Provider = "wasm" | "webgpu";
export type Cell = "lstm" | "gru" | "rnn_tanh";

/** The onnxruntime-web builds: "wasm" (onnxruntime-web/wasm) and "webgpu" (onnxruntime-web/webgpu). */
export type Runtimes = Readonly<Record<Provider, OrtModule>>;

const ALPHABET = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ.,;:!?'\"-()\n0123456789";

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return Number.isNaN(d) ? Infinity : d;
}

// onnxruntime's own warning about nodes left to the CPU ("Some nodes were not assigned...", on
// console.error) is turned off: OnnxSession.cpuNodes names them, and the notes carry its message.
const QUIET = { logSeverityLevel: 3 } as const;

async function session(bytes: Uint8Array, runtimes: Runtimes, provider: Provider, notes: string[]): Promise<OnnxSession> {
  return OnnxSession.create(bytes, { runtime: runtimes[provider], executionProviders: [provider], onFallback: (m) => notes.push(m), sessionOptions: QUIET });
}

export interface LanguageModelCheck {
  readonly cell: Cell;
  readonly lowering: string;
  /** The provider each session ran on (a WebGPU that could not start would show "wasm"). */
  readonly providers: Readonly<Record<Provider, string>>;
  /** Nodes the WebGPU provider ran on the CPU (names), from OnnxSession.cpuNodes. */
  readonly cpuNodes: readonly string[];
  readonly steps: number;
  /** Largest |Δ logit| and |Δ state| over every step: WebGPU against wasm, and against the library. */
  readonly webgpuVsWasm: number;
  readonly webgpuVsLibrary: number;
  readonly wasmVsLibrary: number;
  /** The text each engine samples for the same seed. */
  readonly texts: Readonly<Record<Provider | "library", string>>;
  readonly notes: readonly string[];
}

/**
 * A language model's step graph (random weights, 2 layers) on WebGPU, wasm and the library: the
 * logits and the carried state at every step of a token sequence, then sampled text for one seed.
 */
export async function checkLanguageModel(runtimes: Runtimes, cell: Cell, options: { lowering?: "operators" | "unrolled"; hiddenSize?: number; steps?: number; seed?: number } = {}): Promise<LanguageModelCheck> {
  const tokenizer = CharTokenizer.fromText(ALPHABET);
  const model = new LanguageModel({ vocabSize: tokenizer.vocabSize, cell, hiddenSize: options.hiddenSize ?? 64, numLayers: 2, embeddingSize: 16 });
  const params = model.init(new Rng(11));
  const lowering = options.lowering ?? loweringFor("webgpu", cell);
  const bytes = exportLanguageModel(model, params, { lowering, tokenizer });
  const notes: string[] = [];
  const gpu = await session(bytes, runtimes, "webgpu", notes);
  const cpu = await session(bytes, runtimes, "wasm", notes);
  try {
    const library = modelStep(model, params);
    const onGpu = onnxStepFunction(gpu);
    const onCpu = onnxStepFunction(cpu);
    // Batch 2, 8 steps from a zero state: the state outputs are fed back, so a wrong state shows.
    const steps = options.steps ?? 8;
    const rng = new Rng(5);
    let a: Parameters<typeof library>[1] = null;
    let b: Parameters<typeof onGpu>[1] = null;
    let c: Parameters<typeof onCpu>[1] = null;
    let webgpuVsWasm = 0;
    let webgpuVsLibrary = 0;
    let wasmVsLibrary = 0;
    for (let t = 0; t < steps; t++) {
      const tokens = Int32Array.from({ length: 2 }, () => Math.floor(rng.random() * tokenizer.vocabSize));
      const x = await library(tokens, a);
      const y = await onGpu(tokens, b);
      const z = await onCpu(tokens, c);
      a = x.state;
      b = y.state;
      c = z.state;
      webgpuVsWasm = Math.max(webgpuVsWasm, maxAbsDiff(y.logits, z.logits));
      webgpuVsLibrary = Math.max(webgpuVsLibrary, maxAbsDiff(y.logits, x.logits));
      wasmVsLibrary = Math.max(wasmVsLibrary, maxAbsDiff(z.logits, x.logits));
      const libraryState: Tensor[] = [x.state.h, ...(x.state.c ? [x.state.c] : [])];
      libraryState.forEach((s, k) => {
        const name = k === 0 ? "h_0" : "c_0";
        webgpuVsWasm = Math.max(webgpuVsWasm, maxAbsDiff(y.state[name]!.data as Float32Array, z.state[name]!.data as Float32Array));
        webgpuVsLibrary = Math.max(webgpuVsLibrary, maxAbsDiff(y.state[name]!.data as Float32Array, s.data));
        wasmVsLibrary = Math.max(wasmVsLibrary, maxAbsDiff(z.state[name]!.data as Float32Array, s.data));
      });
    }
    const settings = { prime: "The ", maxTokens: 40, temperature: 0.9, seed: options.seed ?? 3 };
    const texts = {
      library: await collect(generateText(library, tokenizer, settings)),
      webgpu: await collect(generateText(onGpu, tokenizer, settings)),
      wasm: await collect(generateText(onCpu, tokenizer, settings)),
    };
    return {
      cell, lowering, providers: { webgpu: gpu.provider, wasm: cpu.provider }, cpuNodes: gpu.cpuNodes.map((n) => n.name), steps,
      webgpuVsWasm, webgpuVsLibrary, wasmVsLibrary, texts, notes,
    };
  } finally {
    await gpu.release();
    await cpu.release();
  }
}

export interface TranslationCheck {
  readonly providers: Readonly<Record<Provider, string>>;
  readonly cpuNodes: readonly string[];
  /** Largest |Δ| over the encoder's rows (memory, keys, mask, first state). */
  readonly encoderWebgpuVsWasm: number;
  /** Largest |Δ logit| over 4 decoder steps (the library's greedy tokens fed to all three). */
  readonly stepWebgpuVsWasm: number;
  readonly stepWebgpuVsLibrary: number;
  /** Beam search (beam 3) over each engine: the best hypothesis of each sentence. */
  readonly beams: Readonly<Record<Provider | "library", readonly (readonly number[])[]>>;
  readonly notes: readonly string[];
}

/** The translation model's encoder and decoder-step graphs on WebGPU, wasm and the library. */
export async function checkTranslation(runtimes: Runtimes): Promise<TranslationCheck> {
  const model = new Seq2Seq({ srcVocabSize: 20, tgtVocabSize: 16, embeddingSize: 8, encoderHiddenSize: 8, decoderHiddenSize: 12, attention: "bahdanau" });
  const params = model.init(new Rng(0));
  const { encoder, decoder } = exportTranslationModel(model, params);
  const notes: string[] = [];
  const sessions = {
    webgpu: [await session(encoder, runtimes, "webgpu", notes), await session(decoder, runtimes, "webgpu", notes)] as const,
    wasm: [await session(encoder, runtimes, "wasm", notes), await session(decoder, runtimes, "wasm", notes)] as const,
  };
  try {
    const onGpu = onnxTranslationDecoder(...sessions.webgpu);
    const onCpu = onnxTranslationDecoder(...sessions.wasm);
    const library = seq2seqDecoder(model, params);
    const sentences = [Int32Array.of(3, 4, 5, 9, 11), Int32Array.of(6, 7), Int32Array.of(12, 13, 14)];
    const batch = makeBatch(sentences.map((src) => ({ src, tgt: new Int32Array(0) })));
    const B = sentences.length;
    const src = batch.src.data as Int32Array;
    const lengths = batch.srcLengths.data as Int32Array;
    const rowsGpu = await onGpu.encode(src, lengths);
    const rowsCpu = await onCpu.encode(src, lengths);
    let encoderWebgpuVsWasm = 0;
    for (const name of Object.keys(rowsCpu)) encoderWebgpuVsWasm = Math.max(encoderWebgpuVsWasm, maxAbsDiff(rowsGpu[name]!.data as Float32Array, rowsCpu[name]!.data as Float32Array));
    const encoded = model.encode(params, batch.src, batch.srcLengths);
    const rowsLibrary = { memory: encoded.memory, state: model.initialDecoderState(encoded) };

    let stepWebgpuVsWasm = 0;
    let stepWebgpuVsLibrary = 0;
    let tokens = new Int32Array(B).fill(Vocabulary.BOS);
    let [a, b, c] = [rowsLibrary, rowsGpu, rowsCpu] as [typeof rowsLibrary, typeof rowsGpu, typeof rowsCpu];
    for (let t = 0; t < 4; t++) {
      const x = await library.step(tokens, a);
      const y = await onGpu.step(tokens, b);
      const z = await onCpu.step(tokens, c);
      stepWebgpuVsWasm = Math.max(stepWebgpuVsWasm, maxAbsDiff(y.logits, z.logits));
      stepWebgpuVsLibrary = Math.max(stepWebgpuVsLibrary, maxAbsDiff(y.logits, x.logits));
      [a, b, c] = [x.state, y.state, z.state];
      const V = x.logits.length / B;
      tokens = Int32Array.from({ length: B }, (_, i) => {
        let best = 0;
        for (let v = 1; v < V; v++) if (x.logits[i * V + v]! > x.logits[i * V + best]!) best = v;
        return best;
      });
    }
    const search = { bos: Vocabulary.BOS, eos: Vocabulary.EOS, maxLength: 10, beamSize: 3 };
    const best = (hs: readonly (readonly { tokens: number[] }[])[]): number[][] => hs.map((h) => [...h[0]!.tokens]);
    const beams = {
      library: best(await beamSearch(library, rowsLibrary, B, search)),
      webgpu: best(await beamSearch(onGpu, rowsGpu, B, search)),
      wasm: best(await beamSearch(onCpu, rowsCpu, B, search)),
    };
    return {
      providers: { webgpu: sessions.webgpu[1].provider, wasm: sessions.wasm[1].provider },
      cpuNodes: [...sessions.webgpu[0].cpuNodes, ...sessions.webgpu[1].cpuNodes].map((n) => n.name),
      encoderWebgpuVsWasm, stepWebgpuVsWasm, stepWebgpuVsLibrary, beams, notes,
    };
  } finally {
    for (const s of [...sessions.webgpu, ...sessions.wasm]) await s.release();
  }
}

export interface Timing {
  readonly engine: string;
  readonly provider: string;
  readonly lowering: string | null;
  readonly tokens: number;
  readonly seconds: number;
  readonly tokensPerSecond: number;
  /** The generated text, the same for every engine at one seed. */
  readonly text: string;
}

export interface BenchOptions {
  readonly cell: Cell;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly tokens: number;
  /** The library's kernels, for the row's label ("wasm-simd", "reference"). */
  readonly kernels?: string;
  /** Called after each engine, so that the page shows rows as they come. */
  readonly onTiming?: (t: Timing) => void;
}

/**
 * Tokens per second generating `tokens` characters at batch 1 from a random-weight model: the
 * library's engine, onnxruntime-web on wasm, and on WebGPU with each lowering, every one after a
 * warm-up of 8 tokens (WebGPU compiles its shaders on first use).
 */
export async function benchmark(runtimes: Runtimes, options: BenchOptions): Promise<Timing[]> {
  const tokenizer = CharTokenizer.fromText(ALPHABET);
  const model = new LanguageModel({ vocabSize: tokenizer.vocabSize, cell: options.cell, hiddenSize: options.hiddenSize, numLayers: options.numLayers, embeddingSize: 64 });
  const params = model.init(new Rng(0));
  const settings = { prime: "The ", maxTokens: options.tokens, temperature: 0.8, seed: 1 };
  const out: Timing[] = [];
  const time = async <S>(engine: string, provider: string, lowering: string | null, step: StepFunction<S>): Promise<void> => {
    await collect(generateText(step, tokenizer, { ...settings, maxTokens: 8 }));
    const t0 = performance.now();
    const text = await collect(generateText(step, tokenizer, settings));
    const seconds = (performance.now() - t0) / 1000;
    const timing = { engine, provider, lowering, tokens: options.tokens, seconds, tokensPerSecond: options.tokens / seconds, text };
    out.push(timing);
    options.onTiming?.(timing);
  };
  await time(`library (${options.kernels ?? "reference"} kernels)`, "library", null, modelStep(model, params));
  const loweringsFor = (provider: Provider): ("operators" | "unrolled")[] => (provider === "wasm" ? ["operators"] : options.cell.startsWith("rnn") ? ["unrolled", "operators"] : ["operators", "unrolled"]);
  for (const provider of ["wasm", "webgpu"] as const) {
    for (const lowering of loweringsFor(provider)) {
      const s = await OnnxSession.create(exportLanguageModel(model, params, { lowering, tokenizer }), { runtime: runtimes[provider], executionProviders: [provider], onFallback: () => {}, sessionOptions: QUIET });
      try {
        await time(`onnxruntime-web, ${lowering}${s.cpuNodes.length > 0 ? ` (${s.cpuNodes.length} nodes on the CPU)` : ""}`, s.provider, lowering, onnxStepFunction(s));
      } finally {
        await s.release();
      }
    }
  }
  return out;
}

export interface CaptioningFiles {
  readonly encoder: Uint8Array;
  readonly decoder: Uint8Array;
  /** `count` images, float32 `[count, 3, H, W]` flattened. */
  readonly images: Float32Array;
  readonly count: number;
}

export interface CaptioningCheck {
  readonly providers: Readonly<Record<Provider, string>>;
  readonly cpuNodes: readonly string[];
  readonly encoderWebgpuVsWasm: number;
  /** Largest |Δ logit| (and attention weight) over 3 steps of greedy tokens (wasm's), WebGPU against wasm. */
  readonly stepWebgpuVsWasm: number;
  /** The first step's logits from BOS on WebGPU (row-major count × vocab), for a comparison with the library. */
  readonly firstLogits: readonly number[];
  readonly beams: Readonly<Record<Provider, readonly (readonly number[])[]>>;
  readonly notes: readonly string[];
}

/**
 * A captioning model's encoder (convolutions) and decoder-step graphs, exported elsewhere (the page
 * has no vision package; the browser test exports them with @unroll/vision in Node), on WebGPU and
 * wasm: the rows, the steps, and beam search (beam 3) over each.
 */
export async function checkCaptioning(runtimes: Runtimes, files: CaptioningFiles): Promise<CaptioningCheck> {
  const notes: string[] = [];
  const sessions = {
    webgpu: [await session(files.encoder, runtimes, "webgpu", notes), await session(files.decoder, runtimes, "webgpu", notes)] as const,
    wasm: [await session(files.encoder, runtimes, "wasm", notes), await session(files.decoder, runtimes, "wasm", notes)] as const,
  };
  try {
    const onGpu = onnxCaptionDecoder(...sessions.webgpu);
    const onCpu = onnxCaptionDecoder(...sessions.wasm);
    const N = files.count;
    const rowsGpu = await onGpu.encode(files.images, N);
    const rowsCpu = await onCpu.encode(files.images, N);
    let encoderWebgpuVsWasm = 0;
    for (const name of Object.keys(rowsCpu)) encoderWebgpuVsWasm = Math.max(encoderWebgpuVsWasm, maxAbsDiff(rowsGpu[name]!.data as Float32Array, rowsCpu[name]!.data as Float32Array));
    let stepWebgpuVsWasm = 0;
    let firstLogits: number[] = [];
    let tokens = new Int32Array(N).fill(Vocabulary.BOS);
    let [b, c] = [rowsGpu, rowsCpu];
    for (let t = 0; t < 3; t++) {
      const y = await onGpu.step(tokens, b);
      const z = await onCpu.step(tokens, c);
      if (t === 0) firstLogits = Array.from(y.logits);
      stepWebgpuVsWasm = Math.max(stepWebgpuVsWasm, maxAbsDiff(y.logits, z.logits), y.attention && z.attention ? maxAbsDiff(y.attention, z.attention) : 0);
      [b, c] = [y.state, z.state];
      const V = z.logits.length / N;
      tokens = Int32Array.from({ length: N }, (_, i) => {
        let best = 0;
        for (let v = 1; v < V; v++) if (z.logits[i * V + v]! > z.logits[i * V + best]!) best = v;
        return best;
      });
    }
    const search = { bos: Vocabulary.BOS, eos: Vocabulary.EOS, maxLength: 6, beamSize: 3 };
    const best = (hs: readonly (readonly { tokens: number[] }[])[]): number[][] => hs.map((h) => [...h[0]!.tokens]);
    const beams = { webgpu: best(await beamSearch(onGpu, rowsGpu, N, search)), wasm: best(await beamSearch(onCpu, rowsCpu, N, search)) };
    return {
      providers: { webgpu: sessions.webgpu[1].provider, wasm: sessions.wasm[1].provider },
      cpuNodes: [...sessions.webgpu[0].cpuNodes, ...sessions.webgpu[1].cpuNodes].map((n) => n.name),
      encoderWebgpuVsWasm, stepWebgpuVsWasm, firstLogits, beams, notes,
    };
  } finally {
    for (const s of [...sessions.webgpu, ...sessions.wasm]) await s.release();
  }
}
