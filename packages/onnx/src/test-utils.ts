// Helpers for the tests: run a model in onnxruntime-node and compare with the library's tensors.
import type { Tensor } from "@unroll/tensor";
import { encodeModel, type ModelProto, OnnxSession } from "./index.js";

/** Runs `model` once in onnxruntime-node (a refused file throws: a failing test, never a skip). */
export async function runOnnx(model: ModelProto | Uint8Array, feeds: Readonly<Record<string, Tensor>>): Promise<Record<string, Tensor>> {
  const session = await OnnxSession.create(model instanceof Uint8Array ? model : encodeModel(model));
  try {
    return await session.runTensors(feeds);
  } finally {
    await session.release();
  }
}

/** Largest |a - b| over the elements; the shapes must agree. */
export function maxAbsDiff(a: Tensor, b: Tensor): number {
  if (a.shape.join() !== b.shape.join()) throw new Error(`shapes differ: [${a.shape.join(",")}] vs [${b.shape.join(",")}]`);
  let m = 0;
  for (let i = 0; i < a.size; i++) {
    const d = Math.abs(a.data[i]! - b.data[i]!);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}
