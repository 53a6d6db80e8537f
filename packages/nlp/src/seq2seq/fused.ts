import { inputProjection, stepFromProjection } from "@unroll/cells";
import {
  add, apply, concat, definePrimitive, DTypeError, expandDims, formatShape, getKernels, matmul, notEqual, type OutputSpec, type RecurrentCell, referenceKernels,
  reshape, ShapeError, softmax, split, squeeze, stack, sum, tanh, type Tensor, transpose, where, zeros,
} from "@unroll/tensor";

// The teacher-forced Bahdanau decoder (one layer) as a single primitive: one node in the tape for
// the whole target sequence instead of ~25 per step, and a fused kernel that keeps every step's
// attention, cell and saved activations in its own buffers (the kernel table's
// `attentionDecoderForward`/`Backward`). Seq2Seq's step-by-step decoder is its oracle: the tests
// hold the two to the same logits and gradients.

interface Attrs {
  readonly cell: RecurrentCell;
}

const GATE_COUNT: Record<RecurrentCell, number> = { rnn_tanh: 1, rnn_relu: 1, lstm: 4, gru: 3 };

/** Inputs: x, weightIH, biasIH, weightHH, biasHH, h0, [c0 (LSTM)], values, keys, mask, weightQ, v. */
function unpack(inputs: readonly Tensor[], cell: RecurrentCell) {
  let i = 0;
  const next = (): Tensor => inputs[i++]!;
  const x = next();
  const weightIH = next();
  const biasIH = next();
  const weightHH = next();
  const biasHH = next();
  const h0 = next();
  const c0 = cell === "lstm" ? next() : null;
  return { x, weightIH, biasIH, weightHH, biasHH, h0, c0, values: next(), keys: next(), mask: next(), weightQ: next(), v: next() };
}

/** The outputs' shapes, after checking the inputs' (shared by the kernel and the decomposition). */
function inferOutputs(inputs: readonly Tensor[], cell: RecurrentCell): OutputSpec[] {
  const { x, weightIH, biasIH, weightHH, biasHH, h0, c0, values, keys, mask, weightQ, v } = unpack(inputs, cell);
  const name = `AttentionDecoderSequence(${cell})`;
  const [T, B, E] = x.shape as [number, number, number];
  const GH = weightHH.shape[0] ?? -1;
  const H = GH / GATE_COUNT[cell];
  const [, S, D] = values.shape as [number, number, number];
  const A = weightQ.shape[0] ?? -1;
  const fits = (t: Tensor | null, shape: number[]): boolean => t !== null && t.rank === shape.length && t.shape.every((d, k) => d === shape[k]);
  if (
    x.rank !== 3 || !Number.isInteger(H) || !fits(weightIH, [GH, E + D]) || !fits(biasIH, [GH]) || !fits(weightHH, [GH, H]) || !fits(biasHH, [GH]) || !fits(h0, [B, H]) ||
    (cell === "lstm" && !fits(c0, [B, H])) || !fits(values, [B, S, D]) || !fits(keys, [S, B, A]) || !fits(mask, [B, S]) || !fits(weightQ, [A, H]) || !fits(v, [A])
  ) {
    throw new ShapeError(
      name,
      `shapes do not fit: x ${formatShape(x.shape)}, weightIH ${formatShape(weightIH.shape)}, weightHH ${formatShape(weightHH.shape)}, h0 ${formatShape(h0.shape)}, ` +
        `values ${formatShape(values.shape)}, keys ${formatShape(keys.shape)}, mask ${formatShape(mask.shape)}, weightQ ${formatShape(weightQ.shape)}, v ${formatShape(v.shape)}`,
    );
  }
  const dtype = x.dtype;
  for (const t of [weightIH, biasIH, weightHH, biasHH, h0, ...(c0 ? [c0] : []), values, keys, weightQ, v]) {
    if (t.dtype !== dtype) throw new DTypeError(name, `every float input must be ${dtype}, found ${t.dtype}`);
  }
  const saved = cell === "lstm" || cell === "gru" ? 4 * H : 0;
  const outs: OutputSpec[] = [
    { shape: [T, B, H], dtype },
    { shape: [T, B, D], dtype },
    { shape: [T, B, S], dtype },
    { shape: [B, H], dtype },
    { shape: [T, B, saved], dtype },
  ];
  if (cell === "lstm") outs.push({ shape: [B, H], dtype }, { shape: [T, B, H], dtype });
  return outs;
}

