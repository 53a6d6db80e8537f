// Baseline speed of the reference kernels: matrix-product GFLOP/s (plain and the transposed
// products backpropagation needs) and one forward+backward of a 1-layer tanh RNN.
// Run: pnpm --filter @unroll/tensor bench   (a benchmark, never a timed test)
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import {
  add,
  gather,
  getKernels,
  matmul,
  reshape,
  Rng,
  softmaxCrossEntropy,
  split,
  stack,
  type Tensor,
  tanh,
  valueAndGrad,
  zeros,
} from "@unroll/tensor";

interface Stat {
  median: number;
  min: number;
  max: number;
}

function measure(fn: () => void, { warmup = 2, runs = 7, minMs = 0 } = {}): Stat {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < runs || performance.now() - start < minMs) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)]!, min: times[0]!, max: times[times.length - 1]! };
}

const rng = new Rng(0);
const results: Record<string, unknown> = {};
const rows: string[][] = [];

for (const n of [256, 1024]) {
  const a = rng.normal([n, n]);
  const b = rng.normal([n, n]);
  for (const [label, opts] of [
    ["A·B", {}],
    ["Aᵀ·B (dW = Xᵀ·dY)", { transA: true }],
    ["A·Bᵀ (dX = dY·Wᵀ)", { transB: true }],
  ] as const) {
    const stat = measure(() => void matmul(a, b, opts), { warmup: 1, runs: n >= 1024 ? 5 : 9 });
    const gflops = (2 * n * n * n) / (stat.median * 1e6);
    results[`matmul_${n}_${label.split(" ")[0]}`] = { ms: stat, gflops };
    rows.push([`matmul ${n}³ ${label}`, `${gflops.toFixed(2)} GFLOP/s`, `${stat.median.toFixed(1)} ms (${stat.min.toFixed(1)}–${stat.max.toFixed(1)})`]);
  }
}

// 1-layer tanh RNN language-model step: embedding 64, hidden 256, 65 classes, batch 32, 64 steps.
{
  const [V, E, H, B, T] = [65, 64, 256, 32, 64];
  const s = 1 / Math.sqrt(H);
  const params = {
    embedding: rng.normal([V, E]),
    weightIH: rng.uniform([H, E], -s, s),
    weightHH: rng.uniform([H, H], -s, s),
    bias: rng.uniform([H], -s, s),
    weightOut: rng.uniform([V, H], -s, s),
    biasOut: rng.uniform([V], -s, s),
  };
  const tokens = rng.randint([T, B], 0, V);
  const targets = rng.randint([T, B], 0, V);
  const loss = (p: typeof params): Tensor => {
    const x = gather(p.embedding, tokens); // (T, B, E)
    const xProj = add(matmul(x, p.weightIH, { transB: true }), p.bias); // (T, B, H), all steps at once
    let h = zeros([B, H]);
    const hs: Tensor[] = [];
    for (const xt of split(xProj, T, 0)) {
      h = tanh(add(reshape(xt, [B, H]), matmul(h, p.weightHH, { transB: true }))); // (B, H)
      hs.push(h);
    }
    const logits = add(matmul(stack(hs), p.weightOut, { transB: true }), p.biasOut); // (T, B, V)
    return softmaxCrossEntropy(logits, targets);
  };
  const step = valueAndGrad(loss);
  const stat = measure(() => void step(params), { warmup: 1, runs: 5 });
  const tokensPerSecond = (B * T) / (stat.median / 1000);
  results.rnn_tanh_fwd_bwd = { ms: stat, tokensPerSecond, config: { V, E, H, B, T } };
  rows.push(["tanh RNN fwd+bwd (B32 T64 H256)", `${tokensPerSecond.toFixed(0)} tokens/s`, `${stat.median.toFixed(1)} ms (${stat.min.toFixed(1)}–${stat.max.toFixed(1)})`]);
}

const machine = `${cpus()[0]?.model ?? "unknown CPU"}, ${cpus().length} cores, Node ${process.version}, kernels: ${getKernels().name}, 1 thread`;
console.log(`@unroll/tensor baseline — ${machine}`);
const width = [34, 20, 26];
for (const r of rows) console.log(r.map((c, i) => c.padEnd(width[i]!)).join(" "));
mkdirSync(new URL("../bench-results/", import.meta.url), { recursive: true });
writeFileSync(new URL("../bench-results/tensor.json", import.meta.url), JSON.stringify({ machine, results }, null, 2));
