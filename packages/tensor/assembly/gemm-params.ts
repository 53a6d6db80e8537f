// Blocking parameters of the GEMM (see gemm.ts), chosen by measurement on a Zen 4 core (32 KiB
// L1d, 1 MiB L2, 32 MiB L3) under Node 20's V8. 1024³ GFLOP/s of the module alone:
//   micro-kernel (KC 256, MC 128): 4x8 37 | 4x8 with k unrolled 2x 29, 4x 18 | 5x8 24 | 6x8 27 | 3x8 (2x) 22
//   (x86 V8 has 15 allocatable xmm registers: 4x8 uses 8 accumulators + 2 B + 1 A + 1 product;
//   larger tiles or unrolled loops make TurboFan spill accumulators to the stack)
//   KC x MC x NC: 256x128x2048 37.1 | 128x128x2048 35.8 | 384x128x2048 37.6 | 512x64x2048 37.7 |
//   256x64x2048 37.4 | 256x256x2048 33-35 (A block at 1/4 of L2 is too much) | NC 1024 or 4096: same
// Differences under 2% are within the noise of a shared machine; the smaller panels are kept.

/** Rows of the register tile: one f32 broadcast per row per k. `micro` and `packA` are written for 4. */
export const MR: i32 = 4;
/** Columns of the register tile: NR / 4 f32x4 vectors per row. `micro` is written for 8. */
export const NR: i32 = 8;
/** Depth of a packed panel: an MR x KC strip of A (4 KiB) and a KC x NR strip of B (8 KiB) stay in L1. */
export const KC: i32 = 256;
/** Rows of A packed at once: the MC x KC block (128 KiB) stays in L2. */
export const MC: i32 = 128;
/** Columns of B packed at once: the KC x NC panel (2 MiB) stays in L3. */
export const NC: i32 = 2048;
