import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { allocate } from "../../dtype.js";
import { Rng } from "../../random/rng.js";
import { Tensor } from "../../tensor.js";
import type { Conv2dParams, Kernels } from "../kernels.js";
import { referenceKernels } from "../reference/index.js";
import { setConvChunkBytes } from "./conv.js";
import { loadWasmKernels, loadWasmKernelsSync } from "./index.js";
import { threadedKernelsInstanceSync } from "./module.js";

// The WebAssembly convolutions against the reference kernels (the oracle) run in float64 on the
// same values: every element within 1e-5 of the exact value relative to the sum of the absolute
// products that make it (the scale of a float32 dot product's rounding error); and on two threads,
// or streamed in chunks of images, bitwise what one thread computes in one call.

const one = loadWasmKernelsSync();
let two: Kernels;

beforeAll(async () => {
  two = await loadWasmKernels({ threads: 2 });
});

interface Case {
  readonly N: number;
  readonly C: number;
  readonly H: number;
  readonly W: number;
  readonly Co: number;
  readonly kH: number;
  readonly kW: number;
  readonly p: Conv2dParams;
}

function outSize(size: number, before: number, after: number, k: number, s: number, d: number): number {
  return Math.floor((size + before + after - d * (k - 1) - 1) / s) + 1;
}

function outputShape(c: Case): [number, number, number, number] {
  const [top, left, bottom, right] = c.p.pads;
  return [c.N, c.Co, outSize(c.H, top, bottom, c.kH, c.p.stride[0], c.p.dilation[0]), outSize(c.W, left, right, c.kW, c.p.stride[1], c.p.dilation[1])];
}

function filled(shape: readonly number[], value: number, dtype: "float32" | "float64" = "float32"): Tensor {
  const data = allocate(dtype, shape.reduce((a, b) => a * b, 1));
  data.fill(value);
  return new Tensor(data, [...shape]);
}

function as64(t: Tensor, map: (v: number) => number = (v) => v): Tensor {
  return new Tensor(Float64Array.from(t.data, map), [...t.shape]);
}

/** `actual` (float32) within `tol · scale` of `exact` everywhere (NaN fails). */
function expectNear(actual: Tensor, exact: Tensor, scale: Tensor, what: string, tol = 1e-5): void {
  expect(actual.shape, what).toEqual(exact.shape);
  let worst = -1;
  let ratio = 0;
  for (let i = 0; i < exact.data.length; i++) {
    const err = Math.abs(actual.data[i]! - exact.data[i]!);
    const bound = tol * scale.data[i]! + 1e-30;
    if (!(err <= bound) && (worst < 0 || err / bound > ratio)) [worst, ratio] = [i, err / bound];
  }
  expect(worst, `${what}: element ${worst} is off by ${ratio}x the bound (${actual.data[worst]} vs ${exact.data[worst]})`).toBe(-1);
}

function expectBitwiseEqual(a: Tensor, b: Tensor, what: string): void {
  let differing = 0;
  for (let i = 0; i < a.data.length; i++) if (!Object.is(a.data[i], b.data[i])) differing++;
  expect(differing, `${what}: elements that differ`).toBe(0);
}

function describeCase(c: Case): string {
  const { stride, pads, dilation, groups } = c.p;
  return `x [${c.N},${c.C},${c.H},${c.W}] w [${c.Co},${c.C / groups},${c.kH},${c.kW}] stride ${stride} pads ${pads} dilation ${dilation} groups ${groups}`;
}

/** Forward, input gradient and weight gradient of one case with `kernels`, checked against float64 references. */
function checkCase(c: Case, seed: number, kernels: Kernels = one, withBias = true): void {
  const rng = new Rng(seed);
  const x = rng.normal([c.N, c.C, c.H, c.W]);
  const weight = rng.normal([c.Co, c.C / c.p.groups, c.kH, c.kW]);
  const bias = withBias ? rng.normal([c.Co]) : null;
  const yShape = outputShape(c);
  const dy = rng.normal(yShape);
  const what = describeCase(c);
  const abs = Math.abs;

  const y = filled(yShape, Number.NaN);
  kernels.conv2d(x, weight, bias, c.p, y);
  const exact = filled(yShape, 0, "float64");
  referenceKernels.conv2d(as64(x), as64(weight), bias ? as64(bias) : null, c.p, exact);
  const scale = filled(yShape, 0, "float64");
  referenceKernels.conv2d(as64(x, abs), as64(weight, abs), bias ? as64(bias, abs) : null, c.p, scale);
  expectNear(y, exact, scale, `forward, ${what}`);

  const dx = filled(x.shape, Number.NaN);
  kernels.conv2dBackwardInput(dy, weight, c.p, dx);
  const dxExact = filled(x.shape, 0, "float64");
  referenceKernels.conv2dBackwardInput(as64(dy), as64(weight), c.p, dxExact);
  const dxScale = filled(x.shape, 0, "float64");
  referenceKernels.conv2dBackwardInput(as64(dy, abs), as64(weight, abs), c.p, dxScale);
  expectNear(dx, dxExact, dxScale, `input gradient, ${what}`);

  const dw = filled(weight.shape, Number.NaN);
  kernels.conv2dBackwardWeight(x, dy, c.p, dw);
  const dwExact = filled(weight.shape, 0, "float64");
  referenceKernels.conv2dBackwardWeight(as64(x), as64(dy), c.p, dwExact);
  const dwScale = filled(weight.shape, 0, "float64");
  referenceKernels.conv2dBackwardWeight(as64(x, abs), as64(dy, abs), c.p, dwScale);
  expectNear(dw, dwExact, dwScale, `weight gradient, ${what}`);
}

