/// <reference types="node" />
import { type DataArray, Tensor, TensorError } from "@unroll/tensor";
import { type GraphSignature, readMetadata, signatureOf } from "../metadata.js";
import { decodeModel } from "../proto/onnx.js";
import { type FallbackNode, providerFallbacks } from "./providers.js";

// A thin wrapper over onnxruntime: onnxruntime-node in Node, onnxruntime-web in browsers (or any
// module with their API, passed in). Neither is a dependency of this package: install the one you
// run on. The types below are the part of their common API this wrapper uses.

/** An onnxruntime tensor (`ort.Tensor`). */
export interface OrtTensor {
  readonly type: string;
  readonly data: unknown;
  readonly dims: readonly number[];
}

/** An onnxruntime session (`ort.InferenceSession`). */
export interface OrtInferenceSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release?(): Promise<void>;
}

/** The onnxruntime module: `import * as ort from "onnxruntime-node"` (or "onnxruntime-web"). */
export interface OrtModule {
  readonly InferenceSession: { create(model: Uint8Array, options?: Record<string, unknown>): Promise<OrtInferenceSession> };
  readonly Tensor: new (type: string, data: ArrayLike<number> | ArrayLike<bigint>, dims: readonly number[]) => OrtTensor;
}

/** Execution providers by onnxruntime's names: "cpu" (Node), "wasm" (web), "cuda", "webgpu", "coreml", "dml"... */
export type ExecutionProvider = "cpu" | "wasm" | "cuda" | "webgpu" | "tensorrt" | "coreml" | "dml" | (string & {});

export interface OnnxSessionOptions {
  /**
   * Execution providers to try, in order (default: the CPU one). A provider that cannot start is
   * skipped with a message (see `onFallback`), and the session falls back to the CPU: "cpu" with
   * onnxruntime-node, "wasm" with onnxruntime-web. In a browser, `["webgpu", "wasm"]` runs on the
   * GPU where the page has WebGPU (`navigator.gpu` and an adapter) and on WebAssembly elsewhere.
   */
  readonly executionProviders?: readonly ExecutionProvider[];
  /**
   * The runtime: "node" (onnxruntime-node), "web" (onnxruntime-web), or the imported module itself
   * (what a bundler needs). Default: "node" under Node.js, "web" elsewhere. "web" loads
   * `onnxruntime-web/webgpu` (onnxruntime's native WebGPU provider, with WebAssembly beside it) when
   * "webgpu" is asked for and the page has `navigator.gpu`, else `onnxruntime-web`. When you pass
   * the module for WebGPU, pass `onnxruntime-web/webgpu`: the default build's older WebGPU
   * provider (JSEP) has no LSTM/GRU/RNN kernels, and with the recurrent operators it returned wrong
   * states in our tests (see the README, "WebGPU").
   */
  readonly runtime?: "node" | "web" | OrtModule;
  /**
   * Receives the message when a requested provider is unavailable, or when it runs some of the
   * model's nodes on the CPU (see `OnnxSession.cpuNodes`). Default: console.warn.
   */
  readonly onFallback?: (message: string) => void;
  /** More onnxruntime session options (intraOpNumThreads, graphOptimizationLevel...). */
  readonly sessionOptions?: Readonly<Record<string, unknown>>;
}

/** A tensor to feed: an onnxruntime tensor, a library `Tensor`, or data and dims. */
export type Feed = OrtTensor | Tensor | { readonly type?: "float32" | "int32" | "int64"; readonly data: Float32Array | Int32Array | BigInt64Array; readonly dims: readonly number[] };

/** onnxruntime could not be loaded, or a session could not start. */
export class OnnxRuntimeError extends TensorError {
  constructor(op: string, message: string) {
    super(op, message);
    this.name = "OnnxRuntimeError";
  }
}

const isNode = typeof process !== "undefined" && typeof process.versions?.node === "string";

const RUNTIME_PACKAGE = { node: "onnxruntime-node", web: "onnxruntime-web" } as const;

async function loadRuntime(kind: "node" | "web", webgpu: boolean): Promise<OrtModule> {
  const specifier: string = kind === "web" && webgpu ? "onnxruntime-web/webgpu" : RUNTIME_PACKAGE[kind];
  try {
    const mod = (await import(/* @vite-ignore */ specifier)) as OrtModule & { default?: OrtModule };
    return mod.InferenceSession ? mod : mod.default!;
  } catch (e) {
    throw new OnnxRuntimeError(
      "OnnxSession",
      `cannot load ${specifier} (${(e as Error).message.split("\n")[0]}); install it (npm install ${specifier}), or pass the imported module as { runtime: ort }`,
    );
  }
}

