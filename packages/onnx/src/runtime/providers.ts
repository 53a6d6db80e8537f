import type { RecurrentLowering } from "../export/lowering.js";
import type { ModelProto } from "../proto/onnx.js";
import type { ExecutionProvider } from "./session.js";

// Which exported operators an execution provider runs itself, and which it leaves to onnxruntime's
// CPU provider inside the same session. Measured, not read from documentation: onnxruntime-web
// 1.30's WebGPU provider (`onnxruntime-web/webgpu`, in Chromium 156 on SwiftShader) over every graph
// this package exports (language models with each cell and lowering, translation encoder and
// decoder step, captioning encoder and decoder step), with onnxruntime's verbose node placement
// log: every node runs on the GPU except the plain RNN operator. The LSTM and GRU operators (with
// sequence_lens, both directions and linear_before_reset) ran there with wasm's numbers to 3e-7.
// apps/playground/test/webgpu.test.ts checks it again in Chromium on every run.

/** A node that the provider has no kernel for, and what to do about it. */
export interface FallbackNode {
  /** The node's name, e.g. `RecurrentSequence_4/RNN`. */
  readonly name: string;
  readonly opType: string;
  /** How to export the model so that the provider runs it. */
  readonly fix: string;
}

const UNROLL_FIX =
  'Export the step graph with lowering: "unrolled" (exportLanguageModel(model, params, { provider: "webgpu" }) picks it) to run every node on the GPU.';

/** Operators of exported graphs that a provider lacks, with the fix (by provider). */
const CPU_OPERATORS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  webgpu: { RNN: UNROLL_FIX },
};

/**
 * The nodes of `model` that `provider` has no kernel for, so that onnxruntime runs them on its CPU
 * provider: for "webgpu", the plain RNN operator (the LSTM and GRU operators have WebGPU kernels).
 * Empty for the CPU providers and for providers this package has not measured.
 */
export function providerFallbacks(model: ModelProto, provider: ExecutionProvider): FallbackNode[] {
  const table = CPU_OPERATORS[provider];
  if (!table) return [];
  const out: FallbackNode[] = [];
  for (const node of model.graph.node) {
    const fix = table[node.op_type];
    if (fix !== undefined) out.push({ name: node.name ?? node.op_type, opType: node.op_type, fix });
  }
  return out;
}

/**
 * The recurrent lowering a step graph should be exported with for `provider` to run all of it:
 * "unrolled" for a plain RNN cell on WebGPU (no `RNN` kernel there), else "operators" (ONNX's
 * LSTM/GRU/RNN, fewer and larger nodes).
 */
export function loweringFor(provider: ExecutionProvider, cell: string): RecurrentLowering {
  return provider === "webgpu" && (cell === "rnn_tanh" || cell === "rnn_relu" || cell.startsWith("rnn")) ? "unrolled" : "operators";
}
