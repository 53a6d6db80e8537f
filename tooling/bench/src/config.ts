// The workloads and their sizes, shared by the runner and every engine. Engines receive a `Job`
// (JSON) and must build exactly these shapes; the Python engine reads the same JSON.
import type { Draws } from "./weights.js";

export const WORKLOAD_IDS = ["W1", "W2", "W3", "W4", "W5", "W6", "MM256", "MM1024"] as const;
export type WorkloadId = (typeof WORKLOAD_IDS)[number];

/** A character language model: embedding -> stacked LSTM -> linear to the vocabulary. */
export interface LmShape {
  readonly vocab: number;
  readonly embedding: number;
  readonly hidden: number;
  readonly layers: number;
  readonly batch: number;
  readonly steps: number;
}

/** Generation with a language model: batch 1, `chars` characters sampled one at a time. */
export interface GenShape {
  readonly vocab: number;
  readonly embedding: number;
  readonly hidden: number;
  readonly layers: number;
  readonly chars: number;
}

/** Encoder-decoder with additive attention (see README for the equations). */
export interface Seq2SeqShape {
  readonly srcVocab: number;
  readonly tgtVocab: number;
  readonly embedding: number;
  readonly hidden: number;
  /** Width of the attention's hidden layer: score = vᵀ tanh(W_q h_dec + W_k h_enc), v `[attention]`. */
  readonly attention: number;
  readonly batch: number;
  readonly srcLength: number;
  readonly tgtLength: number;
}

/**
 * The small residual CNN of @unroll/vision (`ResNetEncoder`) on a batch of RGB images: per stage a
 * stride-2 3×3 convolution with ReLU, then `blocks` residual blocks `relu(x + conv(relu(conv(x))))`
 * (3×3, padding 1, with biases); the grid averaged into the pooled vector `[batch, channels.at(-1)]`.
 */
export interface CnnShape {
  readonly batch: number;
  /** Images are `size` x `size`. */
  readonly size: number;
  readonly channels: readonly number[];
  readonly blocks: number;
}

export interface MatmulShape {
  readonly n: number;
}

/** Training hyper-parameters: Adam (betas 0.9, 0.999, eps 1e-8) and an optional global-norm clip. */
export interface TrainSettings {
  readonly lr: number;
  readonly clipNorm: number | null;
}

export type WorkloadSpec =
  | { readonly id: "W1" | "W2"; readonly kind: "lm-train"; readonly shape: LmShape; readonly train: TrainSettings }
  | { readonly id: "W3"; readonly kind: "lm-generate"; readonly shape: GenShape }
  | { readonly id: "W4"; readonly kind: "seq2seq-train"; readonly shape: Seq2SeqShape; readonly train: TrainSettings }
  | { readonly id: "W5"; readonly kind: "cnn-forward"; readonly shape: CnnShape }
  | { readonly id: "W6"; readonly kind: "cnn-train"; readonly shape: CnnShape; readonly train: TrainSettings }
  | { readonly id: "MM256" | "MM1024"; readonly kind: "matmul"; readonly shape: MatmulShape };

export interface RunPlan {
  /** Untimed runs first (JIT, caches, allocator)... */
  readonly warmup: number;
  /** ...but no more once they have taken this long (always at least one). */
  readonly warmupSeconds: number;
  /** At least this many timed runs... */
  readonly runs: number;
  /** ...and keep measuring until this much time has passed (more runs for fast workloads)... */
  readonly minSeconds: number;
  /** ...but never more than this many. */
  readonly maxRuns: number;
}

export interface JobWorkload {
  readonly spec: WorkloadSpec;
  readonly plan: RunPlan;
  /** The weights and data in drawing order, for engines that cannot import ../weights.ts (torch). */
  readonly draws: Draws;
}

/** What the runner hands an engine's child process. */
export interface Job {
  readonly engine: EngineName;
  /** unroll: "reference" | "wasm"; torch: the thread count as a string; tfjs: "". */
  readonly variant: string;
  readonly seed: number;
  readonly workloads: readonly JobWorkload[];
  /**
   * Measure the peak memory of W1 training (unroll only), sampling before every `kernelStride`-th
   * kernel call as well as at the end of each forward and backward pass; null: do not measure.
   */
  readonly memory: { readonly kernelStride: number } | null;
}

