// The WebAssembly elementwise, reduction and softmax kernels against their TypeScript twins (the
// reference kernels) on random shapes: odd sizes, every broadcast pattern the planner produces,
// operands long enough to stream through the module in several chunks, and special values.
import { describe, expect, it } from "vitest";
import { loadWasmKernelsSync, referenceKernels } from "../../index.js";
import { seededRandom, sizeOfShape } from "../../test-utils.js";
import type { BinaryOp, KernelTensor, ReduceOp, UnaryOp } from "../kernels.js";
import { MIN_ELEMENTS } from "./elementwise.js";

const wasm = loadWasmKernelsSync();

function f32(shape: readonly number[], seed: number, low = -4, high = 4): KernelTensor {
  const rand = seededRandom(seed);
  return { shape, data: Float32Array.from({ length: sizeOfShape(shape) }, () => low + (high - low) * rand()) };
}

function zeros(shape: readonly number[]): KernelTensor & { data: Float32Array } {
  return { shape, data: new Float32Array(sizeOfShape(shape)) };
}

/**
 * Every element within `ulps` float32 units in the last place of the reference (relative to
 * max(|expected|, `floor`)); NaN where the reference is NaN. `ulps` 0 asks for identical bits.
 */
function expectMatches(actual: Float32Array, expected: Float32Array, ulps: number, what: string, floor = 0): void {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e)) {
      if (!Number.isNaN(a)) expect.fail(`${what}: element ${i} is ${a}, expected NaN`);
      continue;
    }
    if (ulps === 0 || !Number.isFinite(e)) {
      if (!Object.is(a, e)) expect.fail(`${what}: element ${i} is ${a}, expected exactly ${e}`);
      continue;
    }
    const tol = ulps * 2 ** -23 * Math.max(Math.abs(e), floor);
    if (!(Math.abs(a - e) <= tol)) expect.fail(`${what}: element ${i} is ${a}, expected ${e} (within ${ulps} ulp)`);
  }
}

// Correctly rounded in both (IEEE operations on float32 values, or a float64 result rounded once).
const EXACT_UNARY: UnaryOp[] = ["neg", "sqrt", "relu", "abs", "sign"];
// Polynomial approximations in WebAssembly (log: AssemblyScript's logf, within an ulp) against
// float64 Math.* rounded to float32.
const APPROX_UNARY: UnaryOp[] = ["exp", "log", "tanh", "sigmoid"];

describe("WebAssembly unary kernels vs the reference", () => {
  for (const op of [...EXACT_UNARY, ...APPROX_UNARY]) {
    it(`${op}: odd lengths, a chunked length, special values`, () => {
      const special = [0, -0, NaN, Infinity, -Infinity, 1e-30, -1e-30, 1e-7, -1e-7, 0.6249, 0.6251, -0.6251, 88.7, 88.8, -87.5, -100, -104, 1e38];
      const lengths = [MIN_ELEMENTS, 257, 1001, 3 * 2 ** 18 + 5];
      lengths.forEach((n, k) => {
        const x = f32([n], 10 + k, op === "log" || op === "sqrt" ? 0 : -12, 12);
        x.data.set(special.slice(0, Math.min(special.length, n)));
        const got = zeros([n]);
        const want = zeros([n]);
        wasm.unary(op, x, got);
        referenceKernels.unary(op, x, want);
        // exp: relative to the value, subnormal results to the smallest normal's spacing
        const ulps = EXACT_UNARY.includes(op) ? 0 : 4;
        // exp: subnormal results within ulps of the smallest normal; tanh, sigmoid: relative to the
        // value (tanh keeps float32's relative accuracy near 0), else to 1
        const floor = op === "exp" ? 2 ** -126 : op === "log" ? 0 : op === "tanh" ? 0 : 2 ** -126;
        expectMatches(got.data, want.data, ulps, `${op} over ${n}`, floor);
      });
    });
  }

  it("leaves operands below MIN_ELEMENTS and float64 to the reference (identical bits)", () => {
    const x = f32([MIN_ELEMENTS - 1], 3);
    const got = zeros([MIN_ELEMENTS - 1]);
    const want = zeros([MIN_ELEMENTS - 1]);
    wasm.unary("exp", x, got);
    referenceKernels.unary("exp", x, want);
    expectMatches(got.data, want.data, 0, "small exp");
    const x64 = { shape: [1000], data: Float64Array.from(f32([1000], 4).data) };
    const o64 = { shape: [1000], data: new Float64Array(1000) };
    const r64 = { shape: [1000], data: new Float64Array(1000) };
    wasm.unary("tanh", x64, o64);
    referenceKernels.unary("tanh", x64, r64);
    expect(Array.from(o64.data)).toEqual(Array.from(r64.data));
  });
});

