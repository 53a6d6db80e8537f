// Memory of truncated BPTT does not grow with the length of the stream: peak memory while
// training a tanh RNN over 1k, 10k and 100k-step streams with windows of 50 steps, next to full
// BPTT over one stream of 250-1k steps (whose graph grows with the length). Memory is sampled
// after a full garbage collection (node --expose-gc), at the end of each forward pass and after each update.
// Run: pnpm --filter @unroll/train bench   (a benchmark, never a timed test)
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { add, fromArray, matmul, mean, mul, reshape, Rng, slice, sub, tanh, type Tensor, zeros } from "@unroll/tensor";
import { type DataSource, sgd, Trainer } from "@unroll/train";

const H = 128;
const B = 8;
const WINDOW = 50;

function megabytes(): number {
  const m = process.memoryUsage();
  return (m.heapUsed + m.arrayBuffers) / 2 ** 20;
}

function collect(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** A stream of `length` random steps, served in windows; the target is the previous input. */
function stream(length: number, window: number): DataSource<{ x: Tensor; y: Tensor }> {
  const rng = new Rng(1);
  let at = 0;
  return {
    next() {
      if (at >= length) return null;
      const n = Math.min(window, length - at);
      at += n;
      const x = rng.normal([n, B, 1]);
      const y = fromArray(new Float32Array(n * B), { shape: [n, B, 1] });
      y.data.set(x.data.subarray(0, (n - 1) * B), B);
      return { x, y };
    },
    position: () => ({ at }),
    seek: (p) => void (at = (p as { at: number }).at),
  };
}

async function peakFor(length: number, window: number): Promise<{ peakMB: number; baselineMB: number; seconds: number }> {
  collect();
  const baseline = megabytes();
  let peak = baseline;
  const rng = new Rng(0);
  const params = { wx: rng.normal([H, 1], 0, 0.5), wh: rng.normal([H, H], 0, 1 / Math.sqrt(H)), out: rng.normal([1, H], 0, 0.1) };
  const trainer = new Trainer({
    params,
    data: stream(length, window),
    optimizer: sgd({ lr: 0.01 }),
    clip: { maxNorm: 1 },
    loss: (p, batch, carry: Tensor | undefined) => {
      const n = batch.x.shape[0]!;
      let h = carry ?? zeros([B, H]);
      let total: Tensor | null = null;
      for (let t = 0; t < n; t++) {
        const xt = reshape(slice(batch.x, [t], [t + 1], [0]), [B, 1]);
        h = tanh(add(matmul(xt, p.wx, { transB: true }), matmul(h, p.wh, { transB: true })));
        const err = sub(matmul(h, p.out, { transB: true }), reshape(slice(batch.y, [t], [t + 1], [0]), [B, 1]));
        total = total ? add(total, mean(mul(err, err))) : mean(mul(err, err));
      }
      collect(); // live memory only: the graph of the window is alive here, garbage is not
      peak = Math.max(peak, megabytes());
      return { loss: mul(total!, 1 / n), carry: h, tokens: n * B };
    },
    afterStep: () => {
      collect();
      peak = Math.max(peak, megabytes());
    },
  });
  const t0 = performance.now();
  await trainer.run();
  return { peakMB: peak, baselineMB: baseline, seconds: (performance.now() - t0) / 1000 };
}

const rows: { mode: string; steps: number; peakMB: number; overBaselineMB: number; seconds: number }[] = [];
for (const length of [1_000, 10_000, 100_000]) {
  const r = await peakFor(length, WINDOW);
  rows.push({ mode: `truncated, window ${WINDOW}`, steps: length, peakMB: r.peakMB, overBaselineMB: r.peakMB - r.baselineMB, seconds: r.seconds });
}
for (const length of [250, 500, 1_000]) {
  const r = await peakFor(length, length);
  rows.push({ mode: "full BPTT (one window)", steps: length, peakMB: r.peakMB, overBaselineMB: r.peakMB - r.baselineMB, seconds: r.seconds });
}

const machine = `${cpus()[0]?.model ?? "unknown CPU"}, ${cpus().length} cores, Node ${process.version}`;
console.log(`@unroll/train TBPTT memory — tanh RNN H=${H}, batch ${B}; ${machine}`);
console.log("mode                          stream steps   peak MB   above baseline MB   time s");
for (const r of rows) {
  console.log(
    `${r.mode.padEnd(30)}${String(r.steps).padStart(12)}${r.peakMB.toFixed(1).padStart(10)}${r.overBaselineMB.toFixed(1).padStart(20)}${r.seconds.toFixed(1).padStart(9)}`,
  );
}
mkdirSync(new URL("../bench-results/", import.meta.url), { recursive: true });
writeFileSync(new URL("../bench-results/train.json", import.meta.url), JSON.stringify({ machine, rows }, null, 2));
