// The picture `unroll diagnose` writes: the spectral-radius bars carry the gate names of the
// saturation bars (i, f, g, o; r, z, n) in the same order, the saturation threshold is drawn,
// the log axis of the gradient norms uses one number format, and the dashed line at 1 is labelled.
import { describe, expect, it } from "vitest";
import { diagnosisSpec } from "../src/charts/plots.js";
import { renderSvg } from "../src/charts/render.js";

/** The text of every <text> element of an SVG, in document order. */
const texts = (svg: string): string[] => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!.replace(/&amp;/g, "&").replace(/&lt;/g, "<").replace(/&gt;/g, ">"));

/**
 * The texts of each chart of the picture: Vega writes a chart's axes (labels, then title) before the
 * chart's title, so each chart's texts end at its title.
 */
function charts(all: string[]): { flow: string[]; saturation: string[]; radius: string[] } {
  const flowEnd = all.findIndex((t) => t.startsWith("gradient flow through time"));
  const satEnd = all.findIndex((t) => t === "saturated units");
  const radiusEnd = all.findIndex((t) => t === "spectral radius of W_hh");
  expect([flowEnd, satEnd, radiusEnd].every((i) => i >= 0), all.join(" | ")).toBe(true);
  expect(flowEnd < satEnd && satEnd < radiusEnd).toBe(true);
  return { flow: all.slice(0, flowEnd), saturation: all.slice(flowEnd + 1, satEnd), radius: all.slice(satEnd + 1, radiusEnd) };
}

const LSTM = {
  title: "lstm, 2 layers",
  cell: "lstm" as const,
  gradNorms: [1e-7, 3e-6, 2e-4, 5e-3, 0.05, 0.8, 3.2],
  jacobianNorms: null,
  saturation: { i: 0.1, f: 0.2, g: 0.05, o: 0.3, "tanh(c)": 0.02 },
  saturationThreshold: 0.99,
  spectralRadii: {
    "weight_hh_l0[0]": 0.5, "weight_hh_l0[1]": 0.9, "weight_hh_l0[2]": 1.3, "weight_hh_l0[3]": 0.7,
    "weight_hh_l1[0]": 0.4, "weight_hh_l1[1]": 0.8, "weight_hh_l1[2]": 1.1, "weight_hh_l1[3]": 0.6,
  },
};

describe("diagnose's chart", () => {
  it("names the spectral-radius bars by gate, in the saturation bars' order (LSTM: i, f, g, o), and tells the layers apart", async () => {
    const all = texts(await renderSvg(diagnosisSpec(LSTM)));
    expect(all.filter((t) => t.includes("weight_hh"))).toEqual([]);
    const { saturation, radius } = charts(all);
    const gates = (texts: string[]): string[] => texts.filter((t) => ["i", "f", "g", "o", "tanh(c)"].includes(t));
    expect(gates(saturation)).toEqual(["i", "f", "g", "o", "tanh(c)"]);
    expect(gates(radius)).toEqual(["i", "f", "g", "o"]);
    expect(all).toContain("layer 0");
    expect(all).toContain("layer 1");
  });

  it("names GRU blocks r, z, n, in the saturation bars' order", async () => {
    const spec = diagnosisSpec({
      ...LSTM,
      title: "gru",
      cell: "gru",
      saturation: { z: 0.2, r: 0.1, n: 0.3 },
      spectralRadii: { "weight_hh_l0[0]": 0.5, "weight_hh_l0[1]": 0.9, "weight_hh_l0[2]": 1.3 },
    });
    const { saturation, radius } = charts(texts(await renderSvg(spec)));
    const gates = (texts: string[]): string[] => texts.filter((t) => ["r", "z", "n"].includes(t));
    expect(gates(saturation)).toEqual(["r", "z", "n"]);
    expect(gates(radius)).toEqual(["r", "z", "n"]);
  });

  it("draws the saturation threshold, labels the dashed line at 1 once, and writes every log-axis label in one format", async () => {
    const all = texts(await renderSvg(diagnosisSpec({ ...LSTM, saturationThreshold: 0.95 })));
    const { flow, saturation, radius } = charts(all);
    expect(all.some((t) => t.includes("sigmoid < 0.05 or > 0.95, |tanh| > 0.95"))).toBe(true);
    expect(radius.filter((t) => t === "radius 1")).toHaveLength(1);
    expect(saturation).not.toContain("radius 1");
    // The gradient-flow chart's y labels: between its x-axis title and its y-axis title.
    const labels = flow.slice(flow.indexOf("step k") + 1, flow.indexOf("norm"));
    expect(labels.length).toBeGreaterThanOrEqual(5);
    for (const label of labels) expect(label).toMatch(/^1e[-+]\d+$/);
    // Steps are whole numbers.
    for (const label of flow.slice(0, flow.indexOf("step k"))) expect(label).toMatch(/^\d+$/);
  });
});