async function readModel(model: Uint8Array | string): Promise<Uint8Array> {
  if (model instanceof Uint8Array) return model;
  if (isNode && !/^https?:/.test(model)) {
    const { readFile } = await import("node:fs/promises");
    return new Uint8Array(await readFile(model));
  }
  const response = await fetch(model);
  if (!response.ok) throw new OnnxRuntimeError("OnnxSession", `cannot fetch ${model}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

const PROVIDER_HELP: Readonly<Record<string, string>> = {
  cuda:
    "onnxruntime-node's CUDA provider is not part of its npm package: on Linux x64 its install script downloads it from NuGet, " +
    "which does not happen when that script is skipped (ONNXRUNTIME_NODE_INSTALL=skip, --ignore-scripts, a package manager that " +
    "runs only approved scripts) or cannot reach api.nuget.org. With CUDA 12 and cuDNN 9, add it with " +
    "`node node_modules/onnxruntime-node/script/install --onnxruntime-node-install=cuda12`; see the @unroll/onnx README, \"Running on a GPU\".",
  webgpu:
    "WebGPU needs a browser with WebGPU enabled (navigator.gpu, which exists only on https:// pages and localhost) and a GPU adapter, " +
    "and the onnxruntime-web build that has the provider: pass `import * as ort from \"onnxruntime-web/webgpu\"` as { runtime: ort } " +
    "(\"onnxruntime-web/wasm\" has none); with onnxruntime-node, a GPU adapter.",
};

/** Whether this JavaScript environment has WebGPU (`navigator.gpu`): browsers and their workers, in secure contexts. */
export function hasWebGpu(): boolean {
  const gpu = (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu;
  return gpu !== undefined && gpu !== null;
}

const NO_NAVIGATOR_GPU =
  "WEBGPU execution provider is not available (navigator.gpu is missing: this browser has no WebGPU or has it turned off, the page is not " +
  "a secure context (https:// or localhost), or this is not a browser). Use a browser with WebGPU (Chrome or Edge 113+ on desktop; " +
  "headless Chromium needs --enable-unsafe-webgpu, and without a GPU also --enable-features=Vulkan --use-vulkan=swiftshader).";

/**
 * onnxruntime 1.30's native builds (onnxruntime-node) send usage telemetry to Microsoft and keep a
 * device id and an event cache under ~/.cache/Microsoft/DeveloperTools/.onnxruntime; WebAssembly
 * builds have none. The runtime reads `ORT_DISABLE_TELEMETRY` when its first session starts: this
 * package sets it to 1 unless the user has set it (to anything), so nothing is sent or written by
 * default. `ORT_DISABLE_TELEMETRY=0` in the environment opts back in.
 */
function disableNativeTelemetry(): void {
  if (isNode && process.env.ORT_DISABLE_TELEMETRY === undefined) process.env.ORT_DISABLE_TELEMETRY = "1";
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0]!.trim();
}

/**
 * An onnxruntime session over an ONNX model, with the model's metadata and the execution provider
 * it runs on. Create it with `OnnxSession.create`.
 */
export class OnnxSession {
  /** The provider the session runs on ("cpu", "wasm", "cuda", "webgpu"...): the first of the requested ones that started. */
  readonly executionProvider: ExecutionProvider;
  /**
   * The model's nodes that `executionProvider` has no kernel for, which onnxruntime runs on its CPU
   * provider inside the session (copying their inputs and outputs across): empty on the CPU
   * providers. Known for "webgpu" (onnxruntime-web 1.30's WebGPU provider has no `RNN` kernel);
   * empty, not checked, for the others.
   */
  readonly cpuNodes: readonly FallbackNode[];
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** The model's metadata_props. */
  readonly metadata: Readonly<Record<string, string>>;
  readonly ort: OrtModule;
  readonly session: OrtInferenceSession;

  private constructor(ort: OrtModule, session: OrtInferenceSession, provider: ExecutionProvider, metadata: Record<string, string>, cpuNodes: readonly FallbackNode[] = []) {
    this.ort = ort;
    this.session = session;
    this.executionProvider = provider;
    this.cpuNodes = cpuNodes;
    this.inputNames = session.inputNames;
    this.outputNames = session.outputNames;
    this.metadata = metadata;
  }

  /** The provider the session runs on: the same as `executionProvider`. */
  get provider(): ExecutionProvider {
    return this.executionProvider;
  }

  /** Loads a model (its bytes, a file path in Node, or a URL) on the first available provider. */
  static async create(model: Uint8Array | string, options: OnnxSessionOptions = {}): Promise<OnnxSession> {
    disableNativeTelemetry();
    const bytes = await readModel(model);
    const proto = decodeModel(bytes);
    const metadata = readMetadata(proto);
    const runtime = options.runtime ?? (isNode ? "node" : "web");
    const wantsWebGpu = (options.executionProviders ?? []).includes("webgpu");
    const ort = typeof runtime === "string" ? await loadRuntime(runtime, wantsWebGpu && hasWebGpu()) : runtime;
    // The CPU provider: "cpu" in onnxruntime-node (the module that lists its backends), "wasm" in onnxruntime-web.
    const cpu: ExecutionProvider = runtime === "node" || (typeof runtime !== "string" && "listSupportedBackends" in runtime) ? "cpu" : "wasm";
    const notify = options.onFallback ?? console.warn;
    const start = (provider: ExecutionProvider): Promise<OrtInferenceSession> =>
      ort.InferenceSession.create(bytes, { ...options.sessionOptions, executionProviders: [provider] });
    const skipped: string[] = [];
    for (const provider of options.executionProviders ?? [cpu]) {
      if (provider === "cpu" || provider === "wasm") break;
      const unavailable = (reason: string): void => {
        skipped.push(`${provider.toUpperCase()} execution provider is not available (${reason}). ${PROVIDER_HELP[provider] ?? ""}`.trim());
      };
      // onnxruntime-web's WebGPU provider needs navigator.gpu: say so rather than relay its error.
      if (provider === "webgpu" && cpu === "wasm" && !hasWebGpu()) {
        skipped.push(NO_NAVIGATOR_GPU);
        continue;
      }
      let session: OrtInferenceSession;
      try {
        session = await start(provider);
      } catch (e) {
        unavailable(firstLine(e));
        continue;
      }
      if (skipped.length > 0) notify(`${skipped.join(" ")} Running on ${provider} instead.`);
      const cpuNodes = providerFallbacks(proto, provider);
      if (cpuNodes.length > 0) notify(cpuNodesMessage(provider, cpu, cpuNodes));
      return new OnnxSession(ort, session, provider, metadata, cpuNodes);
    }
    let session: OrtInferenceSession;
    try {
      session = await start(cpu);
    } catch (e) {
      throw new OnnxRuntimeError("OnnxSession", `onnxruntime refused the model: ${firstLine(e)}`);
    }
    if (skipped.length > 0) notify(`${skipped.join(" ")} Running on the CPU (${cpu}) instead.`);
    return new OnnxSession(ort, session, cpu, metadata);
  }

  /** An onnxruntime tensor from a feed. */
  tensor(feed: Feed): OrtTensor {
    if (feed instanceof Tensor) return new this.ort.Tensor(feed.dtype, feed.data, feed.shape);
    if (!isPlain(feed)) return feed as OrtTensor; // an ort.Tensor already
    const f = feed as { type?: string; data: Float32Array | Int32Array | BigInt64Array; dims: readonly number[] };
    const type = f.type ?? (f.data instanceof Float32Array ? "float32" : f.data instanceof Int32Array ? "int32" : "int64");
    return new this.ort.Tensor(type, f.data, f.dims);
  }

  /** Runs the model on named inputs; returns every output as an onnxruntime tensor. */
  async run(feeds: Readonly<Record<string, Feed>>): Promise<Record<string, OrtTensor>> {
    const inputs: Record<string, OrtTensor> = {};
    for (const [name, feed] of Object.entries(feeds)) inputs[name] = this.tensor(feed);
    return this.session.run(inputs);
  }

  /** `run` with library tensors in and out (float32, float64 and int32 outputs; int64 becomes int32). */
  async runTensors(feeds: Readonly<Record<string, Feed>>): Promise<Record<string, Tensor>> {
    const out = await this.run(feeds);
    const result: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(out)) result[name] = toTensor(name, t);
    return result;
  }

  /** The graph's signature (metadata `unroll.signature`), or null when the file has none. */
  get signature(): GraphSignature | null {
    return signatureOf("OnnxSession.signature", this.metadata);
  }

  async release(): Promise<void> {
    await this.session.release?.();
  }
}

