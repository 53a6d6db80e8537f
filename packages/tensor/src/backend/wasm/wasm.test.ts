import { Buffer } from "node:buffer";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  fromArray,
  loadWasmKernels,
  loadWasmKernelsSync,
  matmul,
  mul,
  referenceKernels,
  sum,
  type Tensor,
  tanh,
  valueAndGrad,
  wasmGemm,
  wasmSupported,
  withKernels,
} from "../../index.js";
import { dense, naiveMatmul, randomValues, sizeOfShape } from "../../test-utils.js";
import { decodeBase64 } from "./module.js";

function operand(shape: number[], seed: number): Tensor {
  return fromArray(randomValues(sizeOfShape(shape), seed), { shape, dtype: "float32" });
}

function dims(trans: boolean, rows: number, cols: number): number[] {
  return trans ? [cols, rows] : [rows, cols];
}

/** Every element of `actual` within `tol * max|expected|` of `expected`. */
function expectNear(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]!));
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i]! - expected[i]!);
    if (!(err <= tol * scale)) expect.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]} (scale ${scale})`);
  }
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("WebAssembly kernels: loading", () => {
  it("detects SIMD support, and its absence", () => {
    expect(wasmSupported()).toBe(true); // Node >= 20 runs WebAssembly SIMD
    vi.stubGlobal("WebAssembly", undefined);
    expect(wasmSupported()).toBe(false);
    vi.stubGlobal("WebAssembly", { validate: () => false });
    expect(wasmSupported()).toBe(false);
  });

  it("loads asynchronously and synchronously, into the same table shape", async () => {
    const asyncKernels = await loadWasmKernels();
    const syncKernels = loadWasmKernelsSync();
    expect(asyncKernels.name).toBe("wasm-simd");
    expect(syncKernels.name).toBe("wasm-simd");
    expect(asyncKernels.gather).toBe(referenceKernels.gather);
    expect(Object.isFrozen(asyncKernels)).toBe(true);
  });

  it("decodes base64 like Node's Buffer", () => {
    const bytes = Uint8Array.from({ length: 259 }, (_, i) => (i * 37 + 11) & 0xff);
    for (const n of [0, 1, 2, 3, 4, 100, 259]) {
      const text = Buffer.from(bytes.subarray(0, n)).toString("base64");
      expect(Array.from(decodeBase64(text))).toEqual(Array.from(bytes.subarray(0, n)));
    }
    expect(() => decodeBase64("ab$d")).toThrow(/invalid base64/);
  });
});

describe("WebAssembly kernels through the public ops", () => {
  it("matmul matches the reference kernels, batched, all four transpose combinations", async () => {
    const kernels = await loadWasmKernels();
    for (let f = 0; f < 4; f++) {
      const transA = (f & 1) === 1;
      const transB = (f & 2) === 2;
      const a = operand([3, ...dims(transA, 37, 70)], 10 + f);
      const b = operand(dims(transB, 70, 45), 20 + f);
      const viaWasm = withKernels(kernels, () => matmul(a, b, { transA, transB }));
      const viaReference = withKernels(referenceKernels, () => matmul(a, b, { transA, transB }));
      expect(viaWasm.shape).toEqual([3, 37, 45]);
      expectNear(viaWasm.data, viaReference.data, 1e-5, `matmul f=${f}`);
      expectNear(viaWasm.data, naiveMatmul(dense(a), dense(b), transA, transB).data, 1e-5, `matmul vs float64 f=${f}`);
    }
  });

  it("gradients (the transposed products of backpropagation) match the reference kernels", async () => {
    const kernels = await loadWasmKernels();
    for (let f = 0; f < 4; f++) {
      const transA = (f & 1) === 1;
      const transB = (f & 2) === 2;
      // A batch of 2 against a shared matrix: dB sums the batch (sumTo) as well.
      const a = operand([2, ...dims(transA, 33, 65)], 30 + f);
      const b = operand(dims(transB, 65, 17), 40 + f);
      const weight = operand([2, 33, 17], 50 + f);
      const loss = ([x, y]: readonly [Tensor, Tensor]): Tensor => sum(mul(tanh(matmul(x, y, { transA, transB })), weight));
      const step = valueAndGrad(loss);
      const viaWasm = withKernels(kernels, () => step([a, b]));
      const viaReference = withKernels(referenceKernels, () => step([a, b]));
      expectNear([viaWasm.value.item()], [viaReference.value.item()], 1e-5, `loss f=${f}`);
      for (let k = 0; k < 2; k++) {
        expect(viaWasm.grads[k]!.shape).toEqual(viaReference.grads[k]!.shape);
        expectNear(viaWasm.grads[k]!.data, viaReference.grads[k]!.data, 1e-5, `grad ${k} f=${f}`);
      }
    }
  });
});

describe("wasmGemm", () => {
  it("computes op(a)·op(b), overwriting or accumulating into out", () => {
    const [M, N, K] = [19, 23, 29];
    for (let f = 0; f < 4; f++) {
      const transA = (f & 1) === 1;
      const transB = (f & 2) === 2;
      const a = operand(dims(transA, M, K), 60 + f);
      const b = operand(dims(transB, K, N), 70 + f);
      const exact = naiveMatmul(dense(a), dense(b), transA, transB).data;
      const out = new Float32Array(M * N).fill(Number.NaN);
      wasmGemm(M, N, K, a.data as Float32Array, b.data as Float32Array, out, { transA, transB });
      expectNear(out, exact, 1e-5, `overwrite f=${f}`);
      const start = Float32Array.from(randomValues(M * N, 80 + f));
      const acc = start.slice();
      wasmGemm(M, N, K, a.data as Float32Array, b.data as Float32Array, acc, { transA, transB, accumulate: true });
      expectNear(acc, exact.map((v, i) => v + start[i]!), 1e-5, `accumulate f=${f}`);
    }
  });

  it("K = 0 gives zeros, or leaves out unchanged when accumulating", () => {
    const out = new Float32Array(6).fill(3);
    wasmGemm(2, 3, 0, new Float32Array(0), new Float32Array(0), out, { accumulate: true });
    expect(Array.from(out)).toEqual([3, 3, 3, 3, 3, 3]);
    wasmGemm(2, 3, 0, new Float32Array(0), new Float32Array(0), out);
    expect(Array.from(out)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it("rejects bad sizes and short arrays", () => {
    const x = new Float32Array(4);
    expect(() => wasmGemm(-1, 2, 2, x, x, x)).toThrow(/M must be a non-negative integer/);
    expect(() => wasmGemm(2, 2.5, 2, x, x, x)).toThrow(/N must be a non-negative integer/);
    expect(() => wasmGemm(2, 2, 3, x, x, x)).toThrow(/a has 4 elements, needs 6/);
    expect(() => wasmGemm(2, 3, 2, x, new Float32Array(6), x)).toThrow(/out has 4 elements, needs 6/);
  });
});
