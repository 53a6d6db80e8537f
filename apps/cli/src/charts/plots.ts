import type { TopLevelSpec } from "vega-lite";

export interface CurvePoint {
  readonly run: string;
  readonly step: number;
  readonly value: number;
  readonly series: string;
}

/** Loss curves of one or several runs: training loss (smoothed) and validation loss against steps. */
export function lossCurvesSpec(points: readonly CurvePoint[], title: string): TopLevelSpec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    width: 640,
    height: 360,
    data: { values: points as CurvePoint[] },
    mark: { type: "line", strokeWidth: 1.5 },
    encoding: {
      x: { field: "step", type: "quantitative", title: "step" },
      y: { field: "value", type: "quantitative", title: "loss (nats per token)", scale: { zero: false } },
      color: { field: "run", type: "nominal", title: "run" },
      strokeDash: { field: "series", type: "nominal", title: "series" },
    },
  };
}

export interface DiagnosisData {
  readonly title: string;
  /** The cell, which names the gate blocks of each W_hh (LSTM: i, f, g, o; GRU: r, z, n). */
  readonly cell: "lstm" | "gru" | "rnn_tanh" | "rnn_relu";
  readonly gradNorms: readonly number[];
  readonly jacobianNorms: readonly number[] | null;
  readonly saturation: Readonly<Record<string, number>>;
  /** What counts as saturated: a sigmoid outside [1 - t, t], |tanh| > t (`saturation`'s threshold). */
  readonly saturationThreshold: number;
  readonly spectralRadii: Readonly<Record<string, number>>;
  /** Where the loss is (default "loss at the last step"; a classifier's: its pooling). */
  readonly lossAt?: string;
}

/** The gates in PyTorch's order of the stacked blocks, then the state: the order of both bar charts. */
const GATE_ORDER = ["i", "f", "g", "o", "tanh(c)", "r", "z", "n", "h", "h (dead relu)"];
const GATES_OF: Readonly<Record<DiagnosisData["cell"], readonly string[]>> = { lstm: ["i", "f", "g", "o"], gru: ["r", "z", "n"], rnn_tanh: ["h"], rnn_relu: ["h"] };

/** One bar per recurrent block: `weight_hh_l1[2]` of an LSTM is gate "g" of layer 1. */
function radiusBars(radii: Readonly<Record<string, number>>, cell: DiagnosisData["cell"]): { gate: string; layer: string; radius: number }[] {
  return Object.entries(radii).map(([name, radius]) => {
    const m = /^weight_hh_l(\d+)(?:\[(\d+)\])?$/.exec(name);
    if (!m) return { gate: name, layer: "", radius };
    const gates = GATES_OF[cell];
    const gate = m[2] === undefined ? gates[0]! : (gates[Number(m[2])] ?? `block ${m[2]}`);
    return { gate, layer: `layer ${m[1]}`, radius };
  });
}

/** `names` in the bar charts' order (gates first, in GATE_ORDER; anything else after, as given). */
function gateOrder(names: readonly string[]): string[] {
  const known = GATE_ORDER.filter((g) => names.includes(g));
  return [...known, ...names.filter((n) => !GATE_ORDER.includes(n) && !known.includes(n))];
}

/**
 * The gradient-flow report as one picture: ||dL/dh_k|| over k (log scale, labels all as 1e-k:
 * vanishing gradients are a straight falling line), ||∂h_T/∂h_k|| when computed, the fraction of
 * saturated units per gate (the threshold in the title), and the spectral radius of every gate's
 * block of W_hh per layer, in the same gate order, against the critical value 1 (a labelled rule).
 */
export function diagnosisSpec(d: DiagnosisData): TopLevelSpec {
  const positive = (v: number): number => Math.max(v, 1e-30);
  const curves = [
    ...d.gradNorms.map((v, k) => ({ k, value: positive(v), curve: "||dL/dh_k||" })),
    ...(d.jacobianNorms ?? []).map((v, k) => ({ k, value: positive(v), curve: "||dh_T/dh_k||" })),
  ];
  const bars = radiusBars(d.spectralRadii, d.cell);
  const order = gateOrder([...Object.keys(d.saturation), ...bars.map((b) => b.gate)]);
  const layers = [...new Set(bars.map((b) => b.layer))];
  const t = d.saturationThreshold;
  const lowT = Number((1 - t).toPrecision(6));
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: d.title,
    vconcat: [
      {
        width: 640,
        height: 260,
        title: `gradient flow through time (${d.lossAt ?? "loss at the last step"})`,
        data: { values: curves },
        mark: { type: "line", point: true },
        encoding: {
          x: { field: "k", type: "quantitative", title: "step k", axis: { format: "d", tickMinStep: 1 } },
          // One format for every label of the log axis (d3's default mixes 1e-7 with 0.000001).
          y: { field: "value", type: "quantitative", title: "norm", scale: { type: "log" }, axis: { format: ".0e" } },
          color: { field: "curve", type: "nominal", title: null },
        },
      },
      {
        hconcat: [
          {
            width: 280,
            height: 180,
            title: { text: "saturated units", subtitle: `sigmoid < ${lowT} or > ${t}, |tanh| > ${t}` },
            data: { values: Object.entries(d.saturation).map(([gate, fraction]) => ({ gate, fraction })) },
            mark: "bar",
            encoding: {
              x: { field: "gate", type: "nominal", title: "gate", sort: order, axis: { labelAngle: 0 } },
              y: { field: "fraction", type: "quantitative", scale: { domain: [0, 1] }, title: "fraction" },
            },
          },
          {
            width: 280,
            height: 180,
            title: { text: "spectral radius of W_hh", subtitle: "per gate block; above 1 the block can amplify" },
            data: { values: bars },
            layer: [
              {
                mark: "bar",
                encoding: {
                  x: { field: "gate", type: "nominal", title: "gate", sort: order, axis: { labelAngle: 0 } },
                  ...(layers.length > 1 ? { xOffset: { field: "layer", type: "nominal" } } : {}),
                  color: { field: "layer", type: "nominal", title: null },
                  y: { field: "radius", type: "quantitative", title: "radius" },
                },
              },
              { mark: { type: "rule", color: "firebrick", strokeDash: [4, 3] }, encoding: { y: { datum: 1 } } },
              {
                data: { values: [{}] }, // one label, not one per bar
                mark: { type: "text", color: "firebrick", align: "right", baseline: "bottom", dx: -2, dy: -2 },
                encoding: { y: { datum: 1 }, x: { value: 280 }, text: { value: "radius 1" } },
              },
            ],
          },
        ],
      },
    ],
  };
}
