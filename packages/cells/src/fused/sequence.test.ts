import { describe, expect, it } from "vitest";
import { add, apply, fromArray, gradcheck, mul, Rng, sum, type Tensor, valueAndGrad } from "@unroll/tensor";
import type { RecurrentCell } from "@unroll/tensor";
import { RecurrentSequence } from "./sequence.js";

const CELLS: RecurrentCell[] = ["rnn_tanh", "rnn_relu", "lstm", "gru"];
const G: Record<RecurrentCell, number> = { rnn_tanh: 1, rnn_relu: 1, lstm: 4, gru: 3 };

function inputs(cell: RecurrentCell, T: number, B: number, H: number, seed: number, dtype: "float32" | "float64", lengths?: number[], reverse = false) {
  const rng = new Rng(seed);
  const I = 3;
  const list = [
    rng.normal([T, B, I], 0, 1, dtype),
    rng.normal([G[cell] * H, I], 0, 0.5, dtype),
    rng.normal([G[cell] * H], 0, 0.5, dtype),
    rng.normal([G[cell] * H, H], 0, 0.5, dtype),
    rng.normal([G[cell] * H], 0, 0.5, dtype),
    rng.normal([B, H], 0, 0.5, dtype),
    ...(cell === "lstm" ? [rng.normal([B, H], 0, 0.5, dtype)] : []),
    ...(lengths ? [fromArray(lengths, { dtype: "int32" })] : []),
  ];
  return { list, attrs: { cell, reverse, hasLengths: lengths !== undefined } };
}

function maxDiff(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  let m = 0;
  for (let i = 0; i < a.size; i++) m = Math.max(m, Math.abs(a.data[i]! - b.data[i]!));
  return m;
}

describe.each(CELLS)("fused %s scan", (cell) => {
  for (const [lengths, reverse] of [[undefined, false], [[5, 2, 0], false], [undefined, true], [[5, 2, 0], true]] as const) {
    const label = `${lengths ? "padded" : "full"}${reverse ? ", reversed" : ""}`;

    it(`agrees with its decomposition on every output (${label})`, () => {
      const { list, attrs } = inputs(cell, 5, 3, 4, 1, "float64", lengths ? [...lengths] : undefined, reverse);
      const fused = apply(RecurrentSequence, list, attrs) as Tensor[];
      const composed = RecurrentSequence.decompose!(list, attrs) as Tensor[];
      expect(fused.length).toBe(composed.length);
      fused.forEach((t, i) => expect(maxDiff(t, composed[i]!), `output ${i}`).toBeLessThan(1e-12));
    });

    it(`its gradients agree with autodiff of the decomposition (${label})`, () => {
      const { list, attrs } = inputs(cell, 5, 3, 4, 2, "float64", lengths ? [...lengths] : undefined, reverse);
      const rng = new Rng(3);
      const r = [rng.normal([5, 3, 4], 0, 1, "float64"), rng.normal([3, 4], 0, 1, "float64"), rng.normal([3, 4], 0, 1, "float64")];
      const floats = list.filter((t) => t.dtype !== "int32");
      const rest = list.slice(floats.length);
      const loss = (run: (xs: readonly Tensor[]) => Tensor[]) => (ps: Tensor[]) => {
        const outs = run([...ps, ...rest]);
        let l = add(sum(mul(outs[0]!, r[0]!)), sum(mul(outs[1]!, r[1]!)));
        if (cell === "lstm") l = add(l, sum(mul(outs[4]!, r[2]!)));
        return l;
      };
      const fused = valueAndGrad(loss((xs) => apply(RecurrentSequence, xs, attrs) as Tensor[]))(floats);
      const composed = valueAndGrad(loss((xs) => RecurrentSequence.decompose!(xs, attrs) as Tensor[]))(floats);
      expect(fused.value.item()).toBeCloseTo(composed.value.item(), 10);
      fused.grads.forEach((g, i) => expect(maxDiff(g, composed.grads[i]!), `input ${i}`).toBeLessThan(1e-10));
    });
  }

  it("gives the weight gradients without dx when the input needs none (the backward's withDx off)", () => {
    const { list, attrs } = inputs(cell, 5, 3, 4, 6, "float64", [5, 2, 0], false);
    const floats = list.filter((t) => t.dtype !== "int32");
    const [x, ...weights] = floats as [Tensor, ...Tensor[]];
    const rest = list.slice(floats.length);
    const loss = (run: (xs: readonly Tensor[]) => Tensor[]) => (ps: Tensor[]) => sum(mul(run([x, ...ps, ...rest])[0]!, 0.3));
    const fused = valueAndGrad(loss((xs) => apply(RecurrentSequence, xs, attrs) as Tensor[]))(weights);
    const composed = valueAndGrad(loss((xs) => RecurrentSequence.decompose!(xs, attrs) as Tensor[]))(weights);
    fused.grads.forEach((g, i) => expect(maxDiff(g, composed.grads[i]!), `input ${i + 1}`).toBeLessThan(1e-10));
  });

  it("passes gradcheck in float64 and agrees in float32", () => {
    const { list, attrs } = inputs(cell, 4, 2, 3, 4, "float64", [4, 2], true);
    const floats = list.filter((t) => t.dtype !== "int32");
    const rest = list.slice(floats.length);
    const report = gradcheck(
      (...xs: Tensor[]) => {
        const outs = apply(RecurrentSequence, [...xs, ...rest], attrs) as Tensor[];
        return cell === "lstm" ? add(sum(outs[0]!), mul(sum(outs[4]!), 0.5)) : add(sum(outs[0]!), sum(mul(outs[1]!, outs[1]!)));
      },
      floats,
      { atol: 1e-5, rtol: 1e-4 },
    );
    expect(report.ok, report.message).toBe(true);
  });

  it("handles an empty sequence (the final state is the initial one)", () => {
    const { list, attrs } = inputs(cell, 0, 2, 3, 5, "float32");
    const outs = apply(RecurrentSequence, list, attrs) as Tensor[];
    expect(outs[0]!.shape).toEqual([0, 2, 3]);
    expect(Array.from(outs[1]!.data)).toEqual(Array.from(list[5]!.data));
  });
});

describe("fused scan input checks", () => {
  it("names the primitive and the shapes", () => {
    const { list, attrs } = inputs("gru", 3, 2, 4, 1, "float32");
    const bad = [...list.slice(0, 5), new Rng(0).normal([2, 5])];
    expect(() => apply(RecurrentSequence, bad, attrs)).toThrow(
      /RecurrentSequence\(gru\): shapes do not fit: x \[3,2,3\], weightIH \[12,3\], biasIH \[12\], weightHH \[12,4\], biasHH \[12\], h0 \[2,5\]/,
    );
  });
});
