// 2-D convolution (NCHW, stride, padding, dilation, groups) and its two gradients, on the GEMM's
// micro-kernel (gemm.ts): the twin of src/backend/reference/conv.ts, which documents the
// equations and stays the oracle in tests. f32 throughout.
//
// Each pass is a product with the receptive fields ("im2col") that never writes the im2col
// matrix. The input is first copied once into a zero-padded layout (`padImage`) in which every
// receptive field lies inside the buffer and runs of output positions along a row read
// consecutive floats: padded rows of `rowLen = sW·U` floats hold the sW column phases one after
// the other (padded column X at phase X mod sW, index X div sW), so for any stride the 4
// positions ow .. ow+3 of a row read 4 consecutive floats. Entry k = (c·kH + i)·kW + j of the
// receptive field of position p = oh·Wo + ow is then at `base(p) + off[k]`, with
//   base(p) = oh·sH·rowLen + ow,   off[k] = c·plane + i·dH·rowLen + (j·dW mod sW)·U + (j·dW div sW),
// and the strips the micro-kernel reads are packed from there with plain loads (a few KiB at a
// time, so they stay in L1):
//   forward          out[n, g] (Cog x P)  = W[g] (Cog x K) · cols (K x P)
//                    A = W[g], packed once per call; B strips = 8 output positions of cols
//   backward input   dcols (K x P)        = W[g]ᵀ (K x Cog) · dy[n, g] (Cog x P), then col2im
//                    A = W[g]ᵀ, packed once; B strips = 8 positions of dy; each 4x8 tile of dcols
//                    is added into a padded dx where its entries were read, never stored whole
//   backward weight  dW[g] (Cog x K)     += dy[n, g] (Cog x P) · colsᵀ (P x K), over every image
//                    A = dy[n, g] blocks (packA); B strips = 8 receptive-field rows of cols
// K = Cg·kH·kW (Cg input channels per group), P = Ho·Wo output positions, Cog output channels
// per group.
//
// Threads (parallel.ts, threaded build): padding splits its images over the threads; the forward
// pass its (image, group, strip of 8 positions) units, the input gradient its (image, group)
// units (each owns a slice of dx), the weight gradient its (group, strip of 8 columns of dW)
// units, each summing over all images in the same order. No thread's arithmetic depends on the
// split, so every result is bitwise the same on any number of threads, and in any number of calls
// over chunks of images (the host's streaming).

import { micro, packA } from "./gemm";
import { KC, MC, MR, NC, NR } from "./gemm-params";
import { parallelFor } from "./parallel";
import { PACK_A, PACK_B, TILE } from "./scratch";

// The geometry block the host writes (i32 words at `geom`); see src/backend/wasm/conv.ts.
const F_N = 0;
const F_C = 1;
const F_H = 2;
const F_W = 3;
const F_CO = 4;
const F_KH = 5;
const F_KW = 6;
const F_HO = 7;
const F_WO = 8;
const F_SH = 9;
const F_SW = 10;
const F_PT = 11;
const F_PL = 12;
const F_DH = 13;
const F_DW = 14;
const F_GROUPS = 15;
/** x (forward, weight gradient) or dy (input gradient). */
const F_IN = 16;
/** dy (weight gradient). */
const F_IN2 = 17;
/** Packed weights (forward, input gradient). */
const F_PACKED = 18;
/** Bias (forward; 0: none). */
const F_BIAS = 19;
/** out (forward), dx (input gradient), dW (weight gradient). */
const F_OUT = 20;
/** Weight gradient: 1 adds to dW (a later chunk of images), 0 starts from zero. */
const F_ACCUMULATE = 21;
/** The padded layout: rows per padded plane, floats per column phase, and where it lives (N planes of C channels). */
const F_HP = 22;
const F_U = 23;
const F_PADDED = 24;
/** K i32 receptive-field offsets (off[k] above), in floats. */
const F_OFFSETS = 25;
/** The weight as given (the depthwise kernels read it in place); written by the entry functions. */
const F_WEIGHT = 26;

/** Task kinds for parallel.ts. */
export const TASK_FORWARD: i32 = 1;
export const TASK_BACKWARD_INPUT: i32 = 2;
export const TASK_BACKWARD_WEIGHT: i32 = 3;
export const TASK_PAD: i32 = 4;
export const TASK_DEPTHWISE_FORWARD: i32 = 5;
export const TASK_DEPTHWISE_BACKWARD_INPUT: i32 = 6;
export const TASK_DEPTHWISE_BACKWARD_WEIGHT: i32 = 7;

