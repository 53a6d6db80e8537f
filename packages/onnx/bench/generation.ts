// Generation latency, batch 1: characters per second for 500 characters from a 2-layer LSTM
// language model (hidden 512, embedding 64, vocabulary 84, random weights) through
//   - the library's own engine with its WebAssembly kernels (nlp's modelStep), on one thread and
//     on all cores, the weights pinned in the WebAssembly memory as `unroll sample` pins them,
//   - onnxruntime-node on the exported step graph (ONNX LSTM operators, and the unrolled lowering),
//   - onnxruntime-node on PyTorch's own export of the same architecture (torch.onnx.export of
//     nn.LSTM), when bench/fixtures/torch-lstm-step.onnx exists (`pnpm torch-fixture` makes it).
// Every engine runs the same sampling loop (nlp's generateText, seed 0, temperature 1) and the
// medians over the runs are printed. A benchmark, not a test: `pnpm --filter @unroll/onnx bench`.
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { CharTokenizer, collect, generateText, LanguageModel, modelStep, type StepFunction } from "@unroll/nlp";
import { defaultWasmThreads, type Kernels, loadWasmKernels, loadWasmKernelsSync, pinTensors, Rng, setKernels, treeLeaves, withKernels } from "@unroll/tensor";
import { exportLanguageModel, OnnxSession, onnxStepFunction } from "../src/index.js";

const CHARS = 500;
const RUNS = Number(process.env["BENCH_RUNS"] ?? 7);
const fixture = fileURLToPath(new URL("./fixtures/torch-lstm-step.onnx", import.meta.url));

// 83 printable characters and the unknown symbol: vocabulary 84, as PyTorch's fixture.
const tokenizer = CharTokenizer.fromText(Array.from({ length: 83 }, (_, i) => String.fromCharCode(32 + i)).join(""));
const model = new LanguageModel({ vocabSize: tokenizer.vocabSize, cell: "lstm", hiddenSize: 512, numLayers: 2, embeddingSize: 64 });
const params = model.init(new Rng(0));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface Engine {
  readonly name: string;
  readonly step: StepFunction<unknown>;
  readonly note?: string;
  /** The kernel table the engine runs on (the library's engines); the single-threaded one otherwise. */
  readonly kernels?: Kernels;
  text?: string;
  readonly rates: number[];
}

const generate = (step: StepFunction<unknown>): Promise<string> =>
  collect(generateText(step, tokenizer, { prime: "The ", maxTokens: CHARS, seed: 0 }));

const engines: Engine[] = [];
const skipped: [string, string][] = [];

const single = loadWasmKernelsSync();
const threads = defaultWasmThreads();
const releases = [withKernels(single, () => pinTensors(treeLeaves(params)))];
engines.push({ name: "library engine (wasm-simd kernels)", step: modelStep(model, params) as StepFunction<unknown>, kernels: single, rates: [] });
if (threads > 1) {
  const threaded = await loadWasmKernels({ threads });
  releases.push(withKernels(threaded, () => pinTensors(treeLeaves(params))));
  engines.push({ name: `library engine (wasm-simd kernels, ${threads} threads)`, step: modelStep(model, params) as StepFunction<unknown>, kernels: threaded, rates: [] });
}
setKernels(single);
const sessions: OnnxSession[] = [];
// onnxruntime's default thread pool (all cores), and one thread: at batch 1 the ops are small and
// a loaded machine makes the pool's hand-offs costly, so both are shown.
const settings: [string, Record<string, unknown>][] = [["", {}], [", 1 thread", { intraOpNumThreads: 1 }]];
const torchSignature = {
  tokens: "tokens",
  tokenType: "int64",
  logits: "logits",
  state: [
    { input: "h_0", output: "h_n", shape: [2, "batch", 512] },
    { input: "c_0", output: "c_n", shape: [2, "batch", 512] },
  ],
} as const;
for (const [label, sessionOptions] of settings) {
  for (const lowering of label === "" ? (["operators", "unrolled"] as const) : (["operators"] as const)) {
    const session = await OnnxSession.create(exportLanguageModel(model, params, { graph: "step", lowering }), { sessionOptions });
    sessions.push(session);
    engines.push({ name: `onnxruntime-node, exported step graph (${lowering}${label})`, step: onnxStepFunction(session) as StepFunction<unknown>, rates: [] });
  }
  const torchName = `onnxruntime-node, PyTorch's own step graph${label}`;
  if (existsSync(fixture)) {
    const session = await OnnxSession.create(fixture, { sessionOptions });
    sessions.push(session);
    engines.push({ name: torchName, step: onnxStepFunction(session, torchSignature) as StepFunction<unknown>, note: "(torch.onnx.export of nn.LSTM; other random weights)", rates: [] });
  } else {
    skipped.push([torchName, "skipped: bench/fixtures/torch-lstm-step.onnx is absent (make it with `pnpm --filter @unroll/onnx torch-fixture`, needs python3-torch)"]);
  }
}

console.log(`generation, batch 1, ${CHARS} characters, 2-layer LSTM hidden 512; median of ${RUNS} runs, engines interleaved; ${availableParallelism()} CPUs\n`);
const run = (e: Engine): Promise<string> => {
  setKernels(e.kernels ?? single);
  return generate(e.step);
};
for (const e of engines) e.text = await run(e); // warm-up, and the text to compare
for (let r = 0; r < RUNS; r++) {
  for (const e of engines) {
    // A pause first: the previous engine's onnxruntime pool threads spin for a while after their last
    // run, and would otherwise slow down whichever engine comes next.
    await new Promise((resolve) => setTimeout(resolve, 250));
    const t0 = performance.now();
    await run(e);
    e.rates.push(CHARS / ((performance.now() - t0) / 1000));
  }
}
const reference = engines[0]!.text;
for (const e of engines) {
  const same = e.note ? e.note : e.text === reference ? "(same text as the library)" : "(TEXT DIFFERS from the library's)";
  console.log(`${e.name.padEnd(58)} ${median(e.rates).toFixed(0).padStart(6)} chars/s  ${same}`);
}
for (const [name, why] of skipped) console.log(`${name.padEnd(58)} ${why}`);
for (const s of sessions) await s.release();
for (const release of releases) release();
