// Linear-memory layout. Everything lives at fixed offsets above the module's static data, so no
// allocator or garbage collector is needed (the module is built with `--runtime stub`):
//
//   __heap_base ─┬─ packed A block   (MC x KC f32, see gemm.ts)
//                ├─ packed B panel   (KC x NC f32)
//                ├─ edge tile        (MR x NR f32)
//                └─ user region      (operands and results, laid out by the caller)
//
// The host (or another kernel in this module) asks for `reserve(bytes)` before using the user
// region; growing memory detaches the host's old `memory.buffer`, so hosts re-read it after calls.

import { MC, KC, NC, MR, NR } from "./gemm-params";

/** Rounds `x` up to a multiple of 64 bytes (a cache line). */
@inline function align64(x: usize): usize {
  return (x + 63) & ~(<usize>63);
}

export const PACK_A: usize = align64(__heap_base);
export const PACK_B: usize = align64(PACK_A + <usize>(MC * KC * 4));
export const TILE: usize = align64(PACK_B + <usize>(KC * NC * 4));
export const USER: usize = align64(TILE + <usize>(MR * NR * 4));

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
