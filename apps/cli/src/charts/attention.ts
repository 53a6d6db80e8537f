import type { TopLevelSpec } from "vega-lite";

// A separator that no token text holds, between a token's position and its text: repeated tokens
// ("the" twice) stay separate cells, and the axes show only the text.
const SEP = "\u241F";

/**
 * The attention weights of one translation as a heatmap: source tokens across the top, target
 * tokens down the side (in reading order), each cell the weight the decoder gave that source token
 * when it wrote that target token, in [0, 1].
 */
export function attentionHeatmapSpec(source: readonly string[], target: readonly string[], weights: readonly (readonly number[])[], title: string): TopLevelSpec {
  const label = (i: number, text: string): string => `${String(i).padStart(4, "0")}${SEP}${visible(text)}`;
  const cells = weights.flatMap((row, t) => row.map((w, s) => ({ source: label(s, source[s] ?? ""), target: label(t, target[t] ?? ""), weight: w })));
  const cell = Math.max(18, Math.min(36, Math.floor(720 / Math.max(1, source.length))));
  const axisLabel = `split(datum.label, "${SEP}")[1]`;
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    width: cell * source.length,
    height: cell * target.length,
    data: { values: cells },
    mark: { type: "rect" },
    encoding: {
      x: { field: "source", type: "ordinal", sort: "ascending", title: "source", axis: { orient: "top", labelAngle: -50, labelExpr: axisLabel, labelLimit: 160 } },
      y: { field: "target", type: "ordinal", sort: "ascending", title: "translation", axis: { labelExpr: axisLabel, labelLimit: 160 } },
      color: { field: "weight", type: "quantitative", scale: { scheme: "greys", domain: [0, 1] }, title: "attention" },
      tooltip: [{ field: "weight", type: "quantitative", format: ".3f" }],
    },
  };
}

/** Token text as shown on an axis: leading spaces of word pieces dropped, whitespace tokens named. */
function visible(text: string): string {
  const trimmed = text.trim();
  if (trimmed !== "") return trimmed;
  return text === "" ? "∅" : text.includes("\n") ? "⏎" : "␣";
}
