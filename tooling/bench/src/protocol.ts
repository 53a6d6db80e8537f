// The JSON an engine's child process writes (the Python engine writes the same fields).
import type { EngineName, WorkloadId, WorkloadSpec } from "./config.js";

export interface WorkloadResult {
  readonly id: WorkloadId;
  readonly spec: WorkloadSpec;
  /** "tokens/s", "chars/s" or "GFLOP/s". */
  readonly unit: string;
  readonly warmup: number;
  /** Calls per timed run: 1, except for the matrix products (repeated to about 50 ms a run). */
  readonly repeats: number;
  /** Seconds of every timed run, in order. */
  readonly seconds: readonly number[];
  /** The metric of every timed run (work per run / seconds, scaled). */
  readonly values: readonly number[];
  /**
   * Training losses of every step run (warm-up included): the first is from the shared initial
   * weights. W5 (a forward pass) reports its output's checksum per run instead (the mean of the
   * pooled features), the same in every run.
   */
  readonly losses?: readonly number[];
  /** W3: the first characters (indices) sampled by a run; every run samples the same text. */
  readonly sample?: readonly number[];
  /**
   * CPU used by other processes while the timed runs ran, in cores (0 = quiet machine): busy time
   * from /proc/stat minus this process's own CPU time, over the wall time. Null where unknown.
   */
  readonly backgroundCores: number | null;
  /** This process's CPU time over the wall time of the timed runs (about 1 for one busy thread). */
  readonly ownCores: number | null;
  /** Implementation choices that differ from the other engines. */
  readonly notes?: readonly string[];
  /** Set when the workload could not run; then `values` is empty. */
  readonly error?: string;
  /** Set when the engine lacks what the workload needs (not a failure of the benchmark); then `values` is empty. */
  readonly unsupported?: string;
}

export interface MemoryReport {
  /** What was measured and how. */
  readonly method: string;
  /** heapUsed + arrayBuffers + the WebAssembly memory after a full GC before the model existed, MB (2^20 bytes). */
  readonly baselineMB: number;
  /** The largest heapUsed + arrayBuffers + WebAssembly memory seen after a full GC during training steps, MB. */
  readonly peakMB: number;
  /** peak - baseline. */
  readonly peakAboveBaselineMB: number;
  /** Where the peak was seen: "end of forward" or "after backward". */
  readonly peakAt: string;
  /** Resident set size before the model and its largest value at the samples, MB (includes code, JIT, allocator slack). */
  readonly baselineRssMB: number;
  readonly peakRssMB: number;
  /** What W1 training must hold at least, from the shapes (see `requiredMemory`). */
  readonly required: RequiredMemory;
}

export interface RequiredMemory {
  readonly parameters: number;
  readonly floats: Readonly<Record<string, number>>;
  readonly totalFloats: number;
  readonly totalMB: number;
  readonly formula: string;
}

export interface EngineResult {
  readonly engine: EngineName;
  readonly variant: string;
  /** The row's name in the table: "unroll (reference)", "torch (2 threads)". */
  readonly label: string;
  /** Threads the engine computes with. */
  readonly threads: number;
  readonly threadsNote: string;
  readonly versions: Readonly<Record<string, string>>;
  /** Anything else worth printing: kernels in use, BLAS library, SIMD. */
  readonly info: Readonly<Record<string, string>>;
  readonly workloads: readonly WorkloadResult[];
  readonly memory?: MemoryReport;
  /** Set when the engine is not installed or not available; then `workloads` is empty. */
  readonly unavailable?: string;
}

export function isEngineResult(x: unknown): x is EngineResult {
  if (typeof x !== "object" || x === null) return false;
  const r = x as Record<string, unknown>;
  return typeof r.engine === "string" && typeof r.label === "string" && Array.isArray(r.workloads) && typeof r.threads === "number";
}
