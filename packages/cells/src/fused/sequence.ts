import {
  apply,
  definePrimitive,
  DTypeError,
  formatShape,
  fromArray,
  reshape,
  type RecurrentCell,
  ShapeError,
  split,
  stack,
  type Tensor,
  where,
  zeros,
  concat,
} from "@unroll/tensor";
import { GATE_COUNT, stepFromProjection } from "../cells/cell.js";

// A whole recurrent scan (one layer, one direction) as a single primitive: one node in the tape
// instead of ~15 per step, a fused kernel for the step's elementwise work, and weight gradients
// computed as one product over all steps. Its decomposition is the composed scan of `Cell` steps,
// which the tests hold it to (values and gradients); an exporter maps it to ONNX's RNN/LSTM/GRU.

interface SequenceAttrs {
  readonly cell: RecurrentCell;
  readonly hasLengths: boolean;
}

/** Inputs: xProj, weightHH, biasHH, h0, [c0 (LSTM)], [lengths]. */
interface SequenceInputs {
  xProj: Tensor;
  weightHH: Tensor;
  biasHH: Tensor;
  h0: Tensor;
  c0: Tensor | null;
  lengths: Tensor | null;
}

function unpack(inputs: readonly Tensor[], { cell, hasLengths }: SequenceAttrs): SequenceInputs {
  let i = 0;
  const next = (): Tensor => inputs[i++]!;
  const xProj = next();
  const weightHH = next();
  const biasHH = next();
  const h0 = next();
  const c0 = cell === "lstm" ? next() : null;
  const lengths = hasLengths ? next() : null;
  return { xProj, weightHH, biasHH, h0, c0, lengths };
}

function savedWidth(cell: RecurrentCell, H: number): number {
  return cell === "lstm" || cell === "gru" ? 4 * H : 0;
}

/** Outputs: hs, hT, states, gates, [cT, cells (LSTM)]. */
export const RecurrentSequence = definePrimitive<readonly Tensor[], readonly Tensor[], SequenceAttrs>({
  name: "RecurrentSequence",
  infer: (inputs, attrs) => {
    const { xProj, weightHH, biasHH, h0, c0, lengths } = unpack(inputs, attrs);
    const name = `RecurrentSequence(${attrs.cell})`;
    const G = GATE_COUNT[attrs.cell];
    if (xProj.rank !== 3) throw new ShapeError(name, `xProj must be [T, B, ${G}H], got ${formatShape(xProj.shape)}`);
    const [T, B, GH] = xProj.shape as [number, number, number];
    const H = GH / G;
    const fits = (t: Tensor | null, shape: number[]): boolean => t !== null && t.rank === shape.length && t.shape.every((d, k) => d === shape[k]);
    if (!Number.isInteger(H) || !fits(weightHH, [GH, H]) || !fits(biasHH, [GH]) || !fits(h0, [B, H]) || (attrs.cell === "lstm" && !fits(c0, [B, H]))) {
      throw new ShapeError(
        name,
        `shapes do not fit: xProj ${formatShape(xProj.shape)}, weightHH ${formatShape(weightHH.shape)}, biasHH ${formatShape(biasHH.shape)}, h0 ${formatShape(h0.shape)}${c0 ? `, c0 ${formatShape(c0.shape)}` : ""}`,
      );
    }
    for (const t of [weightHH, biasHH, h0, ...(c0 ? [c0] : [])]) {
      if (t.dtype !== xProj.dtype) throw new DTypeError(name, `every input must be ${xProj.dtype}, found ${t.dtype}`);
    }
    if (lengths && (lengths.dtype !== "int32" || !fits(lengths, [B]))) throw new ShapeError(name, `lengths must be int32 [${B}]`);
    const dtype = xProj.dtype;
    const outs = [
      { shape: [T, B, H], dtype },
      { shape: [B, H], dtype },
      { shape: [T, B, H], dtype },
      { shape: [T, B, savedWidth(attrs.cell, H)], dtype },
    ];
    if (attrs.cell === "lstm") outs.push({ shape: [B, H], dtype }, { shape: [T, B, H], dtype });
    return outs;
  },
  kernel: (k, inputs, outputs, attrs) => {
    const { xProj, weightHH, biasHH, h0, c0, lengths } = unpack(inputs, attrs);
    const [hs, hT, states, gates, cT, cells] = outputs as Tensor[];
    k.recurrentForward(
      { cell: attrs.cell, xProj, weightHH, biasHH, h0, c0, lengths },
      { hs: hs!, hT: hT!, states: states!, gates: gates!, cT: cT ?? null, cells: cells ?? null },
    );
  },
  vjp: ({ inputs, outputs, attrs }, cotangents, needed) => {
    const { weightHH, h0, c0, lengths } = unpack(inputs, attrs);
    const [hs, hT, states, gates, cT, cells] = outputs as Tensor[];
    const [dhs, dhT, , , dcT] = cotangents as (Tensor | null)[];
    const gradInputs = [
      weightHH,
      h0,
      ...(c0 ? [c0] : []),
      ...(lengths ? [lengths] : []),
      states!,
      gates!,
      ...(cells ? [cells] : []),
      dhs ?? zeros(hs!.shape, hs!.dtype),
      dhT ?? zeros(hT!.shape, hT!.dtype),
      ...(attrs.cell === "lstm" ? [dcT ?? zeros(cT!.shape, cT!.dtype)] : []),
    ];
    const [dxProj, dWeightHH, dBiasHH, dh0, dc0] = apply(RecurrentSequenceGrad, gradInputs, attrs) as Tensor[];
    const grads: (Tensor | null)[] = [dxProj!, dWeightHH!, dBiasHH!, dh0!];
    if (attrs.cell === "lstm") grads.push(dc0!);
    if (lengths) grads.push(null);
    return grads.map((g, i) => (needed[i] ? g : null));
  },
  decompose: (inputs, attrs) => composedSequence(unpack(inputs, attrs), attrs.cell),
});

