// Loading the WebAssembly kernels module (built from packages/tensor/assembly by `pnpm run wasm`
// and embedded as base64, so the same code runs in Node, browsers and workers without file paths,
// fetch or bundler plugins) and the typed view of its exports.

import { kernelsWasmBase64, threadedKernelsWasmBase64 } from "./kernels.wasm.generated.js";

/** The exports of the kernels module; addresses are byte offsets into `memory`. */
export interface KernelsExports {
  readonly memory: { readonly buffer: ArrayBuffer };
  /** Makes `bytes` of the user region addressable and returns its address, or 0 when it cannot. */
  reserve(bytes: number): number;
  /** `C = op(A)·op(B)` (`+ C` when `accumulate`), row-major f32; see assembly/gemm.ts. */
  gemm(
    transA: boolean, transB: boolean, M: number, N: number, K: number,
    a: number, lda: number, b: number, ldb: number, c: number, ldc: number, accumulate: boolean,
  ): void;
  /** The fused recurrent scan; see assembly/recurrent.ts and src/backend/wasm/recurrent.ts. */
  recurrentForward(
    cell: number, T: number, B: number, I: number, H: number, reverse: boolean,
    x: number, Wih: number, bih: number, W: number, bias: number, h0: number, c0: number, lengths: number,
    hs: number, states: number, cells: number, gates: number, hT: number, cT: number, xProj: number, hp: number,
  ): void;
  recurrentBackward(
    cell: number, T: number, B: number, H: number, reverse: boolean,
    W: number, h0: number, c0: number, lengths: number, states: number, cells: number, gates: number,
    dhs: number, dhT: number, dcT: number,
    dx: number, dW: number, db: number, dh0: number, dc0: number,
    dhp: number, gh: number, gc: number, dprev: number, extra: number, hPrevAll: number,
    accumulate: boolean,
  ): void;
  /** The fused attention decoder; see assembly/attention.ts and src/backend/wasm/attention-decoder.ts. */
  attentionDecoderForward(
    cell: number, T: number, B: number, E: number, S: number, D: number, A: number, H: number,
    x: number, Wih: number, bih: number, Whh: number, bhh: number, h0: number, c0: number,
    values: number, keys: number, mask: number, Wq: number, v: number,
    hs: number, contexts: number, weights: number, hT: number, cT: number, cells: number, gates: number,
    q: number, input: number, xProj: number, hp: number,
  ): void;
  attentionDecoderBackward(
    cell: number, T: number, B: number, E: number, S: number, D: number, A: number, H: number,
    x: number, Wih: number, Whh: number, h0: number, c0: number, values: number, keys: number, Wq: number, v: number,
    hs: number, cells: number, gates: number, contexts: number, weights: number,
    dhs: number, dcontexts: number, dweights: number, dhT: number, dcT: number,
    dx: number, dWih: number, dbih: number, dWhh: number, dbhh: number, dh0: number, dc0: number, dValues: number, dKeys: number, dWq: number, dv: number,
    gh: number, gc: number, gh2: number, gc2: number, sGh: number, sGc: number, sPrev: number, sExtra: number, sPrevAll: number,
    dA: number, dhp: number, input: number, dInput: number, dq: number, dctx: number, dalpha: number, q: number,
  ): void;
  /** The elementwise kernels of assembly/elementwise.ts; see src/backend/wasm/elementwise.ts. */
  unaryF32(op: number, x: number, out: number, n: number): void;
  clampF32(x: number, out: number, n: number, min: number, max: number): void;
  binaryF32(op: number, rows: number, len: number, a: number, offA: number, sa: number, b: number, offB: number, sb: number, out: number): void;
  reduceAllF32(op: number, x: number, n: number): number;
  reduceRowsF32(op: number, rows: number, len: number, x: number, out: number): void;
  reduceColumnsF32(op: number, rows: number, len: number, x: number, out: number, accumulate: boolean): void;
  reduceOuterInnerF32(op: number, A: number, B: number, C: number, x: number, acc: number, accumulate: boolean): void;
  softmaxRowsF32(rows: number, C: number, x: number, out: number, log: boolean): void;
  softmaxCrossEntropyF32(rows: number, C: number, x: number, targets: number, ignore: number, out: number, scratch: number): void;
  softmaxCrossEntropyBackwardF32(rows: number, C: number, x: number, targets: number, g: number, ignore: number, out: number): void;
  /**
   * Convolutions on the geometry block at \`geom\` (32 i32: shapes, stride, pads, dilation, groups
   * and operand addresses, see src/backend/wasm/conv.ts); see assembly/conv.ts.
   */
  conv2dForwardF32(geom: number, weight: number): void;
  conv2dBackwardInputF32(geom: number, weight: number): void;
  conv2dBackwardWeightF32(geom: number): void;
  /** Batched 2-D transposes of 32-bit elements; see assembly/transpose.ts. */
  transposeF32(batch: number, R: number, C: number, x: number, out: number): void;
  /** One fused Adam step; see assembly/optim.ts. */
  adamF32(
    p: number, g: number, m: number, v: number, n: number,
    beta1: number, oneMinusBeta1: number, beta2: number, oneMinusBeta2: number, bias2Sqrt: number, negStepSize: number, eps: number, shrink: number,
  ): void;
  /** Threaded build only: how many workers (already started, see `threadedKernelsInstanceSync`) products may use. */
  setWorkers(count: number): void;
  /** Threaded build only: how many workers are in their loop, taking jobs. */
  readyWorkers(): number;
  /** Threaded build only: jobs the workers have run so far. */
  workerJobs(): number;
}