describe("WebAssembly clamp vs the reference (identical bits)", () => {
  // ReLU6 (MobileNet's activation), one-sided bounds, bounds float32 cannot hold exactly (0.1
  // rounds up, -1/3 down: the rounded bound must order every float32 as the exact one does), bounds
  // beyond float32's range, and min = max; NaN, -0 and infinities among the values.
  const bounds: [number, number][] = [[0, 6], [-Infinity, 0.5], [-2, Infinity], [-Infinity, Infinity], [0.1, 0.3], [-1 / 3, 1 / 3], [1e39, 1e40], [-1e40, -1e39], [1.5, 1.5]];
  const special = [0, -0, NaN, Infinity, -Infinity, 6, -6, 0.1, Math.fround(0.1), -Math.fround(1 / 3), Math.fround(1 / 3), 1e38, -1e38, 1.5, 3.4e38];
  it(`${bounds.length} pairs of bounds over odd lengths and a chunked length`, () => {
    const lengths = [MIN_ELEMENTS, 257, 1003, 3 * 2 ** 18 + 5];
    const vs = (v: number): number[] => [v, Math.fround(v), Math.fround(v) * (1 + 2 ** -23), Math.fround(v) * (1 - 2 ** -23)].filter(Number.isFinite);
    bounds.forEach(([min, max]) => {
      lengths.forEach((n, k) => {
        const x = f32([n], 20 + k, -8, 8);
        // the values at and next to the bounds, then the special values
        const near = [...vs(min), ...vs(max), ...special];
        x.data.set(near.slice(0, Math.min(near.length, n)));
        const got = zeros([n]);
        got.data.fill(NaN);
        const want = zeros([n]);
        wasm.clamp(x, min, max, got);
        referenceKernels.clamp(x, min, max, want);
        expectMatches(got.data, want.data, 0, `clamp to [${min}, ${max}] over ${n}`);
      });
    });
    // It is the WebAssembly kernel that ran (the table's entry is not the reference's).
    expect(wasm.clamp).not.toBe(referenceKernels.clamp);
  });

  it("keeps -0 (max(-0, 0) in WebAssembly SIMD would give +0) and leaves float64 and small operands to the reference", () => {
    const x = { shape: [300], data: new Float32Array(300).fill(-0) };
    const got = zeros([300]);
    wasm.clamp(x, 0, 6, got);
    expect(got.data.every((v) => Object.is(v, -0))).toBe(true);
    const x64 = { shape: [1000], data: Float64Array.from(f32([1000], 5).data) };
    const o64 = { shape: [1000], data: new Float64Array(1000) };
    const r64 = { shape: [1000], data: new Float64Array(1000) };
    wasm.clamp(x64, -1, 1, o64);
    referenceKernels.clamp(x64, -1, 1, r64);
    expect(Array.from(o64.data)).toEqual(Array.from(r64.data));
    const small = f32([MIN_ELEMENTS - 1], 6);
    const gs = zeros([MIN_ELEMENTS - 1]);
    const ws = zeros([MIN_ELEMENTS - 1]);
    wasm.clamp(small, 0, 1, gs);
    referenceKernels.clamp(small, 0, 1, ws);
    expectMatches(gs.data, ws.data, 0, "small clamp");
  });
});

const BINARY: BinaryOp[] = ["add", "sub", "mul", "div", "pow", "greater", "greaterEqual", "less", "lessEqual", "equal", "notEqual"];

