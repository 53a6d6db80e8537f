// Median time of one workload run with unroll's WebAssembly kernels, for quick A/B work on a
// kernel (the full suite in run.ts is the measurement of record):
//   node --import tsx src/step.ts W1 [threads = 1] [runs = 20]
import { loadWasmKernels, setKernels } from "@unroll/tensor";
import { SIZES, WORKLOAD_IDS, type WorkloadId, workPerRun } from "./config.js";
import { buildUnroll } from "./engines/unroll-models.js";

const id = (process.argv[2] ?? "W1") as WorkloadId;
if (!WORKLOAD_IDS.includes(id)) throw new Error(`unknown workload ${id}; one of ${WORKLOAD_IDS.join(", ")}`);
const threads = Number(process.argv[3] ?? 1);
const runs = Number(process.argv[4] ?? 20);
setKernels(await loadWasmKernels({ threads }));
const spec = SIZES.full[id];
const workload = buildUnroll(spec, 1);
for (let i = 0; i < 3; i++) workload.run();
const times: number[] = [];
for (let i = 0; i < runs; i++) {
  const t = performance.now();
  workload.run();
  times.push(performance.now() - t);
}
times.sort((a, b) => a - b);
const median = times[times.length >> 1]!;
console.log(`${id}, ${threads} thread(s): median ${median.toFixed(2)} ms of ${runs} runs, ${((workPerRun(spec) / median) * 1000).toFixed(0)} per second`);
process.exit(0);
