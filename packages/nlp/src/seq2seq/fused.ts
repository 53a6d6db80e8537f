import { apply, definePrimitive, DTypeError, formatShape, getKernels, type RecurrentCell, referenceKernels, ShapeError, type Tensor, zeros } from "@unroll/tensor";

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

/** Outputs: hs, contexts, weights, hT, gates, [cT, cells (LSTM)]. */
export const AttentionDecoderSequence = definePrimitive<readonly Tensor[], readonly Tensor[], Attrs>({
  name: "AttentionDecoderSequence",
  infer: (inputs, { cell }) => {
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
    const outs = [
      { shape: [T, B, H], dtype },
      { shape: [T, B, D], dtype },
      { shape: [T, B, S], dtype },
      { shape: [B, H], dtype },
      { shape: [T, B, saved], dtype },
    ];
    if (cell === "lstm") outs.push({ shape: [B, H], dtype }, { shape: [T, B, H], dtype });
    return outs;
  },
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
});

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