describe("WebAssembly binary kernels vs the reference (identical bits)", () => {
  // [a, b]: same shape, row and column broadcasts, broadcasts on both sides, a scalar, middle axes,
  // odd run lengths, and shapes long enough to stream in several chunks.
  const cases: [number[], number[]][] = [
    [[17, 31], [17, 31]],
    [[33, 65], [65]],
    [[33, 65], [33, 1]],
    [[33, 1], [1, 65]],
    [[7, 9, 13], [9, 1]],
    [[20, 32, 7], [32, 7]],
    [[5, 1, 11], [1, 6, 11]],
    [[301], []],
    [[], [301]],
    [[2048, 130], [130]],
    [[700, 1000], [700, 1000]],
    [[3, 300001], [3, 1]],
  ];
  for (const op of BINARY) {
    it(`${op} over ${cases.length} broadcast patterns`, () => {
      cases.forEach(([sa, sb], k) => {
        const a = f32(sa, 100 + k, -3, 3);
        // share some values so that the comparisons see equal operands
        const b = f32(sb, 200 + k, -3, 3);
        if (b.data.length > 0 && a.data.length > 0) b.data[0] = a.data[0]!;
        a.data[a.data.length - 1] = NaN;
        const outShape = sa.length >= sb.length ? [...sa] : [...sb];
        for (let d = 1; d <= Math.min(sa.length, sb.length); d++) {
          outShape[outShape.length - d] = Math.max(sa[sa.length - d]!, sb[sb.length - d]!);
        }
        const got = zeros(outShape);
        const want = zeros(outShape);
        wasm.binary(op, a, b, got);
        referenceKernels.binary(op, a, b, want);
        expectMatches(got.data, want.data, 0, `${op} ${JSON.stringify(sa)} with ${JSON.stringify(sb)}`);
      });
    });
  }
});

describe("WebAssembly reductions vs the reference", () => {
  // [shape, axes]: all, trailing (rows), leading (columns: bias gradients), long enough to chunk,
  // and a middle-axis reduction that stays on the reference kernel.
  const cases: [number[], number[]][] = [
    [[1001], [0]],
    [[17, 33], [0, 1]],
    [[37, 53], [1]],
    [[37, 53], [0]],
    [[4, 9, 11], [1, 2]],
    [[4, 9, 11], [0, 1]],
    [[4, 9, 11], [1]],
    [[2048, 1024], [0]],
    [[1024, 2049], [1]],
    [[3, 2 ** 19 + 3], [0, 1]],
  ];
  for (const op of ["sum", "max"] as ReduceOp[]) {
    it(`${op} over ${cases.length} layouts`, () => {
      cases.forEach(([shape, axes], k) => {
        const x = f32(shape, 300 + k);
        const outShape = shape.filter((_, d) => !axes.includes(d));
        const got = zeros(outShape);
        const want = zeros(outShape);
        wasm.reduce(op, x, axes, got);
        referenceKernels.reduce(op, x, axes, want);
        // max and column sums (float32 accumulation in the same order) are exact; the other sums
        // accumulate in float64 in another order than the reference's, then round once
        const exact = op === "max" || (axes.length === 1 && axes[0] === 0 && shape.length === 2);
        expectMatches(got.data, want.data, exact ? 0 : 1, `${op} of ${JSON.stringify(shape)} over ${JSON.stringify(axes)}`, 1);
      });
    });
  }

  it("sum and max over the outer and inner blocks around a kept one (a convolution's bias gradient)", () => {
    const cases: [number[], number[]][] = [
      [[3, 5, 70], [0, 2]],
      [[8, 16, 12, 12], [0, 2, 3]],
      [[9, 32, 40, 40], [0, 2, 3]], // streamed in chunks of images
      [[2, 3, 1, 4, 50], [0, 1, 4]],
    ];
    cases.forEach(([shape, axes], k) => {
      const x = f32(shape, 400 + k);
      const outShape = shape.filter((_, d) => !axes.includes(d));
      // The float64 sum of each kept index, rounded once (the reference rounds after every addition).
      const A = sizeOfShape(shape.slice(0, shape.findIndex((_, d) => !axes.includes(d)))); // the leading reduced axes
      const B = sizeOfShape(outShape);
      const C = x.data.length / (A * B);
      const exact = new Float64Array(B);
      for (let a = 0; a < A; a++) for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) exact[b]! += x.data[(a * B + b) * C + c]!;
      const got = zeros(outShape);
      wasm.reduce("sum", x, axes, got);
      expectMatches(got.data, Float32Array.from(exact), 1, `sum of ${JSON.stringify(shape)} over ${JSON.stringify(axes)}`, 1);
      const gotMax = zeros(outShape);
      const wantMax = zeros(outShape);
      wasm.reduce("max", x, axes, gotMax);
      referenceKernels.reduce("max", x, axes, wantMax);
      expectMatches(gotMax.data, wantMax.data, 0, `max of ${JSON.stringify(shape)} over ${JSON.stringify(axes)}`);
    });
    const x = f32([4, 6, 50], 7);
    x.data[2 * 300 + 3 * 50 + 7] = NaN;
    for (const op of ["sum", "max"] as ReduceOp[]) {
      const got = zeros([6]);
      wasm.reduce(op, x, [0, 2], got);
      expect(Array.from(got.data, Number.isNaN), op).toEqual([false, false, false, true, false, false]);
    }
  });

  it("max propagates NaN, as the reference (PyTorch)", () => {
    const x = f32([64, 8], 5);
    x.data[3 * 8 + 2] = NaN;
    for (const axes of [[0], [1], [0, 1]]) {
      const outShape = axes.length === 2 ? [] : axes[0] === 0 ? [8] : [64];
      const got = zeros(outShape);
      const want = zeros(outShape);
      wasm.reduce("max", x, axes, got);
      referenceKernels.reduce("max", x, axes, want);
      expectMatches(got.data, want.data, 0, `max over ${JSON.stringify(axes)} with a NaN`);
      expect(got.data.some(Number.isNaN)).toBe(true);
    }
  });
});

