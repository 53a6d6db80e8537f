// The whole pipeline at tiny sizes, once: the runner starts each engine's child process (unroll,
// TensorFlow.js's CPU backend, PyTorch where installed), which trains, generates and multiplies,
// and writes the JSON and the Markdown table. No timings are asserted (they mean nothing at these
// sizes); the shapes of the results and the numbers are.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WORKLOAD_IDS } from "./config.js";
import { unrollVariants } from "./engines/unroll.js";
import { lmParameterCount } from "./memory.js";
import type { EngineResult } from "./protocol.js";
import type { ConsistencyEntry, WorkloadSummary } from "./report.js";
import { haveTool } from "@unroll/testing/optional-tools";
import { main } from "./run.js";

interface Report {
  format: string;
  version: number;
  settings: { size: string };
  summary: WorkloadSummary[];
  consistency: ConsistencyEntry[];
  engines: EngineResult[];
}

const out = mkdtempSync(join(tmpdir(), "unroll-bench-test-"));
let code: number;
let report: Report;
let markdown: string;

beforeAll(async () => {
  code = await main(["--size", "tiny", "--out", out, "--engines", "unroll,tfjs-cpu,torch"]);
  report = JSON.parse(readFileSync(join(out, "latest.json"), "utf8")) as Report;
  markdown = readFileSync(join(out, "latest.md"), "utf8");
}, 400_000); // a guard against hangs: three PyTorch children and TensorFlow.js on a busy machine

afterAll(() => rmSync(out, { recursive: true, force: true }));

const unrollRows = (): EngineResult[] => report.engines.filter((e) => e.engine === "unroll");

describe("the unroll engine at tiny sizes", () => {
  it("runs as one row per kernel table and thread count", () => {
    expect(code).toBe(0);
    expect(report.format).toBe("unroll-bench");
    expect(report.settings.size).toBe("tiny");
    expect(unrollRows().map((e) => e.label)).toEqual(unrollVariants(cpus().length).map((v) => `unroll (${v})`));
  });

  it("runs every workload and reports finite losses that fall, samples in the vocabulary and positive throughputs", () => {
    for (const e of unrollRows()) {
      expect(e.unavailable).toBeUndefined();
      expect(e.threads).toBe(Number(/-(\d+)t$/.exec(e.variant)?.[1] ?? 1));
      expect(e.workloads.map((w) => w.id)).toEqual([...WORKLOAD_IDS]);
      const compiled = e.variant.startsWith("onnxruntime");
      for (const w of e.workloads) {
        expect(w.error).toBeUndefined();
        // The compiled engine runs the training steps of the recurrent models; it says so for the rest.
        if (compiled && !["W1", "W2", "W4"].includes(w.id)) {
          expect(w.unsupported).toMatch(/training steps/);
          continue;
        }
        expect(w.unsupported).toBeUndefined();
        expect(w.seconds).toHaveLength(2); // tiny: 1 warm-up, 2 timed runs
        expect(w.values.every((v) => Number.isFinite(v) && v > 0)).toBe(true);
        const spec = w.spec;
        if (spec.kind === "lm-train" || spec.kind === "seq2seq-train" || spec.kind === "cnn-train") {
          expect(w.losses).toHaveLength(3);
          expect(w.losses!.every(Number.isFinite)).toBe(true);
          expect(w.losses![2]!).toBeLessThan(w.losses![0]!); // Adam steps on the same batch lower the loss
        }
        if (spec.kind === "cnn-forward") {
          // the pooled features' mean, a checksum: the same every run, positive after the ReLUs
          expect(w.losses).toHaveLength(3);
          expect(new Set(w.losses).size).toBe(1);
          expect(w.losses![0]!).toBeGreaterThan(0);
        }
        if (spec.kind === "lm-generate") {
          expect(w.sample).toHaveLength(spec.shape.chars);
          expect(w.sample!.every((c) => Number.isInteger(c) && c >= 0 && c < spec.shape.vocab)).toBe(true);
        }
      }
    }
  });

  it("measures the memory of W1 next to what it must hold", () => {
    for (const e of unrollRows().filter((r) => !r.variant.startsWith("onnxruntime"))) {
      const m = e.memory!;
      expect(m.peakMB).toBeGreaterThanOrEqual(m.baselineMB);
      expect(m.peakRssMB).toBeGreaterThan(0);
      // tiny W1: V 11, E 4, H 8, 1 layer, B 2, T 5
      expect(m.required.parameters).toBe(11 * 4 + 4 * 8 * (4 + 8) + 8 * 8 + 11 * 8 + 11);
      expect(m.required.totalFloats).toBe(4 * m.required.parameters + 2 * 5 * (4 + 6 * 8 + 11));
    }
  });

  it("summarises each workload with medians and ratios, in JSON and Markdown", () => {
    expect(report.summary.map((s) => s.id)).toEqual([...WORKLOAD_IDS]);
    for (const s of report.summary) {
      const ours = s.rows.find((r) => r.label === "unroll (reference)")!;
      expect(ours.median).toBeGreaterThan(0);
      expect(ours.min).toBeLessThanOrEqual(ours.median!);
      expect(ours.max).toBeGreaterThanOrEqual(ours.median!);
      expect(ours.ratios["unroll (reference)"]).toBe(1);
      const tfjs = s.rows.find((r) => r.label === "tfjs-cpu")!;
      expect(tfjs.ratios["unroll (reference)"]).toBeCloseTo(ours.median! / tfjs.median!, 12);
    }
    expect(markdown).toContain("| W1 char-LSTM LM train, 1×256 (tokens/s) | unroll (reference) |");
  });
});

