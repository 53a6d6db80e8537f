import { describe, expect, it } from "vitest";
import {
  add,
  apply,
  evaluateGraph,
  type FloatDType,
  fromArray,
  mul,
  type RecurrentCell,
  Rng,
  sum,
  type Tensor,
  trace,
  treeLeaves,
  valueAndGrad,
  withDecomposition,
} from "@unroll/tensor";
import { makeBatch, Seq2Seq, type Seq2SeqParams } from "../index.js";
import { AttentionDecoderSequence } from "./fused.js";

// The decomposition of the fused Bahdanau decoder (what a compiled training step traces) against
// the fused kernel: every output, and the gradients of every float input.
const T = 3;
const B = 3;
const E = 2;
const S = 4;
const D = 4;
const A = 3;
const H = 5;
const GATES: Record<RecurrentCell, number> = { rnn_tanh: 1, rnn_relu: 1, lstm: 4, gru: 3 };

/** A source mask `[B, S]` (1: real position, 0: padding). */
function maskOf(rows: readonly (readonly number[])[]): Tensor {
  return fromArray(rows.map((r) => [...r]), { dtype: "float32" }); // as Seq2Seq.encode makes it
}
// Padding at the ends of examples 1 and 2; the other padding differs from it in every example.
const padded = maskOf([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]]);
const otherPadding = maskOf([[1, 0, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]);

/** The float inputs in primitive order (x, weightIH, biasIH, weightHH, biasHH, h0, [c0], values, keys, weightQ, v); the mask goes in separately. */
function floats(cell: RecurrentCell, dtype: FloatDType, seed: number): Tensor[] {
  const rng = new Rng(seed);
  const n = (shape: number[], std = 0.5): Tensor => rng.normal(shape, 0, std, dtype);
  const GH = GATES[cell] * H;
  // The memory is not zero at padding: a padded position must be ignored, not merely harmless.
  return [n([T, B, E], 1), n([GH, E + D]), n([GH]), n([GH, H]), n([GH]), n([B, H]), ...(cell === "lstm" ? [n([B, H])] : []), n([B, S, D], 1), n([S, B, A], 1), n([A, H]), n([A], 1)];
}

/** The primitive's input list: the mask goes after the keys. */
const withMask = (xs: readonly Tensor[], mask: Tensor): Tensor[] => [...xs.slice(0, -2), mask, ...xs.slice(-2)];
const fused = (cell: RecurrentCell, xs: readonly Tensor[], mask: Tensor): Tensor[] => apply(AttentionDecoderSequence, withMask(xs, mask), { cell }) as Tensor[];
const decomposed = (cell: RecurrentCell, xs: readonly Tensor[], mask: Tensor): Tensor[] => withDecomposition(() => fused(cell, xs, mask));

/** A scalar of hs, contexts, weights, hT and (LSTM) cT, each weighted by a fixed random tensor. */
function objective(cell: RecurrentCell, run: typeof fused, mask: Tensor, dtype: FloatDType) {
  const rng = new Rng(99);
  const shapes = [[T, B, H], [T, B, D], [T, B, S], [B, H], ...(cell === "lstm" ? [[B, H]] : [])];
  const probes = shapes.map((s) => rng.normal(s, 0, 1, dtype));
  const picked = cell === "lstm" ? [0, 1, 2, 3, 5] : [0, 1, 2, 3];
  return (...xs: Tensor[]): Tensor => {
    const outs = run(cell, xs, mask);
    return picked.map((k, i) => sum(mul(outs[k]!, probes[i]!))).reduce((a, b) => add(a, b));
  };
}

/** The value of `f(...xs)` and its gradients with respect to every one of `xs`. */
function gradients(f: (...xs: Tensor[]) => Tensor, xs: readonly Tensor[]): { value: Tensor; grads: Tensor[] } {
  return valueAndGrad((ps: Tensor[]) => f(...ps))([...xs]);
}

function maxDiff(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  let m = 0;
  for (let i = 0; i < a.size; i++) m = Math.max(m, Math.abs(a.data[i]! - b.data[i]!));
  return m;
}

function maxAbs(t: Tensor): number {
  let m = 0;
  for (let i = 0; i < t.size; i++) m = Math.max(m, Math.abs(t.data[i]!));
  return m;
}

const OUTPUTS = ["hs", "contexts", "weights", "hT", "gates", "cT", "cells"];
const INPUTS = (cell: RecurrentCell): string[] => ["x", "weightIH", "biasIH", "weightHH", "biasHH", "h0", ...(cell === "lstm" ? ["c0"] : []), "values", "keys", "weightQ", "v"];

describe("AttentionDecoderSequence.decompose", () => {
  for (const cell of ["lstm", "gru", "rnn_tanh", "rnn_relu"] as const) {
    it(`${cell}: every output equals the fused kernel's, in float64, with padded positions`, () => {
      const xs = floats(cell, "float64", 1);
      const a = fused(cell, xs, padded);
      const b = decomposed(cell, xs, padded);
      expect(b.length).toBe(a.length);
      a.forEach((t, k) => expect(maxDiff(b[k]!, t), OUTPUTS[k]).toBeLessThan(1e-12));
      // The padded positions have exactly zero weight.
      const w = b[2]!;
      for (let t = 0; t < T; t++) {
        for (let e = 0; e < B; e++) for (let s = 0; s < S; s++) if (padded.data[e * S + s] === 0) expect(w.data[(t * B + e) * S + s]).toBe(0);
      }
      if (cell === "lstm" || cell === "gru") expect(maxAbs(b[4]!)).toBeGreaterThan(0.1); // the saved gates are not left empty
    });
  }

  for (const cell of ["lstm", "gru", "rnn_tanh"] as const) {
    it(`${cell}: gradients of every float input equal the fused path's`, () => {
      const xs = floats(cell, "float64", 2);
      const a = gradients(objective(cell, fused, padded, "float64"), xs);
      const b = gradients(objective(cell, decomposed, padded, "float64"), xs);
      expect(Math.abs(a.value.item() - b.value.item())).toBeLessThan(1e-12);
      const ga = a.grads;
      const gb = b.grads;
      expect(gb.length).toBe(xs.length);
      ga.forEach((g, i) => {
        expect(maxAbs(g), `${INPUTS(cell)[i]} has a gradient`).toBeGreaterThan(1e-6);
        expect(maxDiff(gb[i]!, g), INPUTS(cell)[i]).toBeLessThan(1e-10);
      });
      // The padded memory rows get no gradient through either path.
      const values = INPUTS(cell).indexOf("values");
      for (let e = 0; e < B; e++) {
        for (let s = 0; s < S; s++) {
          if (padded.data[e * S + s] !== 0) continue;
          for (let d = 0; d < D; d++) expect(gb[values]!.data[(e * S + s) * D + d]).toBe(0);
        }
      }
    });
  }

  it("lstm in float32: outputs and gradients to 1e-5", () => {
    const cell = "lstm";
    const xs = floats(cell, "float32", 3);
    fused(cell, xs, padded).forEach((t, k) => expect(maxDiff(decomposed(cell, xs, padded)[k]!, t), OUTPUTS[k]).toBeLessThan(1e-5));
    const a = gradients(objective(cell, fused, padded, "float32"), xs);
    const b = gradients(objective(cell, decomposed, padded, "float32"), xs);
    a.grads.forEach((g, i) => expect(maxDiff(b.grads[i]!, g), INPUTS(cell)[i]).toBeLessThan(1e-5));
  });

  it("an example with no real source position gets zero weights and context, as the kernel gives, and no NaN", () => {
    const cell = "gru";
    const mask = maskOf([[1, 1, 0, 0], [0, 0, 0, 0], [1, 1, 1, 0]]);
    const xs = floats(cell, "float64", 4);
    const a = fused(cell, xs, mask);
    const b = decomposed(cell, xs, mask);
    a.forEach((t, k) => expect(maxDiff(b[k]!, t), OUTPUTS[k]).toBeLessThan(1e-12));
    for (let t = 0; t < T; t++) for (let s = 0; s < S; s++) expect(b[2]!.data[(t * B + 1) * S + s]).toBe(0);
    const ga = gradients(objective(cell, fused, mask, "float64"), xs).grads;
    const gb = gradients(objective(cell, decomposed, mask, "float64"), xs).grads;
    ga.forEach((g, i) => {
      expect(gb[i]!.data.every((u) => Number.isFinite(u)), INPUTS(cell)[i]).toBe(true);
      expect(maxDiff(gb[i]!, g), INPUTS(cell)[i]).toBeLessThan(1e-10);
    });
    // Not even on the way: a softmax over no position at all would be NaN, masked afterwards.
    const { graph } = withDecomposition(() => trace((...ys: Tensor[]) => gradients(objective(cell, fused, mask, "float64"), ys).grads, xs));
    const nan = graph.nodes.filter((n) => n.outputs.some((y) => y.data.some((u) => Number.isNaN(u)))).map((n) => n.primitive.name);
    expect(nan).toEqual([]);
  });

  it("a trace under withDecomposition holds no fused decoder node, and replays on another mask", () => {
    const cell = "lstm";
    const xs = floats(cell, "float64", 5);
    const step = (mask: Tensor, ...inputs: Tensor[]): Tensor[] => {
      const r = gradients(objective(cell, fused, mask, "float64"), inputs);
      return [r.value, ...r.grads];
    };
    const names = (g: { nodes: readonly { primitive: { name: string } }[] }): string[] => g.nodes.map((n) => n.primitive.name);
    const plain = trace(step, [padded, ...xs]);
    expect(names(plain.graph)).toContain("AttentionDecoderSequence");
    expect(names(plain.graph)).toContain("AttentionDecoderSequenceGrad");
    const split = withDecomposition(() => trace(step, [padded, ...xs]));
    const recorded = names(split.graph);
    expect(recorded.filter((n) => n.startsWith("AttentionDecoderSequence"))).toEqual([]);
    expect(recorded).toContain("Softmax");
    expect(recorded).toContain("Where");
    // The mask is an input of the graph, not values read while tracing: replayed on another
    // padding, the graph gives that padding's fused values and gradients.
    const replayed = evaluateGraph(split.graph, [otherPadding, ...xs]);
    const expected = step(otherPadding, ...xs);
    expect(maxDiff(replayed[0]!, expected[0]!)).toBeLessThan(1e-12);
    expect(maxDiff(replayed[0]!, step(padded, ...xs)[0]!)).toBeGreaterThan(1e-6); // the two paddings differ
    expected.slice(1).forEach((g, i) => expect(maxDiff(replayed[i + 1]!, g), INPUTS(cell)[i]).toBeLessThan(1e-10));
  });

  it("Seq2Seq's fused decoder under withDecomposition gives the step-by-step decoder's loss and gradients", () => {
    const m = new Seq2Seq({ srcVocabSize: 9, tgtVocabSize: 8, embeddingSize: 4, encoderHiddenSize: 3, decoderHiddenSize: 5, attentionSize: 4, attention: "bahdanau", cell: "lstm" });
    const params = m.init(new Rng(3));
    const batch = makeBatch([
      { src: Int32Array.of(3, 4, 5, 6), tgt: Int32Array.of(5, 4, 3) },
      { src: Int32Array.of(7, 8), tgt: Int32Array.of(7, 6, 5, 4) },
      { src: Int32Array.of(3), tgt: Int32Array.of(3) },
    ]);
    const run = (fusedPath: boolean) => valueAndGrad((p: Seq2SeqParams) => m.loss(m.forward(p, batch, { fused: fusedPath }).logits, batch.tgtOut))(params);
    const composed = run(false);
    const split = withDecomposition(() => run(true));
    expect(Math.abs(split.value.item() - composed.value.item())).toBeLessThan(1e-6);
    const gc = treeLeaves(composed.grads);
    expect(gc.length).toBeGreaterThan(10);
    treeLeaves(split.grads).forEach((g, i) => expect(maxDiff(g, gc[i]!), `gradient ${i}`).toBeLessThan(1e-5));
  });
});
