// Messages between the page and its two workers. The training worker owns the model being trained;
// the lab worker receives copies of its weights (snapshots) to sample text, record gate activations
// and export to ONNX, so that none of that stalls training and nothing runs on the page's thread.
import type { CharTokenizerJSON, LanguageModelConfig } from "@unroll/nlp";

export type CellName = "rnn_tanh" | "rnn_relu" | "lstm" | "gru";
/** The initialisers the page offers: nlp's named schemes ("pytorch" is the default U(-1/√H, 1/√H)). */
export type InitChoice = "pytorch" | "orthogonal" | "irnn" | "np-rnn";
export type OptimizerName = "adam" | "sgd" | "sgd-momentum" | "rmsprop";

/** What the model and the training loop are built from; a change of any of these starts a new run. */
export interface RunSettings {
  readonly cell: CellName;
  readonly init: InitChoice;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly embeddingSize: number;
  readonly optimizer: OptimizerName;
  readonly lr: number;
  /** Global-norm clipping threshold; null: no clipping. */
  readonly clip: number | null;
  /** Truncated-BPTT window (time steps per batch). */
  readonly window: number;
  readonly batchSize: number;
  readonly seed: number;
}

/** Settings that apply to a run in progress from its next step. */
export interface LiveSettings {
  readonly lr?: number;
  readonly clip?: number | null;
}

/** The weights of a model at one training step, as a state dict of float32 arrays. */
export interface ModelSnapshot {
  readonly step: number;
  readonly config: LanguageModelConfig;
  readonly tokenizer: CharTokenizerJSON;
  readonly tensors: Readonly<Record<string, { readonly shape: readonly number[]; readonly data: Float32Array }>>;
}

// ---- page -> training worker ----------------------------------------------------------------

export type TrainRequest =
  | { readonly type: "configure"; readonly settings: RunSettings; readonly text: string }
  | { readonly type: "start" }
  | { readonly type: "pause" }
  | { readonly type: "live"; readonly settings: LiveSettings }
  | { readonly type: "spectrum"; readonly layer: number; readonly block: number }
  | { readonly type: "snapshot"; readonly id: number };

// ---- training worker -> page ----------------------------------------------------------------

export interface StepPoint {
  readonly step: number;
  readonly loss: number;
  /** Global gradient norm before clipping. */
  readonly gradNorm: number;
  readonly clipped: boolean;
  /** The clipping threshold at this step (null: clipping off). */
  readonly maxNorm: number | null;
  readonly lr: number;
  readonly tokensPerSecond: number;
}

export interface RunInfo {
  readonly parameters: number;
  readonly vocabSize: number;
  readonly trainTokens: number;
  readonly validationTokens: number;
  readonly kernels: string;
  /** Gate blocks of W_hh ("h" for a plain RNN; i,f,g,o for the LSTM; r,z,n for the GRU). */
  readonly blocks: readonly string[];
  readonly numLayers: number;
  /** Length of the gradient-flow probe (the BPTT window, at most the validation text allows). */
  readonly probeLength: number;
}

export interface Spectrum {
  readonly step: number;
  readonly layer: number;
  readonly block: number;
  readonly real: Float64Array;
  readonly imag: Float64Array;
  readonly radius: number;
}

export type TrainEvent =
  | { readonly type: "ready"; readonly info: RunInfo }
  | { readonly type: "state"; readonly running: boolean; readonly step: number }
  | { readonly type: "steps"; readonly points: readonly StepPoint[]; readonly clipFraction: number }
  | { readonly type: "eval"; readonly step: number; readonly loss: number }
  /** ||dL/dh_k|| for k = 0..T-1 of a fixed probe batch, the loss read at its last step. */
  | { readonly type: "flow"; readonly step: number; readonly gradNorms: Float64Array }
  | { readonly type: "spectrum"; readonly spectrum: Spectrum }
  | { readonly type: "guard"; readonly step: number; readonly message: string }
  | { readonly type: "snapshot"; readonly id: number; readonly snapshot: ModelSnapshot }
  | { readonly type: "error"; readonly message: string };