/** Outputs: hs, contexts, weights, hT, gates, [cT, cells (LSTM)]. */
export const AttentionDecoderSequence = definePrimitive<readonly Tensor[], readonly Tensor[], Attrs>({
  name: "AttentionDecoderSequence",
  infer: (inputs, { cell }) => inferOutputs(inputs, cell),
  kernel: (k, inputs, outputs, { cell }) => {
    const [hs, contexts, weights, hT, gates, cT, cells] = outputs as Tensor[];
    k.attentionDecoderForward({ cell, ...unpack(inputs, cell) }, { hs: hs!, contexts: contexts!, weights: weights!, hT: hT!, cT: cT ?? null, cells: cells ?? null, gates: gates! });
  },
  vjp: ({ inputs, outputs, attrs: { cell } }, cotangents, needed) => {
    const { x, weightIH, weightHH, h0, c0, values, keys, weightQ, v } = unpack(inputs, cell);
    const [hs, contexts, weights, hT, gates, cT, cells] = outputs as Tensor[];
    const [dhs, dcontexts, dweights, dhT, , dcT] = cotangents as (Tensor | null)[];
    const lstm = cell === "lstm";
    const gradInputs = [
      x, weightIH, weightHH, h0, ...(c0 ? [c0] : []), values, keys, weightQ, v,
      hs!, ...(lstm ? [cells!] : []), gates!, contexts!, weights!,
      dhs ?? zeros(hs!.shape, hs!.dtype), dcontexts ?? zeros(contexts!.shape, contexts!.dtype), dweights ?? zeros(weights!.shape, weights!.dtype),
      dhT ?? zeros(hT!.shape, hT!.dtype), ...(lstm ? [dcT ?? zeros(cT!.shape, cT!.dtype)] : []),
    ];
    const g = apply(AttentionDecoderSequenceGrad, gradInputs, { cell }) as Tensor[];
    // Outputs of the grad: dx, dWeightIH, dBiasIH, dWeightHH, dBiasHH, dh0, [dc0], dValues, dKeys, dWeightQ, dv.
    let i = 0;
    const next = (): Tensor => g[i++]!;
    const head = [next(), next(), next(), next(), next(), next()]; // dx .. dh0
    const dc0 = lstm ? next() : null;
    const result: (Tensor | null)[] = [...head, ...(lstm ? [dc0] : []), next(), next(), null, next(), next()];
    return result.map((r, k) => (needed[k] ? r : null));
  },
  decompose: (inputs, { cell }) => composedDecoder(inputs, cell),
});

/**
 * `AttentionDecoderSequence` in ordinary differentiable primitives, step by step as the kernel
 * (and `Seq2Seq.decodeStep`) defines it: with the previous state as the query,
 * `e_s = vᵀ tanh(k_s + W_q h_{t-1})`, `α_t = softmax(e)` over the real positions (mask ≠ 0; a
 * padded position's score is -∞ and its weight exactly 0, and an example with no real position
 * gets all-zero weights and a zero context, as the kernel gives), `ctx_t = Σ_s α_s m_s`, then the
 * cell (`stepFromProjection`, PyTorch's gate orders) on `[x_t; ctx_t]`. The mask flows through
 * `where` only and the loops run over shapes only, so a trace of it serves any batch of its shape.
 * Returns every output of the primitive, the saved activations too, with the kernel's contents:
 * `gates` `[T, B, 4H]` holds LSTM's i, f, g, o after their nonlinearities and GRU's r, z, n and
 * hn = h_{t-1} W_hnᵀ + b_hn (`[T, B, 0]` for the plain RNNs), `cells` LSTM's c_t. Only
 * `AttentionDecoderSequenceGrad` reads those two, and the decomposition's backward does not use it.
 */
