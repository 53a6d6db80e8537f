import { GRU, LSTM, Linear, RNN } from "@unroll/cells";
import { LanguageModel, type LanguageModelBatch, type LanguageModelParams, Seq2Seq, streamBatches, trainTranslationModel, translationTokens } from "@unroll/nlp";
import { add, conv2d, fromArray, gather, mean, mul, reshape, Rng, softmaxCrossEntropy, sum, type Tensor, treeEntries, valueAndGrad } from "@unroll/tensor";
import { adam, arraySource, type DataSource, Trainer, type TrainerState } from "@unroll/train";
import { describe, expect, it } from "vitest";
import { maxAbsDiff } from "../test-utils.js";
import { compileStep } from "./compile.js";
import { onnxruntimeEngine } from "./engine.js";

const TEXT = "the quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs. ".repeat(40);
const CHARS = [...new Set(TEXT)].sort();
const IDS = Int32Array.from(TEXT, (ch) => CHARS.indexOf(ch));

type Cell = "lstm" | "gru" | "rnn_tanh";

function languageModel(cell: Cell, seed = 3): { model: LanguageModel; params: LanguageModelParams } {
  const model = new LanguageModel({ vocabSize: CHARS.length, cell, hiddenSize: 24, embeddingSize: 12, numLayers: cell === "lstm" ? 2 : 1 });
  return { model, params: model.init(new Rng(seed)) };
}

function batches(): DataSource<LanguageModelBatch> {
  return streamBatches(IDS, { batchSize: 4, window: 10, remainder: "drop" });
}

/** Largest difference between two gradient trees relative to each tensor's largest value. */
function gradientError(a: unknown, b: unknown): number {
  const other = new Map(treeEntries(b, "b"));
  let worst = 0;
  for (const [path, g] of treeEntries(a, "a")) {
    let scale = 0;
    for (let i = 0; i < g.size; i++) scale = Math.max(scale, Math.abs(g.data[i]!));
    worst = Math.max(worst, maxAbsDiff(g, other.get(path)!) / Math.max(scale, 1e-12));
  }
  return worst;
}

