// The child process of one engine: `node --expose-gc --import tsx src/child.ts --job job.json --out result.json`.
// Each engine runs in its own process so that engines do not share a JIT, a heap or a thread pool.
// The engine's module is imported only here, so the unroll child never loads TensorFlow.js.
import { readArgs, writeResult } from "./engines/harness.js";
import type { EngineResult } from "./protocol.js";

const { job, out } = readArgs();
let result: EngineResult;
switch (job.engine) {
  case "unroll":
    result = await (await import("./engines/unroll.js")).runUnroll(job);
    break;
  case "tfjs-cpu":
  case "tfjs-wasm":
    result = await (await import("./engines/tfjs.js")).runTfjs(job);
    break;
  case "torch":
    throw new Error("the torch engine is a Python script (pytorch/workloads.py), not a Node child");
}
writeResult(out, result);