// This instance's copy of the geometry (instance globals are not shared between threads).
let gN: i32 = 0;
let gC: i32 = 0;
let gH: i32 = 0;
let gW: i32 = 0;
let gCo: i32 = 0;
let gKH: i32 = 0;
let gKW: i32 = 0;
let gWo: i32 = 0;
let gSH: i32 = 0;
let gSW: i32 = 0;
let gPT: i32 = 0;
let gPL: i32 = 0;
let gDH: i32 = 0;
let gDW: i32 = 0;
let gGroups: i32 = 0;
let gCg: i32 = 0;
let gCog: i32 = 0;
let gK: i32 = 0;
let gP: i32 = 0;
let gPlane: i32 = 0;
let gStrips: i32 = 0;
let gKStrips: i32 = 0;
let gCogPad: i32 = 0;
let gKPad: i32 = 0;
let gHp: i32 = 0;
let gU: i32 = 0;
let gRowLen: i32 = 0;
let gPlaneP: i32 = 0;
let gIn: usize = 0;
let gIn2: usize = 0;
let gPacked: usize = 0;
let gBias: usize = 0;
let gOut: usize = 0;
let gPadded: usize = 0;
let gOffsets: usize = 0;
let gWeight: usize = 0;

@inline function min(a: i32, b: i32): i32 {
  return a < b ? a : b;
}

@inline function field(geom: usize, f: i32): i32 {
  return load<i32>(geom + (<usize>f << 2));
}

/** Byte address of f32 (or i32) element `i` from `base`. */
@inline function at(base: usize, i: i32): usize {
  return base + (<usize>i << 2);
}

function loadGeometry(geom: usize): void {
  gN = field(geom, F_N);
  gC = field(geom, F_C);
  gH = field(geom, F_H);
  gW = field(geom, F_W);
  gCo = field(geom, F_CO);
  gKH = field(geom, F_KH);
  gKW = field(geom, F_KW);
  gWo = field(geom, F_WO);
  gSH = field(geom, F_SH);
  gSW = field(geom, F_SW);
  gPT = field(geom, F_PT);
  gPL = field(geom, F_PL);
  gDH = field(geom, F_DH);
  gDW = field(geom, F_DW);
  gGroups = field(geom, F_GROUPS);
  gCg = gC / gGroups;
  gCog = gCo / gGroups;
  gK = gCg * gKH * gKW;
  gP = field(geom, F_HO) * gWo;
  gPlane = gH * gW;
  gStrips = (gP + NR - 1) / NR;
  gKStrips = (gK + NR - 1) / NR;
  gCogPad = (gCog + MR - 1) / MR * MR;
  gKPad = (gK + MR - 1) / MR * MR;
  gHp = field(geom, F_HP);
  gU = field(geom, F_U);
  gRowLen = gSW * gU;
  gPlaneP = gHp * gRowLen;
  gIn = <usize>field(geom, F_IN);
  gIn2 = <usize>field(geom, F_IN2);
  gPacked = <usize>field(geom, F_PACKED);
  gBias = <usize>field(geom, F_BIAS);
  gOut = <usize>field(geom, F_OUT);
  gPadded = <usize>field(geom, F_PADDED);
  gOffsets = <usize>field(geom, F_OFFSETS);
  gWeight = <usize>field(geom, F_WEIGHT);
}

/** The receptive-field offsets off[k] (see the top of this file), into the table at F_OFFSETS. */
function fillOffsets(): void {
  let k = 0;
  for (let c = 0; c < gCg; c++) {
    for (let i = 0; i < gKH; i++) {
      for (let j = 0; j < gKW; j++, k++) {
        const x = j * gDW;
        store<i32>(at(gOffsets, k), c * gPlaneP + i * gDH * gRowLen + (x % gSW) * gU + x / gSW);
      }
    }
  }
}

/** Address of image n's padded copy, channel c. */
@inline function paddedPlane(n: i32, c: i32): usize {
  return gPadded + (<usize>(n * gC + c) * <usize>gPlaneP << 2);
}

// ---------------------------------------------------------------------------------------------
// The padded layout

/**
 * The padded columns of phase `ph` that hold input columns: u in [phaseLo, phaseHi) holds column
 * w = u·sW + ph - left (the others are zeros).
 */
let phaseLo: i32 = 0;
let phaseHi: i32 = 0;
function phaseRange(ph: i32): void {
  // w >= 0  <=>  u >= (left - ph) / sW rounded up;  w < W  <=>  u <= (W - 1 + left - ph) / sW rounded down
  const a = gPL - ph;
  let lo = a <= 0 ? 0 : (a + gSW - 1) / gSW;
  const b = gW - 1 + gPL - ph;
  let hi = b < 0 ? 0 : b / gSW + 1;
  if (hi > gU) hi = gU;
  if (lo > hi) lo = hi;
  phaseLo = lo;
  phaseHi = hi;
}

