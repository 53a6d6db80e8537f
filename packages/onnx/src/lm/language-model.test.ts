import {
  CharTokenizer, collect, generateText, LanguageModel, type LanguageModelConfig, type LanguageModelParams, modelStep, tokenizerFromJSON,
} from "@unroll/nlp";
import { expandDims, fromArray, Rng, softmaxCrossEntropy, squeeze, type Tensor, treeEntries, valueAndGrad } from "@unroll/tensor";
import { describe, expect, it } from "vitest";
import {
  decodeModel, encodeModel, exportLanguageModel, type GraphSignature, languageModelToOnnx, METADATA_KEYS, OnnxSession, onnxStepFunction,
  readModelInfo, type RecurrentLowering,
} from "../index.js";
import { maxAbsDiff } from "../test-utils.js";

// Parity: onnxruntime-node on the exported graphs against the library's own forward pass, for
// every cell, stacked, at batch sizes and lengths other than the ones traced, padded batches
// included; then trained weights, metadata, seeded generation and onnxruntime-web.

const text = "the cat sat on the mat. the dog sat on the log. a cat and a dog. ";
const tokenizer = CharTokenizer.fromText(text);
const V = tokenizer.vocabSize;
const rng = new Rng(31);

const base = { vocabSize: V, hiddenSize: 10, embeddingSize: 6, numLayers: 2 } as const;
const cells = ["rnn_tanh", "rnn_relu", "lstm", "gru"] as const;

function randomTokens(shape: number[]): Tensor {
  return rng.randint(shape, 0, V);
}

function randomState(model: LanguageModel, B: number): { h: Tensor; c?: Tensor } {
  const L = model.config.numLayers;
  const H = model.config.hiddenSize;
  return model.config.cell === "lstm" ? { h: rng.normal([L, B, H], 0, 0.5), c: rng.normal([L, B, H], 0, 0.5) } : { h: rng.normal([L, B, H], 0, 0.5) };
}

const stateFeeds = (s: { h: Tensor; c?: Tensor }): Record<string, Tensor> => ({ h_0: s.h, ...(s.c ? { c_0: s.c } : {}) });

/** Max |difference| of logits and final states between onnxruntime and the library, one step. */
async function stepParity(session: OnnxSession, model: LanguageModel, params: LanguageModelParams, B: number): Promise<number> {
  const tokens = randomTokens([B]);
  const state = randomState(model, B);
  const out = await session.runTensors({ tokens, ...stateFeeds(state) });
  const ref = model.forward(params, expandDims(tokens, 0), state);
  return Math.max(
    maxAbsDiff(out["logits"]!, squeeze(ref.logits, [0])),
    maxAbsDiff(out["h_n"]!, ref.state.h),
    ...(ref.state.c ? [maxAbsDiff(out["c_n"]!, ref.state.c)] : []),
  );
}

/** The same for whole sequences, `lengths` padded (null: the graph has no lengths input). */
async function sequenceParity(session: OnnxSession, model: LanguageModel, params: LanguageModelParams, T: number, lengths: number[] | null, B = lengths?.length ?? 1): Promise<number> {
  const tokens = randomTokens([T, B]);
  const state = randomState(model, B);
  const len = lengths ? fromArray(lengths, { dtype: "int32" }) : null;
  const out = await session.runTensors({ tokens, ...(len ? { lengths: len } : {}), ...stateFeeds(state) });
  const ref = model.forward(params, tokens, state, len ? { lengths: len } : {});
  return Math.max(
    maxAbsDiff(out["logits"]!, ref.logits),
    maxAbsDiff(out["h_n"]!, ref.state.h),
    ...(ref.state.c ? [maxAbsDiff(out["c_n"]!, ref.state.c)] : []),
  );
}

describe.each(cells)("a 2-layer %s language model", (cell) => {
  const model = new LanguageModel({ ...base, cell });
  const params = model.init(rng);

  it.each(["operators", "unrolled"] as RecurrentLowering[])("step graph (%s) equals the library at batch 1 and 3", async (lowering) => {
    const session = await OnnxSession.create(exportLanguageModel(model, params, { graph: "step", lowering }));
    for (const B of [1, 3]) expect(await stepParity(session, model, params, B)).toBeLessThan(1e-4);
    await session.release();
  });

  it("sequence graph equals the library at lengths 1 and 7, padded batches included", async () => {
    const session = await OnnxSession.create(exportLanguageModel(model, params, { graph: "sequence" }));
    expect(await sequenceParity(session, model, params, 1, [1])).toBeLessThan(1e-4);
    expect(await sequenceParity(session, model, params, 7, [7])).toBeLessThan(1e-4);
    expect(await sequenceParity(session, model, params, 7, [7, 4, 1])).toBeLessThan(1e-4);
    expect(await sequenceParity(session, model, params, 1, [1, 1, 1])).toBeLessThan(1e-4);
    await session.release();
  });
});

