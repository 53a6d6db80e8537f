// The TensorFlow.js engines' child process: "tfjs-cpu" (the pure-JavaScript CPU backend) and
// "tfjs-wasm" (the WebAssembly backend, XNNPACK, SIMD when the runtime has it).
import { createRequire } from "node:module";
import * as tf from "@tensorflow/tfjs";
import type { Job } from "../config.js";
import type { EngineResult } from "../protocol.js";
import { logger, runAll } from "./harness.js";
import { buildTfjs } from "./tfjs-models.js";

/** Threads asked of the WebAssembly backend: every core of this machine. */
const WASM_THREADS_REQUESTED = 2;

function version(pkg: string): string {
  try {
    return (createRequire(import.meta.url)(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

export async function runTfjs(job: Job): Promise<EngineResult> {
  const label = job.engine;
  const log = logger(label);
  const versions = { "@tensorflow/tfjs": version("@tensorflow/tfjs"), node: process.version };
  const info: Record<string, string> = {};
  let threads = 1;
  let threadsNote = "1: the JavaScript main thread (the CPU backend has no threads)";
  if (job.engine === "tfjs-wasm") {
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    Object.assign(versions, { "@tensorflow/tfjs-backend-wasm": version("@tensorflow/tfjs-backend-wasm") });
    // Must precede setBackend. tfjs 4.22 turns WebAssembly threads off under Node
    // (WASM_HAS_MULTITHREAD_SUPPORT is false when IS_NODE, tfjs issue #3830), so the backend
    // reports the count it really uses.
    wasm.setThreadsCount(WASM_THREADS_REQUESTED);
    if (!(await tf.setBackend("wasm"))) return { engine: job.engine, variant: job.variant, label, threads: 0, threadsNote: "", versions, info, workloads: [], unavailable: "tf.setBackend('wasm') failed" };
    await tf.ready();
    threads = wasm.getThreadsCount();
    const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
    const mt = await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT");
    info.simd = String(simd);
    info.multithreadSupport = String(mt);
    threadsNote = `${threads}: setThreadsCount(${WASM_THREADS_REQUESTED}) asked, getThreadsCount() = ${threads}` + (mt ? "" : " (tfjs disables WebAssembly threads under Node)");
  } else {
    await tf.setBackend("cpu");
    await tf.ready();
  }
  info.backend = tf.getBackend();
  log(`backend ${info.backend}, threads ${threads}`);
  const options = { oneHotEmbedding: true };
  const workloads = await runAll(job, (w) => buildTfjs(w.spec, job.seed, options), log);
  info.tensorsLeftAfterRun = String(tf.memory().numTensors);
  return { engine: job.engine, variant: job.variant, label, threads, threadsNote, versions, info, workloads };
}