const conv = (N: number, C: number, H: number, W: number, Co: number, k: number, options: Partial<Conv2dParams> = {}): Case => ({
  N, C, H, W, Co, kH: k, kW: k,
  p: { stride: options.stride ?? [1, 1], pads: options.pads ?? [0, 0, 0, 0], dilation: options.dilation ?? [1, 1], groups: options.groups ?? 1 },
});

/** A random convolution: odd sizes, every option, depthwise (one input channel per group) a third of the time. */
const arbitraryCase: fc.Arbitrary<Case> = fc
  .record({
    N: fc.integer({ min: 1, max: 3 }),
    groups: fc.integer({ min: 1, max: 3 }),
    Cg: fc.integer({ min: 1, max: 7 }),
    Cog: fc.integer({ min: 1, max: 10 }),
    depthwise: fc.boolean(),
    kH: fc.integer({ min: 1, max: 4 }),
    kW: fc.integer({ min: 1, max: 4 }),
    sH: fc.integer({ min: 1, max: 3 }),
    sW: fc.integer({ min: 1, max: 3 }),
    dH: fc.integer({ min: 1, max: 2 }),
    dW: fc.integer({ min: 1, max: 2 }),
    pads: fc.tuple(fc.nat(2), fc.nat(2), fc.nat(2), fc.nat(2)),
    extraH: fc.nat(14),
    extraW: fc.nat(14),
  })
  .map((r) => {
    const groups = r.depthwise ? r.groups * 3 : r.groups;
    const Cg = r.depthwise ? 1 : r.Cg;
    const [top, left, bottom, right] = r.pads;
    // The smallest input the kernel's reach fits (with the padding), plus up to 14.
    const H = Math.max(1, r.dH * (r.kH - 1) + 1 - top - bottom) + r.extraH;
    const W = Math.max(1, r.dW * (r.kW - 1) + 1 - left - right) + r.extraW;
    return {
      N: r.N, C: Cg * groups, H, W, Co: r.Cog * groups, kH: r.kH, kW: r.kW,
      p: { stride: [r.sH, r.sW], pads: [top, left, bottom, right], dilation: [r.dH, r.dW], groups },
    } satisfies Case;
  });

