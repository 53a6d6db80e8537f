import {
  apply,
  broadcastTo,
  concat,
  definePrimitive,
  DTypeError,
  formatShape,
  fromArray,
  reshape,
  type RecurrentCell,
  ShapeError,
  split,
  stack,
  Tensor,
  where,
  zeros,
} from "@unroll/tensor";
import { GATE_COUNT, inputProjection, stepFromProjection } from "../cells/cell.js";
import { reverseSequences } from "../layers/sequence.js";

// A whole recurrent scan (one layer, one direction) as a single primitive: one node in the tape
// instead of ~15 per step, a fused kernel for the steps, the input projection and the weight
// gradients as products over all steps. It maps one to one onto ONNX's RNN/LSTM/GRU operators
// (x, W, R, B, sequence_lens, initial_h/c, direction), and its decomposition is the composed scan
// of `Cell` steps, which the tests hold it to (values and gradients).

interface SequenceAttrs {
  readonly cell: RecurrentCell;
  /** Read every example backwards from its own last step (a bidirectional layer's reverse direction). */
  readonly reverse: boolean;
  readonly hasLengths: boolean;
}

/** Inputs: x, weightIH, biasIH, weightHH, biasHH, h0, [c0 (LSTM)], [lengths]. */
interface SequenceInputs {
  x: Tensor;
  weightIH: Tensor;
  biasIH: Tensor;
  weightHH: Tensor;
  biasHH: Tensor;
  h0: Tensor;
  c0: Tensor | null;
  lengths: Tensor | null;
}

function unpack(inputs: readonly Tensor[], { cell, hasLengths }: SequenceAttrs): SequenceInputs {
  let i = 0;
  const next = (): Tensor => inputs[i++]!;
  const x = next();
  const weightIH = next();
  const biasIH = next();
  const weightHH = next();
  const biasHH = next();
  const h0 = next();
  const c0 = cell === "lstm" ? next() : null;
  const lengths = hasLengths ? next() : null;
  return { x, weightIH, biasIH, weightHH, biasHH, h0, c0, lengths };
}

function savedWidth(cell: RecurrentCell, H: number): number {
  return cell === "lstm" || cell === "gru" ? 4 * H : 0;
}

/**
 * Whether a scan's saved states are its outputs: forwards and without padding, the state after
 * scan step t is hs[t], so the `states` output is empty ([0, B, H]) and backward reads hs.
 */
function statesAreOutputs(attrs: SequenceAttrs): boolean {
  return !attrs.reverse && !attrs.hasLengths;
}

/**
 * Outputs: hs (input time order), hT, states (scan order; [0, B, H] when they are hs, see
 * `statesAreOutputs`), gates (scan order), [cT, cells (LSTM)].
 */
export const RecurrentSequence = definePrimitive<readonly Tensor[], readonly Tensor[], SequenceAttrs>({
  name: "RecurrentSequence",
  infer: (inputs, attrs) => {
    const { x, weightIH, biasIH, weightHH, biasHH, h0, c0, lengths } = unpack(inputs, attrs);
    const name = `RecurrentSequence(${attrs.cell})`;
    const G = GATE_COUNT[attrs.cell];
    if (x.rank !== 3) throw new ShapeError(name, `x must be [T, B, I], got ${formatShape(x.shape)}`);
    const [T, B, I] = x.shape as [number, number, number];
    const H = h0.shape[1] ?? -1;
    const fits = (t: Tensor | null, shape: number[]): boolean => t !== null && t.rank === shape.length && t.shape.every((d, k) => d === shape[k]);
    if (
      !fits(h0, [B, H]) || !fits(weightIH, [G * H, I]) || !fits(biasIH, [G * H]) || !fits(weightHH, [G * H, H]) || !fits(biasHH, [G * H]) ||
      (attrs.cell === "lstm" && !fits(c0, [B, H]))
    ) {
      throw new ShapeError(
        name,
        `shapes do not fit: x ${formatShape(x.shape)}, weightIH ${formatShape(weightIH.shape)}, biasIH ${formatShape(biasIH.shape)}, ` +
          `weightHH ${formatShape(weightHH.shape)}, biasHH ${formatShape(biasHH.shape)}, h0 ${formatShape(h0.shape)}${c0 ? `, c0 ${formatShape(c0.shape)}` : ""}`,
      );
    }
    for (const t of [weightIH, biasIH, weightHH, biasHH, h0, ...(c0 ? [c0] : [])]) {
      if (t.dtype !== x.dtype) throw new DTypeError(name, `every input must be ${x.dtype}, found ${t.dtype}`);
    }
    if (lengths && (lengths.dtype !== "int32" || !fits(lengths, [B]))) throw new ShapeError(name, `lengths must be int32 [${B}]`);
    const dtype = x.dtype;
    const outs = [
      { shape: [T, B, H], dtype },
      { shape: [B, H], dtype },
      { shape: [statesAreOutputs(attrs) ? 0 : T, B, H], dtype },
      { shape: [T, B, savedWidth(attrs.cell, H)], dtype },
    ];
    if (attrs.cell === "lstm") outs.push({ shape: [B, H], dtype }, { shape: [T, B, H], dtype });
    return outs;
  },
  kernel: (k, inputs, outputs, attrs) => {
    const args = unpack(inputs, attrs);
    const [hs, hT, states, gates, cT, cells] = outputs as Tensor[];
    k.recurrentForward(
      { ...args, cell: attrs.cell, reverse: attrs.reverse },
      { hs: hs!, hT: hT!, states: statesAreOutputs(attrs) ? null : states!, gates: gates!, cT: cT ?? null, cells: cells ?? null },
    );
  },
  vjp: ({ inputs, outputs, attrs }, cotangents, needed) => {
    const { x, weightIH, weightHH, h0, c0, lengths } = unpack(inputs, attrs);
    const [hs, hT, states, gates, cT, cells] = outputs as Tensor[];
    const [dhs, dhT, , , dcT] = cotangents as (Tensor | null)[];
    const gradInputs = [
      x,
      weightIH,
      weightHH,
      h0,
      ...(c0 ? [c0] : []),
      ...(lengths ? [lengths] : []),
      statesAreOutputs(attrs) ? hs! : states!,
      gates!,
      ...(cells ? [cells] : []),
      dhs ?? zeros(hs!.shape, hs!.dtype),
      dhT ?? zeros(hT!.shape, hT!.dtype),
      ...(attrs.cell === "lstm" ? [dcT ?? zeros(cT!.shape, cT!.dtype)] : []),
    ];
    // The input side's gradients come out of the fused backward too (dx only when wanted), so the
    // input projection's gradient never exists whole.
    const grads = apply(RecurrentSequenceGrad, gradInputs, { ...attrs, withDx: needed[0]! }) as Tensor[];
    const [dWeightIH, dBiasIH, dWeightHH, dBiasHH, dh0] = grads;
    const dc0 = attrs.cell === "lstm" ? grads[5]! : null;
    const dx = needed[0] ? grads[grads.length - 1]! : null;
    const result: (Tensor | null)[] = [dx, dWeightIH!, dBiasIH!, dWeightHH!, dBiasHH!, dh0!];
    if (attrs.cell === "lstm") result.push(dc0);
    if (lengths) result.push(null);
    return result.map((g, i) => (needed[i] ? g : null));
  },
  decompose: (inputs, attrs) => composedSequence(unpack(inputs, attrs), attrs),
});