describe("the peers at tiny sizes", () => {
  it("run PyTorch at 1 thread and at every core, or say it is not installed", () => {
    const torch = report.engines.filter((e) => e.engine === "torch");
    if (haveTool("pytorch")) {
      expect(torch.length).toBeGreaterThanOrEqual(1);
      expect(torch[0]!.label).toBe("torch (1 thread)");
      expect(torch.every((e) => e.unavailable === undefined && e.info.blas !== undefined)).toBe(true);
    } else {
      expect(torch).toHaveLength(1);
      expect(torch[0]!.unavailable).toMatch(/^not installed \(/);
    }
  });

  it("say PyTorch is not installed where UNROLL_PYTHON names an interpreter that cannot import it", async () => {
    // An interpreter without site-packages, started from this package, whose pytorch/ folder must not pass for torch.
    const python = join(out, "python-without-packages");
    writeFileSync(python, '#!/bin/sh\nexec python3 -S "$@"\n');
    chmodSync(python, 0o755);
    const before = process.env.UNROLL_PYTHON;
    process.env.UNROLL_PYTHON = python;
    try {
      const dir = join(out, "without-torch");
      expect(await main(["--size", "tiny", "--only", "MM256", "--engines", "torch", "--out", dir])).toBe(0);
      const r = JSON.parse(readFileSync(join(dir, "latest.json"), "utf8")) as Report;
      expect(r.engines.map((e) => [e.label, e.unavailable])).toEqual([["torch", `not installed (${python} cannot import torch and numpy (ModuleNotFoundError: No module named 'torch'))`]]);
    } finally {
      if (before === undefined) delete process.env.UNROLL_PYTHON;
      else process.env.UNROLL_PYTHON = before;
    }
  });

  it("say which workloads an engine cannot run instead of failing: tfjs-wasm has no convolution weight gradient", async () => {
    const dir = join(out, "tfjs-wasm-cnn");
    expect(await main(["--size", "tiny", "--only", "CNN", "--engines", "tfjs-wasm", "--out", dir])).toBe(0);
    const r = JSON.parse(readFileSync(join(dir, "latest.json"), "utf8")) as Report;
    const [forward, train] = r.summary;
    expect(forward!.rows[0]!.median).toBeGreaterThan(0);
    expect(train!.rows[0]!.missing).toBe("not supported: the wasm backend has no Conv2DBackpropFilter kernel (a convolution's weight gradient)");
  });

  it("train from the same weights to the same losses and sample the same characters as unroll", () => {
    const compared = new Set(report.consistency.map((c) => c.label));
    expect(compared.has("tfjs-cpu")).toBe(true);
    if (haveTool("pytorch")) expect(compared.has("torch (1 thread)")).toBe(true);
    expect(report.consistency.filter((c) => !c.ok)).toEqual([]);
    expect(report.consistency.filter((c) => c.id === "W3").every((c) => c.sameChars === 7 && c.ofChars === 7)).toBe(true);
  });
});

describe("the memory formula", () => {
  it("counts W1's parameters as nn.Embedding(65, 64) + nn.LSTM(64, 256) + nn.Linear(256, 65) do", () => {
    // 65·64 + (4·256·64 + 4·256·256 + 2·4·256) + (65·256 + 65)
    expect(lmParameterCount({ vocab: 65, embedding: 64, hidden: 256, layers: 1, batch: 32, steps: 64 })).toBe(4_160 + 329_728 + 16_705);
  });
});
