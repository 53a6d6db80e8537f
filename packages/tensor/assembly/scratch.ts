// Linear-memory layout. Everything lives at fixed offsets above the module's static data, so no
// allocator or garbage collector is needed (the module is built with `--runtime stub`):
//
//   __heap_base ─┬─ packed A block   (MC x KC f32, see gemm.ts)   ┐ one set per thread (one in the
//                ├─ packed B panel   (KC x NC f32)                  │ single-threaded build)
//                ├─ edge tile        (MR x NR f32)                  ┘
//                ├─ thread control   (one slot per worker, see parallel.ts; threaded build only)
//                └─ user region      (operands and results, laid out by the caller)
//
// The host (or another kernel in this module) asks for `reserve(bytes)` before using the user
// region; growing memory detaches the host's old `memory.buffer`, so hosts re-read it after calls.

import { MC, KC, NC, MR, NR } from "./gemm-params";

/** Rounds `x` up to a multiple of 64 bytes (a cache line). */
@inline function align64(x: usize): usize {
  return (x + 63) & ~(<usize>63);
}

/** Threads that may run kernels of one shared memory at once; each has its own scratch regions. */
export const MAX_THREADS: i32 = ASC_FEATURE_THREADS ? 8 : 1;
/** Bytes of one worker's control slot (two cache lines: the request side and the reply side). */
export const SLOT_BYTES: usize = 128;

const BASE: usize = align64(__heap_base);
const PACK_A_BYTES: usize = align64(<usize>(MC * KC * 4));
const PACK_B_BYTES: usize = align64(<usize>(KC * NC * 4));
const TILE_BYTES: usize = align64(<usize>(MR * NR * 4));
const SCRATCH_BYTES: usize = PACK_A_BYTES + PACK_B_BYTES + TILE_BYTES;

// The scratch regions of the thread this instance runs on (instance globals are not shared).
export let PACK_A: usize = BASE;
export let PACK_B: usize = BASE + PACK_A_BYTES;
export let TILE: usize = BASE + PACK_A_BYTES + PACK_B_BYTES;
export const CONTROL: usize = BASE + <usize>MAX_THREADS * SCRATCH_BYTES;
export const USER: usize = align64(CONTROL + (ASC_FEATURE_THREADS ? <usize>MAX_THREADS * SLOT_BYTES : 0));

/** Makes this instance use thread `thread`'s scratch regions (each instance sharing a memory calls it once). */
export function useScratch(thread: i32): void {
  const base = BASE + <usize>thread * SCRATCH_BYTES;
  PACK_A = base;
  PACK_B = base + PACK_A_BYTES;
  TILE = base + PACK_A_BYTES + PACK_B_BYTES;
}

/**
 * Makes `[USER, USER + bytes)` addressable, growing memory as needed, and returns `USER`; returns 0
 * when memory cannot grow that far (wasm32 addresses at most 4 GiB).
 */
export function reserve(bytes: f64): usize {
  const end = <f64>USER + bytes;
  if (end > 4294967296.0) return 0;
  const pages = <i32>Math.ceil(end / 65536.0);
  const have = memory.size();
  if (pages > have && memory.grow(pages - have) < 0) return 0;
  return USER;
}