interface GradAttrs extends SequenceAttrs {
  /** Whether the gradient of x is wanted (it is the last output when it is). */
  readonly withDx: boolean;
}

/**
 * Backpropagation through time of `RecurrentSequence` (fused; tested against autodiff of the
 * decomposition). Inputs: x, weightIH, weightHH, h0, [c0], [lengths], states, gates, [cells], dhs,
 * dhT, [dcT]. Outputs: dWeightIH, dBiasIH, dWeightHH, dBiasHH, dh0, [dc0 (LSTM)], [dx (withDx)].
 */
export const RecurrentSequenceGrad = definePrimitive<readonly Tensor[], readonly Tensor[], GradAttrs>({
  name: "RecurrentSequenceGrad",
  infer: (inputs, { cell, withDx }) => {
    const [x, weightIH, weightHH, h0] = inputs as [Tensor, Tensor, Tensor, Tensor];
    const dtype = weightHH.dtype;
    const GH = weightHH.shape[0]!;
    const outs = [
      { shape: weightIH.shape, dtype },
      { shape: [GH], dtype },
      { shape: weightHH.shape, dtype },
      { shape: [GH], dtype },
      { shape: h0.shape, dtype },
    ];
    if (cell === "lstm") outs.push({ shape: h0.shape, dtype });
    if (withDx) outs.push({ shape: x.shape, dtype });
    return outs;
  },
  kernel: (k, inputs, outputs, { cell, hasLengths, reverse, withDx }) => {
    let i = 0;
    const next = (): Tensor => inputs[i++]!;
    const x = next();
    const weightIH = next();
    const weightHH = next();
    const h0 = next();
    const c0 = cell === "lstm" ? next() : null;
    const lengths = hasLengths ? next() : null;
    const states = next();
    const gates = next();
    const cells = cell === "lstm" ? next() : null;
    const dhs = next();
    const dhT = next();
    const dcT = cell === "lstm" ? next() : null;
    const [dWeightIH, dBiasIH, dWeightHH, dBiasHH, dh0] = outputs as Tensor[];
    k.recurrentBackward(
      { cell, reverse, x, weightIH, weightHH, h0, c0, lengths, states, cells, gates, dhs, dhT, dcT },
      {
        dx: withDx ? outputs[outputs.length - 1]! : null,
        dWeightIH: dWeightIH!,
        dBiasIH: dBiasIH!,
        dWeightHH: dWeightHH!,
        dBiasHH: dBiasHH!,
        dh0: dh0!,
        dc0: cell === "lstm" ? outputs[5]! : null,
      },
    );
  },
});

/**
 * The same scan in composed primitives: the input projection, then `stepFromProjection` (the
 * cells' own equations) step by step, padding handled with `where`, the reverse direction by
 * reversing each example within its length. Returns the fused primitive's outputs, saved
 * activations included (in scan order), so the two can be compared output by output.
 */
