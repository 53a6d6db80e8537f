// The unroll engine's child process. Variant "reference": the default kernel table. Variant
// "wasm": the WebAssembly kernels on the main thread; "wasm-<n>t": the same on n threads.
import { createRequire } from "node:module";
import { getKernels, loadWasmKernels, MAX_WASM_THREADS, setKernels } from "@unroll/tensor";
import type { Job, LmShape, TrainSettings } from "../config.js";
import { requiredMemory } from "../memory.js";
import type { EngineResult, MemoryReport } from "../protocol.js";
import { buildCompiled, buildUnroll, lmTrainMemory } from "./unroll-models.js";
import { logger, runAll } from "./harness.js";

/**
 * The unroll rows: the reference kernels, the WebAssembly ones on 1 and on `cores` threads, and the
 * training step compiled into one onnxruntime graph (@unroll/onnx's `compileStep`) on 1 and on
 * `cores` of onnxruntime's threads.
 */
export function unrollVariants(cores: number): string[] {
  const many = Math.min(cores, MAX_WASM_THREADS);
  return ["reference", "wasm", ...(cores > 1 ? [`wasm-${many}t`] : []), "onnxruntime", ...(cores > 1 ? [`onnxruntime-${many}t`] : [])];
}

/** Threads of a variant: "wasm-2t" and "onnxruntime-2t" run on 2, the others on 1. */
function threadsOf(variant: string): number {
  return Number(/^(?:wasm|onnxruntime)-(\d+)t$/.exec(variant)?.[1] ?? 1);
}

function tensorVersion(): string {
  try {
    const require = createRequire(import.meta.url);
    return (require("@unroll/tensor/package.json") as { version: string }).version;
  } catch {
    return "unknown";
  }
}

export async function runUnroll(job: Job): Promise<EngineResult> {
  const label = `unroll (${job.variant})`;
  const log = logger(label);
  const threads = threadsOf(job.variant);
  const compiled = job.variant.startsWith("onnxruntime");
  const base = {
    engine: job.engine,
    variant: job.variant,
    label,
    threads,
    threadsNote: compiled
      ? `${threads}: onnxruntime's intra-op threads (intraOpNumThreads ${threads}); the optimiser and clipping on the JavaScript main thread`
      : threads === 1
        ? "1: the JavaScript main thread"
        : `${threads}: the main thread and ${threads - 1} worker thread(s) sharing the WebAssembly memory`,
    versions: { "@unroll/tensor": tensorVersion(), node: process.version },
  };
  let kernels = getKernels().name;
  if (job.variant.startsWith("wasm")) {
    try {
      const table = await loadWasmKernels({ threads });
      setKernels(table);
      kernels = table.name;
    } catch (e) {
      return { ...base, info: {}, workloads: [], unavailable: (e as Error).message };
    }
  }
  // Memory first, in the fresh process: WebAssembly memory only grows, so after the timed runs
  // (matmul 1024³) the baseline would already hold their high-water mark.
  let memory: MemoryReport | undefined;
  const w1 = job.workloads.find((w) => w.spec.id === "W1");
  if (job.memory && w1 && w1.spec.kind === "lm-train" && !compiled) {
    try {
      const shape: LmShape = w1.spec.shape;
      const train: TrainSettings = w1.spec.train;
      const m = lmTrainMemory(shape, train, job.seed, { kernelStride: job.memory.kernelStride });
      memory = {
        method: `node --expose-gc; full GC, then process.memoryUsage() heapUsed + arrayBuffers + the kernels' WebAssembly memory, sampled ${m.samples} times over 3 W1 training steps (${job.memory.kernelStride === 1 ? "before every kernel call, " : ""}at the end of each forward pass, after each backward)`,
        baselineMB: m.baselineMB,
        peakMB: m.peakMB,
        peakAboveBaselineMB: m.peakMB - m.baselineMB,
        peakAt: m.peakAt,
        baselineRssMB: m.baselineRssMB,
        peakRssMB: m.peakRssMB,
        required: requiredMemory(shape),
      };
      log(`W1 memory: peak ${memory.peakAboveBaselineMB.toFixed(1)} MiB above baseline (${m.peakAt}); required ${memory.required.totalMB.toFixed(1)} MiB`);
    } catch (e) {
      log(`W1 memory: failed: ${(e as Error).message}`);
    }
  }
  const workloads = await runAll(job, (w) => (compiled ? buildCompiled(w.spec, job.seed, threads) : buildUnroll(w.spec, job.seed)), log);
  return { ...base, info: { kernels: compiled ? "onnxruntime (compiled step)" : kernels }, workloads, ...(memory ? { memory } : {}) };
}