describe("WebAssembly SIMD convolutions vs the reference kernels in float64", () => {
  it("replace the reference table's conv2d and its gradients", () => {
    for (const k of ["conv2d", "conv2dBackwardInput", "conv2dBackwardWeight"] as const) expect(one[k], k).not.toBe(referenceKernels[k]);
  });

  it("agree on a ResNet's shapes: 3x3 same-padding, stride-2 downsampling, 1x1, the RGB stem", () => {
    checkCase(conv(2, 3, 24, 24, 16, 3, { stride: [2, 2], pads: [1, 1, 1, 1] }), 1);
    checkCase(conv(2, 16, 12, 12, 16, 3, { pads: [1, 1, 1, 1] }), 2);
    checkCase(conv(2, 16, 12, 12, 32, 3, { stride: [2, 2], pads: [1, 1, 1, 1] }), 3);
    checkCase(conv(2, 32, 6, 6, 32, 3, { pads: [1, 1, 1, 1] }), 4);
    checkCase(conv(3, 20, 7, 9, 12, 1), 5);
    checkCase(conv(1, 8, 13, 11, 12, 1, { stride: [2, 2] }), 6);
  });

  it("agree with depthwise, grouped, dilated and asymmetric convolutions, with and without bias", () => {
    checkCase(conv(2, 16, 13, 11, 16, 3, { pads: [1, 1, 1, 1], groups: 16 }), 7);
    checkCase(conv(2, 8, 14, 15, 16, 3, { stride: [2, 2], pads: [1, 1, 1, 1], groups: 8 }), 8, one, false); // channel multiplier 2
    checkCase(conv(2, 12, 10, 10, 18, 3, { pads: [1, 1, 1, 1], groups: 3 }), 9);
    checkCase(conv(1, 6, 17, 19, 10, 3, { dilation: [2, 3], pads: [2, 3, 2, 3] }), 10, one, false);
    checkCase(conv(2, 5, 9, 16, 7, 5, { pads: [0, 2, 1, 0], stride: [1, 2] }), 11);
    checkCase({ ...conv(1, 4, 11, 8, 6, 1, { stride: [3, 1], pads: [1, 0, 2, 1] }), kH: 2, kW: 5 }, 12);
  });

  it("agree on random shapes: odd sizes, every option, depthwise", () => {
    fc.assert(fc.property(arbitraryCase, fc.nat(1000), (c, seed) => checkCase(c, seed, one, seed % 3 !== 0)), { numRuns: 120, seed: 20261212 });
  });

  it("agree on windows wholly in the padding and outputs of one position", () => {
    checkCase(conv(2, 3, 1, 1, 5, 3, { pads: [1, 1, 1, 1] }), 13);
    checkCase(conv(1, 2, 2, 9, 3, 3, { pads: [2, 2, 2, 2], stride: [3, 3] }), 14);
    checkCase(conv(1, 4, 3, 3, 9, 3), 15);
  });

  it("keep float64 and empty batches on the reference kernels", () => {
    const c = conv(2, 3, 6, 6, 4, 3, { pads: [1, 1, 1, 1] });
    const rng = new Rng(16);
    const x = as64(rng.normal([2, 3, 6, 6]));
    const w = as64(rng.normal([4, 3, 3, 3]));
    const viaWasm = filled([2, 4, 6, 6], 0, "float64");
    const viaReference = filled([2, 4, 6, 6], 0, "float64");
    one.conv2d(x, w, null, c.p, viaWasm);
    referenceKernels.conv2d(x, w, null, c.p, viaReference);
    expectBitwiseEqual(viaWasm, viaReference, "float64");
    const dw = filled([4, 3, 3, 3], Number.NaN);
    one.conv2dBackwardWeight(filled([0, 3, 6, 6], 0), filled([0, 4, 6, 6], 0), c.p, dw);
    expect(dw.data.every((v) => v === 0)).toBe(true);
  });
});

describe("WebAssembly convolutions on threads and in chunks", () => {
  const cases = [
    conv(4, 16, 20, 20, 24, 3, { pads: [1, 1, 1, 1] }),
    conv(5, 12, 21, 17, 20, 3, { stride: [2, 2], pads: [1, 1, 1, 1] }),
    conv(3, 32, 11, 11, 64, 3, { pads: [1, 1, 1, 1], groups: 2, dilation: [2, 2] }),
    conv(4, 24, 18, 18, 24, 3, { pads: [1, 1, 1, 1], groups: 24 }),
  ];

  function run(kernels: Kernels, c: Case, seed: number): Tensor[] {
    const rng = new Rng(seed);
    const x = rng.normal([c.N, c.C, c.H, c.W]);
    const weight = rng.normal([c.Co, c.C / c.p.groups, c.kH, c.kW]);
    const bias = rng.normal([c.Co]);
    const dy = rng.normal(outputShape(c));
    const y = filled(outputShape(c), 0);
    const dx = filled(x.shape, 0);
    const dw = filled(weight.shape, 0);
    kernels.conv2d(x, weight, bias, c.p, y);
    kernels.conv2dBackwardInput(dy, weight, c.p, dx);
    kernels.conv2dBackwardWeight(x, dy, c.p, dw);
    return [y, dx, dw];
  }

  it("give one thread's results bit for bit on two threads, with the worker taking slices", () => {
    const wasm = threadedKernelsInstanceSync(2);
    const jobsBefore = wasm.workerJobs();
    for (const [i, c] of cases.entries()) {
      const serial = run(one, c, 20 + i);
      // A slice the worker has not claimed when the main thread is done is taken back: try a few times.
      for (let round = 0; round < 3; round++) {
        const threaded = run(two, c, 20 + i);
        ["forward", "input gradient", "weight gradient"].forEach((what, k) => expectBitwiseEqual(threaded[k]!, serial[k]!, `${what}, ${describeCase(c)}`));
      }
    }
    expect(wasm.workerJobs()).toBeGreaterThan(jobsBefore);
  });

  it("give one call's results bit for bit when the batch streams through the module an image or two at a time", () => {
    for (const [i, c] of cases.entries()) {
      const whole = run(one, c, 30 + i);
      const previous = setConvChunkBytes(1);
      try {
        const chunked = run(one, c, 30 + i);
        const chunkedThreaded = run(two, c, 30 + i);
        ["forward", "input gradient", "weight gradient"].forEach((what, k) => {
          expectBitwiseEqual(chunked[k]!, whole[k]!, `${what} in chunks, ${describeCase(c)}`);
          expectBitwiseEqual(chunkedThreaded[k]!, whole[k]!, `${what} in chunks on two threads, ${describeCase(c)}`);
        });
      } finally {
        setConvChunkBytes(previous);
      }
    }
  });
});
