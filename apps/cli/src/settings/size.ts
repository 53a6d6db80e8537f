// Size checks before anything is allocated: a model that cannot fit (`--hidden 1e6`: a 4,000,000 x
// 1,000,000 matrix) is refused at once with the memory it would need, instead of failing after
// seconds with "Invalid typed array length" or being killed by the system.

import { UserError } from "../ui/errors.js";

/** The longest typed array V8 allocates (elements). */
export const MAX_TENSOR_ELEMENTS = 2 ** 32;

/** The memory this process may use: the machine's, or the container's limit where that is lower. */
export async function availableMemory(): Promise<number> {
  const { totalmem } = await import("node:os");
  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  const total = totalmem();
  return constrained !== undefined && constrained > 0 && constrained < total ? constrained : total;
}

/** Bytes in words: "1.5 GB", "16.0 TB". */
export function formatBytes(bytes: number): string {
  const units = ["bytes", "kB", "MB", "GB", "TB", "PB", "EB"];
  let i = 0;
  let v = bytes;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${Math.round(v)} bytes` : `${v.toFixed(1)} ${units[i]}`;
}

/** What a training allocates, as far as sizes go. */
export interface TrainingSize {
  /** Every parameter tensor's shape, by name. */
  readonly shapes: Readonly<Record<string, readonly number[]>>;
  /** Per-parameter buffers of the optimiser (Adam: 2, SGD with momentum: 1, ...). */
  readonly optimizerBuffers: number;
  /** Floats the forward and backward pass keep per token (activations, logits and their gradients). */
  readonly activationsPerToken: number;
  /** Tokens per batch: batch size x window. */
  readonly tokensPerBatch: number;
}

/** The estimate `checkTrainingSize` judges by. */
export function estimateTraining(size: TrainingSize): { parameters: number; largest: { name: string; elements: number }; bytes: number } {
  let parameters = 0;
  let largest = { name: "", elements: 0 };
  for (const [name, shape] of Object.entries(size.shapes)) {
    const elements = shape.reduce((a, b) => a * b, 1);
    parameters += elements;
    if (elements > largest.elements) largest = { name, elements };
  }
  // float32 weights, gradients, the optimiser's buffers, the non-finite guard's snapshot and a
  // checkpoint's copy and encoding; then the activations of one batch, with their gradients.
  const bytes = 4 * parameters * (1 + 1 + size.optimizerBuffers + 1 + 2) + 4 * 2 * size.activationsPerToken * size.tokensPerBatch;
  return { parameters, largest, bytes };
}

/**
 * Refuses a training that cannot fit: a tensor longer than a typed array can be, or an estimate
 * above `memory` bytes. The message gives the size and the memory it would need; `fix` names the
 * settings to lower.
 */
export function checkTrainingSize(size: TrainingSize, memory: number, fix: string): void {
  const { parameters, largest, bytes } = estimateTraining(size);
  const count = (n: number): string => (n >= 1e12 ? `${(n / 1e12).toFixed(1)} trillion` : n >= 1e9 ? `${(n / 1e9).toFixed(1)} billion` : n.toLocaleString("en-US"));
  if (largest.elements > MAX_TENSOR_ELEMENTS) {
    throw new UserError(
      `the model is too large: ${largest.name} alone would have ${count(largest.elements)} numbers (${formatBytes(4 * largest.elements)}), more than one array can hold (${count(MAX_TENSOR_ELEMENTS)}); ` +
        `training it would need about ${formatBytes(bytes)} of memory (this machine has ${formatBytes(memory)})`,
      fix,
    );
  }
  if (bytes > memory) {
    throw new UserError(
      `the model is too large for this machine: ${count(parameters)} parameters, and training would need about ${formatBytes(bytes)} of memory (this machine has ${formatBytes(memory)})`,
      fix,
    );
  }
}