/** Copies image n of `src` (C x H x W) into its padded layout (the forward pass and the weight gradient read it). */
function padImage(src: usize, n: i32): void {
  for (let c = 0; c < gC; c++) {
    const plane = src + (<usize>((n * gC + c) * gPlane) << 2);
    const dst = paddedPlane(n, c);
    for (let r = 0; r < gHp; r++) {
      const drow = dst + (<usize>(r * gRowLen) << 2);
      const h = r - gPT;
      if (<u32>h >= <u32>gH) {
        memory.fill(drow, 0, <usize>gRowLen << 2);
        continue;
      }
      const srow = plane + (<usize>(h * gW) << 2);
      for (let ph = 0; ph < gSW; ph++) {
        phaseRange(ph);
        const d = drow + (<usize>(ph * gU) << 2);
        memory.fill(d, 0, <usize>phaseLo << 2);
        const count = phaseHi - phaseLo;
        const s0 = at(srow, phaseLo * gSW + ph - gPL);
        if (gSW == 1) {
          memory.copy(at(d, phaseLo), s0, <usize>count << 2);
        } else {
          const step = <usize>gSW << 2;
          let sp = s0;
          let dp = at(d, phaseLo);
          for (let u = 0; u < count; u++) {
            store<f32>(dp, load<f32>(sp));
            sp += step;
            dp += 4;
          }
        }
        memory.fill(at(d, phaseHi), 0, <usize>(gU - phaseHi) << 2);
      }
    }
  }
}

/** dx[n, c] for channels [c0, c0 + count) from the padded accumulation buffer (the inverse of padImage's placement). */
function unpadImage(dst: usize, n: i32, c0: i32, count: i32): void {
  for (let c = c0; c < c0 + count; c++) {
    const plane = dst + (<usize>((n * gC + c) * gPlane) << 2);
    const src = paddedPlane(n, c);
    for (let h = 0; h < gH; h++) {
      const srow = src + (<usize>((h + gPT) * gRowLen) << 2);
      const drow = plane + (<usize>(h * gW) << 2);
      for (let ph = 0; ph < gSW; ph++) {
        phaseRange(ph);
        const len = phaseHi - phaseLo;
        const sp0 = at(srow, ph * gU + phaseLo);
        const dp0 = at(drow, phaseLo * gSW + ph - gPL);
        if (gSW == 1) {
          memory.copy(dp0, sp0, <usize>len << 2);
        } else {
          const step = <usize>gSW << 2;
          let sp = sp0;
          let dp = dp0;
          for (let u = 0; u < len; u++) {
            store<f32>(dp, load<f32>(sp));
            sp += 4;
            dp += step;
          }
        }
      }
    }
  }
}

function padTask(lo: i32, hi: i32): void {
  for (let n = lo; n < hi; n++) padImage(gIn, n);
}

// ---------------------------------------------------------------------------------------------
// Strips of 8 output positions

// Per-strip bookkeeping in the last 256 bytes of this thread's PACK_B region (the strips packed
// in front of it take at most 8·max(KC, Cog) floats; the host keeps Cog within that).
const META_BYTES: usize = 256;
/** Per column q of the strip: base(p0 + q) in the padded image, or -1 past the end. */
const M_BASE: usize = 0;
/** Per half (4 positions): 1 where they lie in one output row (they then read 4 consecutive floats). */
const M_ROW: usize = 32;

@inline function meta(): usize {
  return PACK_B + <usize>(KC * NC * 4) - META_BYTES;
}

/** Fills the strip bookkeeping for positions [p0, p0 + nr). */
function stripMeta(p0: i32, nr: i32): void {
  const m = meta();
  for (let q = 0; q < NR; q++) {
    let base = -1;
    if (q < nr) {
      const p = p0 + q;
      const oh = p / gWo;
      base = oh * gSH * gRowLen + (p - oh * gWo);
    }
    store<i32>(at(m + M_BASE, q), base);
  }
  for (let half = 0; half < 2; half++) {
    const p = p0 + 4 * half;
    store<i32>(at(m + M_ROW, half), 4 * half + 4 <= nr && p % gWo + 4 <= gWo ? 1 : 0);
  }
}

/** Columns [q0, q0 + 4) of a patch strip one at a time: `d[q] = img[base_q + off]`, 0 past the end. */
@inline function gather4(img: usize, off: i32, q0: i32, d: usize): void {
  const m = meta();
  for (let q = 0; q < 4; q++) {
    const base = load<i32>(at(m + M_BASE, q0 + q));
    store<f32>(at(d, q), base >= 0 ? load<f32>(at(img, base + off)) : 0);
  }
}