export const ENGINE_NAMES = ["unroll", "tfjs-cpu", "tfjs-wasm", "torch"] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

export type SizeName = "full" | "quick" | "tiny";

/** W1, W2: Adam 2e-3 and a global-norm clip of 5 (the issue). W4: Adam at PyTorch's default 1e-3, no clipping (the issue names none). */
const LM_TRAIN: TrainSettings = { lr: 2e-3, clipNorm: 5 };
const SEQ2SEQ_TRAIN: TrainSettings = { lr: 1e-3, clipNorm: null };
/** W6: Adam at PyTorch's default 1e-3, no clipping, as W4. */
const CNN_TRAIN: TrainSettings = { lr: 1e-3, clipNorm: null };
/** W5, W6: ResNetEncoder's default shape (issue 18: batch 32 of 96x96 RGB). */
const CNN: CnnShape = { batch: 32, size: 96, channels: [32, 64, 128], blocks: 1 };

const FULL: Record<WorkloadId, WorkloadSpec> = {
  W1: {
    id: "W1",
    kind: "lm-train",
    shape: { vocab: 65, embedding: 64, hidden: 256, layers: 1, batch: 32, steps: 64 },
    train: LM_TRAIN,
  },
  W2: {
    id: "W2",
    kind: "lm-train",
    shape: { vocab: 65, embedding: 64, hidden: 512, layers: 2, batch: 32, steps: 64 },
    train: LM_TRAIN,
  },
  W3: { id: "W3", kind: "lm-generate", shape: { vocab: 65, embedding: 64, hidden: 512, layers: 2, chars: 500 } },
  W4: {
    id: "W4",
    kind: "seq2seq-train",
    shape: { srcVocab: 1000, tgtVocab: 1000, embedding: 128, hidden: 256, attention: 256, batch: 32, srcLength: 20, tgtLength: 20 },
    train: SEQ2SEQ_TRAIN,
  },
  W5: { id: "W5", kind: "cnn-forward", shape: CNN },
  W6: { id: "W6", kind: "cnn-train", shape: CNN, train: CNN_TRAIN },
  MM256: { id: "MM256", kind: "matmul", shape: { n: 256 } },
  MM1024: { id: "MM1024", kind: "matmul", shape: { n: 1024 } },
};

/** `--quick`: the same models at a fraction of the size, for a smoke run of the whole suite. */
const QUICK: Record<WorkloadId, WorkloadSpec> = {
  W1: { id: "W1", kind: "lm-train", train: LM_TRAIN, shape: { vocab: 65, embedding: 32, hidden: 64, layers: 1, batch: 8, steps: 16 } },
  W2: { id: "W2", kind: "lm-train", train: LM_TRAIN, shape: { vocab: 65, embedding: 32, hidden: 128, layers: 2, batch: 8, steps: 16 } },
  W3: { id: "W3", kind: "lm-generate", shape: { vocab: 65, embedding: 32, hidden: 128, layers: 2, chars: 50 } },
  W4: {
    id: "W4",
    kind: "seq2seq-train",
    train: SEQ2SEQ_TRAIN,
    shape: { srcVocab: 200, tgtVocab: 200, embedding: 32, hidden: 64, attention: 64, batch: 8, srcLength: 8, tgtLength: 8 },
  },
  W5: { id: "W5", kind: "cnn-forward", shape: { batch: 8, size: 48, channels: [16, 32, 64], blocks: 1 } },
  W6: { id: "W6", kind: "cnn-train", train: CNN_TRAIN, shape: { batch: 8, size: 48, channels: [16, 32, 64], blocks: 1 } },
  MM256: { id: "MM256", kind: "matmul", shape: { n: 64 } },
  MM1024: { id: "MM1024", kind: "matmul", shape: { n: 256 } },
};

