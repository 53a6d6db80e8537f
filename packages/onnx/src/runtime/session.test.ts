import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LanguageModel } from "@unroll/nlp";
import { fromArray, Rng, tanh } from "@unroll/tensor";
import { describe, expect, it } from "vitest";
import { encodeModel, exportLanguageModel, OnnxSession, onnxStepFunction, PRODUCER_VERSION, traceToOnnx } from "../index.js";

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
