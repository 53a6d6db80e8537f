import { describe, expect, it } from "vitest";
import { formatModelSummary, modelSummary } from "./index.js";

describe("modelSummary", () => {
  // A 2-layer LSTM language model's state dict (vocabulary 10, embedding 4, hidden 8).
  const shapes = {
    "embedding.weight": [10, 4],
    "rnn.weight_ih_l0": [32, 4],
    "rnn.weight_hh_l0": [32, 8],
    "rnn.bias_ih_l0": [32],
    "rnn.bias_hh_l0": [32],
    "rnn.weight_ih_l1": [32, 8],
    "rnn.weight_hh_l1": [32, 8],
    "rnn.bias_ih_l1": [32],
    "rnn.bias_hh_l1": [32],
    "head.weight": [10, 8],
    "head.bias": [10],
  };

  it("counts the parameters of every module, of every layer of a stacked RNN, and in total", () => {
    const s = modelSummary(shapes);
    expect(s.modules.map((m) => [m.name, m.parameters])).toEqual([
      ["embedding", 40],
      ["rnn (layer 0)", 128 + 256 + 64],
      ["rnn (layer 1)", 256 + 256 + 64],
      ["head", 90],
    ]);
    expect(s.total).toBe(40 + 448 + 576 + 90);
    expect(s.bytes).toBe(4 * s.total);
    expect(s.modules[1]!.tensors[0]).toEqual({ name: "weight_ih_l0", shape: [32, 4], parameters: 128 });
    // Reverse directions and nested modules: PyTorch's names of a bidirectional encoder.
    expect(modelSummary({ "encoder.rnn.weight_ih_l0_reverse": [6, 2], "bias": [3] }).modules.map((m) => m.name)).toEqual(["encoder.rnn (layer 0)", ""]);
    expect(() => modelSummary({ w: [2, -1] })).toThrow(/w must have a shape of non-negative integers/);
  });

  it("prints a table: modules with their parameters, tensors with their shapes, the total and its size", () => {
    const text = formatModelSummary(modelSummary(shapes));
    const lines = text.split("\n");
    expect(lines[0]).toMatch(/^module \/ tensor\s+shape\s+parameters$/);
    expect(lines.filter((l) => /^ {2}weight_ih_l0\s+\[32, 4\]\s+128$/.test(l))).toHaveLength(1);
    expect(lines.find((l) => l.startsWith("rnn (layer 1)"))).toMatch(/\s576$/);
    expect(lines.at(-1)).toMatch(/^total\s+1,154 \(4\.5 KiB as float32\)$/);
    // Every number column ends at the same place.
    const ends = lines.filter((l) => /\d$/.test(l) && !l.startsWith("total")).map((l) => l.length);
    expect(new Set(ends).size).toBe(1);
  });
});
