// Weights kept inside the WebAssembly memory between calls. Copying a 2x512 LSTM's weights into the
// module for every generated character costs more than the products themselves; pinned tensors are
// copied once and the kernels read them in place. Pinned data must not change while pinned (the
// copy would go stale): pin for inference (generation), release before training continues.

import type { DataArray } from "../../dtype.js";
import type { KernelTensor } from "../kernels.js";
import type { KernelsExports } from "./module.js";

interface Entry {
  readonly offset: number;
  readonly bytes: number;
  count: number;
}

/** Bytes of `elements` floats (or ints) rounded up to a cache line: every operand region starts 64-byte aligned and has room for a vector's spill. */
export function paddedBytes(elements: number): number {
  return Math.ceil((elements * 4) / 64) * 64;
}

/**
 * The pinned region sits at the start of the module's user region; each call's own operands are
 * laid out after it (`callRegion`). Space is reclaimed from the top when the last pins are released.
 */
export class Residency {
  private readonly entries = new Map<DataArray, Entry>();
  private end = 0;

  constructor(private readonly wasm: KernelsExports) {}

  /** Byte address of a pinned array's copy, or null. */
  addressOf(data: DataArray): number | null {
    const e = this.entries.get(data);
    return e ? this.userBase() + e.offset : null;
  }

  /** Start of a call's own region of `bytes` (after the pinned region), or 0 when memory cannot grow. */
  callRegion(bytes: number): number {
    const base = this.wasm.reserve(this.end + bytes);
    return base === 0 ? 0 : base + this.end;
  }

  /** Pins float32 tensors (others are ignored); returns the function that releases them. */
  pin(tensors: readonly KernelTensor[]): () => void {
    const pinned: DataArray[] = [];
    for (const t of tensors) {
      if (!(t.data instanceof Float32Array) || t.data.length === 0) continue;
      const existing = this.entries.get(t.data);
      if (existing) {
        existing.count++;
        pinned.push(t.data);
        continue;
      }
      const bytes = paddedBytes(t.data.length);
      const base = this.wasm.reserve(this.end + bytes);
      if (base === 0) break; // out of wasm32 memory: the rest stays unpinned (still correct, just copied per call)
      new Float32Array(this.wasm.memory.buffer, base + this.end, t.data.length).set(t.data);
      this.entries.set(t.data, { offset: this.end, bytes, count: 1 });
      this.end += bytes;
      pinned.push(t.data);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const data of pinned) {
        const e = this.entries.get(data);
        if (e && --e.count === 0) this.entries.delete(data);
      }
      let top = 0;
      for (const e of this.entries.values()) top = Math.max(top, e.offset + e.bytes);
      this.end = top;
    };
  }

  private userBase(): number {
    return this.wasm.reserve(this.end);
  }
}