/**
 * Packs rows [k0, k0 + kc) of the receptive fields of the strip described by `stripMeta`, from the
 * padded image at `img`, into a B strip: `dst[q·8 + c] = img[base_c + off[k0 + q]]`.
 */
function packPatchStrip(img: usize, k0: i32, kc: i32, dst: usize): void {
  const m = meta();
  const offs = at(gOffsets, k0);
  const row0 = load<i32>(m + M_ROW) != 0;
  const row1 = load<i32>(m + M_ROW, 4) != 0;
  if (row0 && row1) {
    const a0 = at(img, load<i32>(m + M_BASE));
    const a1 = at(img, load<i32>(m + M_BASE, 16));
    for (let q = 0; q < kc; q++) {
      const off = <usize>load<i32>(at(offs, q)) << 2;
      const d = dst + (<usize>q << 5);
      v128.store(d, v128.load(a0 + off));
      v128.store(d, v128.load(a1 + off), 16);
    }
    return;
  }
  for (let q = 0; q < kc; q++) {
    const off = load<i32>(at(offs, q));
    const d = dst + (<usize>q << 5);
    if (row0) v128.store(d, v128.load(at(img, load<i32>(m + M_BASE) + off)));
    else gather4(img, off, 0, d);
    if (row1) v128.store(d, v128.load(at(img, load<i32>(m + M_BASE, 16) + off)), 16);
    else gather4(img, off, 4, d + 16);
  }
}

/** `c[r, q] += TILE[r, q]` for the mr x nr corner of an edge tile (`ldc` bytes per row of c). */
function addTile(c: usize, ldc: usize, mr: i32, nr: i32): void {
  for (let r = 0; r < mr; r++) {
    const row = c + <usize>r * ldc;
    const t = TILE + (<usize>(r * NR) << 2);
    for (let q = 0; q < nr; q++) store<f32>(at(row, q), load<f32>(at(row, q)) + load<f32>(at(t, q)));
  }
}

// ---------------------------------------------------------------------------------------------
// Forward

/** Positions [8s, 8s + 8) of image n, group g: out = bias + W[g] · cols, one KC block of K at a time. */
function forwardStrip(n: i32, g: i32, s: i32): void {
  const p0 = s * NR;
  const nr = min(NR, gP - p0);
  stripMeta(p0, nr);
  const img = paddedPlane(n, g * gCg);
  const ldc = <usize>gP << 2;
  const ct = gOut + (<usize>((n * gCo + g * gCog) * gP + p0) << 2);
  for (let co = 0; co < gCog; co++) {
    const b: f32 = gBias != 0 ? load<f32>(at(gBias, g * gCog + co)) : 0;
    const row = ct + <usize>co * ldc;
    if (nr == NR) {
      v128.store(row, f32x4.splat(b));
      v128.store(row, f32x4.splat(b), 16);
    } else {
      for (let q = 0; q < nr; q++) store<f32>(at(row, q), b);
    }
  }
  const wg = gPacked + (<usize>(g * gCogPad * gK) << 2);
  const bs = PACK_B;
  for (let pc = 0; pc < gK; pc += KC) {
    const kc = min(KC, gK - pc);
    packPatchStrip(img, pc, kc, bs);
    const block = wg + (<usize>(pc * gCogPad) << 2);
    for (let ir = 0; ir < gCog; ir += MR) {
      const mr = min(MR, gCog - ir);
      const a = block + (<usize>(ir * kc) << 2);
      const c = ct + <usize>ir * ldc;
      if (mr == MR && nr == NR) {
        micro(kc, a, bs, c, ldc, true);
      } else {
        micro(kc, a, bs, TILE, <usize>NR << 2, false);
        addTile(c, ldc, mr, nr);
      }
    }
  }
}

function forwardTask(lo: i32, hi: i32): void {
  for (let u = lo; u < hi; u++) {
    const s = u % gStrips;
    const t = u / gStrips;
    forwardStrip(t / gGroups, t % gGroups, s);
  }
}

/**
 * `out = conv2d(x, weight, bias)` for the geometry at `geom` (x, scratch for the packed weights,
 * the padded images and the offsets, bias, out given there); `weight` `[Co, Cg, kH, kW]` is packed
 * into the scratch first.
 */
