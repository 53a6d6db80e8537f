import { describe, expect, it } from "vitest";
import { allocate } from "../../dtype.js";
import { Rng } from "../../random/rng.js";
import { Tensor } from "../../tensor.js";
import type { RecurrentCell } from "../kernels.js";
import { referenceKernels } from "../reference/index.js";
import { loadWasmKernelsSync } from "./index.js";
import { setScanChunkBytes } from "./recurrent.js";

const wasm = loadWasmKernelsSync();
const G: Record<RecurrentCell, number> = { rnn_tanh: 1, rnn_relu: 1, lstm: 4, gru: 3 };

function zerosLike(shape: number[]): Tensor {
  let n = 1;
  for (const d of shape) n *= d;
  return new Tensor(allocate("float32", n), shape);
}

function maxRelDiff(a: Tensor, b: Tensor): number {
  let m = 0;
  let scale = 1e-3;
  for (let i = 0; i < a.size; i++) scale = Math.max(scale, Math.abs(b.data[i]!));
  for (let i = 0; i < a.size; i++) m = Math.max(m, Math.abs(a.data[i]! - b.data[i]!));
  return m / scale;
}

/** Runs forward and backward with both kernel tables on the same random inputs; compares every output. */
function compare(cell: RecurrentCell, T: number, B: number, H: number, seed: number, lengths: number[] | null, reverse = false): void {
  const rng = new Rng(seed);
  const GH = G[cell] * H;
  const I = 1 + (seed % 7);
  const S = cell === "lstm" || cell === "gru" ? 4 * H : 0;
  const args = {
    cell,
    reverse,
    x: rng.normal([T, B, I]),
    weightIH: rng.normal([GH, I], 0, 1 / Math.sqrt(I)),
    biasIH: rng.normal([GH], 0, 0.3),
    weightHH: rng.normal([GH, H], 0, 1 / Math.sqrt(H)),
    biasHH: rng.normal([GH], 0, 0.3),
    h0: rng.normal([B, H], 0, 0.5),
    c0: cell === "lstm" ? rng.normal([B, H], 0, 0.5) : null,
    lengths: lengths ? new Tensor(Int32Array.from(lengths), [B]) : null,
  };
  const forwardOut = () => ({
    hs: zerosLike([T, B, H]),
    hT: zerosLike([B, H]),
    cT: cell === "lstm" ? zerosLike([B, H]) : null,
    states: zerosLike([T, B, H]),
    cells: cell === "lstm" ? zerosLike([T, B, H]) : null,
    gates: zerosLike([T, B, S]),
  });
  const ref = forwardOut();
  const ours = forwardOut();
  referenceKernels.recurrentForward(args, ref);
  wasm.recurrentForward(args, ours);
  for (const key of ["hs", "hT", "cT", "states", "cells", "gates"] as const) {
    if (ref[key]) expect(maxRelDiff(ours[key]!, ref[key]!), `forward ${key}`).toBeLessThan(1e-5);
  }
  if (!reverse && !lengths) {
    // No states buffer where they are the outputs: both tables give the same hs and final states.
    for (const table of [referenceKernels, wasm]) {
      const lean = { ...forwardOut(), states: null };
      table.recurrentForward(args, lean);
      expect(maxRelDiff(lean.hs, ref.states), `${table.name}: hs are the states`).toBeLessThan(1e-5);
      expect(maxRelDiff(lean.hT, ref.hT), `${table.name}: hT`).toBeLessThan(1e-5);
      if (lean.cells) expect(maxRelDiff(lean.cells, ref.cells!), `${table.name}: cells`).toBeLessThan(1e-5);
    }
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
    states: ref.states,
    cells: ref.cells,
    gates: ref.gates,
    dhs: rng.normal([T, B, H]),
    dhT: rng.normal([B, H]),
    dcT: cell === "lstm" ? rng.normal([B, H]) : null,
  };
  // Odd seeds skip dx (a layer whose input needs no gradient): the weight gradients still come out.
  const withDx = seed % 2 === 0;
  const backwardOut = () => ({
    dx: withDx ? zerosLike([T, B, I]) : null,
    dWeightIH: zerosLike([GH, I]),
    dBiasIH: zerosLike([GH]),
    dWeightHH: zerosLike([GH, H]),
    dBiasHH: zerosLike([GH]),
    dh0: zerosLike([B, H]),
    dc0: cell === "lstm" ? zerosLike([B, H]) : null,
  });
  const refGrad = backwardOut();
  const ourGrad = backwardOut();
  referenceKernels.recurrentBackward(back, refGrad);
  wasm.recurrentBackward(back, ourGrad);
  expect(ourGrad.dx === null).toBe(!withDx);
  for (const key of ["dx", "dWeightIH", "dBiasIH", "dWeightHH", "dBiasHH", "dh0", "dc0"] as const) {
    if (refGrad[key]) expect(maxRelDiff(ourGrad[key]!, refGrad[key]!), `backward ${key}`).toBeLessThan(2e-5);
  }
}

describe.each(["rnn_tanh", "rnn_relu", "lstm", "gru"] as const)("WebAssembly recurrent scan, %s, against its TypeScript twin", (cell) => {
  it("full sequences of odd sizes", () => {
    compare(cell, 7, 3, 5, 1, null);
    compare(cell, 13, 1, 17, 2, null);
    compare(cell, 3, 9, 33, 3, null);
  });

  it("padded batches (lengths, zero-length examples), forwards and reversed", () => {
    compare(cell, 6, 4, 7, 4, [6, 1, 0, 3]);
    compare(cell, 6, 4, 7, 8, [6, 1, 0, 3], true);
    compare(cell, 5, 3, 6, 9, null, true);
    // Widths that are multiples of 4 take the vectorised LSTM path.
    compare(cell, 6, 4, 8, 10, [6, 1, 0, 3], true);
    compare(cell, 6, 4, 12, 11, [2, 6, 5, 0]);
  });

  it("aligned sizes, where the backward scan shares dx with dhp and h0 with the previous states", () => {
    compare(cell, 9, 4, 16, 12, null);
    compare(cell, 9, 4, 16, 13, null, true);
    compare(cell, 5, 8, 8, 14, [5, 2, 0, 4, 5, 1, 3, 5]);
  });

  it("an empty sequence and a single step", () => {
    compare(cell, 0, 2, 3, 5, null);
    compare(cell, 1, 2, 3, 6, null);
  });

  it("in chunks of time steps (the state and its gradient carried between calls): the same results", () => {
    for (const bytes of [1, 3000]) {
      // 1 byte: one step per call; 3000 bytes: a few steps per call, the last chunk shorter.
      const previous = setScanChunkBytes(bytes);
      try {
        compare(cell, 7, 3, 5, 21, null);
        compare(cell, 9, 4, 16, 22, null);
        compare(cell, 8, 4, 8, 23, [8, 1, 0, 5]);
        compare(cell, 7, 3, 5, 25, null, true); // reversed: the chunks read the input from its end
        compare(cell, 9, 4, 16, 26, null, true);
        compare(cell, 6, 4, 7, 24, [6, 1, 0, 3], true); // padded and reversed: one call
      } finally {
        setScanChunkBytes(previous);
      }
    }
  });

  it("the W1 shape (64 steps, batch 32, hidden 256)", () => {
    compare(cell, 64, 32, cell === "lstm" ? 256 : 64, 7, null);
  });
});
