import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { fromArray } from "@unroll/tensor";
import type { OrtModule } from "@unroll/onnx";
import type { ModelSnapshot, RunSettings } from "../protocol.js";
import { gateNames } from "../ui/gates.js";
import { compareWithOnnx, inspect, MAX_INSPECT_CHARS, restore, sample } from "./lab.js";
import { TrainingSession } from "./session.js";

const text = readFileSync(new URL("../samples/shakespeare.txt", import.meta.url), "utf8");
const settings: RunSettings = {
  cell: "lstm", init: "pytorch", hiddenSize: 16, numLayers: 2, embeddingSize: 8, optimizer: "adam", lr: 0.01, clip: 1, window: 12, batchSize: 4, seed: 0,
};

/** Weights after a few training steps, as the training worker sends them. */
async function trainedSnapshot(overrides: Partial<RunSettings> = {}): Promise<ModelSnapshot> {
  const s = new TrainingSession(() => undefined, { kernels: "reference", diagnosticsEveryMs: 1e9 });
  await s.configure({ ...settings, ...overrides }, text);
  const running = s.start();
  while (s.step < 20) await new Promise((resolve) => setTimeout(resolve, 5));
  s.pause();
  await running;
  return s.snapshot()!;
}

async function collect(pieces: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const p of pieces) out.push(p);
  return out;
}

let snapshot: ModelSnapshot;
beforeAll(async () => {
  snapshot = await trainedSnapshot();
});

describe("the lab", () => {
  it("restores the trained model from a snapshot", () => {
    const r = restore(snapshot);
    expect(r.step).toBeGreaterThanOrEqual(20);
    expect(r.tokenizer.vocabSize).toBe(snapshot.config.vocabSize);
    const tokens = fromArray([[1], [5], [9]], { dtype: "int32" });
    const again = restore(snapshot);
    expect(Array.from(r.model.forward(r.params, tokens).logits.data)).toEqual(Array.from(again.model.forward(again.params, tokens).logits.data));
  });

  it("streams samples: one piece per character, the same text for the same seed", async () => {
    const r = restore(snapshot);
    const a = await collect(sample(r, { prime: "The ", length: 50, temperature: 0.8, seed: 3 }));
    const b = await collect(sample(r, { prime: "The ", length: 50, temperature: 0.8, seed: 3 }));
    const c = await collect(sample(r, { prime: "The ", length: 50, temperature: 0.8, seed: 4 }));
    expect(a.length).toBe(50);
    expect(a.join("")).toBe(b.join(""));
    expect(c.join("")).not.toBe(a.join(""));
    expect((await collect(sample(r, { prime: "", length: 5, temperature: 1, seed: 0 }))).join("").length).toBe(5);
  });

  it("reads every gate of every layer over a text; h is the layer's output", () => {
    const r = restore(snapshot);
    const probe = "To be, or not to be";
    const result = inspect(r, probe);
    expect(result.chars.join("")).toBe(probe);
    expect(result.layers.length).toBe(2);
    const T = probe.length;
    for (const layer of result.layers) {
      expect(Object.keys(layer).sort()).toEqual(["c", "f", "g", "h", "i", "o"]);
      for (const values of Object.values(layer)) expect(values.length).toBe(T * 16);
      for (const gate of ["i", "f", "o"]) expect(Array.from(layer[gate]!).every((v) => v > 0 && v < 1)).toBe(true);
    }
    const { logits } = r.model.forward(r.params, fromArray(Array.from(r.tokenizer.encode(probe), (id) => [id]), { dtype: "int32" }));
    // The last layer's h through the head gives the model's own logits.
    const h = result.layers[1]!.h!;
    const w = r.params.head.weight!;
    const V = r.model.config.vocabSize;
    for (const t of [0, T - 1]) {
      for (const v of [0, 7]) {
        let z = r.params.head.bias.data[v]!;
        for (let u = 0; u < 16; u++) z += h[t * 16 + u]! * w.data[v * 16 + u]!;
        expect(z).toBeCloseTo(logits.data[t * V + v]!, 4);
      }
    }
    expect(inspect(r, "x".repeat(MAX_INSPECT_CHARS + 50)).chars.length).toBe(MAX_INSPECT_CHARS);
  });

  it("reads a plain RNN's hidden state and a GRU's gates", async () => {
    const rnn = inspect(restore(await trainedSnapshot({ cell: "rnn_tanh", numLayers: 1 })), "abc");
    expect(Object.keys(rnn.layers[0]!)).toEqual(["h"]);
    const gru = inspect(restore(await trainedSnapshot({ cell: "gru", numLayers: 1 })), "abc");
    expect(gateNames(gru.layers[0]!)).toEqual(["r", "z", "n", "h"]); // (and hn, the recurrent part of n, which is not drawn)
  });

  it("exports to ONNX and onnxruntime-web gives the library's logits and text", async () => {
    const web = await import("onnxruntime-web");
    web.env.wasm.numThreads = 1;
    const r = restore(snapshot);
    const report = await compareWithOnnx(r, { ort: web as unknown as OrtModule, prime: "The ", length: 40, temperature: 0.8, seed: 7 });
    expect(report.provider).toBe("wasm");
    expect(report.textOnnx).toBe(report.textLibrary);
    expect(report.textLibrary.length).toBe(40);
    expect(report.probeTokens).toBe(44);
    expect(report.maxAbsDiff).toBeLessThan(1e-4);
    expect(report.bytes.length).toBeGreaterThan(1000);
    expect(report.step).toBe(r.step);
    expect(report).toMatchObject({ engine: "wasm", lowering: "operators", adapter: null, notes: [] });
  });

  it("the WebGPU engine without WebGPU (Node has no navigator.gpu) runs on wasm and says why; a plain RNN is exported unrolled for it", async () => {
    const web = await import("onnxruntime-web");
    web.env.wasm.numThreads = 1;
    const r = restore(await trainedSnapshot({ cell: "rnn_tanh", numLayers: 1 }));
    const report = await compareWithOnnx(r, { ort: web as unknown as OrtModule, prime: "The ", length: 20, temperature: 0.8, seed: 7, engine: "webgpu" });
    expect(report.engine).toBe("webgpu");
    expect(report.provider).toBe("wasm");
    expect(report.lowering).toBe("unrolled");
    expect(report.notes).toHaveLength(1);
    expect(report.notes[0]).toMatch(/^WEBGPU execution provider is not available \(navigator\.gpu is missing: .*Running on the CPU \(wasm\) instead\.$/);
    expect(report.textOnnx).toBe(report.textLibrary);
    expect(report.maxAbsDiff).toBeLessThan(1e-4);
  });
});
