// Laying operands out in the kernels module's memory: 64-byte-aligned named buffers, and the
// copies in and out, shared by the hosts of the fused kernels (recurrent scan, attention decoder).

import type { KernelTensor } from "../kernels.js";
import type { KernelsExports } from "./module.js";

/** Assigns 64-byte-aligned byte addresses to named buffers of given element counts (4 bytes each). */
export class Layout {
  private bytes = 0;
  readonly at: Record<string, number> = {};
  /** Buffers already in the module's memory (pinned weights), by absolute address. */
  readonly pinned: Record<string, number> = {};
  add(name: string, elements: number, pinnedAt: number | null = null): void {
    if (pinnedAt !== null) {
      this.pinned[name] = pinnedAt;
      return;
    }
    this.at[name] = this.bytes;
    this.bytes += Math.ceil((elements * 4) / 64) * 64;
  }
  get size(): number {
    return this.bytes;
  }
}

export function f32(t: KernelTensor | null): t is KernelTensor & { data: Float32Array } {
  return t === null || t.data instanceof Float32Array;
}

export function copyIn(wasm: KernelsExports, at: number, data: Float32Array | Int32Array): void {
  if (data instanceof Int32Array) new Int32Array(wasm.memory.buffer, at, data.length).set(data);
  else new Float32Array(wasm.memory.buffer, at, data.length).set(data);
}

export function copyOut(wasm: KernelsExports, at: number, into: KernelTensor["data"], offset = 0, length = into.length - offset): void {
  into.set(new Float32Array(wasm.memory.buffer, at, length), offset);
}