describe("WebAssembly softmax and softmax cross-entropy vs the reference", () => {
  const shapes = [[1, 256], [37, 65], [64, 7], [2048, 65], [5000, 65], [3, 4, 129]];

  it("softmax and log-softmax along the last axis (and another axis, on the reference)", () => {
    shapes.forEach((shape, k) => {
      const x = f32(shape, 400 + k, -10, 10);
      x.data[1] = -Infinity;
      for (const log of [false, true]) {
        const got = zeros(shape);
        const want = zeros(shape);
        const axis = shape.length - 1;
        (log ? wasm.logSoftmax : wasm.softmax)(x, axis, got);
        (log ? referenceKernels.logSoftmax : referenceKernels.softmax)(x, axis, want);
        // probabilities relative to the largest of a row (1 at most); log-probabilities absolute
        if (log) expectMatches(got.data, want.data, 16, `logSoftmax ${JSON.stringify(shape)}`, 16);
        else expectMatches(got.data, want.data, 8, `softmax ${JSON.stringify(shape)}`, 1);
      }
    });
    const x = f32([65, 300], 7);
    const got = zeros([65, 300]);
    const want = zeros([65, 300]);
    wasm.softmax(x, 0, got);
    referenceKernels.softmax(x, 0, want);
    expectMatches(got.data, want.data, 0, "softmax over axis 0");
  });

  it("cross-entropy losses and their backward, ignored rows included", () => {
    for (const [N, C] of [[37, 65], [2048, 65], [5000, 65], [9, 1000], [300, 3]] as [number, number][]) {
      const logits = f32([N, C], N + C, -8, 8);
      const rand = seededRandom(N);
      const targets = { shape: [N], data: Int32Array.from({ length: N }, (_, i) => (i % 5 === 3 ? -100 : Math.floor(rand() * C))) };
      const g = f32([N], 9, -2, 2);
      const got = zeros([N]);
      const want = zeros([N]);
      wasm.softmaxCrossEntropy(logits, targets, -100, got);
      referenceKernels.softmaxCrossEntropy(logits, targets, -100, want);
      expectMatches(got.data, want.data, 16, `losses [${N},${C}]`, 16);
      for (let i = 3; i < N; i += 5) expect(got.data[i]).toBe(0);
      const dGot = zeros([N, C]);
      const dWant = zeros([N, C]);
      wasm.softmaxCrossEntropyBackward(logits, targets, g, -100, dGot);
      referenceKernels.softmaxCrossEntropyBackward(logits, targets, g, -100, dWant);
      // each row's gradient relative to its cotangent's size (|g| * 1 bounds a row)
      expectMatches(dGot.data, dWant.data, 8, `backward [${N},${C}]`, 2);
      for (let i = 3; i < N; i += 5) expect(Array.from(dGot.data.subarray(i * C, (i + 1) * C)).every((v) => v === 0)).toBe(true);
    }
  });
});
