import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Tensor, treeEntries, valueAndGrad } from "@unroll/tensor";
import { Seq2Seq, type Seq2SeqConfig, type Seq2SeqParams } from "../index.js";

// Reference values from PyTorch 1.13 (scripts/seq2seq_fixture.py): the same encoder-decoder models
// with nn.GRU/nn.LSTM over a packed source batch, a decoder stepped one position at a time, the
// label-smoothed cross-entropy and its gradient for every parameter.
interface TensorJSON {
  shape: number[];
  data: number[];
}
interface Case {
  name: string;
  config: Seq2SeqConfig;
  state_dict: Record<string, TensorJSON>;
  src: number[][];
  src_lengths: number[];
  tgt_in: number[][];
  tgt_out: number[][];
  label_smoothing: number;
  logits: TensorJSON;
  attention: TensorJSON | null;
  loss: number;
  grads: Record<string, TensorJSON>;
}
const fixture = JSON.parse(readFileSync(new URL("../../fixtures/torch-seq2seq.json", import.meta.url), "utf8")) as { cases: Case[] };

const float = (t: TensorJSON): Tensor => new Tensor(Float32Array.from(t.data), t.shape);
const ints = (rows: number[][]): Tensor => new Tensor(Int32Array.from(rows.flat()), [rows.length, rows[0]!.length]);

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe("Seq2Seq against PyTorch", () => {
  it("has the cases", () => expect(fixture.cases.length).toBe(4));

  for (const c of fixture.cases) {
    it(`${c.name}: logits, attention, loss and every gradient`, () => {
      const model = new Seq2Seq(c.config);
      const params = model.paramsFromStateDict(Object.fromEntries(Object.entries(c.state_dict).map(([k, v]) => [k, float(v)])));
      const batch = { src: ints(c.src), srcLengths: new Tensor(Int32Array.from(c.src_lengths), [c.src_lengths.length]), tgtIn: ints(c.tgt_in) };
      const targets = ints(c.tgt_out);
      const { value, grads, aux } = valueAndGrad((p: Seq2SeqParams) => {
        const out = model.forward(p, batch);
        return [model.loss(out.logits, targets, c.label_smoothing), out] as const;
      }, { hasAux: true })(params);
      expect(aux.logits.shape).toEqual(c.logits.shape);
      expect(maxDiff(aux.logits.data, c.logits.data)).toBeLessThan(2e-5);
      if (c.attention) {
        expect(aux.attention!.shape).toEqual(c.attention.shape);
        expect(maxDiff(aux.attention!.data, c.attention.data)).toBeLessThan(1e-5);
      } else expect(aux.attention).toBeNull();
      expect(Math.abs(value.item() - c.loss)).toBeLessThan(1e-5);
      const ours = Object.fromEntries(treeEntries(grads));
      expect(Object.keys(ours).sort()).toEqual(Object.keys(c.grads).sort());
      for (const [name, g] of Object.entries(c.grads)) {
        expect(ours[name]!.shape, name).toEqual(g.shape);
        expect(maxDiff(ours[name]!.data, g.data), name).toBeLessThan(2e-5);
      }
    });
  }
});