export function conv2dForwardF32(geom: usize, weight: usize): void {
  store<i32>(geom + (<usize>F_WEIGHT << 2), <i32>weight);
  loadGeometry(geom);
  if (gN == 0 || gCo == 0 || gP == 0) return;
  if (gCg == 1) {
    fillOffsets();
    parallelFor(TASK_PAD, geom, gN, <i64>gN * <i64>gC * <i64>gPlaneP);
    parallelFor(TASK_DEPTHWISE_FORWARD, geom, gN * gCo, <i64>gN * <i64>gCo * <i64>gP * <i64>gK);
    return;
  }
  for (let g = 0; g < gGroups; g++) {
    const wg = weight + (<usize>(g * gCog * gK) << 2);
    const dst = gPacked + (<usize>(g * gCogPad * gK) << 2);
    for (let pc = 0; pc < gK; pc += KC) packA(false, wg, gK, 0, pc, gCog, min(KC, gK - pc), dst + (<usize>(pc * gCogPad) << 2));
  }
  fillOffsets();
  parallelFor(TASK_PAD, geom, gN, <i64>gN * <i64>gC * <i64>gPlaneP);
  parallelFor(TASK_FORWARD, geom, gN * gGroups * gStrips, <i64>gN * <i64>gCo * <i64>gP * <i64>gK);
}

// ---------------------------------------------------------------------------------------------
// Gradient with respect to the input

/**
 * Adds rows [k0, k0 + mr) of the 4 x 8 tile of dcols in TILE (the strip's positions as columns)
 * into the padded dx at `img`, where the forward pass read them: the adjoint of `packPatchStrip`.
 */
function scatterTile(img: usize, k0: i32, mr: i32): void {
  const m = meta();
  const row0 = load<i32>(m + M_ROW) != 0;
  const row1 = load<i32>(m + M_ROW, 4) != 0;
  const a0 = load<i32>(m + M_BASE);
  const a1 = load<i32>(m + M_BASE, 16);
  for (let r = 0; r < mr; r++) {
    const off = load<i32>(at(gOffsets, k0 + r));
    const t = TILE + (<usize>(r * NR) << 2);
    if (row0) {
      const p = at(img, a0 + off);
      v128.store(p, f32x4.add(v128.load(p), v128.load(t)));
    } else {
      scatter4(img, off, 0, t);
    }
    if (row1) {
      const p = at(img, a1 + off);
      v128.store(p, f32x4.add(v128.load(p), v128.load(t, 16)));
    } else {
      scatter4(img, off, 4, t + 16);
    }
  }
}

/** The adjoint of `gather4`. */
@inline function scatter4(img: usize, off: i32, q0: i32, t: usize): void {
  const m = meta();
  for (let q = 0; q < 4; q++) {
    const base = load<i32>(at(m + M_BASE, q0 + q));
    if (base >= 0) {
      const p = at(img, base + off);
      store<f32>(p, load<f32>(p) + load<f32>(at(t, q)));
    }
  }
}

/** dx of image n, group g: every strip of 8 positions of dy times W[g]ᵀ, added into the padded dx (col2im), then unpadded. */
function backwardInputUnit(n: i32, g: i32): void {
  const img = paddedPlane(n, g * gCg);
  memory.fill(img, 0, <usize>gCg * <usize>gPlaneP << 2);
  const dyg = gIn + (<usize>((n * gCo + g * gCog) * gP) << 2);
  const wg = gPacked + (<usize>(g * gKPad * gCog) << 2);
  const bs = PACK_B;
  for (let s = 0; s < gStrips; s++) {
    const p0 = s * NR;
    const nr = min(NR, gP - p0);
    stripMeta(p0, nr);
    // B strip over all Cog: bs[co·8 + q] = dy[co, p0 + q]
    for (let co = 0; co < gCog; co++) {
      const src = dyg + (<usize>(co * gP + p0) << 2);
      const d = bs + (<usize>co << 5);
      if (nr == NR) {
        v128.store(d, v128.load(src));
        v128.store(d, v128.load(src, 16), 16);
      } else {
        for (let q = 0; q < NR; q++) store<f32>(at(d, q), q < nr ? load<f32>(at(src, q)) : 0);
      }
    }
    for (let ir = 0; ir < gK; ir += MR) {
      for (let pc = 0; pc < gCog; pc += KC) {
        const kc = min(KC, gCog - pc);
        micro(kc, wg + (<usize>(pc * gKPad + ir * kc) << 2), bs + (<usize>pc << 5), TILE, <usize>NR << 2, pc > 0);
      }
      scatterTile(img, ir, min(MR, gK - ir));
    }
  }
  unpadImage(gOut, n, g * gCg, gCg);
}

function backwardInputTask(lo: i32, hi: i32): void {
  for (let u = lo; u < hi; u++) backwardInputUnit(u / gGroups, u % gGroups);
}

