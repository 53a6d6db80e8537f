import { describe, expect, it } from "vitest";
import { Rng } from "@unroll/tensor";
import { fromStateDictJSON, GRU, toStateDictJSON } from "./index.js";

describe("state dict JSON", () => {
  const gru = new GRU({ inputSize: 3, hiddenSize: 2, numLayers: 2 });
  const params = gru.init(new Rng(5));

  it("round-trips every tensor exactly through JSON text", () => {
    const back = fromStateDictJSON(JSON.parse(JSON.stringify(toStateDictJSON(params))), gru.parameterShapes());
    expect(Object.keys(back)).toEqual(Object.keys(params));
    for (const [name, t] of Object.entries(params)) {
      expect(back[name]!.shape).toEqual(t.shape);
      expect(Array.from(back[name]!.data)).toEqual(Array.from(t.data));
    }
  });

  it("refuses foreign documents, other versions and misfit tensors, naming the problem", () => {
    expect(() => fromStateDictJSON({ weight: [1, 2] })).toThrow(/not an unroll state dict/);
    expect(() => fromStateDictJSON(null)).toThrow(/not an unroll state dict/);
    expect(() => fromStateDictJSON({ ...toStateDictJSON(params), version: 2 })).toThrow(/unsupported state dict version 2/);
    const doc = toStateDictJSON(params);
    const misshapen = { ...doc, tensors: { ...doc.tensors, weight_hh_l1: { shape: [6, 3], data: new Array(18).fill(0) } } };
    expect(() => fromStateDictJSON(misshapen, gru.parameterShapes())).toThrow(/weight_hh_l1 has shape \[6,3\], expected \[6,2\]/);
    const missing = { ...doc, tensors: Object.fromEntries(Object.entries(doc.tensors).filter(([k]) => k !== "bias_ih_l0")) };
    expect(() => fromStateDictJSON(missing, gru.parameterShapes())).toThrow(/missing bias_ih_l0/);
    const short = { ...doc, tensors: { ...doc.tensors, bias_ih_l0: { shape: [6], data: [1, 2] } } };
    expect(() => fromStateDictJSON(short)).toThrow(/2 values do not fill shape \[6\]/);
  });

  it("reads names from the file as names: __proto__, toString and constructor are unexpected tensors, no prototype changes", () => {
    const doc = toStateDictJSON(params);
    for (const name of ["__proto__", "toString", "constructor"]) {
      const text = JSON.stringify(doc).replace('"tensors":{', `"tensors":{${JSON.stringify(name)}:{"shape":[1],"data":[7]},`);
      const parsed = JSON.parse(text) as unknown;
      expect(() => fromStateDictJSON(parsed, gru.parameterShapes())).toThrow(new RegExp(`unexpected ${name}`));
      const loose = fromStateDictJSON(parsed);
      expect(Object.getPrototypeOf(loose)).toBe(Object.prototype);
      expect(Object.hasOwn(loose, name)).toBe(true);
      expect(Array.from(loose[name]!.data)).toEqual([7]);
    }
  });
});
