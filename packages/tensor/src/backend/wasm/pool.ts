// Pooling in the WebAssembly table: global average pooling (a window over the whole plane, the
// `GlobalAvgPool2d` of a CNN encoder's head) as a row sum in WebAssembly; other windows, max
// pooling and the backward passes stay on the reference kernels (no model of this project spends
// measurable time in them: tooling/bench's W5 and W6 profiles).

import type { KernelTensor, Pool2dParams } from "../kernels.js";
import { referenceKernels } from "../reference/index.js";
import { MIN_ELEMENTS, wasmReduce } from "./elementwise.js";
import type { KernelsExports } from "./module.js";
import type { Residency } from "./resident.js";

export function wasmAvgPool2d(
  wasm: KernelsExports, residency: Residency, x: KernelTensor, p: Pool2dParams, countIncludePad: boolean, out: KernelTensor,
): void {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const global = out.shape[2] === 1 && out.shape[3] === 1 && p.kernel[0] === H && p.kernel[1] === W && p.pads.every((v) => v === 0);
  if (!global || !(x.data instanceof Float32Array) || !(out.data instanceof Float32Array) || x.data.length < MIN_ELEMENTS) {
    return referenceKernels.avgPool2d(x, p, countIncludePad, out);
  }
  // The window is the plane, no padding: every divisor is H·W.
  wasmReduce(wasm, residency, "sum", { data: x.data, shape: [N * C, H * W] }, [1], { data: out.data, shape: [N * C] });
  const d = out.data;
  const size = H * W;
  for (let i = 0; i < d.length; i++) d[i] = d[i]! / size;
}