/** For the tests: every code path, in milliseconds. */
const TINY: Record<WorkloadId, WorkloadSpec> = {
  W1: { id: "W1", kind: "lm-train", train: LM_TRAIN, shape: { vocab: 11, embedding: 4, hidden: 8, layers: 1, batch: 2, steps: 5 } },
  W2: { id: "W2", kind: "lm-train", train: LM_TRAIN, shape: { vocab: 11, embedding: 4, hidden: 8, layers: 2, batch: 2, steps: 5 } },
  W3: { id: "W3", kind: "lm-generate", shape: { vocab: 11, embedding: 4, hidden: 8, layers: 2, chars: 7 } },
  W4: {
    id: "W4",
    kind: "seq2seq-train",
    train: SEQ2SEQ_TRAIN,
    shape: { srcVocab: 13, tgtVocab: 17, embedding: 4, hidden: 8, attention: 6, batch: 2, srcLength: 3, tgtLength: 4 },
  },
  W5: { id: "W5", kind: "cnn-forward", shape: { batch: 2, size: 12, channels: [4, 8], blocks: 1 } },
  W6: { id: "W6", kind: "cnn-train", train: CNN_TRAIN, shape: { batch: 2, size: 12, channels: [4, 8], blocks: 1 } },
  MM256: { id: "MM256", kind: "matmul", shape: { n: 8 } },
  MM1024: { id: "MM1024", kind: "matmul", shape: { n: 16 } },
};

export const SIZES: Record<SizeName, Record<WorkloadId, WorkloadSpec>> = { full: FULL, quick: QUICK, tiny: TINY };

/**
 * Run counts. Full: 2 warm-up runs (1 where a run takes over 2 s), then at least 5 timed runs and
 * at least 1 s of them (at most 25), so that a fast workload gets more samples and a slow one
 * (tfjs-cpu's W2 step takes a minute and a half) no more than the 1 + 5 it must have. The whole
 * suite then takes about 20 minutes on the 2-core development machine, 60% of it tfjs-cpu (README).
 */
export function defaultPlan(size: SizeName, runs: number | undefined): RunPlan {
  switch (size) {
    case "full":
      return { warmup: 2, warmupSeconds: 2, runs: runs ?? 5, minSeconds: 1, maxRuns: Math.max(25, runs ?? 0) };
    case "quick":
      return { warmup: 1, warmupSeconds: 0, runs: runs ?? 3, minSeconds: 0, maxRuns: runs ?? 3 };
    case "tiny":
      return { warmup: 1, warmupSeconds: 0, runs: runs ?? 2, minSeconds: 0, maxRuns: runs ?? 2 };
  }
}

/** The amount of work in one run: training tokens (W1, W2, W4 target tokens), characters (W3), images (W5, W6), flops (matmul). */
export function workPerRun(spec: WorkloadSpec): number {
  switch (spec.kind) {
    case "lm-train":
      return spec.shape.batch * spec.shape.steps;
    case "lm-generate":
      return spec.shape.chars;
    case "seq2seq-train":
      return spec.shape.batch * spec.shape.tgtLength;
    case "cnn-forward":
    case "cnn-train":
      return spec.shape.batch;
    case "matmul":
      return 2 * spec.shape.n ** 3;
  }
}

/** The reported metric of a workload and how to turn (work, seconds) into it. */
export function metricOf(spec: WorkloadSpec): { readonly unit: string; readonly scale: number } {
  switch (spec.kind) {
    case "lm-train":
    case "seq2seq-train":
      return { unit: "tokens/s", scale: 1 };
    case "lm-generate":
      return { unit: "chars/s", scale: 1 };
    case "cnn-forward":
    case "cnn-train":
      return { unit: "images/s", scale: 1 };
    case "matmul":
      return { unit: "GFLOP/s", scale: 1e-9 };
  }
}

export const WORKLOAD_TITLES: Record<WorkloadId, string> = {
  W1: "W1 char-LSTM LM train, 1×256",
  W2: "W2 char-LSTM LM train, 2×512",
  W3: "W3 generation, 2×512, batch 1",
  W4: "W4 seq2seq + attention train",
  W5: "W5 CNN encoder forward",
  W6: "W6 CNN encoder train",
  MM256: "matmul 256³",
  MM1024: "matmul 1024³",
};
