// The inference side of the playground, over a snapshot of the weights: streaming samples, gate and
// hidden-state activations over a text, and ONNX export run through onnxruntime next to the
// library. No DOM: the lab worker drives it in the browser, the tests in Node.
import { gather, noGrad, Tensor } from "@unroll/tensor";
import { CharTokenizer, generateText, LanguageModel, type LanguageModelParams, modelStep } from "@unroll/nlp";
import { exportLanguageModel, loweringFor, OnnxSession, onnxStepFunction, type OrtModule } from "@unroll/onnx";
import type { Inspection, ModelSnapshot, OnnxEngine, OnnxReport } from "../protocol.js";

export interface Restored {
  readonly step: number;
  readonly model: LanguageModel;
  readonly params: LanguageModelParams;
  readonly tokenizer: CharTokenizer;
}

/** The model, its weights and its tokenizer from a snapshot (names and shapes checked by nlp). */
export function restore(snapshot: ModelSnapshot): Restored {
  const model = new LanguageModel(snapshot.config);
  const tensors: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(snapshot.tensors)) tensors[name] = new Tensor(t.data, [...t.shape]);
  return { step: snapshot.step, model, params: model.paramsFromStateDict(tensors), tokenizer: CharTokenizer.fromJSON(snapshot.tokenizer) };
}

export interface SampleSettings {
  readonly prime: string;
  readonly length: number;
  readonly temperature: number;
  readonly seed: number;
}

/** Streams a sample from the library's own engine, piece by piece. */
export function sample(r: Restored, settings: SampleSettings): AsyncGenerator<string> {
  return generateText(modelStep(r.model, r.params), r.tokenizer, {
    prime: settings.prime.length > 0 ? settings.prime : "\n",
    maxTokens: settings.length,
    temperature: settings.temperature,
    seed: settings.seed,
  });
}

/** Longest text the gate view reads (its columns must stay readable). */
export const MAX_INSPECT_CHARS = 400;

/**
 * Every layer's activations over `text`, one character at a time from a zero state: LSTM gates
 * i, f, o (sigmoid), the candidate g and cell c, and h; GRU r, z, n and h; a plain RNN's h.
 */
export function inspect(r: Restored, text: string): Inspection {
  const chars = [...text].slice(0, MAX_INSPECT_CHARS);
  const ids = r.tokenizer.encode(chars.join(""));
  const T = ids.length;
  const H = r.model.config.hiddenSize;
  const layers: Record<string, Float32Array>[] = Array.from({ length: r.model.rnn.numLayers }, () => ({}));
  noGrad(() => {
    const x = gather(r.params.embedding!.weight, new Tensor(ids, [T, 1])); // (T, 1, E)
    r.model.rnn.forward(r.params.rnn, x, {
      onGates: (activations, at) => {
        if (at.direction !== 0) return;
        const record = layers[at.layer]!;
        for (const [name, value] of Object.entries(activations)) {
          const rows = (record[name] ??= new Float32Array(T * H)); // (T, H)
          rows.set(value.data.subarray(0, H), at.t * H);
        }
      },
    });
  });
  return { step: r.step, chars, hiddenSize: H, layers };
}

export interface OnnxOptions extends SampleSettings {
  /** onnxruntime-web (or onnxruntime-node in tests), configured by the caller: `onnxruntime-web/webgpu` for WebGPU. */
  readonly ort: OrtModule;
  /** Default "wasm". "webgpu" exports for WebGPU (`loweringFor`) and asks for ["webgpu", "wasm"]. */
  readonly engine?: OnnxEngine;
  /** A description of the WebGPU adapter, for the report (the worker reads it from navigator.gpu). */
  readonly adapter?: () => Promise<string | null>;
}

/**
 * Exports the model's one-step graph to ONNX, runs it in onnxruntime beside the library and
 * compares: the same sampled text for the same seed, and the logits at every step of that text.
 */
export async function compareWithOnnx(r: Restored, options: OnnxOptions): Promise<OnnxReport> {
  const engine = options.engine ?? "wasm";
  const lowering = loweringFor(engine, r.model.config.cell);
  const bytes = exportLanguageModel(r.model, r.params, { graph: "step", lowering, tokenizer: r.tokenizer, metadata: { "unroll.playground.step": String(r.step) } });
  const notes: string[] = [];
  const session = await OnnxSession.create(bytes, {
    runtime: options.ort,
    executionProviders: engine === "webgpu" ? ["webgpu", "wasm"] : ["wasm"],
    onFallback: (message) => notes.push(message),
  });
  try {
    const library = modelStep(r.model, r.params);
    const onnx = onnxStepFunction(session);
    const settings = { prime: options.prime.length > 0 ? options.prime : "\n", maxTokens: options.length, temperature: options.temperature, seed: options.seed };
    let t0 = performance.now();
    let textLibrary = "";
    for await (const piece of generateText(library, r.tokenizer, settings)) textLibrary += piece;
    const msLibrary = performance.now() - t0;
    t0 = performance.now();
    let textOnnx = "";
    for await (const piece of generateText(onnx, r.tokenizer, settings)) textOnnx += piece;
    const msOnnx = performance.now() - t0;

    // Logits along the whole text, step by step through both engines.
    const ids = r.tokenizer.encode(settings.prime + textLibrary);
    let maxAbsDiff = 0;
    let a: Parameters<typeof library>[1] = null;
    let b: Parameters<typeof onnx>[1] = null;
    for (const id of ids) {
      const token = Int32Array.of(id);
      const x = await library(token, a);
      const y = await onnx(token, b);
      a = x.state;
      b = y.state;
      for (let i = 0; i < y.logits.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(x.logits[i]! - y.logits[i]!));
    }
    const adapter = session.provider === "webgpu" ? ((await options.adapter?.()) ?? null) : null;
    return {
      step: r.step, bytes, maxAbsDiff, probeTokens: ids.length, prime: settings.prime, textLibrary, textOnnx, msLibrary, msOnnx,
      engine, provider: session.provider, lowering, adapter, notes,
    };
  } finally {
    await session.release();
  }
}