function composedDecoder(inputs: readonly Tensor[], cell: RecurrentCell): Tensor[] {
  inferOutputs(inputs, cell); // the kernel's checks and messages
  const { x, weightIH, biasIH, weightHH, biasHH, h0, c0, values, keys, mask, weightQ, v } = unpack(inputs, cell);
  const [T, B] = x.shape as [number, number];
  const H = h0.shape[1]!;
  const [, S, D] = values.shape as [number, number, number];
  const dtype = x.dtype;
  const w = { weightIH, weightHH, biasIH, biasHH };
  const real = notEqual(mask, 0); // (B, S): 1 at the positions attended to
  // An example with no real position: its softmax runs over every position (finite scores, no
  // NaN), and `where(real, ·, 0)` then zeroes all of its weights.
  const anyReal = notEqual(sum(real, [1], true), 0); // (B, 1)
  const scored = where(anyReal, real, 1); // (B, S): the positions the softmax runs over
  const column = expandDims(v, 1); // (A, 1)
  const steps = T > 0 ? split(x, T, 0).map((xt) => reshape(xt, [B, x.shape[2]!])) : [];
  let state: { h: Tensor; c?: Tensor } = c0 ? { h: h0, c: c0 } : { h: h0 };
  const hs: Tensor[] = [];
  const contexts: Tensor[] = [];
  const weights: Tensor[] = [];
  const gates: Tensor[] = [];
  const cells: Tensor[] = [];
  for (let t = 0; t < T; t++) {
    const q = matmul(state.h, weightQ, { transB: true }); // (B, A)
    const hidden = tanh(add(keys, q)); // (S, B, A)
    const e = transpose(squeeze(matmul(hidden, column), [2]), [1, 0]); // (S, B, A) · (A, 1) -> (B, S)
    const alpha = where(real, softmax(where(scored, e, -Infinity), -1), 0); // (B, S)
    const context = squeeze(matmul(expandDims(alpha, 1), values), [1]); // (B, 1, S) · (B, S, D) -> (B, D)
    let acts: Readonly<Record<string, Tensor>> = {};
    const next = stepFromProjection(cell, w, state, inputProjection(w, concat([steps[t]!, context], -1)), (a) => (acts = a));
    if (cell === "lstm") gates.push(concat([acts.i!, acts.f!, acts.g!, acts.o!], 1));
    if (cell === "gru") gates.push(concat([acts.r!, acts.z!, acts.n!, acts.hn!], 1));
    if (next.c) cells.push(next.c);
    hs.push(next.h);
    contexts.push(context);
    weights.push(alpha);
    state = next.c ? { h: next.h, c: next.c } : { h: next.h };
  }
  const seq = (xs: Tensor[], width: number): Tensor => (xs.length > 0 ? stack(xs) : zeros([T, B, width], dtype));
  const out = [seq(hs, H), seq(contexts, D), seq(weights, S), state.h, cell === "lstm" || cell === "gru" ? seq(gates, 4 * H) : zeros([T, B, 0], dtype)];
  if (cell === "lstm") out.push(state.c!, seq(cells, H));
  return out;
}

/**
 * Backpropagation through time of `AttentionDecoderSequence`. Inputs: x, weightIH, weightHH, h0,
 * [c0], values, keys, weightQ, v, hs, [cells], gates, contexts, weights, dhs, dcontexts, dweights,
 * dhT, [dcT]. Outputs: dx, dWeightIH, dBiasIH, dWeightHH, dBiasHH, dh0, [dc0], dValues, dKeys,
 * dWeightQ, dv.
 */