// The WebAssembly API, typed here because the package compiles without the DOM library.
type WasmModule = object;
interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  readonly Module: new (bytes: Uint8Array) => WasmModule;
  readonly Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => { readonly buffer: ArrayBuffer };
  readonly Instance: new (module: WasmModule, imports: object) => WasmInstance;
  compile(bytes: Uint8Array): Promise<WasmModule>;
  instantiate(module: WasmModule, imports: object): Promise<WasmInstance>;
}

function wasmApi(): WasmApi | undefined {
  return (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
}

/**
 * `(func (result v128) (i32x4.splat (i32.const 0)))`: validates only where fixed-width SIMD
 * (the feature the kernels need beyond the WebAssembly MVP) is supported.
 */
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x0a, 0x08, 0x01, 0x06, 0x00, 0x41, 0x00, 0xfd, 0x11, 0x0b, // code: i32.const 0; i32x4.splat; end
]);

/** Whether this JavaScript engine can run the WebAssembly SIMD kernels (validates a tiny module). */
export function wasmSupported(): boolean {
  const api = wasmApi();
  try {
    return api !== undefined && api.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Decodes standard base64 (padding optional); a few lines instead of `atob`/`Buffer` for portability. */
export function decodeBase64(text: string): Uint8Array {
  const digits = new Int8Array(128).fill(-1);
  for (let i = 0; i < BASE64.length; i++) digits[BASE64.charCodeAt(i)] = i;
  const clean = text.replace(/=+$/, "");
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let nbits = 0;
  let o = 0;
  for (let i = 0; i < clean.length; i++) {
    const d = digits[clean.charCodeAt(i)] ?? -1;
    if (d < 0) throw new Error(`invalid base64 character at ${i}`);
    bits = (bits << 6) | d;
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      out[o++] = (bits >> nbits) & 0xff;
    }
  }
  return out;
}

function requireApi(): WasmApi {
  const api = wasmApi();
  if (api === undefined || !wasmSupported()) {
    throw new Error("WebAssembly SIMD is not supported by this JavaScript engine; use referenceKernels");
  }
  return api;
}

const IMPORTS = {
  env: {
    abort(): never {
      throw new Error("the WebAssembly kernels module aborted");
    },
  },
};

function asExports(instance: WasmInstance): KernelsExports {
  const e = instance.exports;
  const functions = [
    "gemm", "reserve", "recurrentForward", "recurrentBackward", "attentionDecoderForward", "attentionDecoderBackward",
    "conv2dForwardF32", "conv2dBackwardInputF32", "conv2dBackwardWeightF32", "clampF32", "transposeF32", "setWorkers", "readyWorkers", "workerJobs",
  ];
  if (functions.some((name) => typeof e[name] !== "function") || typeof e.memory !== "object") {
    throw new Error(`the WebAssembly kernels module lacks some of its exports (${functions.join(", ")}, memory): a stale build? run \`pnpm run wasm\``);
  }
  return e as unknown as KernelsExports;
}

let instance: KernelsExports | undefined;
let pending: Promise<KernelsExports> | undefined;

/** The shared kernels instance, compiled and instantiated synchronously on first use. */
export function kernelsInstanceSync(): KernelsExports {
  if (instance === undefined) {
    const api = requireApi();
    instance = asExports(new api.Instance(new api.Module(decodeBase64(kernelsWasmBase64)), IMPORTS));
  }
  return instance;
}

/** The shared kernels instance, compiled asynchronously (what browsers' main threads need). */
export function kernelsInstance(): Promise<KernelsExports> {
  if (instance !== undefined) return Promise.resolve(instance);
  pending ??= (async () => {
    const api = requireApi();
    const module = await api.compile(decodeBase64(kernelsWasmBase64));
    const created = asExports(await api.instantiate(module, IMPORTS));
    instance ??= created;
    return instance;
  })().catch((error: unknown) => {
    pending = undefined; // let a later call try again
    throw error;
  });
  return pending;
}

/** The most threads the threaded module has scratch space for (MAX_THREADS in assembly/scratch.ts). */
export const MAX_WASM_THREADS = 8;

interface NodeWorkerThreads {
  readonly Worker: new (source: string, options: { eval: true; workerData: unknown; name?: string }) => {
    unref(): void;
  };
}
interface NodeOs {
  availableParallelism(): number;
}
interface NodeProcess {
  getBuiltinModule?(name: string): unknown;
}

/** Node's built-in module `name`, loaded synchronously without a static import (this package also runs in browsers). */
function nodeBuiltin<T>(name: string): T | undefined {
  const process = (globalThis as unknown as { process?: NodeProcess }).process;
  return process?.getBuiltinModule?.(name) as T | undefined;
}

/** Whether `threads > 1` can work here: Node (worker threads), shared WebAssembly memory and SIMD. */
export function wasmThreadsSupported(): boolean {
  if (!wasmSupported() || typeof SharedArrayBuffer === "undefined") return false;
  return nodeBuiltin<NodeWorkerThreads>("node:worker_threads") !== undefined;
}

/** A good thread count for the WebAssembly kernels here: Node's available parallelism (at most 8), else 1. */
export function defaultWasmThreads(): number {
  if (!wasmThreadsSupported()) return 1;
  const os = nodeBuiltin<NodeOs>("node:os");
  return Math.max(1, Math.min(MAX_WASM_THREADS, os?.availableParallelism() ?? 1));
}

// Each worker instantiates the same compiled module on the same shared memory and parks in
// `workerLoop` (assembly/parallel.ts) for the rest of the process; unref'd, it never keeps Node alive.
const WORKER_SOURCE = `
const { workerData } = require("node:worker_threads");
const { module, memory, thread } = workerData;
const instance = new WebAssembly.Instance(module, {
  env: { memory, abort() { throw new Error("the WebAssembly kernels module aborted (worker " + thread + ")"); } },
});
instance.exports.workerLoop(thread);
`;

const threadedInstances = new Map<number, KernelsExports>();

/**
 * A kernels instance whose matrix products are split over `threads` threads: this one and
 * `threads - 1` Node worker threads sharing its memory. Workers start in the background; products
 * run on this thread alone until they are ready. Node only (browsers would need cross-origin
 * isolation and a worker script URL).
 */
export function threadedKernelsInstanceSync(threads: number): KernelsExports {
  if (!Number.isInteger(threads) || threads < 2 || threads > MAX_WASM_THREADS) {
    throw new RangeError(`threads must be an integer from 2 to ${MAX_WASM_THREADS}, got ${threads} (1 thread: the default kernels)`);
  }
  const existing = threadedInstances.get(threads);
  if (existing) return existing;
  const api = requireApi();
  const workerThreads = nodeBuiltin<NodeWorkerThreads>("node:worker_threads");
  if (workerThreads === undefined || typeof SharedArrayBuffer === "undefined") {
    throw new Error("threaded WebAssembly kernels need Node's worker_threads and SharedArrayBuffer; use threads: 1 here");
  }
  const module = new api.Module(decodeBase64(threadedKernelsWasmBase64));
  const memory = new api.Memory({ initial: 1, maximum: 65536, shared: true });
  const created = asExports(new api.Instance(module, { env: { ...IMPORTS.env, memory } }));
  created.reserve(0); // grows memory over every thread's scratch and control slot before a worker touches them
  for (let thread = 1; thread < threads; thread++) {
    const worker = new workerThreads.Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { module, memory, thread },
      name: `unroll-kernels-${thread}`,
    });
    worker.unref();
  }
  created.setWorkers(threads - 1);
  threadedInstances.set(threads, created);
  return created;
}

// Typed here: the package compiles without the DOM library or Node's types.
const timers = globalThis as unknown as { setTimeout(callback: (value: unknown) => void, ms: number): unknown };

/** Resolves once `threads - 1` workers of a threaded instance take jobs, or after `timeoutMs` (products then use fewer threads). */
export async function workersReady(wasm: KernelsExports, threads: number, timeoutMs = 10_000): Promise<boolean> {
  const start = Date.now();
  while (wasm.readyWorkers() < threads - 1) {
    if (Date.now() - start > timeoutMs) return false;
    await new Promise((resolve) => timers.setTimeout(resolve, 2));
  }
  return true;
}
