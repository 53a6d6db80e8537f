import { shared } from "../shared.js";
import type { Kernels, KernelTensor } from "./kernels.js";
import { referenceKernels } from "./reference/index.js";

/**
 * The kernel table that operations run on now (the reference kernels until `setKernels`). One
 * table per process: every copy of this package of one release line shares it (see `shared.ts`).
 */
export function getKernels(): Kernels {
  return shared.kernels ?? referenceKernels;
}

/**
 * Selects the kernel table for all later operations and returns the previous one. Explicit by
 * design: importing a module never changes which kernels run.
 */
export function setKernels(kernels: Kernels): Kernels {
  const previous = getKernels();
  shared.kernels = kernels;
  return previous;
}

/** Runs `fn` with `kernels` selected, restoring the previous table afterwards. */
export function withKernels<T>(kernels: Kernels, fn: () => T): T {
  const previous = setKernels(kernels);
  try {
    return fn();
  } finally {
    setKernels(previous);
  }
}

/**
 * Lets the active kernels keep `tensors` (weights) resident between calls, which makes batch-1
 * generation several times faster on the WebAssembly kernels (no copy of every weight for every
 * token). Returns the function that releases them; until then their data must not change (release
 * before an optimiser updates them). A no-op on kernels that do not keep data.
 */
export function pinTensors(tensors: readonly KernelTensor[]): () => void {
  const active = getKernels();
  return active.pin ? active.pin(tensors) : () => undefined;
}