function cpuNodesMessage(provider: ExecutionProvider, cpu: ExecutionProvider, nodes: readonly FallbackNode[]): string {
  const ops = [...new Set(nodes.map((n) => n.opType))];
  const fix = nodes.every((n) => n.fix === nodes[0]!.fix) ? nodes[0]!.fix : nodes.map((n) => n.fix).join(" ");
  return (
    `Running on ${provider}, except ${nodes.length} node${nodes.length === 1 ? "" : "s"} that it has no kernel for (${ops.join(", ")}: ` +
    `${nodes.map((n) => n.name).join(", ")}), which onnxruntime runs on its CPU provider (${cpu}) inside the session. ${fix}`
  );
}

function isPlain(x: object): boolean {
  const proto = Object.getPrototypeOf(x) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A library tensor from an onnxruntime output. */
export function toTensor(name: string, t: OrtTensor): Tensor {
  const data = t.data;
  let values: DataArray;
  if (data instanceof Float32Array || data instanceof Float64Array || data instanceof Int32Array) values = data;
  else if (data instanceof BigInt64Array) values = Int32Array.from(data, Number);
  else throw new OnnxRuntimeError("OnnxSession", `output ${name} is ${t.type}, which has no library dtype`);
  return new Tensor(values, [...t.dims]);
}
