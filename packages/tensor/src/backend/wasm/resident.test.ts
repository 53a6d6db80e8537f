import { describe, expect, it } from "vitest";
import { matmul, pinTensors, Rng, Tensor, withKernels } from "../../index.js";
import { referenceKernels } from "../reference/index.js";
import { loadWasmKernelsSync } from "./index.js";

const wasm = loadWasmKernelsSync();

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe("pinned weights", () => {
  it("give the same products as copied ones, for every call that reads them, until released", () => {
    const rng = new Rng(1);
    const w = rng.normal([300, 64]);
    const v = rng.normal([64, 40]);
    const xs = [rng.normal([1, 64]), rng.normal([3, 64]), rng.normal([37, 64])];
    withKernels(wasm, () => {
      const copied = xs.map((x) => matmul(x, w, { transB: true }).data);
      const release = pinTensors([w, v]);
      try {
        xs.forEach((x, i) => expect(maxDiff(matmul(x, w, { transB: true }).data, copied[i]!)).toBe(0));
        // Unpinned operands of the same call are laid out after the pinned region, not over it.
        const big = rng.normal([200, 300]);
        const again = matmul(big, w);
        expect(maxDiff(again.data, withKernels(referenceKernels, () => matmul(big, w)).data)).toBeLessThan(1e-3);
        expect(maxDiff(matmul(xs[0]!, w, { transB: true }).data, copied[0]!)).toBe(0);
        const pinnedTwice = pinTensors([w]); // pins nest
        pinnedTwice();
        expect(maxDiff(matmul(xs[1]!, w, { transB: true }).data, copied[1]!)).toBe(0);
      } finally {
        release();
      }
      // Released: new data is read again.
      w.data[0] = 100;
      const changed = matmul(xs[0]!, w, { transB: true });
      expect(changed.data[0]).not.toBeCloseTo(copied[0]![0]!, 3);
    });
  });

  it("are read in place by the fused recurrent scan", () => {
    const rng = new Rng(2);
    const [T, B, I, H] = [3, 1, 5, 8];
    const args = {
      cell: "lstm" as const,
      reverse: false,
      x: rng.normal([T, B, I]),
      weightIH: rng.normal([4 * H, I]),
      biasIH: rng.normal([4 * H]),
      weightHH: rng.normal([4 * H, H]),
      biasHH: rng.normal([4 * H]),
      h0: rng.normal([B, H]),
      c0: rng.normal([B, H]),
      lengths: null,
    };
    const run = () => {
      const z = (shape: number[]) => new Tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
      const out = { hs: z([T, B, H]), hT: z([B, H]), cT: z([B, H]), states: z([T, B, H]), cells: z([T, B, H]), gates: z([T, B, 4 * H]) };
      wasm.recurrentForward(args, out);
      return out.hs.data;
    };
    const copied = run();
    const release = withKernels(wasm, () => pinTensors([args.weightIH, args.biasIH, args.weightHH, args.biasHH]));
    try {
      expect(maxDiff(run(), copied)).toBe(0);
    } finally {
      release();
    }
  });

  it("is a no-op on the reference kernels", () => {
    const release = withKernels(referenceKernels, () => pinTensors([new Rng(0).normal([3])]));
    expect(() => release()).not.toThrow();
  });
});

describe("memoryBytes", () => {
  it("reports the module's memory, which process.memoryUsage() leaves out, and grows with the operands", () => {
    const before = wasm.memoryBytes!();
    expect(before).toBeGreaterThan(0);
    expect(before % 65536).toBe(0); // whole WebAssembly pages
    const rng = new Rng(2);
    const a = rng.normal([1024, 1024]);
    // b (4 MiB) laid out whole, a's rows and c's streamed through in chunks of 128 rows or more
    withKernels(wasm, () => matmul(a, a));
    expect(wasm.memoryBytes!()).toBeGreaterThanOrEqual(Math.max(before, 4 * 2 ** 20 + 2 * 128 * 4096));
    expect(referenceKernels.memoryBytes).toBeUndefined();
  });
});