// ---- page -> lab worker ---------------------------------------------------------------------

export interface SampleRequest {
  readonly type: "sample";
  readonly id: number;
  readonly snapshot: ModelSnapshot;
  readonly prime: string;
  readonly length: number;
  readonly temperature: number;
  readonly seed: number;
}

/**
 * Where the exported graph runs: onnxruntime-web's WebAssembly provider, or its WebGPU provider
 * (which falls back to WebAssembly, with a note, where the browser has no WebGPU).
 */
export type OnnxEngine = "wasm" | "webgpu";

export type LabRequest =
  | SampleRequest
  | { readonly type: "inspect"; readonly id: number; readonly snapshot: ModelSnapshot; readonly text: string }
  | {
      readonly type: "onnx";
      readonly id: number;
      readonly snapshot: ModelSnapshot;
      readonly prime: string;
      readonly length: number;
      readonly temperature: number;
      readonly seed: number;
      readonly engine: OnnxEngine;
    };

// ---- lab worker -> page ---------------------------------------------------------------------

/** Activations over a text: for each layer, each gate (i, f, g, o, c, h / r, z, n, h / h), `[T, H]` row-major. */
export interface Inspection {
  readonly step: number;
  readonly chars: readonly string[];
  readonly hiddenSize: number;
  readonly layers: readonly Readonly<Record<string, Float32Array>>[];
}

export interface OnnxReport {
  readonly step: number;
  readonly bytes: Uint8Array;
  /** Largest |logit_library - logit_onnxruntime| over every step of the probe text. */
  readonly maxAbsDiff: number;
  readonly probeTokens: number;
  /** The prime both engines read before sampling. */
  readonly prime: string;
  readonly textLibrary: string;
  readonly textOnnx: string;
  readonly msLibrary: number;
  readonly msOnnx: number;
  /** The engine asked for, and the execution provider that ran ("wasm" or "webgpu"). */
  readonly engine: OnnxEngine;
  readonly provider: string;
  /** How the recurrent layers were exported ("operators": ONNX LSTM/GRU/RNN; "unrolled": MatMul-level steps). */
  readonly lowering: string;
  /** onnxruntime's adapter when it ran on WebGPU ("google / swiftshader" on a software GPU), else null. */
  readonly adapter: string | null;
  /** Fallback notes from the session: WebGPU missing, or nodes run on the CPU. */
  readonly notes: readonly string[];
}

export type LabEvent =
  | { readonly type: "sample-start"; readonly id: number; readonly step: number; readonly prime: string }
  | { readonly type: "sample-chunk"; readonly id: number; readonly text: string }
  | { readonly type: "sample-done"; readonly id: number; readonly charsPerSecond: number }
  | { readonly type: "inspection"; readonly id: number; readonly inspection: Inspection }
  | { readonly type: "onnx"; readonly id: number; readonly report: OnnxReport }
  | { readonly type: "error"; readonly id: number; readonly message: string };

/** The part of a dedicated worker's global scope the workers use (the DOM lib types `self` as a Window). */
export interface WorkerScope<In, Out> {
  onmessage: ((event: MessageEvent<In>) => void) | null;
  postMessage(message: Out, transfer?: Transferable[]): void;
}

/** Gate blocks of W_hh by cell, in PyTorch's order. */
export function gateBlocks(cell: CellName): readonly string[] {
  return cell === "lstm" ? ["i", "f", "g", "o"] : cell === "gru" ? ["r", "z", "n"] : ["h"];
}

/** The block whose spectrum plays the role of a plain RNN's W_hh: the candidate (LSTM g, GRU n). */
export function defaultBlock(cell: CellName): number {
  return cell === "lstm" ? 2 : cell === "gru" ? 2 : 0;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
