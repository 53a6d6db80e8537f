// Speed of the kernel tables: matrix-product GFLOP/s (plain, the transposed products
// backpropagation needs, and LSTM-shaped products) for the reference kernels and the WebAssembly
// SIMD kernels, and one forward+backward of a 1-layer tanh RNN on each.
// Run: pnpm --filter @unroll/tensor bench   (a benchmark, never a timed test)
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import {
  add,
  gather,
  type Kernels,
  loadWasmKernelsSync,
  matmul,
  referenceKernels,
  reshape,
  Rng,
  softmaxCrossEntropy,
  split,
  stack,
  type Tensor,
  tanh,
  valueAndGrad,
  wasmSupported,
  withKernels,
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
const tables: Kernels[] = wasmSupported() ? [referenceKernels, loadWasmKernelsSync()] : [referenceKernels];

const variants = [
  ["A·B", {}],
  ["Aᵀ·B (dW = Xᵀ·dY)", { transA: true }],
  ["A·Bᵀ (dX = dY·Wᵀ)", { transB: true }],
] as const;
// [M, K, N] of op(A)·op(B): square, then the LSTM-shaped products (batch 32, hidden 256, 4 gates).
const shapes: readonly (readonly [number, number, number, string])[] = [
  [256, 256, 256, "256³"],
  [1024, 1024, 1024, "1024³"],
  [32, 256, 1024, "32x256·256x1024"],
  [1024, 32, 256, "1024x32·32x256"],
];

for (const kernels of tables) {
  // Warm-up: WebAssembly starts in a baseline compiler and tiers up after a few calls.
  const w = rng.normal([256, 256]);
  withKernels(kernels, () => {
    for (let i = 0; i < 5; i++) matmul(w, w);
  });
  for (const [M, K, N, label] of shapes) {
    const flops = 2 * M * N * K;
    for (const [name, opts] of variants) {
      const transA = "transA" in opts;
      const transB = "transB" in opts;
      const a = rng.normal(transA ? [K, M] : [M, K]);
      const b = rng.normal(transB ? [N, K] : [K, N]);
      const slow = kernels === referenceKernels && flops > 1e9;
      const stat = withKernels(kernels, () => measure(() => void matmul(a, b, opts), { warmup: 1, runs: slow ? 5 : 11, minMs: slow ? 0 : 300 }));
      const gflops = flops / (stat.median * 1e6);
      const best = flops / (stat.min * 1e6);
      results[`${kernels.name}_matmul_${label}_${name.split(" ")[0]}`] = { ms: stat, gflops, bestGflops: best };
      rows.push([
        `matmul ${label} ${name}`,
        kernels.name,
        `${gflops.toFixed(2)} GFLOP/s (best ${best.toFixed(2)})`,
        `${stat.median.toFixed(2)} ms (${stat.min.toFixed(2)}–${stat.max.toFixed(2)})`,
      ]);
    }
  }
}

// 1-layer tanh RNN language-model step: embedding 64, hidden 256, 65 classes, batch 32, 64 steps.
for (const kernels of tables) {
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
  const stat = withKernels(kernels, () => measure(() => void step(params), { warmup: 1, runs: 5 }));
  const tokensPerSecond = (B * T) / (stat.median / 1000);
  results[`${kernels.name}_rnn_tanh_fwd_bwd`] = { ms: stat, tokensPerSecond, config: { V, E, H, B, T } };
  rows.push(["tanh RNN fwd+bwd (B32 T64 H256)", kernels.name, `${tokensPerSecond.toFixed(0)} tokens/s`, `${stat.median.toFixed(1)} ms (${stat.min.toFixed(1)}–${stat.max.toFixed(1)})`]);
}

const machine = `${cpus()[0]?.model ?? "unknown CPU"}, ${cpus().length} cores, Node ${process.version}, kernels: ${tables.map((k) => k.name).join(", ")}, 1 thread`;
console.log(`@unroll/tensor kernels — ${machine}`);
console.log("median of the runs (best), time median (min–max)");
const width = [44, 11, 34, 26];
for (const r of rows) console.log(r.map((c, i) => c.padEnd(width[i]!)).join(" "));
mkdirSync(new URL("../bench-results/", import.meta.url), { recursive: true });
writeFileSync(new URL("../bench-results/tensor.json", import.meta.url), JSON.stringify({ machine, results }, null, 2));
