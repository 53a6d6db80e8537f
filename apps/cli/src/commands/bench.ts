import { cpus } from "node:os";
import type { Command } from "commander";
import { gather, matmul, pinTensors, Rng, softmaxCrossEntropy, treeLeaves, valueAndGrad } from "@unroll/tensor";
import { Linear, LSTM } from "@unroll/cells";
import { generateTokens, LanguageModel, modelStep } from "@unroll/nlp";
import { adam, clipGradNorm } from "@unroll/train";
import { numberFlag } from "../config.js";
import { useKernels } from "./kernel-flags.js";
import type { Output } from "../ui/output.js";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * This engine's speed on the project's reference workloads (no peers: `pnpm bench` in the
 * repository runs the side-by-side suite against TensorFlow.js and PyTorch).
 */
export function registerBench(program: Command, out: () => Output): void {
  program
    .command("bench")
    .description("measure this machine: matrix product GFLOP/s, LSTM training tokens/s (W1), batch-1 generation characters/s (W3)")
    .option("--runs <n>", "measured runs per figure (after one warm-up)", "5")
    .option("--kernels <k>", "auto | wasm | reference", "auto")
    .option("--threads <n>", "threads for the WebAssembly kernels (default: the cores, at most 8)")
    .action(async (flags: Record<string, string>) => {
      const o = out();
      const kernels = useKernels(flags);
      const runs = numberFlag("runs", flags.runs, "positive-integer");
      const rng = new Rng(0);
      const time = (fn: () => void): number => {
        fn();
        const times: number[] = [];
        for (let i = 0; i < runs; i++) {
          const t0 = performance.now();
          fn();
          times.push(performance.now() - t0);
        }
        return median(times);
      };
      const rows: Record<string, unknown>[] = [];
      for (const n of [256, 1024]) {
        const a = rng.normal([n, n]);
        const b = rng.normal([n, n]);
        const ms = time(() => void matmul(a, b));
        rows.push({ workload: `matmul ${n}^3`, value: (2 * n ** 3) / (ms * 1e6), unit: "GFLOP/s", ms });
      }
      {
        // W1: vocabulary 65, embedding 64, LSTM 256, batch 32, 64 steps, Adam, clip 5.
        const [V, E, H, B, T] = [65, 64, 256, 32, 64];
        const lstm = new LSTM({ inputSize: E, hiddenSize: H });
        const head = new Linear(H, V);
        const params = { emb: rng.normal([V, E]), lstm: lstm.init(rng), head: head.init(rng) };
        const tokens = rng.randint([T, B], 0, V);
        const targets = rng.randint([T, B], 0, V);
        const opt = adam({ lr: 2e-3 });
        const step = valueAndGrad((p: typeof params) => softmaxCrossEntropy(head.forward(p.head, lstm.forward(p.lstm, gather(p.emb, tokens)).output), targets));
        const ms = time(() => opt.step(params, clipGradNorm(step(params).grads, 5).grads));
        rows.push({ workload: "W1 LSTM LM training (1x256, batch 32, 64 steps)", value: (B * T) / (ms / 1000), unit: "tokens/s", ms });
      }
      {
        // W3: the W2 model (2 LSTM layers of 512), batch 1, 500 characters sampled one at a time.
        const model = new LanguageModel({ vocabSize: 65, cell: "lstm", hiddenSize: 512, numLayers: 2, embeddingSize: 64 });
        const params = model.init(rng);
        const release = pinTensors(treeLeaves(params));
        const times: number[] = [];
        try {
          for (let r = 0; r <= runs; r++) {
            const t0 = performance.now();
            for await (const _ of generateTokens(modelStep(model, params), { prime: [1], maxTokens: 500, seed: r })) void _;
            if (r > 0) times.push(performance.now() - t0);
          }
        } finally {
          release();
        }
        const ms = median(times);
        rows.push({ workload: "W3 generation (2x512 LSTM, batch 1, 500 chars)", value: 500 / (ms / 1000), unit: "chars/s", ms });
      }
      const machine = `${cpus()[0]?.model ?? "unknown CPU"}, ${cpus().length} cores, Node ${process.version}, kernels ${kernels}`;
      o.info(machine);
      for (const r of rows) {
        o.result({ ...r, machine }, () => `${String(r.workload).padEnd(52)} ${Number(r.value).toFixed(1).padStart(10)} ${String(r.unit)}`);
      }
      o.info("side by side with TensorFlow.js and PyTorch: `pnpm bench` in the repository (tooling/bench)");
    });
}
