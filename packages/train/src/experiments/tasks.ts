// The long-range benchmark tasks of the source material, as seeded batch generators:
// the adding problem (Hochreiter & Schmidhuber 1997, in the form of Le, Jaitly & Hinton 2015)
// and the copy-memory task (Arjovsky, Shah & Bengio 2016).
import {
  argmax,
  equal,
  fromArray,
  mean,
  mul,
  reshape,
  type Rng,
  slice,
  softmaxCrossEntropy,
  sub,
  sum,
  type Tensor,
  ValueRangeError,
} from "@unroll/tensor";

/** A batch of sequences, time-first. */
export interface SequenceBatch {
  /** Inputs `(T, B, inputSize)`. */
  readonly x: Tensor;
  /** Adding: the sums `(B, 1)`, float32. Copy: class indices `(T, B)`, int32. */
  readonly target: Tensor;
}

/** Test-set metrics of a task: `loss` is what training minimises (MSE, cross-entropy). */
export interface TaskMetrics {
  readonly loss: number;
  /** Copy memory: the fraction of the recalled symbols predicted right (argmax). */
  readonly accuracy?: number;
}

/**
 * A sequence task: how to draw a batch, which model outputs it reads and how they are scored.
 * Models are a recurrent layer and a `Linear` readout, applied to the last step (`"last"`,
 * output `(B, outputSize)`) or to every step (`"all"`, output `(T, B, outputSize)`).
 */
export interface Task {
  readonly name: "adding" | "copy";
  /** The sequence length the model reads. */
  readonly steps: number;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly readout: "last" | "all";
  batch(rng: Rng, batchSize: number): SequenceBatch;
  /** The training loss, differentiable: a scalar tensor. */
  loss(output: Tensor, batch: SequenceBatch): Tensor;
  /** Metrics as numbers (call under `noGrad`). */
  metrics(output: Tensor, batch: SequenceBatch): TaskMetrics;
  /** What a predictor that ignores the inputs scores: the bar a model must clear. */
  readonly baseline: TaskMetrics & { readonly description: string };
}

function checkLength(op: string, what: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new ValueRangeError(op, `${what} must be an integer >= ${min}, got ${value}`);
}

/**
 * MSE of the constant prediction 1 on the adding problem: the target is the sum of two
 * independent U(0, 1) values, mean 1 and variance 2/12 = 1/6 ≈ 0.167.
 */
export const ADDING_BASELINE_MSE = 1 / 6;

/**
 * The adding problem of length `T` (Le, Jaitly & Hinton 2015, section 4.1): at every step two
 * inputs, a value drawn from U(0, 1) and a marker that is 1 at exactly two steps, one drawn
 * uniformly from the first half `[0, ⌊T/2⌋)` and one from the second half `[⌊T/2⌋, T)`, and 0
 * elsewhere. The target, read after the last step, is the sum of the two marked values; the loss
 * is the mean squared error. Predicting 1 whatever the input scores 1/6 (`ADDING_BASELINE_MSE`).
 */
export function addingTask(T: number): Task {
  checkLength("addingTask", "the sequence length T", T, 2);
  const half = Math.floor(T / 2);
  const loss = (output: Tensor, batch: SequenceBatch): Tensor => {
    const d = sub(output, batch.target); // (B, 1)
    return mean(mul(d, d));
  };
  return {
    name: "adding",
    steps: T,
    inputSize: 2,
    outputSize: 1,
    readout: "last",
    batch(rng, B) {
      checkLength("addingTask.batch", "the batch size", B, 1);
      const values = rng.uniform([T, B], 0, 1).data; // (T, B)
      const u = rng.uniform([2, B], 0, 1, "float64").data; // marker positions
      const x = new Float32Array(T * B * 2); // (T, B, 2)
      const y = new Float32Array(B); // (B, 1)
      for (let b = 0; b < B; b++) {
        const first = Math.min(half - 1, Math.floor(u[b]! * half));
        const second = half + Math.min(T - half - 1, Math.floor(u[B + b]! * (T - half)));
        for (let t = 0; t < T; t++) x[(t * B + b) * 2] = values[t * B + b]!;
        x[(first * B + b) * 2 + 1] = 1;
        x[(second * B + b) * 2 + 1] = 1;
        // The sum of the two float32 inputs, so that the target is exactly what the model reads.
        y[b] = x[(first * B + b) * 2]! + x[(second * B + b) * 2]!;
      }
      return { x: fromArray(x, { shape: [T, B, 2] }), target: fromArray(y, { shape: [B, 1] }) };
    },
    loss,
    metrics: (output, batch) => ({ loss: loss(output, batch).item() }),
    baseline: { loss: ADDING_BASELINE_MSE, description: "constant prediction 1 (MSE 1/6)" },
  };
}

