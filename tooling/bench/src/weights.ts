// Every engine starts a workload from the same weights and trains on the same tokens, drawn in one
// documented order from one seeded generator (`DataRng`, which pytorch/workloads.py reimplements).
// The first training losses must then agree across engines to float32 rounding, and generation
// must sample the same characters: the runner checks both, which shows that the engines run the
// same model and not merely models of the same size.
import type { CnnShape, GenShape, LmShape, Seq2SeqShape, WorkloadSpec } from "./config.js";
import { DataRng } from "./data.js";

/** N(0, 1) as nn.Embedding; U(-bound, bound) as nn.LSTM (1/√H) and nn.Linear (1/√in). */
export type Init = { readonly kind: "normal" } | { readonly kind: "uniform"; readonly bound: number };

export interface WeightSpec {
  /** PyTorch-style path: `embedding`, `lstm.weight_ih_l0`, `head.bias`, `attention.v`. */
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: Init;
}

/** Integer inputs drawn after the weights, each uniform in [0, high), then `offset` added (default 0). */
export interface DrawSpec {
  readonly name: string;
  readonly count: number;
  readonly high: number;
  readonly offset?: number;
}

export interface Draws {
  readonly weights: readonly WeightSpec[];
  readonly data: readonly DrawSpec[];
}

const uniform = (bound: number): Init => ({ kind: "uniform", bound });

function lstmSpecs(prefix: string, input: number, hidden: number, layers: number): WeightSpec[] {
  const b = uniform(1 / Math.sqrt(hidden));
  return Array.from({ length: layers }, (_, l) => {
    const I = l === 0 ? input : hidden;
    return [
      { name: `${prefix}.weight_ih_l${l}`, shape: [4 * hidden, I], init: b },
      { name: `${prefix}.weight_hh_l${l}`, shape: [4 * hidden, hidden], init: b },
      { name: `${prefix}.bias_ih_l${l}`, shape: [4 * hidden], init: b },
      { name: `${prefix}.bias_hh_l${l}`, shape: [4 * hidden], init: b },
    ];
  }).flat();
}

function lmSpecs(s: LmShape | GenShape): WeightSpec[] {
  const b = uniform(1 / Math.sqrt(s.hidden));
  return [
    { name: "embedding", shape: [s.vocab, s.embedding], init: { kind: "normal" } },
    ...lstmSpecs("lstm", s.embedding, s.hidden, s.layers),
    { name: "head.weight", shape: [s.vocab, s.hidden], init: b },
    { name: "head.bias", shape: [s.vocab], init: b },
  ];
}

function seq2seqSpecs(s: Seq2SeqShape): WeightSpec[] {
  const bH = uniform(1 / Math.sqrt(s.hidden));
  return [
    { name: "src_embedding", shape: [s.srcVocab, s.embedding], init: { kind: "normal" } },
    { name: "tgt_embedding", shape: [s.tgtVocab, s.embedding], init: { kind: "normal" } },
    ...lstmSpecs("encoder", s.embedding, s.hidden, 1),
    ...lstmSpecs("decoder", s.embedding + s.hidden, s.hidden, 1),
    { name: "attention.query", shape: [s.attention, s.hidden], init: bH }, // W_q
    { name: "attention.key", shape: [s.attention, s.hidden], init: bH }, // W_k
    { name: "attention.v", shape: [s.attention, 1], init: uniform(1 / Math.sqrt(s.attention)) },
    // The output layer reads the decoder state and the context side by side (nlp's Seq2Seq).
    { name: "out.weight", shape: [s.tgtVocab, 2 * s.hidden], init: uniform(1 / Math.sqrt(2 * s.hidden)) },
    { name: "out.bias", shape: [s.tgtVocab], init: uniform(1 / Math.sqrt(2 * s.hidden)) },
  ];
}

/**
 * ResNetEncoder's parameters under its state-dict names (`stages.0.down.weight`, ...), as
 * nn.Conv2d draws them (weight and bias U(±1/√fan_in), fan_in = C_in·3·3), then the images: drawn
 * like a weight, U(-1, 1) pixels in NCHW order, an input that no engine trains.
 */
