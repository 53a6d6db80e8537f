import { describe, expect, it } from "vitest";
import { scalar, type Tensor, treeEntries, treeLeaves, treeMap } from "../index.js";

describe("tensor trees", () => {
  const a = scalar(1);
  const b = scalar(2);
  const c = scalar(3);
  const tree = { rnn: { weight_ih_l0: a, bias: null }, layers: [b, { w: c }] };

  it("lists leaves with state_dict-style dotted paths, in a fixed order", () => {
    expect(treeEntries(tree).map(([p, t]) => [p, t.item()])).toEqual([
      ["rnn.weight_ih_l0", 1],
      ["layers.0", 2],
      ["layers.1.w", 3],
    ]);
    expect(treeLeaves(tree)).toEqual([a, b, c]);
    expect(treeEntries(a)).toEqual([["", a]]);
  });

  it("maps leaves keeping the structure and the absent leaves", () => {
    const doubled = treeMap(tree, (t) => scalar(t.item() * 2));
    expect(doubled.rnn.bias).toBeNull();
    expect((doubled.layers[0] as Tensor).item()).toBe(4);
  });

  it("refuses values that are not tensors, arrays or plain objects, naming the path", () => {
    expect(() => treeEntries({ ok: a, bad: { when: new Date(0) } })).toThrow(/bad\.when: expected a tensor, an array or a plain object of tensors, found Date/);
    expect(() => treeEntries({ n: 3 })).toThrow(/n: .* found number/);
  });
});