/** Copy memory: the number of symbols to remember. */
export const COPY_SYMBOLS = 10;
/** Copy memory: the symbols are drawn from this many categories (classes 1..8). */
export const COPY_CATEGORIES = 8;
/** Copy memory: the blank, input and output class 0. */
export const COPY_BLANK = 0;
/** Copy memory: the input class that says "now recall" (never a target). */
export const COPY_DELIMITER = 9;

/**
 * Cross-entropy of the best input-blind predictor on copy memory with delay `T`: blanks for the
 * first T + 10 steps (loss 0), uniform over the 8 categories for the last 10, averaged over the
 * T + 20 steps: 10·ln(8)/(T + 20) (Arjovsky, Shah & Bengio 2016).
 */
export function copyBaseline(T: number): number {
  return (COPY_SYMBOLS * Math.log(COPY_CATEGORIES)) / (T + 20);
}

/**
 * The copy-memory task with delay `T` (Arjovsky, Shah & Bengio 2016, section 4.1): a sequence of
 * T + 20 steps whose inputs are 10 symbols drawn uniformly from the categories 1..8, then T - 1
 * blanks (0), the delimiter (9), and 10 more blanks, one-hot over 10 input classes. The targets
 * are blanks everywhere except the last 10 steps, which must reproduce the 10 symbols in order;
 * the model reads out 9 classes (blank and 1..8) at every step and the loss is the softmax
 * cross-entropy averaged over all steps. Metrics add the accuracy on the 10 recalled symbols
 * (chance: 1/8).
 */
export function copyTask(T: number): Task {
  checkLength("copyTask", "the delay T", T, 1);
  const L = T + 2 * COPY_SYMBOLS; // 10 symbols, T - 1 blanks, the delimiter, 10 blanks
  const inputs = COPY_DELIMITER + 1;
  const classes = COPY_CATEGORIES + 1;
  const recalled = (t: Tensor): Tensor => slice(t, [L - COPY_SYMBOLS], [L], [0]);
  const loss = (output: Tensor, batch: SequenceBatch): Tensor =>
    softmaxCrossEntropy(reshape(output, [-1, classes]), reshape(batch.target, [-1])); // mean over L*B steps
  return {
    name: "copy",
    steps: L,
    inputSize: inputs,
    outputSize: classes,
    readout: "all",
    batch(rng, B) {
      checkLength("copyTask.batch", "the batch size", B, 1);
      const draws = rng.randint([COPY_SYMBOLS, B], 1, COPY_CATEGORIES + 1).data; // (10, B)
      const x = new Float32Array(L * B * inputs); // (L, B, 10), one-hot
      const target = new Int32Array(L * B); // (L, B), blank (0) unless recalled
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < L; t++) {
          const symbol = t < COPY_SYMBOLS ? draws[t * B + b]! : t === T + COPY_SYMBOLS - 1 ? COPY_DELIMITER : COPY_BLANK;
          x[(t * B + b) * inputs + symbol] = 1;
        }
        for (let k = 0; k < COPY_SYMBOLS; k++) target[(L - COPY_SYMBOLS + k) * B + b] = draws[k * B + b]!;
      }
      return { x: fromArray(x, { shape: [L, B, inputs] }), target: fromArray(target, { shape: [L, B] }) };
    },
    loss,
    metrics(output, batch) {
      const right = equal(argmax(recalled(output), -1), recalled(batch.target)); // (10, B)
      return { loss: loss(output, batch).item(), accuracy: sum(right).item() / right.size };
    },
    baseline: { loss: copyBaseline(T), accuracy: 1 / COPY_CATEGORIES, description: "blanks, then uniform over the 8 categories" },
  };
}
