import type { ClippingRow, LongRangeRow } from "./runner.js";

function fixed(x: number, digits: number): string {
  return Number.isFinite(x) ? x.toFixed(digits) : String(x);
}

function sci(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return x >= 0.01 && x < 1e4 ? x.toPrecision(3) : x.toExponential(2);
}

/** The largest gradient norm; for a run that went non-finite, the largest finite one first. */
function gradNorms(r: { readonly maxGradNorm: number; readonly maxFiniteGradNorm: number }): string {
  return Number.isFinite(r.maxGradNorm) ? sci(r.maxGradNorm) : `${sci(r.maxFiniteGradNorm)}, then ${r.maxGradNorm}`;
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
}

function markdown(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/**
 * The results of `runLongRange` as a Markdown table: final test loss (MSE for adding,
 * cross-entropy for copy) and accuracy on the recalled symbols (copy) against the baseline, with
 * the budget and the time each model took.
 */
export function longRangeTable(rows: readonly LongRangeRow[]): string {
  const copy = rows.some((r) => r.task === "copy");
  const header = [
    "model", "T", "H", "lr", copy ? "test CE" : "test MSE", ...(copy ? ["accuracy"] : []), "baseline",
    "test / baseline", "steps", "batch", "clip", "final train loss", "max grad norm", "clipped", "wall time", "ms/step",
  ];
  return markdown(
    header,
    rows.map((r) => [
      r.model,
      String(r.length),
      String(r.hiddenSize),
      String(r.lr),
      fixed(r.test.loss, 4),
      ...(copy ? [r.test.accuracy === undefined ? "" : `${fixed(100 * r.test.accuracy, 1)}% (chance ${fixed(100 * (r.baseline.accuracy ?? NaN), 1)}%)`] : []),
      fixed(r.baseline.loss, 4),
      fixed(r.test.loss / r.baseline.loss, 3),
      r.diverged ? `${r.steps} (${r.skippedSteps} skipped: not finite)` : String(r.steps),
      String(r.batchSize),
      r.clip === null ? "none" : String(r.clip),
      fixed(r.finalTrainLoss, 4),
      gradNorms(r),
      `${fixed(100 * r.clippedFraction, 0)}%`,
      duration(r.wallMs),
      fixed(r.msPerStep, 0),
    ]),
  );
}

/** The two runs of `runClippingDemo` as a Markdown table. */
export function clippingTable(rows: readonly ClippingRow[]): string {
  return markdown(
    ["run", "T", "H", "ρ(W_hh) at init", "SGD lr", "steps applied", "max grad norm", "final train loss", "test MSE", "diverged", "clipped", "wall time"],
    rows.map((r) => [
      r.clip === null ? "no clipping" : `clip maxNorm ${r.clip}`,
      String(r.length),
      String(r.hiddenSize),
      fixed(r.spectralRadius, 2),
      String(r.lr),
      String(r.steps),
      gradNorms(r),
      sci(r.finalTrainLoss),
      sci(r.test.loss),
      r.diverged ? `yes: not finite at step ${r.firstNonFiniteStep ?? "?"}` : "no",
      `${fixed(100 * r.clippedFraction, 0)}%`,
      duration(r.wallMs),
    ]),
  );
}