/** Backpropagation through time of `RecurrentSequence` (fused; tested against autodiff of the decomposition). */
export const RecurrentSequenceGrad = definePrimitive<readonly Tensor[], readonly Tensor[], SequenceAttrs>({
  name: "RecurrentSequenceGrad",
  infer: (inputs, { cell }) => {
    const weightHH = inputs[0]!;
    const h0 = inputs[1]!;
    const [GH, H] = weightHH.shape as [number, number];
    const dtype = weightHH.dtype;
    const dhs = inputs[inputs.length - (cell === "lstm" ? 3 : 2)]!;
    const [T, B] = dhs.shape as [number, number];
    const outs = [
      { shape: [T, B, GH], dtype },
      { shape: [GH, H], dtype },
      { shape: [GH], dtype },
      { shape: h0.shape, dtype },
    ];
    if (cell === "lstm") outs.push({ shape: h0.shape, dtype });
    return outs;
  },
  kernel: (k, inputs, outputs, { cell, hasLengths }) => {
    let i = 0;
    const next = (): Tensor => inputs[i++]!;
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
    const [dxProj, dWeightHH, dBiasHH, dh0, dc0] = outputs as Tensor[];
    k.recurrentBackward(
      { cell, weightHH, h0, c0, lengths, states, cells, gates, dhs, dhT, dcT },
      { dxProj: dxProj!, dWeightHH: dWeightHH!, dBiasHH: dBiasHH!, dh0: dh0!, dc0: dc0 ?? null },
    );
  },
});

/**
 * The same scan in composed primitives: each step is `stepFromProjection` (the cells' own
 * equations), padding handled with `where`. Returns the fused primitive's outputs, saved
 * activations included, so the two can be compared output by output.
 */
function composedSequence(inp: SequenceInputs, cell: RecurrentCell): Tensor[] {
  const { xProj, weightHH, biasHH, h0, c0, lengths } = inp;
  const [T, B, GH] = xProj.shape as [number, number, number];
  const H = GH / GATE_COUNT[cell];
  const w = { weightIH: weightHH, weightHH, biasHH };
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
    if (lengths) {
      const m = fromArray(Array.from(lengths.data, (n) => (t < n ? 1 : 0)), { shape: [B, 1], dtype: xProj.dtype });
      hs.push(where(m, next.h, 0));
      state = { h: where(m, next.h, state.h), ...(next.c ? { c: where(m, next.c, state.c!) } : {}) };
    } else {
      hs.push(next.h);
      state = next;
    }
    states.push(state.h);
    if (state.c) cells.push(state.c);
  }
  const seq = (xs: Tensor[], width: number): Tensor => (xs.length > 0 ? stack(xs) : zeros([0, B, width], xProj.dtype));
  const gates = cell === "lstm" || cell === "gru" ? seq(saved, 4 * H) : zeros([T, B, 0], xProj.dtype);
  const out = [seq(hs, H), state.h, seq(states, H), gates];
  if (cell === "lstm") out.push(state.c!, seq(cells, H));
  return out;
}

export interface SequenceResult {
  /** `[T, B, H]`: every step's output, zero on padding. */
  readonly hs: Tensor;
  readonly hT: Tensor;
  readonly cT?: Tensor;
}

/**
 * Runs one direction of one recurrent layer over a whole sequence as a single fused primitive.
 * `xProj` is the input side `x W_ihᵀ + b_ih` of every step, `[T, B, gates*H]`.
 */
export function recurrentSequence(
  cell: RecurrentCell,
  xProj: Tensor,
  weightHH: Tensor,
  biasHH: Tensor | null,
  h0: Tensor,
  c0: Tensor | null,
  lengths: Int32Array | null,
): SequenceResult {
  const bias = biasHH ?? zeros([weightHH.shape[0]!], xProj.dtype);
  const inputs = [xProj, weightHH, bias, h0, ...(cell === "lstm" ? [c0!] : []), ...(lengths ? [fromArray(lengths, { dtype: "int32" })] : [])];
  const outs = apply(RecurrentSequence, inputs, { cell, hasLengths: lengths !== null }) as Tensor[];
  return cell === "lstm" ? { hs: outs[0]!, hT: outs[1]!, cT: outs[4]! } : { hs: outs[0]!, hT: outs[1]! };
}
