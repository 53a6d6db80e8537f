import { beforeAll, describe, expect, it } from "vitest";
import { allocate } from "../../dtype.js";
import { ValueRangeError } from "../../errors.js";
import { Rng } from "../../random/rng.js";
import { Tensor } from "../../tensor.js";
import type { Kernels, RecurrentCell } from "../kernels.js";
import { defaultWasmThreads, loadWasmKernels, loadWasmKernelsSync, wasmThreadsSupported } from "./index.js";
import { threadedKernelsInstanceSync } from "./module.js";

// The threaded kernels split each large product into column (or row) slices, one per thread; every
// slice is the same serial product, so results must equal one thread's bit for bit.

const one = loadWasmKernelsSync();
let two: Kernels;

beforeAll(async () => {
  two = await loadWasmKernels({ threads: 2 });
});

function zeros(shape: number[]): Tensor {
  return new Tensor(allocate("float32", shape.reduce((a, b) => a * b, 1)), shape);
}

function expectBitwiseEqual(a: Tensor, b: Tensor, what: string): void {
  expect(a.shape, what).toEqual(b.shape);
  let differing = 0;
  for (let i = 0; i < a.size; i++) if (!Object.is(a.data[i], b.data[i])) differing++;
  expect(differing, `${what}: elements that differ`).toBe(0);
}

describe("threaded WebAssembly kernels", () => {
  it("run here (Node), with a worker that takes jobs", () => {
    expect(wasmThreadsSupported()).toBe(true);
    expect(defaultWasmThreads()).toBeGreaterThanOrEqual(1);
    expect(two.name).toBe("wasm-simd (2 threads)");
    expect(threadedKernelsInstanceSync(2).readyWorkers()).toBe(1);
  });

  it("give one thread's matrix products bit for bit, and the worker computes slices of them", () => {
    const wasm = threadedKernelsInstanceSync(2);
    const rng = new Rng(3);
    // Column slices (wide C), row slices (narrow C: an output layer), batch-1 rows (generation),
    // transposed operands, batched products, odd sizes, and a product too small to split.
    const cases: [number, number, number, boolean, boolean, number[]][] = [
      [1, 2048, 512, false, true, []],
      [32, 1024, 256, false, true, []],
      [300, 257, 129, false, false, []],
      [512, 20, 300, false, true, []],
      [129, 300, 77, true, false, []],
      [200, 131, 64, true, true, [3]],
      [3, 5, 7, false, false, []],
    ];
    for (let round = 0; round < 3; round++) {
      for (const [M, N, K, transA, transB, batch] of cases) {
        const a = rng.normal([...batch, ...(transA ? [K, M] : [M, K])]);
        const b = rng.normal([...batch, ...(transB ? [N, K] : [K, N])]);
        const serial = zeros([...batch, M, N]);
        const threaded = zeros([...batch, M, N]);
        one.matmul(a, b, serial, transA, transB);
        two.matmul(a, b, threaded, transA, transB);
        expectBitwiseEqual(threaded, serial, `${M}x${N}x${K} transA=${transA} transB=${transB} batch=${batch.join(",")}`);
      }
    }
    // A job the worker has not claimed by the time the main thread finishes its own slice is taken
    // back (a descheduled worker must not stall the product), so on a busy machine small products
    // may all run on the main thread; large ones give the worker time to wake and claim its slice.
    const a = rng.normal([1024, 1024]);
    const serial = zeros([1024, 1024]);
    const threaded = zeros([1024, 1024]);
    one.matmul(a, a, serial, false, true);
    const jobsBefore = wasm.workerJobs();
    let tries = 0;
    do two.matmul(a, a, threaded, false, true);
    while (wasm.workerJobs() === jobsBefore && ++tries < 100);
    expect(wasm.workerJobs()).toBeGreaterThan(jobsBefore);
    expectBitwiseEqual(threaded, serial, "1024x1024x1024");
  });

  it.each(["lstm", "gru", "rnn_tanh"] as const)("give one thread's %s scan, forward and backward, bit for bit", (cell: RecurrentCell) => {
    const rng = new Rng(11);
    const [T, B, I, H] = [24, 32, 40, 96];
    const GH = { lstm: 4, gru: 3, rnn_tanh: 1, rnn_relu: 1 }[cell] * H;
    const S = cell === "rnn_tanh" ? 0 : 4 * H;
    for (const [lengths, reverse] of [[null, false], [[24, 3, 0, ...Array.from({ length: 29 }, (_, i) => 1 + (i % 24))], true]] as const) {
      const args = {
        cell,
        reverse,
        x: rng.normal([T, B, I]),
        weightIH: rng.normal([GH, I], 0, 0.2),
        biasIH: rng.normal([GH], 0, 0.3),
        weightHH: rng.normal([GH, H], 0, 0.1),
        biasHH: rng.normal([GH], 0, 0.3),
        h0: rng.normal([B, H], 0, 0.5),
        c0: cell === "lstm" ? rng.normal([B, H], 0, 0.5) : null,
        lengths: lengths ? new Tensor(Int32Array.from(lengths), [B]) : null,
      };
      const forwardOut = () => ({
        hs: zeros([T, B, H]),
        hT: zeros([B, H]),
        cT: cell === "lstm" ? zeros([B, H]) : null,
        states: zeros([T, B, H]),
        cells: cell === "lstm" ? zeros([T, B, H]) : null,
        gates: zeros([T, B, S]),
      });
      const serial = forwardOut();
      const threaded = forwardOut();
      one.recurrentForward(args, serial);
      two.recurrentForward(args, threaded);
      for (const key of ["hs", "hT", "cT", "states", "cells", "gates"] as const) {
        if (serial[key]) expectBitwiseEqual(threaded[key]!, serial[key], `forward ${key}`);
      }
      const back = {
        cell,
        reverse,
        x: args.x,
        weightIH: args.weightIH,
        weightHH: args.weightHH,
        h0: args.h0,
        c0: args.c0,
        lengths: args.lengths,
        states: serial.states,
        cells: serial.cells,
        gates: serial.gates,
        dhs: rng.normal([T, B, H]),
        dhT: rng.normal([B, H]),
        dcT: cell === "lstm" ? rng.normal([B, H]) : null,
      };
      const backwardOut = () => ({
        dx: zeros([...args.x.shape]),
        dWeightIH: zeros([...args.weightIH.shape]),
        dBiasIH: zeros([GH]),
        dWeightHH: zeros([GH, H]),
        dBiasHH: zeros([GH]),
        dh0: zeros([B, H]),
        dc0: cell === "lstm" ? zeros([B, H]) : null,
      });
      const serialGrad = backwardOut();
      const threadedGrad = backwardOut();
      one.recurrentBackward(back, serialGrad);
      two.recurrentBackward(back, threadedGrad);
      for (const key of ["dx", "dWeightIH", "dBiasIH", "dWeightHH", "dBiasHH", "dh0", "dc0"] as const) {
        if (serialGrad[key]) expectBitwiseEqual(threadedGrad[key]!, serialGrad[key], `backward ${key}`);
      }
    }
  });

  it("refuse a thread count they cannot use, naming the range", () => {
    for (const threads of [0, 1.5, 9, -2]) {
      expect(() => loadWasmKernelsSync({ threads }), String(threads)).toThrow(ValueRangeError);
      expect(() => loadWasmKernelsSync({ threads }), String(threads)).toThrow(/threads must be an integer from 1 to 8/);
    }
  });
});
