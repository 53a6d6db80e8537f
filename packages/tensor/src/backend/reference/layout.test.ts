import { describe, it } from "vitest";
import { fromArray, referenceKernels, type Tensor, zeros } from "../../index.js";
import {
  dense, expectClose, naiveConcat, naivePad, naiveSlice, naiveTranspose, randomValues, seededRandom, sizeOfShape,
} from "../../test-utils.js";

// Randomised checks of the layout kernels on ranks 0 to 5, called directly on zero-filled outputs.

function tensor(shape: number[], seed: number): Tensor {
  return fromArray(randomValues(sizeOfShape(shape), seed), { shape, dtype: "float64" });
}

function randomShape(next: () => number, rank: number, allowEmpty: boolean): number[] {
  return Array.from({ length: rank }, () => (allowEmpty && next() < 0.08 ? 0 : 1 + Math.floor(next() * 4)));
}

describe("reference layout kernels", () => {
  it("slice: random boxes", () => {
    const next = seededRandom(1);
    for (let trial = 0; trial < 200; trial++) {
      const shape = randomShape(next, Math.floor(next() * 6), true);
      const starts = shape.map((d) => Math.floor(next() * (d + 1)));
      const ends = shape.map((d, i) => starts[i]! + Math.floor(next() * (d - starts[i]! + 1)));
      const x = tensor(shape, trial);
      const out = zeros(starts.map((s, i) => ends[i]! - s), "float64");
      referenceKernels.slice(x, starts, out);
      expectClose(out, naiveSlice(dense(x), starts, ends), 0, 0);
    }
  });

  it("pad: random widths and values", () => {
    const next = seededRandom(2);
    for (let trial = 0; trial < 200; trial++) {
      const shape = randomShape(next, Math.floor(next() * 6), true);
      const before = shape.map(() => Math.floor(next() * 3));
      const after = shape.map(() => Math.floor(next() * 3));
      const value = trial % 3 === 0 ? 0 : Math.round(next() * 10) - 5;
      const x = tensor(shape, 1000 + trial);
      const out = zeros(shape.map((d, i) => before[i]! + d + after[i]!), "float64");
      referenceKernels.pad(x, before, value, out);
      expectClose(out, naivePad(dense(x), before, after, value), 0, 0);
    }
  });

  it("transpose: random permutations", () => {
    const next = seededRandom(3);
    for (let trial = 0; trial < 200; trial++) {
      const rank = Math.floor(next() * 6);
      const shape = randomShape(next, rank, true);
      const perm = Array.from({ length: rank }, (_, i) => i);
      for (let i = rank - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [perm[i], perm[j]] = [perm[j]!, perm[i]!];
      }
      const x = tensor(shape, 2000 + trial);
      const out = zeros(perm.map((p) => shape[p]!), "float64");
      referenceKernels.transpose(x, perm, out);
      expectClose(out, naiveTranspose(dense(x), perm), 0, 0);
    }
  });

  it("concat: random parts along a random axis", () => {
    const next = seededRandom(4);
    for (let trial = 0; trial < 150; trial++) {
      const rank = 1 + Math.floor(next() * 4);
      const shape = randomShape(next, rank, false);
      const axis = Math.floor(next() * rank);
      const count = 1 + Math.floor(next() * 4);
      const parts = Array.from({ length: count }, (_, k) => tensor(shape.map((d, i) => (i === axis ? Math.floor(next() * 4) : d)), 3000 + 10 * trial + k));
      const outShape = shape.map((d, i) => (i === axis ? parts.reduce((s, p) => s + p.shape[axis]!, 0) : d));
      const out = zeros(outShape, "float64");
      referenceKernels.concat(parts, axis, out);
      expectClose(out, naiveConcat(parts.map(dense), axis), 0, 0);
    }
  });
});
