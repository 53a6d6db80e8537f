import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LanguageModel } from "@unroll/nlp";
import { fromArray, Rng, tanh } from "@unroll/tensor";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  decodeModel, encodeModel, exportLanguageModel, hasWebGpu, loweringFor, OnnxSession, onnxStepFunction, type OrtModule, PRODUCER_VERSION,
  providerFallbacks, traceToOnnx,
} from "../index.js";

const model = new LanguageModel({ vocabSize: 7, cell: "gru", hiddenSize: 4, embeddingSize: 3 });
const params = model.init(new Rng(41));

describe("OnnxSession", () => {
  it("falls back to the CPU with a clear message when CUDA or WebGPU is not available", async () => {
    const bytes = exportLanguageModel(model, params);
    for (const provider of ["cuda", "webgpu"] as const) {
      const messages: string[] = [];
      const session = await OnnxSession.create(bytes, { executionProviders: [provider, "cpu"], onFallback: (m) => messages.push(m) });
      if (session.executionProvider === provider) {
        expect(messages).toEqual([]); // a machine that has it
      } else {
        expect(session.executionProvider).toBe("cpu");
        expect(messages).toHaveLength(1);
        expect(messages[0]).toMatch(new RegExp(`^${provider.toUpperCase()} execution provider is not available \\(.+\\)\\..*Running on the CPU \\(cpu\\) instead\\.$`));
        if (provider === "cuda") {
          expect(messages[0]).toContain("its install script downloads it from NuGet");
          expect(messages[0]).toContain("--onnxruntime-node-install=cuda12");
          expect(messages[0]).toMatch(/README, "Running on a GPU"/);
          // The message speaks to whoever installed the package, not about this repository's policy.
          expect(messages[0]).not.toMatch(/this project|pnpm's default|GitHub/);
        }
      }
      const out = await session.runTensors({ tokens: fromArray([1, 2], { dtype: "int32" }), h_0: model.initialState(2).h });
      expect(out["logits"]!.shape).toEqual([2, 7]);
    }
  });

  it("with onnxruntime-web and no navigator.gpu, a WebGPU preference runs on wasm and says why and what to do", async () => {
    expect(hasWebGpu()).toBe(false); // Node has no navigator.gpu
    const web = (await import("onnxruntime-web")) as unknown as OrtModule & { env: { wasm: { numThreads: number } } };
    web.env.wasm.numThreads = 1;
    const messages: string[] = [];
    const session = await OnnxSession.create(exportLanguageModel(model, params), { runtime: web, executionProviders: ["webgpu", "wasm"], onFallback: (m) => messages.push(m) });
    expect(session.executionProvider).toBe("wasm");
    expect(session.provider).toBe("wasm");
    expect(session.cpuNodes).toEqual([]);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/^WEBGPU execution provider is not available \(navigator\.gpu is missing: .*secure context .*\)\. Use a browser with WebGPU \(.*--enable-unsafe-webgpu.*\)\. Running on the CPU \(wasm\) instead\.$/);
    const out = await session.runTensors({ tokens: fromArray([1, 2], { dtype: "int32" }), h_0: model.initialState(2).h });
    expect(out["logits"]!.shape).toEqual([2, 7]);
  });

  describe("on WebGPU (a stand-in provider: onnxruntime-web's wasm under the name webgpu, and a navigator.gpu)", () => {
    afterEach(() => vi.unstubAllGlobals());
    const standIn = async (): Promise<{ ort: OrtModule; asked: string[][] }> => {
      const web = (await import("onnxruntime-web")) as unknown as OrtModule & { env: { wasm: { numThreads: number } } };
      web.env.wasm.numThreads = 1;
      const asked: string[][] = [];
      const ort: OrtModule = {
        Tensor: web.Tensor,
        InferenceSession: {
          create: (bytes, options) => {
            const providers = (options?.["executionProviders"] ?? []) as string[];
            asked.push(providers);
            return web.InferenceSession.create(bytes, { ...options, executionProviders: providers.map((p) => (p === "webgpu" ? "wasm" : p)) });
          },
        },
      };
      return { ort, asked };
    };

    it("reports the provider that ran, and names the nodes it has no kernel for (a plain RNN's) with the fix", async () => {
      vi.stubGlobal("navigator", { gpu: {} });
      expect(hasWebGpu()).toBe(true);
      const { ort, asked } = await standIn();
      const rnn = new LanguageModel({ vocabSize: 7, cell: "rnn_tanh", hiddenSize: 4, numLayers: 2 });
      const rnnParams = rnn.init(new Rng(3));
      const messages: string[] = [];
      const session = await OnnxSession.create(exportLanguageModel(rnn, rnnParams), { runtime: ort, executionProviders: ["webgpu", "wasm"], onFallback: (m) => messages.push(m) });
      expect(asked).toEqual([["webgpu"]]);
      expect(session.provider).toBe("webgpu");
      expect(session.cpuNodes.map((n) => n.opType)).toEqual(["RNN", "RNN"]);
      expect(messages).toHaveLength(1);
      expect(messages[0]).toMatch(/^Running on webgpu, except 2 nodes that it has no kernel for \(RNN: RecurrentSequence_\d+\/RNN, RecurrentSequence_\d+\/RNN\), which onnxruntime runs on its CPU provider \(wasm\) inside the session\. Export the step graph with lowering: "unrolled" .*provider: "webgpu".*$/);

      // The fix: exported for WebGPU, the plain RNN's step graph is unrolled and nothing is left to the CPU.
      const unrolled = exportLanguageModel(rnn, rnnParams, { provider: "webgpu" });
      expect(decodeModel(unrolled).graph.node.some((n) => n.op_type === "RNN")).toBe(false);
      messages.length = 0;
      const full = await OnnxSession.create(unrolled, { runtime: ort, executionProviders: ["webgpu", "wasm"], onFallback: (m) => messages.push(m) });
      expect(full.provider).toBe("webgpu");
      expect(full.cpuNodes).toEqual([]);
      expect(messages).toEqual([]);
      const a = await onnxStepFunction(session)(Int32Array.of(1, 4), null);
      const b = await onnxStepFunction(full)(Int32Array.of(1, 4), null);
      for (let i = 0; i < a.logits.length; i++) expect(Math.abs(a.logits[i]! - b.logits[i]!)).toBeLessThan(1e-5);
    });

    it("LSTM and GRU keep their operators (WebGPU has kernels for them); the sequence graph is never unrolled", () => {
      expect(loweringFor("webgpu", "lstm")).toBe("operators");
      expect(loweringFor("webgpu", "gru")).toBe("operators");
      expect(loweringFor("webgpu", "rnn_relu")).toBe("unrolled");
      expect(loweringFor("wasm", "rnn_tanh")).toBe("operators");
      const lstm = new LanguageModel({ vocabSize: 7, cell: "lstm", hiddenSize: 4 });
      const proto = decodeModel(exportLanguageModel(lstm, lstm.init(new Rng(1)), { provider: "webgpu" }));
      expect(proto.graph.node.filter((n) => n.op_type === "LSTM")).toHaveLength(1);
      expect(providerFallbacks(proto, "webgpu")).toEqual([]);
      const rnn = new LanguageModel({ vocabSize: 7, cell: "rnn_tanh", hiddenSize: 4 });
      const sequence = decodeModel(exportLanguageModel(rnn, rnn.init(new Rng(1)), { provider: "webgpu", graph: "sequence" }));
      expect(providerFallbacks(sequence, "webgpu").map((n) => n.opType)).toEqual(["RNN"]);
      expect(providerFallbacks(sequence, "wasm")).toEqual([]);
    });

    it("a WebGPU provider that fails to start (no adapter) falls back to wasm with onnxruntime's reason", async () => {
      vi.stubGlobal("navigator", { gpu: {} });
      const web = (await import("onnxruntime-web")) as unknown as OrtModule;
      const messages: string[] = [];
      const session = await OnnxSession.create(exportLanguageModel(model, params), { runtime: web, executionProviders: ["webgpu", "wasm"], onFallback: (m) => messages.push(m) });
      expect(session.provider).toBe("wasm");
      expect(messages).toHaveLength(1);
      expect(messages[0]).toMatch(/^WEBGPU execution provider is not available \(.+\)\. WebGPU needs .* Running on the CPU \(wasm\) instead\.$/);
      expect(messages[0]).not.toContain("navigator.gpu is missing");
    });
  });

  it("reads a model from a file and keeps its metadata", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unroll-onnx-"));
    const path = join(dir, "lm.onnx");
    writeFileSync(path, exportLanguageModel(model, params));
    const session = await OnnxSession.create(path);
    expect(session.inputNames).toEqual(["tokens", "h_0"]);
    expect(session.outputNames).toEqual(["logits", "h_n"]);
    expect(session.metadata["unroll.graph"]).toBe("language-model/step");
    expect(session.signature?.state).toEqual([{ input: "h_0", output: "h_n", shape: [1, "batch", 4] }]);
  });

  it("a model onnxruntime refuses is an error that says so", async () => {
    const proto = traceToOnnx((x) => tanh(x), [[fromArray([1, 2])]]);
    proto.graph.node[0]!.op_type = "NoSuchOperator";
    await expect(OnnxSession.create(encodeModel(proto))).rejects.toThrow(/onnxruntime refused the model: .*NoSuchOperator/);
  });

  it("a step function needs a step graph and its signature", async () => {
    const plain = await OnnxSession.create(encodeModel(traceToOnnx((x) => tanh(x), [[fromArray([1, 2])]])));
    expect(() => onnxStepFunction(plain)).toThrow(/no unroll.signature metadata .* pass the signature/);
    const sequence = await OnnxSession.create(exportLanguageModel(model, params, { graph: "sequence" }));
    expect(() => onnxStepFunction(sequence)).toThrow(/whole-sequence graph .* export the step graph/);
    const step = await OnnxSession.create(exportLanguageModel(model, params));
    expect(() => onnxStepFunction(step, { ...step.signature!, logits: "scores" })).toThrow(/the model has no output "scores" \(outputs: logits, h_n\)/);
    // Batch 2, state from zeros, then carried.
    const run = onnxStepFunction(step);
    const first = await run(Int32Array.of(1, 5), null);
    expect(first.logits.length).toBe(14);
    const second = await run(Int32Array.of(2, 3), first.state);
    const again = await run(Int32Array.of(2, 3), null);
    expect(Array.from(second.logits)).not.toEqual(Array.from(again.logits)); // the state mattered
  });

  it("writes the package version as producer_version", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    expect(PRODUCER_VERSION).toBe(pkg.version);
  });
});

describe("onnxruntime-node's telemetry", () => {
  it("is off by default: a session writes nothing under the user's home (no device id, no event cache)", () => {
    // A fresh process (the runtime reads the setting once per process) with an empty home.
    const home = mkdtempSync(join(tmpdir(), "unroll-home-"));
    const entry = new URL("../../dist/index.js", import.meta.url).href;
    const script = `
      import { fromArray, tanh } from "@unroll/tensor";
      const { encodeModel, OnnxSession, traceToOnnx } = await import(${JSON.stringify(entry)});
      const session = await OnnxSession.create(encodeModel(traceToOnnx((x) => tanh(x), [[fromArray([1, 2])]])));
      const out = await session.run({ [session.inputNames[0]]: fromArray([0.5, 1]) });
      console.log(Object.keys(out).length, process.env.ORT_DISABLE_TELEMETRY);`;
    const env = { ...process.env, HOME: home, XDG_CACHE_HOME: undefined, ORT_DISABLE_TELEMETRY: undefined };
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: new URL("../..", import.meta.url), env, encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("1 1");
    expect(readdirSync(home, { recursive: true })).toEqual([]);
  });
});