describe("compileStep", () => {
  it.each<Cell>(["lstm", "gru", "rnn_tanh"])("gives the library's loss, gradients and carried state for a %s language model", async (cell) => {
    const { model, params } = languageModel(cell);
    const loss = model.lossFunction();
    const first = batches().next()!;
    const ctx = { step: 0, rng: new Rng(0), training: true as const };
    const compiled = await compileStep(loss, { params, batch: first, carry: undefined });
    try {
      const ref = valueAndGrad((p: LanguageModelParams) => loss(p, first, undefined, ctx).loss)(params);
      const out = await compiled.run(params, [first.inputs, first.targets], undefined);
      expect(Math.abs(out.loss - ref.value.item())).toBeLessThan(1e-6);
      expect(gradientError(ref.grads, out.grads)).toBeLessThan(1e-4);
      // The carried state is the library's final state.
      const state = loss(params, first, undefined, ctx).carry!;
      for (const [path, t] of treeEntries(state, "state")) expect(maxAbsDiff(t, new Map(treeEntries(out.carry, "carry")).get(path)!)).toBeLessThan(1e-6);
    } finally {
      await compiled.release();
    }
  });

  it("feeds the carried state by path: a carry whose keys come in another order (a resumed checkpoint's: c before h) gives the library's step", async () => {
    const { model, params } = languageModel("lstm");
    const loss = model.lossFunction();
    const data = batches();
    const ctx = { step: 0, rng: new Rng(0), training: true as const };
    const first = data.next()!;
    const second = data.next()!;
    const third = data.next()!;
    const carry = loss(params, first, undefined, ctx).carry!;
    const reordered = Object.fromEntries(Object.entries(carry).reverse()) as typeof carry;
    expect(Object.keys(reordered)).not.toEqual(Object.keys(carry));
    // Traced with one order, run with the other, either way round.
    for (const [traced, given] of [[reordered, carry], [carry, reordered]] as const) {
      const compiled = await compileStep(loss, { params, batch: second, carry: traced });
      try {
        const ref = valueAndGrad((p: LanguageModelParams) => loss(p, third, given, ctx).loss)(params);
        const out = await compiled.run(params, [third.inputs, third.targets], given);
        expect(Math.abs(out.loss - ref.value.item())).toBeLessThan(1e-6);
        expect(gradientError(ref.grads, out.grads)).toBeLessThan(1e-4);
      } finally {
        await compiled.release();
      }
    }
  });

  it("gives the library's cross-entropy and gradients where targets are ignored (-100), whichever rows they are", async () => {
    const head = new Linear(5, 7);
    const params = head.init(new Rng(6)) as { weight: Tensor; bias: Tensor };
    const x = fromArray(Float32Array.from({ length: 6 * 5 }, (_, i) => Math.sin(i * 1.3)), { shape: [6, 5] });
    const loss = (p: typeof params, b: { x: Tensor; y: Tensor }) => ({ loss: softmaxCrossEntropy(head.forward(p, b.x), b.y, { ignoreIndex: -100 }) });
    const compiled = await compileStep(loss, { params, batch: { x, y: fromArray([1, -100, 6, 0, -100, 3], { dtype: "int32" }) }, carry: undefined });
    try {
      for (const targets of [[1, -100, 6, 0, -100, 3], [-100, 2, 2, -100, -100, 6]]) {
        const b = { x, y: fromArray(targets, { dtype: "int32" }) };
        const ref = valueAndGrad((p: typeof params) => loss(p, b).loss)(params);
        const out = await compiled.run(params, [b.x, b.y], undefined);
        expect(Math.abs(out.loss - ref.value.item())).toBeLessThan(1e-6);
        expect(gradientError(ref.grads, out.grads)).toBeLessThan(1e-5);
      }
    } finally {
      await compiled.release();
    }
  });

  it.each([false, true])("compiles a translation model's step (bidirectional LSTM encoder over padded sources, Bahdanau decoder, fused %s): the library's loss and gradients for other paddings", async (fused) => {
    const model = new Seq2Seq({ srcVocabSize: 9, tgtVocabSize: 8, embeddingSize: 6, encoderHiddenSize: 5, decoderHiddenSize: 7, attentionSize: 4, cell: "lstm", bidirectional: true, attention: "bahdanau" });
    const params = model.init(new Rng(8));
    const loss = model.lossFunction({ fused });
    const ints = (v: number[], shape: number[]) => fromArray(v, { shape, dtype: "int32" });
    const batch = (lengths: number[], tgtOut: number[]) => ({
      src: ints(Array.from({ length: 5 * 3 }, (_, i) => (Math.floor(i / 3) < lengths[i % 3]! ? 3 + (i % 6) : 0)), [5, 3]),
      srcLengths: ints(lengths, [3]),
      tgtIn: ints(Array.from({ length: 4 * 3 }, (_, i) => 1 + (i % 7)), [4, 3]),
      tgtOut: ints(tgtOut, [4, 3]),
    });
    const ctx = { step: 0, rng: new Rng(0), training: true as const };
    const first = batch([5, 3, 2], [4, 5, 6, 7, 3, 2, 2, -100, 5, 2, -100, -100]);
    const compiled = await compileStep(loss, { params, batch: first, carry: undefined });
    try {
      for (const b of [first, batch([2, 5, 4], [3, 3, 3, 2, 6, 7, -100, 2, 4, -100, -100, 2])]) {
        const ref = valueAndGrad((p: typeof params) => loss(p, b, undefined, ctx).loss)(params);
        const out = await compiled.run(params, [b.src, b.srcLengths, b.tgtIn, b.tgtOut], undefined);
        expect(Math.abs(out.loss - ref.value.item())).toBeLessThan(1e-5);
        expect(gradientError(ref.grads, out.grads)).toBeLessThan(1e-4);
      }
    } finally {
      await compiled.release();
    }
  });

  it("runs on the execution provider asked for where it starts, else on the CPU with a message saying why", async () => {
    const { model, params } = languageModel("lstm");
    const first = batches().next()!;
    const messages: string[] = [];
    const compiled = await compileStep(model.lossFunction(), { params, batch: first, carry: undefined }, { executionProviders: ["cuda", "cpu"], onFallback: (m) => messages.push(m) });
    try {
      expect(["cuda", "cpu"]).toContain(compiled.executionProvider);
      if (compiled.executionProvider === "cpu") expect(messages.join(" ")).toMatch(/CUDA execution provider is not available.*Running on the CPU/);
      const out = await compiled.run(params, [first.inputs, first.targets], undefined);
      expect(Number.isFinite(out.loss)).toBe(true);
    } finally {
      await compiled.release();
    }
  });

  it("runs in onnxruntime-web (its WebAssembly backend, in Node: what a page runs) with the library's loss and gradients", async () => {
    const web = await import("onnxruntime-web");
    web.env.wasm.numThreads = 1;
    const { model, params } = languageModel("lstm");
    const source = batches();
    const first = source.next()!;
    const loss = model.lossFunction();
    const compiled = await compileStep(loss, { params, batch: first, carry: undefined }, { runtime: web });
    try {
      expect(compiled.executionProvider).toBe("wasm");
      const ctx = { step: 0, rng: new Rng(0), training: true as const };
      const ref = valueAndGrad((p: LanguageModelParams) => loss(p, first, undefined, ctx).loss)(params);
      const out = await compiled.run(params, [first.inputs, first.targets], undefined);
      expect(Math.abs(out.loss - ref.value.item())).toBeLessThan(1e-6);
      expect(gradientError(ref.grads, out.grads)).toBeLessThan(1e-4);
    } finally {
      await compiled.release();
    }
  });

  it("adds an embedding's gradient rows exactly when ids repeat, on several onnxruntime threads (ScatterND with reduction add loses additions there)", async () => {
    const rng = new Rng(3);
    const table = rng.normal([50, 256], 0, 1);
    const ids = fromArray(Int32Array.from({ length: 2048 }, () => Math.floor(rng.random() * 50)), { dtype: "int32" });
    const weights = rng.normal([2048, 256], 0, 1);
    const loss = (p: { table: Tensor }, b: { ids: Tensor; weights: Tensor }) => ({ loss: sum(mul(gather(p.table, b.ids), b.weights)) });
    const step = await compileStep(loss, { params: { table }, batch: { ids, weights }, carry: undefined }, { threads: 2 });
    // d loss / d table[v] is the sum of the weight rows whose id is v (in float64 here).
    const expected = new Float64Array(50 * 256);
    for (let n = 0; n < 2048; n++) for (let j = 0; j < 256; j++) expected[ids.data[n]! * 256 + j]! += weights.data[n * 256 + j]!;
    let worst = 0;
    for (let run = 0; run < 10; run++) {
      const g = (await step.run({ table }, [ids, weights], undefined)).grads.table;
      for (let i = 0; i < g.size; i++) worst = Math.max(worst, Math.abs(g.data[i]! - expected[i]!));
    }
    expect(worst).toBeLessThan(1e-3); // measured: 5e-6 (ScatterND: 7.8)
    await step.release();
    await expect(compileStep(loss, { params: { table }, batch: { ids, weights }, carry: undefined }, { threads: 0 })).rejects.toThrow(/threads must be a positive integer, got 0/);
  });

  it("compiles scheduled sampling (teacher forcing 0.5): the choices drawn from the run's generator, as the library makes them", async () => {
    const model = new Seq2Seq({ srcVocabSize: 9, tgtVocabSize: 8, embeddingSize: 6, encoderHiddenSize: 5, decoderHiddenSize: 5, attentionSize: 4, cell: "gru", attention: "bahdanau" });
    const params = model.init(new Rng(8));
    const loss = model.lossFunction({ teacherForcing: 0.5 });
    const ints = (v: number[], shape: number[]) => fromArray(v, { shape, dtype: "int32" });
    const b = { src: ints(Array.from({ length: 4 * 3 }, (_, i) => 3 + (i % 6)), [4, 3]), srcLengths: ints([4, 4, 4], [3]), tgtIn: ints(Array.from({ length: 5 * 3 }, (_, i) => 1 + (i % 7)), [5, 3]), tgtOut: ints(Array.from({ length: 5 * 3 }, (_, i) => (i * 5) % 8), [5, 3]) };
    const rng = new Rng(11);
    const compiled = await compileStep(loss, { params, batch: b, carry: undefined, rng });
    try {
      expect(compiled.draws.length).toBeGreaterThan(0);
      for (let k = 0; k < 3; k++) {
        const before = rng.state();
        const out = await compiled.run(params, [b.src, b.srcLengths, b.tgtIn, b.tgtOut], undefined, rng);
        const ref = valueAndGrad((p: typeof params) => loss(p, b, undefined, { step: k, rng: Rng.fromState(before), training: true }).loss)(params);
        expect(Math.abs(out.loss - ref.value.item())).toBeLessThan(1e-5);
        expect(gradientError(ref.grads, out.grads)).toBeLessThan(1e-4);
      }
    } finally {
      await compiled.release();
    }
  });

  it("names the primitive it has no lowering for (a convolution's weight gradient) instead of writing a wrong graph", async () => {
    const w = fromArray(Float32Array.from({ length: 2 * 1 * 3 * 3 }, (_, i) => Math.sin(i)), { shape: [2, 1, 3, 3] });
    const x = fromArray(Float32Array.from({ length: 1 * 1 * 5 * 5 }, (_, i) => Math.cos(i)), { shape: [1, 1, 5, 5] });
    const loss = (p: { w: Tensor }, b: { x: Tensor }) => ({ loss: mean(conv2d(b.x, p.w)) });
    await expect(compileStep(loss, { params: { w }, batch: { x }, carry: undefined })).rejects.toThrow(/Conv2dBackwardWeight.*library's engine/);
  });

  it("refuses a loss function that draws plain numbers while tracing: JavaScript would steer the graph", async () => {
    const head = new Linear(3, 4);
    const params = head.init(new Rng(1)) as { weight: Tensor; bias: Tensor };
    const x = fromArray(Float32Array.from({ length: 6 }, (_, i) => i / 6), { shape: [2, 3] });
    const loss = (p: typeof params, b: { x: Tensor }, _c: undefined, ctx: { rng: Rng }) => ({ loss: mean(mul(head.forward(p, b.x), ctx.rng.random())) });
    await expect(compileStep(loss, { params, batch: { x }, carry: undefined })).rejects.toThrow(/rng\.random.*Draw tensors/);
  });

  it.each(["lstm", "gru"] as const)("compiles padded and bidirectional %s scans: the library's gradients, padding masked, reverse scans from each example's own end", async (cell) => {
    const lstm = new (cell === "lstm" ? LSTM : GRU)({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true });
    const params = lstm.init(new Rng(2));
    const x = fromArray(Float32Array.from({ length: 5 * 3 * 3 }, (_, i) => Math.sin(i)), { shape: [5, 3, 3] });
    const w = fromArray(Float32Array.from({ length: 5 * 3 * 8 }, (_, i) => Math.cos(i * 0.7)), { shape: [5, 3, 8] });
    const loss = (p: typeof params, b: { x: Tensor; lengths: Tensor }) => {
      const r = lstm.forward(p, b.x, { lengths: b.lengths });
      return { loss: add(mean(mul(r.output, w)), mean(mul(r.h, r.h))) };
    };
    const batch = { x, lengths: fromArray([5, 2, 4], { dtype: "int32" }) };
    const compiled = await compileStep(loss, { params, batch, carry: undefined });
    try {
      for (const lengths of [[5, 2, 4], [1, 5, 3]]) {
        const b = { x, lengths: fromArray(lengths, { dtype: "int32" }) };
        const ref = valueAndGrad((p: typeof params) => loss(p, b).loss)(params);
        const out = await compiled.run(params, [b.x, b.lengths], undefined);
        expect(Math.abs(out.loss - ref.value.item())).toBeLessThan(1e-6);
        expect(gradientError(ref.grads, out.grads)).toBeLessThan(1e-4);
      }
    } finally {
      await compiled.release();
    }
  });

  it("refuses a padded plain RNN scan, whose decomposition would keep the first batch's lengths", async () => {
    const gru = new RNN({ inputSize: 3, hiddenSize: 4 });
    const params = gru.init(new Rng(2));
    const x = fromArray(Float32Array.from({ length: 5 * 2 * 3 }, (_, i) => Math.sin(i)), { shape: [5, 2, 3] });
    const lengths = fromArray([5, 3], { dtype: "int32" });
    const loss = (p: typeof params, b: { x: Tensor; lengths: Tensor }) => ({ loss: mean(gru.forward(p, b.x, { lengths: b.lengths }).output) });
    await expect(compileStep(loss, { params, batch: { x, lengths }, carry: undefined })).rejects.toThrow(/RecurrentSequenceGrad of a padded \(lengths\) rnn_tanh scan/);
  });
});

describe("onnxruntimeEngine in the Trainer", () => {
  let compiles = 0;
  function trainer(engine: "library" | "onnxruntime", params: LanguageModelParams, model: LanguageModel, data: DataSource<LanguageModelBatch>) {
    return new Trainer({
      params,
      loss: model.lossFunction(),
      data,
      optimizer: adam({ lr: 5e-3 }),
      clip: { maxNorm: 1 },
      ...(engine === "onnxruntime" ? { engine: onnxruntimeEngine({ onCompile: () => compiles++ }) } : {}),
    });
  }

  it("trains a 2-layer LSTM language model with truncated BPTT as the library does: losses within 1e-4 over 100 steps", async () => {
    const run = async (engine: "library" | "onnxruntime"): Promise<number[]> => {
      const { model, params } = languageModel("lstm");
      const t = trainer(engine, params, model, batches());
      const losses: number[] = [];
      t.events.on("step", (e) => losses.push(e.loss));
      await t.run({ steps: 100 });
      await t.engine.release?.();
      return losses;
    };
    const library = await run("library");
    compiles = 0;
    const compiled = await run("onnxruntime");
    // Three graphs: the first batch (no state yet), the later ones (the state carried in), and the
    // first batch of the second epoch (a state comes in, but reset: the loss function reads the
    // flag). The batches' positions differ at every step, but the loss function never reads them.
    expect(compiles).toBe(3);
    expect(compiled).toHaveLength(100);
    expect(library[99]!).toBeLessThan(library[0]! - 0.5); // it learns
    const worst = Math.max(...compiled.map((l, i) => Math.abs(l - library[i]!) / library[i]!));
    expect(worst).toBeLessThan(1e-4);
  }, 120_000);

  it("trains with dropout as the library does: the same masks from the run's generator, the same losses and generator state", async () => {
    const run = async (engine: "library" | "onnxruntime") => {
      const model = new LanguageModel({ vocabSize: CHARS.length, cell: "lstm", hiddenSize: 24, embeddingSize: 12, numLayers: 2, dropout: 0.3 });
      const t = trainer(engine, model.init(new Rng(3)), model, batches());
      const losses: number[] = [];
      t.events.on("step", (e) => losses.push(e.loss));
      await t.run({ steps: 30 });
      await t.engine.release?.();
      return { losses, rng: t.state().rng };
    };
    const library = await run("library");
    const compiled = await run("onnxruntime");
    expect(compiled.rng).toEqual(library.rng);
    expect(Math.max(...compiled.losses.map((l, i) => Math.abs(l - library.losses[i]!) / library.losses[i]!))).toBeLessThan(1e-4);
  }, 120_000);

  it("resumes a state saved on one engine on the other, either way, and ends where one engine alone ends", async () => {
    const straight = async (): Promise<number[]> => {
      const { model, params } = languageModel("gru", 5);
      const t = trainer("library", params, model, batches());
      const losses: number[] = [];
      t.events.on("step", (e) => losses.push(e.loss));
      await t.run({ steps: 40 });
      return losses;
    };
    const switched = async (firstEngine: "library" | "onnxruntime", secondEngine: "library" | "onnxruntime"): Promise<number[]> => {
      const { model, params } = languageModel("gru", 5);
      const a = trainer(firstEngine, params, model, batches());
      const losses: number[] = [];
      a.events.on("step", (e) => losses.push(e.loss));
      await a.run({ steps: 20 });
      const state: TrainerState = a.state();
      await a.engine.release?.();
      const fresh = languageModel("gru", 99);
      const b = trainer(secondEngine, fresh.params, fresh.model, batches());
      b.restore(state);
      b.events.on("step", (e) => losses.push(e.loss));
      await b.run({ steps: 40 });
      await b.engine.release?.();
      return losses;
    };
    const reference = await straight();
    for (const [x, y] of [["onnxruntime", "library"], ["library", "onnxruntime"]] as const) {
      const losses = await switched(x, y);
      expect(losses).toHaveLength(40);
      expect(Math.max(...losses.map((l, i) => Math.abs(l - reference[i]!) / reference[i]!))).toBeLessThan(1e-4);
    }
  }, 120_000);

  it("catches a loss function that reads tensor values in JavaScript, on the second batch of the shape", async () => {
    const embedding = fromArray(Float32Array.from({ length: 6 * 3 }, (_, i) => Math.sin(i + 1)), { shape: [6, 3] });
    const head = new Linear(3, 6);
    const params = { embedding, head: head.init(new Rng(4)) as { weight: Tensor; bias: Tensor } };
    // Weighting the loss by a number read from the batch bakes the first batch's number in.
    const loss = (p: typeof params, b: { x: Tensor; y: Tensor }) => {
      const first = b.x.data[0]! + 1;
      const logits = head.forward(p.head, reshape(gather(p.embedding, b.x), [4, 3]));
      return { loss: mean(mul(softmaxCrossEntropy(logits, b.y, { reduction: "none" }), first)) };
    };
    const ints = (v: number[]) => fromArray(v, { dtype: "int32" });
    const data = [
      { x: ints([1, 2, 3, 4]), y: ints([2, 3, 4, 5]) },
      { x: ints([3, 1, 0, 5]), y: ints([0, 1, 2, 3]) },
    ];
    const t = new Trainer({ params, loss, data: arraySource([data[0]!, data[1]!]), optimizer: adam({ lr: 1e-2 }), engine: onnxruntimeEngine() });
    await expect(t.run({ steps: 2 })).rejects.toThrow(/disagrees with the library.*reads a tensor's values/);
    await t.engine.release?.();
  });

  it("with onUncompilable, a model that does not compile trains on the library's autodiff: its losses, told once why", async () => {
    // The Trainer updates the parameters in place: each run starts from its own copy.
    const weights = () => fromArray(Float32Array.from({ length: 2 * 1 * 3 * 3 }, (_, i) => Math.sin(i)), { shape: [2, 1, 3, 3] });
    const images = [0, 1, 2, 3, 4, 5].map((k) => ({ x: fromArray(Float32Array.from({ length: 25 }, (_, i) => Math.cos(i + k)), { shape: [1, 1, 5, 5] }) }));
    const loss = (p: { w: Tensor }, b: { x: Tensor }) => ({ loss: mean(mul(conv2d(b.x, p.w), conv2d(b.x, p.w))) });
    const run = async (engine?: ReturnType<typeof onnxruntimeEngine>) => {
      const t = new Trainer({ params: { w: weights() }, loss, data: arraySource(images), optimizer: adam({ lr: 1e-2 }), ...(engine ? { engine } : {}) });
      const losses: number[] = [];
      t.events.on("step", (e) => losses.push(e.loss));
      await t.run({ steps: 6 });
      return losses;
    };
    const told: string[] = [];
    const fallen = await run(onnxruntimeEngine({ onUncompilable: (e) => told.push(e.message) }));
    expect(fallen).toEqual(await run());
    expect(fallen).toHaveLength(6);
    expect(told).toHaveLength(1);
    expect(told[0]).toMatch(/Conv2dBackwardWeight/);
    // Without it, the same model is refused.
    await expect(run(onnxruntimeEngine())).rejects.toThrow(/Conv2dBackwardWeight/);
  });

  // Three runs and about 20 compilations: seconds alone, minutes beside the other packages' tests (the limit is a hang guard).
  it("trains a translation model on batches of many lengths with few graphs: lengths padded to a multiple of 4, the library's losses", { timeout: 300_000 }, async () => {
    // Sentences of 1 to 12 words: unpadded, nearly every batch would be a shape (and a graph) of its own.
    const rng = new Rng(9);
    const words = ["eins", "zwei", "drei", "vier", "fünf", "sechs"];
    const english = ["one", "two", "three", "four", "five", "six"];
    const train = Array.from({ length: 96 }, (_, line) => {
      const ids = Array.from({ length: 1 + Math.floor(rng.random() * 12) }, () => Math.floor(rng.random() * words.length));
      return { source: ids.map((k) => words[k]).join(" "), target: ids.map((k) => english[k]).join(" "), line: line + 1 };
    });
    const config = { vocabulary: "word" as const, model: { cell: "gru" as const, embeddingSize: 8, encoderHiddenSize: 8, decoderHiddenSize: 8, attention: "bahdanau" as const }, batchSize: 8, steps: 12, evalEvery: 1000, bleuSentences: 4, seed: 2 };
    const run = async (engine?: ReturnType<typeof onnxruntimeEngine>): Promise<number[]> => {
      const losses: number[] = [];
      const result = await trainTranslationModel({
        train,
        dev: train.slice(0, 8),
        config,
        ...(engine ? { engine } : {}),
        onTrainer: (t) => void t.events.on("step", (e) => losses.push(e.loss)),
      });
      expect(result.steps).toBe(12);
      return losses;
    };
    const graphs: string[] = [];
    const a = await run(onnxruntimeEngine({ tokens: translationTokens, onCompile: (info) => graphs.push(info.key) }));
    const b = await run();
    expect(a).toHaveLength(12);
    a.forEach((l, i) => expect(Math.abs(l - b[i]!) / b[i]!).toBeLessThan(1e-4));
    expect(onnxruntimeEngine().lengthMultiple).toBe(4);
    const unpadded: string[] = [];
    await run(onnxruntimeEngine({ tokens: translationTokens, lengthMultiple: 1, onCompile: (info) => unpadded.push(info.key) }));
    expect(unpadded.length).toBeGreaterThanOrEqual(10); // nearly a graph per batch (measured: 11 for 12 batches)
    expect(graphs.length).toBeLessThanOrEqual(unpadded.length - 4); // measured: 6
    // Every graph's source and target lengths are multiples of 4 (the keys name the batch's shapes).
    expect(graphs.length).toBeGreaterThan(0);
    for (const key of graphs) {
      expect(key).toMatch(/"src","int32\[(4|8|12),8\]"/);
      expect(key).toMatch(/"tgtIn","int32\[(4|8|12|16),8\]"/); // 12 words and the end symbol: 13 -> 16
    }
    expect(() => onnxruntimeEngine({ lengthMultiple: 0 })).toThrow(/lengthMultiple must be a positive integer, got 0/);
  });
});
