import { Buffer } from "node:buffer";
import { describe, expect, it } from "vitest";
import { fromArray, loadWasmKernelsSync, referenceKernels, type Tensor, zeros } from "../../index.js";
import { type Dense, dense, naiveMatmul, randomValues, seededRandom, sizeOfShape } from "../../test-utils.js";
import { setMatmulChunkBytes } from "./index.js";
import { kernelsInstanceSync } from "./module.js";

const wasm = loadWasmKernelsSync();

function operand(shape: number[], seed: number, dtype: "float32" | "float64" = "float32"): Tensor {
  return fromArray(randomValues(sizeOfShape(shape), seed), { shape, dtype });
}

function dims(trans: boolean, rows: number, cols: number): number[] {
  return trans ? [cols, rows] : [rows, cols];
}

function abs(x: Dense): Dense {
  return { shape: x.shape, data: x.data.map(Math.abs) };
}

/**
 * Runs the WebAssembly kernel into an output pre-filled with NaN (it must overwrite every element)
 * and compares with the float64 triple loop: each element within `tol` of the exact value
 * relative to `sum_k |a_ik| |b_kj|`, the scale of a float32 dot product's rounding error.
 */
function check(aShape: number[], bShape: number[], outShape: number[], transA: boolean, transB: boolean, seed: number, tol = 1e-5): void {
  const a = operand(aShape, seed);
  const b = operand(bShape, seed + 1);
  const out = fromArray(new Array(sizeOfShape(outShape)).fill(Number.NaN), { shape: outShape, dtype: "float32" });
  wasm.matmul(a, b, out, transA, transB);
  const exact = naiveMatmul(dense(a), dense(b), transA, transB);
  const scale = naiveMatmul(abs(dense(a)), abs(dense(b)), transA, transB);
  expect(exact.shape).toEqual(outShape);
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < exact.data.length; i++) {
    const err = Math.abs(out.data[i]! - exact.data[i]!);
    // NaN fails here too: `!(err <= bound)`.
    const bound = tol * scale.data[i]!;
    if (!(err <= bound) && (worstAt < 0 || err / bound > worst)) {
      worst = err / bound;
      worstAt = i;
    }
  }
  expect(worstAt, `a ${aShape}${transA ? "ᵀ" : ""} · b ${bShape}${transB ? "ᵀ" : ""}: element ${worstAt} is off by ${worst}x the bound`).toBe(-1);
}