function cnnSpecs(s: CnnShape): WeightSpec[] {
  const specs: WeightSpec[] = [];
  let inC = 3;
  s.channels.forEach((c, stage) => {
    const conv = (name: string, input: number): void => {
      const bound = uniform(1 / Math.sqrt(input * 9));
      specs.push({ name: `${name}.weight`, shape: [c, input, 3, 3], init: bound }, { name: `${name}.bias`, shape: [c], init: bound });
    };
    conv(`stages.${stage}.down`, inC);
    for (let b = 0; b < s.blocks; b++) {
      conv(`stages.${stage}.blocks.${b}.conv1`, c);
      conv(`stages.${stage}.blocks.${b}.conv2`, c);
    }
    inC = c;
  });
  specs.push({ name: CNN_IMAGES, shape: [s.batch, 3, s.size, s.size], init: uniform(1) });
  return specs;
}

/** The name of W5's and W6's input images among the drawn "weights" (see `cnnSpecs`). */
export const CNN_IMAGES = "images";

/** The weights and the integer data of a workload, in the order they are drawn. */
export function drawsOf(spec: WorkloadSpec): Draws {
  switch (spec.kind) {
    case "lm-train": {
      const n = spec.shape.steps * spec.shape.batch; // time-major: index t·B + b
      return {
        weights: lmSpecs(spec.shape),
        data: [
          { name: "tokens", count: n, high: spec.shape.vocab },
          { name: "targets", count: n, high: spec.shape.vocab },
        ],
      };
    }
    case "lm-generate":
      return { weights: lmSpecs(spec.shape), data: [] };
    case "seq2seq-train": {
      const s = spec.shape;
      return {
        weights: seq2seqSpecs(s),
        data: [
          // Source ids from 3: ids 0-2 are a vocabulary's padding, start and end symbols.
          { name: "src", count: s.srcLength * s.batch, high: s.srcVocab - 3, offset: 3 },
          { name: "tgt_in", count: s.tgtLength * s.batch, high: s.tgtVocab }, // BOS + target[:-1] in a real task
          { name: "tgt_out", count: s.tgtLength * s.batch, high: s.tgtVocab },
        ],
      };
    }
    case "cnn-forward":
      return { weights: cnnSpecs(spec.shape), data: [] };
    case "cnn-train":
      // Cross-entropy of the pooled vector (its width the classes) against drawn labels.
      return { weights: cnnSpecs(spec.shape), data: [{ name: "labels", count: spec.shape.batch, high: spec.shape.channels.at(-1)! }] };
    case "matmul":
      return {
        weights: [
          { name: "a", shape: [spec.shape.n, spec.shape.n], init: { kind: "normal" } },
          { name: "b", shape: [spec.shape.n, spec.shape.n], init: { kind: "normal" } },
        ],
        data: [],
      };
  }
}

export interface Drawn {
  readonly weights: ReadonlyMap<string, { readonly shape: readonly number[]; readonly values: Float32Array }>;
  readonly data: ReadonlyMap<string, Int32Array>;
}

/** Draws everything from `DataRng(seed)` in order. */
export function draw(spec: WorkloadSpec, seed: number): Drawn {
  const rng = new DataRng(seed);
  const d = drawsOf(spec);
  const weights = new Map<string, { shape: readonly number[]; values: Float32Array }>();
  for (const w of d.weights) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    weights.set(w.name, { shape: w.shape, values: w.init.kind === "normal" ? rng.normal(n) : rng.uniform(n, w.init.bound) });
  }
  const data = new Map<string, Int32Array>();
  for (const x of d.data) {
    const values = rng.ints(x.count, x.high);
    if (x.offset) for (let i = 0; i < values.length; i++) values[i]! += x.offset;
    data.set(x.name, values);
  }
  return { weights, data };
}

/** The generator behind sampling in W3, restarted at every run so that every run samples the same text. */
export function samplerSeed(seed: number): number {
  return seed + 1;
}