function composedSequence(inp: SequenceInputs, attrs: SequenceAttrs): Tensor[] {
  const { cell, reverse } = attrs;
  const { x, weightIH, biasIH, weightHH, biasHH, h0, c0, lengths } = inp;
  const [T, B, I] = x.shape as [number, number, number];
  const GH = weightHH.shape[0]!;
  const H = GH / GATE_COUNT[cell];
  const lens = lengths ? Int32Array.from(lengths.data) : null;
  const w = { weightIH, weightHH, biasIH, biasHH };
  const ordered = reverse ? reverseSequences(x, lens) : x;
  const xProj = reshape(inputProjection(w, reshape(ordered, [T * B, I])), [T, B, GH]);
  let state = { h: h0, ...(c0 ? { c: c0 } : {}) } as { h: Tensor; c?: Tensor };
  const hs: Tensor[] = [];
  const states: Tensor[] = [];
  const cells: Tensor[] = [];
  const saved: Tensor[] = [];
  const steps = T > 0 ? split(xProj, T, 0) : [];
  for (let t = 0; t < T; t++) {
    let acts: Readonly<Record<string, Tensor>> = {};
    const next = stepFromProjection(cell, w, state, reshape(steps[t]!, [B, GH]), (a) => (acts = a));
    if (cell === "lstm") saved.push(concat([acts.i!, acts.f!, acts.g!, acts.o!], 1));
    if (cell === "gru") saved.push(concat([acts.r!, acts.z!, acts.n!, acts.hn!], 1));
    if (lens) {
      const m = fromArray(Array.from(lens, (n) => (t < n ? 1 : 0)), { shape: [B, 1], dtype: x.dtype });
      hs.push(where(m, next.h, 0));
      state = { h: where(m, next.h, state.h), ...(next.c ? { c: where(m, next.c, state.c!) } : {}) };
    } else {
      hs.push(next.h);
      state = next;
    }
    states.push(state.h);
    if (state.c) cells.push(state.c);
  }
  const seq = (xs: Tensor[], width: number): Tensor => (xs.length > 0 ? stack(xs) : zeros([0, B, width], x.dtype));
  const outputs = seq(hs, H);
  const gates = cell === "lstm" || cell === "gru" ? seq(saved, 4 * H) : zeros([T, B, 0], x.dtype);
  const savedStates = statesAreOutputs(attrs) ? zeros([0, B, H], x.dtype) : seq(states, H);
  const out = [reverse ? reverseSequences(outputs, lens) : outputs, state.h, savedStates, gates];
  if (cell === "lstm") out.push(state.c!, seq(cells, H));
  return out;
}

export interface SequenceResult {
  /** `[T, B, H]`: every step's output in input time order, zero on padding. */
  readonly hs: Tensor;
  readonly hT: Tensor;
  readonly cT?: Tensor;
}

export interface SequenceWeights {
  readonly weightIH: Tensor;
  readonly biasIH?: Tensor | null;
  readonly weightHH: Tensor;
  readonly biasHH?: Tensor | null;
}

/**
 * Runs one direction of one recurrent layer over a whole sequence `x` `[T, B, I]` as a single
 * fused primitive. `lengths` (int32 `[B]`, or plain numbers) marks padding; `reverse` reads each
 * example backwards from its own last step.
 */
export function recurrentSequence(
  cell: RecurrentCell,
  x: Tensor,
  w: SequenceWeights,
  h0: Tensor,
  c0: Tensor | null,
  lengths: Tensor | Int32Array | null,
  reverse = false,
): SequenceResult {
  const GH = w.weightHH.shape[0]!;
  const lengthsTensor = lengths === null ? null : lengths instanceof Tensor ? lengths : fromArray(lengths, { dtype: "int32" });
  const inputs = [
    x,
    w.weightIH,
    w.biasIH ?? zeros([GH], x.dtype),
    w.weightHH,
    w.biasHH ?? zeros([GH], x.dtype),
    h0,
    ...(cell === "lstm" ? [c0!] : []),
    ...(lengthsTensor ? [lengthsTensor] : []),
  ];
  const outs = apply(RecurrentSequence, inputs, { cell, reverse, hasLengths: lengthsTensor !== null }) as Tensor[];
  return cell === "lstm" ? { hs: outs[0]!, hT: outs[1]!, cT: outs[4]! } : { hs: outs[0]!, hT: outs[1]! };
}

/** A condition `[B, C]` joined to every step's input, so that `W_ih` and `W_ch` act as one input matrix. */
export function withCondition(x: Tensor, w: SequenceWeights & { readonly weightCH?: Tensor | null }, condition: Tensor | null): { x: Tensor; w: SequenceWeights } {
  if (!condition) return { x, w };
  const [T, B] = x.shape as [number, number];
  const C = condition.shape[1]!;
  const conditionSeq = broadcastTo(reshape(condition, [1, B, C]), [T, B, C]);
  return { x: concat([x, conditionSeq], 2), w: { ...w, weightIH: concat([w.weightIH, w.weightCH!], 1) } };
}