describe("WebAssembly SIMD matmul kernel vs a float64 triple loop", () => {
  it("is the reference table with the hot kernels replaced", () => {
    const replaced = [
      "name",
      "matmul",
      "recurrentForward",
      "recurrentBackward",
      "attentionDecoderForward",
      "attentionDecoderBackward",
      "unary",
      "binary",
      "clamp",
      "reduce",
      "softmax",
      "logSoftmax",
      "softmaxCrossEntropy",
      "softmaxCrossEntropyBackward",
      "transpose",
      "conv2d",
      "conv2dBackwardInput",
      "conv2dBackwardWeight",
      "avgPool2d",
    ];
    expect(wasm.name).toBe("wasm-simd");
    expect(Object.keys(wasm).sort()).toEqual([...Object.keys(referenceKernels), "adamUpdate", "pin", "memoryBytes"].sort());
    for (const key of Object.keys(referenceKernels) as (keyof typeof referenceKernels)[]) {
      if (!replaced.includes(key)) expect(wasm[key], key).toBe(referenceKernels[key]);
      else if (key !== "name") expect(wasm[key], key).not.toBe(referenceKernels[key]);
    }
  });

  it("random odd sizes 1..130 in every dimension, all four transpose combinations", () => {
    const next = seededRandom(4242);
    const size = (): number => 1 + Math.floor(next() * 130);
    for (let trial = 0; trial < 48; trial++) {
      const [M, K, N] = [size(), size(), size()];
      const transA = (trial & 1) === 1;
      const transB = (trial & 2) === 2;
      check(dims(transA, M, K), dims(transB, K, N), [M, N], transA, transB, 1000 + trial);
    }
  });

  it("few rows (the unpacked matrix-vector path of decoders and batch-1 generation), long K and N", () => {
    let seed = 3000;
    for (const M of [1, 2, 3, 4]) {
      for (const [K, N] of [[7, 2049], [512, 5], [257, 2048], [64, 3]] as const) {
        for (const transB of [false, true]) check([M, K], dims(transB, K, N), [M, N], false, transB, seed++);
      }
    }
  });

  it("sizes at the edges of the 4x8 register tile and the 4x4 packing transposes", () => {
    let seed = 2000;
    for (const M of [1, 2, 3, 4, 5, 7, 8, 9]) {
      for (const N of [1, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17]) {
        for (const K of [1, 3, 4, 5]) {
          for (let f = 0; f < 4; f++) {
            const transA = (f & 1) === 1;
            const transB = (f & 2) === 2;
            check(dims(transA, M, K), dims(transB, K, N), [M, N], transA, transB, seed++);
          }
        }
      }
    }
  });

  it("sizes across the cache blocks: K past KC = 256, M past MC = 128, N past NC = 2048", () => {
    let seed = 3000;
    for (const [M, K, N] of [[5, 255, 9], [6, 256, 10], [7, 257, 11], [127, 31, 13], [128, 33, 8], [129, 17, 7], [3, 5, 2047], [5, 3, 2049], [9, 520, 2100]]) {
      for (let f = 0; f < 4; f++) {
        const transA = (f & 1) === 1;
        const transB = (f & 2) === 2;
        check(dims(transA, M!, K!), dims(transB, K!, N!), [M!, N!], transA, transB, seed++);
      }
    }
  });

  it("large 257 x 513 x 129, all four transpose combinations", () => {
    for (let f = 0; f < 4; f++) {
      const transA = (f & 1) === 1;
      const transB = (f & 2) === 2;
      check(dims(transA, 257, 513), dims(transB, 513, 129), [257, 129], transA, transB, 4000 + f);
    }
  });

  it("broadcast batch dims, all four transpose combinations", () => {
    const batches: [number[], number[], number[]][] = [
      [[3], [], [3]],
      [[], [2], [2]],
      [[2, 1], [3], [2, 3]],
      [[1, 3], [2, 1], [2, 3]],
      [[2, 1, 2], [1, 3, 1], [2, 3, 2]],
      [[1], [1], [1]],
    ];
    const next = seededRandom(17);
    let seed = 5000;
    for (const [ba, bb, bo] of batches) {
      for (let f = 0; f < 4; f++) {
        const transA = (f & 1) === 1;
        const transB = (f & 2) === 2;
        const [M, K, N] = [1 + Math.floor(next() * 19), 1 + Math.floor(next() * 19), 1 + Math.floor(next() * 19)];
        check([...ba, ...dims(transA, M, K)], [...bb, ...dims(transB, K, N)], [...bo, M, N], transA, transB, seed++);
      }
    }
  });

  it("K = 0 writes zeros; M = 0, N = 0 and empty batches write nothing", () => {
    for (let f = 0; f < 4; f++) {
      const transA = (f & 1) === 1;
      const transB = (f & 2) === 2;
      const out = fromArray(new Array(6).fill(7), { shape: [2, 3], dtype: "float32" });
      wasm.matmul(zeros(dims(transA, 2, 0)), zeros(dims(transB, 0, 3)), out, transA, transB);
      expect(Array.from(out.data)).toEqual(new Array(6).fill(0));
      const batched = fromArray(new Array(12).fill(7), { shape: [2, 2, 3], dtype: "float32" });
      wasm.matmul(zeros([2, ...dims(transA, 2, 0)]), zeros(dims(transB, 0, 3)), batched, transA, transB);
      expect(Array.from(batched.data)).toEqual(new Array(12).fill(0));
      for (const [M, N] of [[0, 3], [2, 0]] as const) {
        const empty = zeros([M, N]);
        wasm.matmul(operand(dims(transA, M, 4), 1), operand(dims(transB, 4, N), 2), empty, transA, transB);
        expect(empty.size).toBe(0);
      }
    }
    const emptyBatch = zeros([0, 2, 3]);
    wasm.matmul(zeros([0, 2, 4]), operand([4, 3], 3), emptyBatch, false, false);
    expect(emptyBatch.size).toBe(0);
  });

  it("float64 is delegated to the reference kernel (bit-identical results)", () => {
    for (let f = 0; f < 4; f++) {
      const transA = (f & 1) === 1;
      const transB = (f & 2) === 2;
      const a = operand([2, ...dims(transA, 13, 37)], 6000 + f, "float64");
      const b = operand(dims(transB, 37, 11), 6100 + f, "float64");
      const viaWasm = zeros([2, 13, 11], "float64");
      const viaReference = zeros([2, 13, 11], "float64");
      wasm.matmul(a, b, viaWasm, transA, transB);
      referenceKernels.matmul(a, b, viaReference, transA, transB);
      expect(viaWasm.data).toEqual(viaReference.data);
    }
  });

  it("the module's gemm honours row strides wider than the rows, and accumulates across K blocks", () => {
    // What a kernel inside the module sees: sub-matrices of larger buffers (lda, ldb, ldc > cols).
    const module = kernelsInstanceSync();
    let seed = 7000;
    for (const [M, N, K] of [[6, 11, 300], [13, 9, 5]] as const) {
      for (let f = 0; f < 8; f++) {
        const transA = (f & 1) === 1;
        const transB = (f & 2) === 2;
        const accumulate = (f & 4) === 4;
        const [ar, ac] = dims(transA, M, K) as [number, number];
        const [br, bc] = dims(transB, K, N) as [number, number];
        const [lda, ldb, ldc] = [ac + 3, bc + 5, N + 2];
        const aBuf = Float32Array.from(randomValues(ar * lda, seed++));
        const bBuf = Float32Array.from(randomValues(br * ldb, seed++));
        const cBuf = Float32Array.from(randomValues(M * ldc, seed++));
        const base = module.reserve((aBuf.length + bBuf.length + cBuf.length) * 4);
        expect(base).toBeGreaterThan(0);
        const [aAt, bAt, cAt] = [base, base + aBuf.length * 4, base + (aBuf.length + bBuf.length) * 4];
        new Float32Array(module.memory.buffer, aAt, aBuf.length).set(aBuf);
        new Float32Array(module.memory.buffer, bAt, bBuf.length).set(bBuf);
        new Float32Array(module.memory.buffer, cAt, cBuf.length).set(cBuf);
        module.gemm(transA, transB, M, N, K, aAt, lda, bAt, ldb, cAt, ldc, accumulate);
        const c = new Float32Array(module.memory.buffer, cAt, cBuf.length);
        for (let i = 0; i < M; i++) {
          for (let j = 0; j < ldc; j++) {
            if (j >= N) {
              expect(c[i * ldc + j], "padding between rows is untouched").toBe(cBuf[i * ldc + j]);
              continue;
            }
            let exact = accumulate ? cBuf[i * ldc + j]! : 0;
            let scale = Math.abs(exact);
            for (let p = 0; p < K; p++) {
              const x = aBuf[transA ? p * lda + i : i * lda + p]! * bBuf[transB ? j * ldb + p : p * ldb + j]!;
              exact += x;
              scale += Math.abs(x);
            }
            expect(Math.abs(c[i * ldc + j]! - exact), `(${i}, ${j}) f=${f}`).toBeLessThanOrEqual(1e-5 * scale);
          }
        }
      }
    }
  });
});