describe("language model export", () => {
  it("without lengths, with one-hot inputs, with tied weights", async () => {
    const configs: LanguageModelConfig[] = [
      { ...base, cell: "gru", embeddingSize: "one-hot" },
      { ...base, cell: "lstm", numLayers: 1, embeddingSize: 10, tieWeights: true },
    ];
    for (const config of configs) {
      const model = new LanguageModel(config);
      const params = model.init(rng);
      const bytes = exportLanguageModel(model, params, { graph: "sequence", lengths: false });
      const session = await OnnxSession.create(bytes);
      expect(session.inputNames).not.toContain("lengths");
      for (const [T, B] of [[1, 1], [7, 3]] as const) expect(await sequenceParity(session, model, params, T, null, B)).toBeLessThan(1e-4);
      // Parameters are initializers under their state_dict names.
      const initializers = decodeModel(bytes).graph.initializer.map((t) => t.name);
      for (const [name] of treeEntries(params)) expect(initializers).toContain(name);
    }
  });

  it("is refused where it cannot hold: the unrolled lowering of the sequence graph", () => {
    const model = new LanguageModel({ ...base, cell: "lstm" });
    expect(() => exportLanguageModel(model, model.init(rng), { graph: "sequence", lowering: "unrolled" })).toThrow(/needs a static sequence length/);
    expect(() => exportLanguageModel(model, model.init(rng), { graph: "step", lengths: true })).toThrow(/lengths applies to the sequence graph/);
  });

  it("carries its format tag and version, configuration, tokenizer and signature", () => {
    const model = new LanguageModel({ ...base, cell: "lstm" });
    const bytes = exportLanguageModel(model, model.init(rng), { tokenizer, metadata: { "org.example.note": "hello" } });
    const file = decodeModel(bytes);
    expect(file.opset_import).toEqual([{ domain: "", version: 17 }]);
    expect(file.ir_version).toBe(8);
    expect(file.producer_name).toBe("unroll");
    const info = readModelInfo(bytes);
    expect(info.formatVersion).toBe(1);
    expect(info.graph).toBe("language-model/step");
    expect(info.config).toEqual(model.config);
    expect(info.metadata["org.example.note"]).toBe("hello");
    const restored = tokenizerFromJSON(info.tokenizer);
    expect(Array.from(restored.encode(text))).toEqual(Array.from(tokenizer.encode(text)));
    expect(info.signature).toEqual({
      tokens: "tokens",
      tokenType: "int32",
      logits: "logits",
      state: [
        { input: "h_0", output: "h_n", shape: [2, "batch", 10] },
        { input: "c_0", output: "c_n", shape: [2, "batch", 10] },
      ],
    } satisfies GraphSignature);
    // A file from a later format version, or from elsewhere, is refused with the reason.
    const later = { ...file, metadata_props: file.metadata_props.map((p) => (p.key === METADATA_KEYS.formatVersion ? { ...p, value: "2" } : p)) };
    expect(() => readModelInfo(encodeModel(later))).toThrow(/format version 2; this library reads version 1/);
    expect(() => readModelInfo(encodeModel({ ...file, metadata_props: [] }))).toThrow(/no unroll.format metadata/);
  });

  it("trained weights: parity, and the same text from both engines with a fixed seed", async () => {
    const model = new LanguageModel({ ...base, cell: "lstm", hiddenSize: 24, embeddingSize: 8 });
    const params = model.init(new Rng(7));
    // A few steps of Adam on the text, [T=16, B=4] windows of next-token prediction.
    const ids = tokenizer.encode(text);
    const window = (s: number): [Tensor, Tensor] => {
      const x: number[] = [];
      const y: number[] = [];
      for (let t = 0; t < 16; t++) {
        for (let b = 0; b < 4; b++) {
          x.push(ids[(s + b * 16 + t) % ids.length]!);
          y.push(ids[(s + b * 16 + t + 1) % ids.length]!);
        }
      }
      return [fromArray(x, { shape: [16, 4], dtype: "int32" }), fromArray(y, { shape: [16, 4], dtype: "int32" })];
    };
    const loss = (p: LanguageModelParams, x: Tensor, y: Tensor): Tensor => softmaxCrossEntropy(model.forward(p, x).logits, y);
    const leaves = treeEntries(params).map(([, t]) => t);
    const moments = leaves.map((t) => [new Float64Array(t.size), new Float64Array(t.size)] as const);
    const losses: number[] = [];
    for (let step = 1; step <= 60; step++) {
      const [x, y] = window(step * 5);
      const { value, grads } = valueAndGrad(loss)(params, x, y);
      losses.push(value.item());
      treeEntries(grads).forEach(([, g], i) => {
        const [m, v] = moments[i]!;
        const p = leaves[i]!.data;
        for (let k = 0; k < p.length; k++) {
          m[k] = 0.9 * m[k]! + 0.1 * g.data[k]!;
          v[k] = 0.999 * v[k]! + 0.001 * g.data[k]! ** 2;
          p[k] = p[k]! - (0.02 * (m[k]! / (1 - 0.9 ** step))) / (Math.sqrt(v[k]! / (1 - 0.999 ** step)) + 1e-8);
        }
      });
    }
    expect(losses.at(-1)!).toBeLessThan(losses[0]! - 0.8); // it learnt something

    const step = await OnnxSession.create(exportLanguageModel(model, params, { graph: "step", tokenizer }));
    const sequence = await OnnxSession.create(exportLanguageModel(model, params, { graph: "sequence" }));
    expect(await stepParity(step, model, params, 2)).toBeLessThan(1e-4);
    expect(await sequenceParity(sequence, model, params, 7, [7, 5, 2])).toBeLessThan(1e-4);

    const codec = tokenizerFromJSON(readModelInfo(step.metadata).tokenizer);
    for (const options of [{ seed: 1 }, { seed: 2, temperature: 0.7, topK: 5 }, { seed: 3, temperature: 0 }]) {
      const settings = { prime: "the ", maxTokens: 120, ...options };
      const ours = await collect(generateText(modelStep(model, params), tokenizer, settings));
      const theirs = await collect(generateText(onnxStepFunction(step), codec, settings));
      expect(theirs).toBe(ours);
      expect(ours.length).toBeGreaterThan(60);
    }
    await step.release();
    await sequence.release();
  });

  it("runs in onnxruntime-web (its WebAssembly backend, in Node) with the same results", async () => {
    const web = await import("onnxruntime-web");
    web.env.wasm.numThreads = 1;
    const model = new LanguageModel({ ...base, cell: "gru" });
    const params = model.init(rng);
    const session = await OnnxSession.create(exportLanguageModel(model, params, { graph: "step" }), { runtime: web });
    expect(session.executionProvider).toBe("wasm");
    expect(await stepParity(session, model, params, 3)).toBeLessThan(1e-4);
    const settings = { prime: "a ", maxTokens: 40, seed: 5 };
    expect(await collect(generateText(onnxStepFunction(session), tokenizer, settings))).toBe(
      await collect(generateText(modelStep(model, params), tokenizer, settings)),
    );
  });

  it("the ModelProto form is what the bytes hold", () => {
    const model = new LanguageModel({ ...base, cell: "rnn_tanh" });
    const params = model.init(rng);
    const proto = languageModelToOnnx(model, params, { graph: "sequence" });
    const file = decodeModel(exportLanguageModel(model, params, { graph: "sequence" }));
    expect(file.graph.node.map((n) => n.op_type)).toEqual(proto.graph.node.map((n) => n.op_type));
    expect(file.graph.input.map((i) => i.name)).toEqual(["tokens", "lengths", "h_0"]);
    expect(file.graph.output.map((i) => i.name)).toEqual(["logits", "h_n"]);
    expect(file.graph.input[0]!.type.tensor_type.shape.dim).toEqual([{ dim_param: "time" }, { dim_param: "batch" }]);
    expect(file.graph.output[0]!.type.tensor_type.shape.dim).toEqual([{ dim_param: "time" }, { dim_param: "batch" }, { dim_value: V }]);
  });
});