/** dx = the gradient of conv2d with respect to x, for dy (`in`) and `weight`, into `out` (overwritten). */
export function conv2dBackwardInputF32(geom: usize, weight: usize): void {
  store<i32>(geom + (<usize>F_WEIGHT << 2), <i32>weight);
  loadGeometry(geom);
  if (gN == 0 || gC == 0 || gPlane == 0) return;
  if (gCo == 0 || gP == 0) {
    memory.fill(gOut, 0, <usize>(gN * gC * gPlane) << 2);
    return;
  }
  if (gCg == 1) {
    fillOffsets();
    parallelFor(TASK_DEPTHWISE_BACKWARD_INPUT, geom, gN * gC, <i64>gN * <i64>gCo * <i64>gP * <i64>gK);
    return;
  }
  for (let g = 0; g < gGroups; g++) {
    const wg = weight + (<usize>(g * gCog * gK) << 2);
    const dst = gPacked + (<usize>(g * gKPad * gCog) << 2);
    // op(A) = W[g]ᵀ (K x Cog): A is W[g] stored Cog x K, read transposed.
    for (let pc = 0; pc < gCog; pc += KC) packA(true, wg, gK, 0, pc, gK, min(KC, gCog - pc), dst + (<usize>(pc * gKPad) << 2));
  }
  fillOffsets();
  parallelFor(TASK_BACKWARD_INPUT, geom, gN * gGroups, <i64>gN * <i64>gCo * <i64>gP * <i64>gK);
}

// ---------------------------------------------------------------------------------------------
// Gradient with respect to the weight

/** Positions per packed block of dy: the Cog x kc block must fit PACK_A (MC x KC floats). */
@inline function weightDepth(): i32 {
  return min(KC, (MC * KC / gCogPad) & ~3);
}

