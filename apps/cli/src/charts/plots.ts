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
  readonly gradNorms: readonly number[];
  readonly jacobianNorms: readonly number[] | null;
  readonly saturation: Readonly<Record<string, number>>;
  readonly spectralRadii: Readonly<Record<string, number>>;
}

/**
 * The gradient-flow report as one picture: ||dL/dh_k|| over k (log scale: vanishing gradients are
 * a straight falling line), ||∂h_T/∂h_k|| when computed, the fraction of saturated units per gate,
 * and the spectral radius of every recurrent matrix against the critical value 1.
 */
export function diagnosisSpec(d: DiagnosisData): TopLevelSpec {
  const positive = (v: number): number => Math.max(v, 1e-30);
  const curves = [
    ...d.gradNorms.map((v, k) => ({ k, value: positive(v), curve: "||dL/dh_k||" })),
    ...(d.jacobianNorms ?? []).map((v, k) => ({ k, value: positive(v), curve: "||dh_T/dh_k||" })),
  ];
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: d.title,
    vconcat: [
      {
        width: 640,
        height: 260,
        title: "gradient flow through time (loss at the last step)",
        data: { values: curves },
        mark: { type: "line", point: true },
        encoding: {
          x: { field: "k", type: "quantitative", title: "step k" },
          y: { field: "value", type: "quantitative", title: "norm", scale: { type: "log" } },
          color: { field: "curve", type: "nominal", title: null },
        },
      },
      {
        hconcat: [
          {
            width: 280,
            height: 180,
            title: "saturated units",
            data: { values: Object.entries(d.saturation).map(([gate, fraction]) => ({ gate, fraction })) },
            mark: "bar",
            encoding: {
              x: { field: "gate", type: "nominal", title: null },
              y: { field: "fraction", type: "quantitative", scale: { domain: [0, 1] }, title: "fraction" },
            },
          },
          {
            width: 280,
            height: 180,
            title: "spectral radius of W_hh",
            data: { values: Object.entries(d.spectralRadii).map(([matrix, radius]) => ({ matrix, radius })) },
            layer: [
              { mark: "bar", encoding: { x: { field: "matrix", type: "nominal", title: null }, y: { field: "radius", type: "quantitative", title: "radius" } } },
              { mark: { type: "rule", color: "firebrick", strokeDash: [4, 3] }, encoding: { y: { datum: 1 } } },
            ],
          },
        ],
      },
    ],
  };
}