export const AttentionDecoderSequenceGrad = definePrimitive<readonly Tensor[], readonly Tensor[], Attrs>({
  name: "AttentionDecoderSequenceGrad",
  infer: (inputs, { cell }) => {
    const lstm = cell === "lstm";
    const [x, weightIH, weightHH, h0] = inputs as [Tensor, Tensor, Tensor, Tensor];
    const at = (k: number): Tensor => inputs[k + (lstm ? 1 : 0)]!;
    const values = at(4);
    const weightQ = at(6);
    const v = at(7);
    const hs = at(8);
    const B = hs.shape[1]!;
    const GH = weightHH.shape[0]!;
    const [, S] = values.shape as [number, number];
    const A = weightQ.shape[0]!;
    const dtype = hs.dtype;
    return [
      { shape: x.shape, dtype },
      { shape: weightIH.shape, dtype },
      { shape: [GH], dtype },
      { shape: weightHH.shape, dtype },
      { shape: [GH], dtype },
      { shape: h0.shape, dtype },
      ...(lstm ? [{ shape: h0.shape, dtype }] : []),
      { shape: values.shape, dtype },
      { shape: [S, B, A], dtype },
      { shape: weightQ.shape, dtype },
      { shape: v.shape, dtype },
    ];
  },
  kernel: (k, inputs, outputs, { cell }) => {
    const lstm = cell === "lstm";
    let i = 0;
    const next = (): Tensor => inputs[i++]!;
    const x = next();
    const weightIH = next();
    const weightHH = next();
    const h0 = next();
    const c0 = lstm ? next() : null;
    const values = next();
    const keys = next();
    const weightQ = next();
    const v = next();
    const hs = next();
    const cells = lstm ? next() : null;
    const gates = next();
    const contexts = next();
    const weights = next();
    const dhs = next();
    const dcontexts = next();
    const dweights = next();
    const dhT = next();
    const dcT = lstm ? next() : null;
    let o = 0;
    const out = (): Tensor => outputs[o++]!;
    const dx = out();
    const dWeightIH = out();
    const dBiasIH = out();
    const dWeightHH = out();
    const dBiasHH = out();
    const dh0 = out();
    const dc0 = lstm ? out() : null;
    k.attentionDecoderBackward(
      { cell, x, weightIH, weightHH, h0, c0, values, keys, weightQ, v, hs, cells, gates, contexts, weights, dhs, dcontexts, dweights, dhT, dcT },
      { dx, dWeightIH, dBiasIH, dWeightHH, dBiasHH, dh0, dc0, dValues: out(), dKeys: out(), dWeightQ: out(), dv: out() },
    );
  },
});

export interface FusedDecoderResult {
  readonly hs: Tensor;
  readonly contexts: Tensor;
  readonly weights: Tensor;
}

/** Runs the fused decoder: see `AttentionDecoderSequence`. */
export function attentionDecoderSequence(
  cell: RecurrentCell,
  a: {
    x: Tensor; weightIH: Tensor; biasIH: Tensor; weightHH: Tensor; biasHH: Tensor; h0: Tensor; c0: Tensor | null;
    values: Tensor; keys: Tensor; mask: Tensor; weightQ: Tensor; v: Tensor;
  },
): FusedDecoderResult {
  const inputs = [a.x, a.weightIH, a.biasIH, a.weightHH, a.biasHH, a.h0, ...(cell === "lstm" ? [a.c0!] : []), a.values, a.keys, a.mask, a.weightQ, a.v];
  const outs = apply(AttentionDecoderSequence, inputs, { cell }) as Tensor[];
  return { hs: outs[0]!, contexts: outs[1]!, weights: outs[2]! };
}

/**
 * Whether the fused decoder is the faster path on the active kernels: where they bring a fused
 * kernel of their own (the WebAssembly table: a W4 training step in 0.45 s against 0.98 s op by
 * op, one thread, on a busy 2-core machine). The reference table's fused kernel only matches its
 * op-by-op path (2.76 against 2.82 s), so there the composed steps stay the default.
 */
export function fusedDecoderPays(): boolean {
  return getKernels().attentionDecoderForward !== referenceKernels.attentionDecoderForward;
}