/** Transposes four f32x4 rows and stores the columns at dst, dst + step, ... (as gemm.ts's). */
@inline function transpose4x4Store(r0: v128, r1: v128, r2: v128, r3: v128, dst: usize, step: usize): void {
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
  v128.store(dst + step, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
  v128.store(dst + 2 * step, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
  v128.store(dst + 3 * step, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
}

/**
 * Packs positions [p0, p0 + kc) of receptive-field rows [k0, k0 + nr) from the padded image at
 * `img` into a B strip: `dst[q·8 + c] = img[base(p0 + q) + off[k0 + c]]`, zero for c >= nr.
 */
function packFieldStrip(img: usize, k0: i32, nr: i32, p0: i32, kc: i32, dst: usize): void {
  let oh = p0 / gWo;
  let ow = p0 - oh * gWo;
  const offs = at(gOffsets, k0);
  const full = nr == NR;
  // The 8 rows' offsets in bytes (rows past K read offset 0 and are zeroed below).
  const o0 = <usize>load<i32>(offs) << 2;
  const o1 = nr > 1 ? <usize>load<i32>(offs, 4) << 2 : 0;
  const o2 = nr > 2 ? <usize>load<i32>(offs, 8) << 2 : 0;
  const o3 = nr > 3 ? <usize>load<i32>(offs, 12) << 2 : 0;
  const o4 = nr > 4 ? <usize>load<i32>(offs, 16) << 2 : 0;
  const o5 = nr > 5 ? <usize>load<i32>(offs, 20) << 2 : 0;
  const o6 = nr > 6 ? <usize>load<i32>(offs, 24) << 2 : 0;
  const o7 = nr > 7 ? <usize>load<i32>(offs, 28) << 2 : 0;
  let q = 0;
  while (q < kc) {
    const run = min(gWo - ow, kc - q); // positions left in this output row
    const row = at(img, oh * gSH * gRowLen + ow);
    let r = 0;
    if (full) {
      // Four positions at a time: each row of the field gives 4 consecutive floats; transposed
      // in registers into the strip's position-major layout.
      for (; r + 4 <= run; r += 4) {
        const s = row + (<usize>r << 2);
        const d = dst + (<usize>(q + r) << 5);
        transpose4x4Store(v128.load(s + o0), v128.load(s + o1), v128.load(s + o2), v128.load(s + o3), d, 32);
        transpose4x4Store(v128.load(s + o4), v128.load(s + o5), v128.load(s + o6), v128.load(s + o7), d + 16, 32);
      }
    }
    for (; r < run; r++) {
      const s = row + (<usize>r << 2);
      const d = dst + (<usize>(q + r) << 5);
      store<f32>(d, load<f32>(s + o0));
      store<f32>(d, nr > 1 ? load<f32>(s + o1) : 0, 4);
      store<f32>(d, nr > 2 ? load<f32>(s + o2) : 0, 8);
      store<f32>(d, nr > 3 ? load<f32>(s + o3) : 0, 12);
      store<f32>(d, nr > 4 ? load<f32>(s + o4) : 0, 16);
      store<f32>(d, nr > 5 ? load<f32>(s + o5) : 0, 20);
      store<f32>(d, nr > 6 ? load<f32>(s + o6) : 0, 24);
      store<f32>(d, nr > 7 ? load<f32>(s + o7) : 0, 28);
    }
    q += run;
    ow += run;
    if (ow == gWo) {
      ow = 0;
      oh++;
    }
  }
}

/** Units [lo, hi) of (group, strip of 8 columns of dW[g]), each summed over all images and positions. */
function backwardWeightTask(lo: i32, hi: i32): void {
  if (lo >= hi) return;
  const gLo = lo / gKStrips;
  const gHi = (hi - 1) / gKStrips;
  const depth = weightDepth();
  const ldc = <usize>gK << 2;
  for (let n = 0; n < gN; n++) {
    for (let pc = 0; pc < gP; pc += depth) {
      const kc = min(depth, gP - pc);
      for (let g = gLo; g <= gHi; g++) {
        const ksLo = g == gLo ? lo % gKStrips : 0;
        const ksHi = g == gHi ? (hi - 1) % gKStrips + 1 : gKStrips;
        // A = dy[n, g] (Cog x P), positions [pc, pc + kc)
        packA(false, gIn2 + (<usize>((n * gCo + g * gCog) * gP) << 2), gP, 0, pc, gCog, kc, PACK_A);
        const img = paddedPlane(n, g * gCg);
        for (let ks = ksLo; ks < ksHi; ks++) {
          const k0 = ks * NR;
          const nr = min(NR, gK - k0);
          packFieldStrip(img, k0, nr, pc, kc, PACK_B);
          for (let ir = 0; ir < gCog; ir += MR) {
            const mr = min(MR, gCog - ir);
            const c = gOut + (<usize>((g * gCog + ir) * gK + k0) << 2);
            if (mr == MR && nr == NR) {
              micro(kc, PACK_A + (<usize>(ir * kc) << 2), PACK_B, c, ldc, true);
            } else {
              micro(kc, PACK_A + (<usize>(ir * kc) << 2), PACK_B, TILE, <usize>NR << 2, false);
              addTile(c, ldc, mr, nr);
            }
          }
        }
      }
    }
  }
}

/**
 * dW (`out`, `[Co, Cg, kH, kW]`) = the gradient of conv2d with respect to its weight for x (`in`)
 * and dy (`in2`), summed over the images; added to what `out` holds when the accumulate flag is set.
 */
export function conv2dBackwardWeightF32(geom: usize): void {
  loadGeometry(geom);
  if (gCo == 0 || gK == 0) return;
  if (field(geom, F_ACCUMULATE) == 0) memory.fill(gOut, 0, <usize>(gCo * gK) << 2);
  if (gN == 0 || gP == 0) return;
  fillOffsets();
  parallelFor(TASK_PAD, geom, gN, <i64>gN * <i64>gC * <i64>gPlaneP);
  if (gCg == 1) parallelFor(TASK_DEPTHWISE_BACKWARD_WEIGHT, geom, gCo, <i64>gN * <i64>gCo * <i64>gP * <i64>gK);
  else parallelFor(TASK_BACKWARD_WEIGHT, geom, gGroups * gKStrips, <i64>gN * <i64>gCo * <i64>gP * <i64>gK);
}

// ---------------------------------------------------------------------------------------------
// Depthwise convolutions (one input channel per group, Cg = 1: MobileNet's 3x3 layers) by direct
// loops over the padded image: a product per group would have K = kH·kW and one row of A, all
// packing and no reuse. Output channel co reads input channel co / Cog; every output row is a sum
// over the taps of a weight times a run of consecutive floats (off[k] with c = 0 is tap k's offset).

/** Output plane (n, co): y[oh, ow] = b + Σ_k w[co, k] · img[oh·sH·rowLen + off[k] + ow], 8 positions at a time. */
function depthwiseForwardPlane(n: i32, co: i32): void {
  const img = paddedPlane(n, co / gCog);
  const w = gWeight + (<usize>(co * gK) << 2);
  const b: f32 = gBias != 0 ? load<f32>(at(gBias, co)) : 0;
  const yp = gOut + (<usize>((n * gCo + co) * gP) << 2);
  const Ho = gP / gWo;
  for (let oh = 0; oh < Ho; oh++) {
    const rowBase = at(img, oh * gSH * gRowLen);
    const yrow = at(yp, oh * gWo);
    let ow = 0;
    for (; ow + 8 <= gWo; ow += 8) {
      let a0 = f32x4.splat(b);
      let a1 = f32x4.splat(b);
      const src = at(rowBase, ow);
      for (let k = 0; k < gK; k++) {
        const wv = v128.load32_splat(at(w, k));
        const p = at(src, load<i32>(at(gOffsets, k)));
        a0 = f32x4.add(a0, f32x4.mul(wv, v128.load(p)));
        a1 = f32x4.add(a1, f32x4.mul(wv, v128.load(p, 16)));
      }
      v128.store(at(yrow, ow), a0);
      v128.store(at(yrow, ow), a1, 16);
    }
    for (; ow + 4 <= gWo; ow += 4) {
      let a0 = f32x4.splat(b);
      const src = at(rowBase, ow);
      for (let k = 0; k < gK; k++) a0 = f32x4.add(a0, f32x4.mul(v128.load32_splat(at(w, k)), v128.load(at(src, load<i32>(at(gOffsets, k))))));
      v128.store(at(yrow, ow), a0);
    }
    for (; ow < gWo; ow++) {
      let a: f32 = b;
      const src = at(rowBase, ow);
      for (let k = 0; k < gK; k++) a += load<f32>(at(w, k)) * load<f32>(at(src, load<i32>(at(gOffsets, k))));
      store<f32>(at(yrow, ow), a);
    }
  }
}

/** dx of image n, channel c: every output channel of its group adds w[co, k] · dy back where tap k read (the adjoint of the forward). */
function depthwiseBackwardInputPlane(n: i32, c: i32): void {
  const img = paddedPlane(n, c);
  memory.fill(img, 0, <usize>gPlaneP << 2);
  const Ho = gP / gWo;
  for (let co = c * gCog; co < (c + 1) * gCog; co++) {
    const w = gWeight + (<usize>(co * gK) << 2);
    const dyp = gIn + (<usize>((n * gCo + co) * gP) << 2);
    for (let oh = 0; oh < Ho; oh++) {
      const rowBase = at(img, oh * gSH * gRowLen);
      const dyrow = at(dyp, oh * gWo);
      for (let k = 0; k < gK; k++) {
        const wf = load<f32>(at(w, k));
        const wv = f32x4.splat(wf);
        const dst = at(rowBase, load<i32>(at(gOffsets, k)));
        let ow = 0;
        for (; ow + 4 <= gWo; ow += 4) {
          const p = at(dst, ow);
          v128.store(p, f32x4.add(v128.load(p), f32x4.mul(wv, v128.load(at(dyrow, ow)))));
        }
        for (; ow < gWo; ow++) {
          const p = at(dst, ow);
          store<f32>(p, load<f32>(p) + wf * load<f32>(at(dyrow, ow)));
        }
      }
    }
  }
  unpadImage(gOut, n, c, 1);
}

/** dW[co, k] = Σ_n Σ_{oh, ow} dy[n, co, oh, ow] · img_n[oh·sH·rowLen + off[k] + ow], image by image (so chunks of images add up the same). */
function depthwiseBackwardWeightChannel(co: i32): void {
  const c = co / gCog;
  const Ho = gP / gWo;
  const dw = gOut + (<usize>(co * gK) << 2);
  for (let n = 0; n < gN; n++) {
    const img = paddedPlane(n, c);
    const dyp = gIn2 + (<usize>((n * gCo + co) * gP) << 2);
    for (let k = 0; k < gK; k++) {
      const off = load<i32>(at(gOffsets, k));
      let acc = f32x4.splat(0);
      let tail: f32 = 0;
      for (let oh = 0; oh < Ho; oh++) {
        const src = at(img, oh * gSH * gRowLen + off);
        const dyrow = at(dyp, oh * gWo);
        let ow = 0;
        for (; ow + 4 <= gWo; ow += 4) acc = f32x4.add(acc, f32x4.mul(v128.load(at(dyrow, ow)), v128.load(at(src, ow))));
        for (; ow < gWo; ow++) tail += load<f32>(at(dyrow, ow)) * load<f32>(at(src, ow));
      }
      const sum = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3) + tail;
      store<f32>(at(dw, k), load<f32>(at(dw, k)) + sum);
    }
  }
}

/** Runs units [lo, hi) of a task (parallel.ts calls it on whichever thread takes the slice). */
export function convTask(kind: i32, geom: usize, lo: i32, hi: i32): void {
  loadGeometry(geom);
  if (kind == TASK_FORWARD) forwardTask(lo, hi);
  else if (kind == TASK_BACKWARD_INPUT) backwardInputTask(lo, hi);
  else if (kind == TASK_BACKWARD_WEIGHT) backwardWeightTask(lo, hi);
  else if (kind == TASK_PAD) padTask(lo, hi);
  else if (kind == TASK_DEPTHWISE_FORWARD) for (let u = lo; u < hi; u++) depthwiseForwardPlane(u / gCo, u % gCo);
  else if (kind == TASK_DEPTHWISE_BACKWARD_INPUT) for (let u = lo; u < hi; u++) depthwiseBackwardInputPlane(u / gC, u % gC);
  else if (kind == TASK_DEPTHWISE_BACKWARD_WEIGHT) for (let u = lo; u < hi; u++) depthwiseBackwardWeightChannel(u);
}
