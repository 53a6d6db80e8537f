import { describe, expect, it } from "vitest";
import { Rng } from "../../random/rng.js";
import { Tensor } from "../../tensor.js";
import type { Pool2dParams } from "../kernels.js";
import { referenceKernels } from "../reference/index.js";
import { loadWasmKernelsSync } from "./index.js";

const wasm = loadWasmKernelsSync();

const window = (kernel: [number, number], stride: [number, number] = [1, 1], pads: [number, number, number, number] = [0, 0, 0, 0]): Pool2dParams => ({ kernel, stride, pads, dilation: [1, 1] });

function both(x: Tensor, p: Pool2dParams, outShape: number[], countIncludePad = true): [Tensor, Tensor] {
  const size = outShape.reduce((a, b) => a * b, 1);
  const got = new Tensor(new Float32Array(size).fill(Number.NaN), outShape);
  const want = new Tensor(new Float32Array(size), outShape);
  wasm.avgPool2d(x, p, countIncludePad, got);
  referenceKernels.avgPool2d(x, p, countIncludePad, want);
  return [got, want];
}

describe("average pooling in the WebAssembly table", () => {
  it("averages whole planes (global average pooling) within an ulp of the reference", () => {
    for (const shape of [[32, 128, 12, 12], [3, 5, 7, 9], [1, 300, 1, 1]]) {
      const [N, C, H, W] = shape as [number, number, number, number];
      const [got, want] = both(new Rng(H).normal(shape), window([H, W]), [N, C, 1, 1]);
      got.data.forEach((v, i) => expect(Math.abs(v - want.data[i]!), `${shape} element ${i}`).toBeLessThanOrEqual(2 ** -23 * Math.max(Math.abs(want.data[i]!), 2 ** -10)));
    }
  });

  it("leaves other windows to the reference kernel, bit for bit", () => {
    const x = new Rng(3).normal([2, 4, 9, 9]);
    for (const [p, shape] of [[window([3, 3], [2, 2], [1, 1, 1, 1]), [2, 4, 5, 5]], [window([9, 9], [1, 1], [1, 1, 1, 1]), [2, 4, 3, 3]], [window([2, 2], [2, 2]), [2, 4, 4, 4]]] as const) {
      const [got, want] = both(x, p, [...shape], false);
      expect(got.data.every((v, i) => Object.is(v, want.data[i]))).toBe(true);
    }
  });
});