describe("WebAssembly matmul: large operands streamed in chunks", () => {
  it("row chunks (a·b, a·bᵀ) and depth chunks (aᵀ·b) give bitwise the one-call result", () => {
    // [M, N, K, transA, transB]: tails of 1-4 rows (folded into the last chunk), a tail of a
    // whole block, depth not a multiple of the 256-deep blocks.
    const cases: [number, number, number, boolean, boolean][] = [
      [1027, 33, 70, false, false],
      [1030, 65, 40, false, true],
      [900, 7, 300, false, false],
      [70, 33, 1500, true, false],
      [130, 9, 777, true, false],
    ];
    let seed = 900;
    for (const [M, N, K, transA, transB] of cases) {
      const a = operand(dims(transA, M, K), seed++);
      const b = operand(dims(transB, K, N), seed++);
      const whole = zeros([M, N]);
      wasm.matmul(a, b, whole, transA, transB);
      for (const bytes of [20_000, 70_000, 300_000]) {
        const previous = setMatmulChunkBytes(bytes);
        try {
          const chunked = fromArray(new Array(M * N).fill(Number.NaN), { shape: [M, N], dtype: "float32" });
          wasm.matmul(a, b, chunked, transA, transB);
          expect(Buffer.from(chunked.data.buffer).equals(Buffer.from(whole.data.buffer)), `${M}x${N}x${K} ${transA} ${transB} in ${bytes}-byte chunks`).toBe(true);
        } finally {
          setMatmulChunkBytes(previous);
        }
      }
      check(dims(transA, M, K), dims(transB, K, N), [M, N], transA, transB, seed - 2);
    }
  });
});
