// What the page remembers about runs, and the chart data built from it. Earlier runs stay on the
// charts beside the current one, so that a run that differs in one setting (clipping, the
// initialiser) shows the difference against the same seed, data and model size.
import type { RunInfo, RunSettings, Spectrum, StepPoint } from "./protocol.js";
import type { SeriesSpec } from "./ui/line-chart.js";
import type { FlowColumn } from "./ui/heatmap.js";
import { RUN_COLORS } from "./ui/colors.js";

export interface RunRecord {
  readonly id: number;
  settings: RunSettings;
  info: RunInfo | null;
  readonly steps: number[];
  readonly loss: number[];
  readonly gradNorm: number[];
  readonly clipped: boolean[];
  readonly maxNorm: (number | null)[];
  readonly evals: { step: number; loss: number }[];
  /** Gradient-flow measurements over training, thinned to at most `MAX_FLOW_COLUMNS`. */
  flows: FlowColumn[];
  /** The measurement at step 0 (kept when the others are thinned). */
  firstFlow: FlowColumn | null;
  clipFraction: number;
  tokensPerSecond: number;
  /** Spectra at step 0 by `${layer}:${block}`, and the latest. */
  readonly initialSpectra: Map<string, Spectrum>;
  latestSpectrum: Spectrum | null;
  /** Learning-rate and clipping changes made while it ran. */
  readonly changes: string[];
}

export const MAX_FLOW_COLUMNS = 240;
/** Earlier runs kept on the charts. */
export const MAX_PREVIOUS_RUNS = 3;

const CELL_NAMES: Readonly<Record<RunSettings["cell"], string>> = { rnn_tanh: "RNN tanh", rnn_relu: "RNN ReLU", lstm: "LSTM", gru: "GRU" };
const INIT_NAMES: Readonly<Record<RunSettings["init"], string>> = { pytorch: "default init", orthogonal: "orthogonal", irnn: "IRNN", "np-rnn": "np-RNN" };

export function runLabel(s: RunSettings): string {
  const layers = s.numLayers > 1 ? `${s.numLayers}x` : "";
  return `${CELL_NAMES[s.cell]} ${layers}${s.hiddenSize}, ${INIT_NAMES[s.init]}, ${s.optimizer} ${s.lr}, ${s.clip === null ? "no clipping" : `clip ${s.clip}`}, window ${s.window}`;
}

export function newRun(id: number, settings: RunSettings): RunRecord {
  return {
    id, settings, info: null, steps: [], loss: [], gradNorm: [], clipped: [], maxNorm: [], evals: [], flows: [], firstFlow: null,
    clipFraction: 0, tokensPerSecond: 0, initialSpectra: new Map(), latestSpectrum: null, changes: [],
  };
}

export function addSteps(run: RunRecord, points: readonly StepPoint[], clipFraction: number): void {
  for (const p of points) {
    run.steps.push(p.step);
    run.loss.push(p.loss);
    run.gradNorm.push(p.gradNorm);
    run.clipped.push(p.clipped);
    run.maxNorm.push(p.maxNorm);
  }
  run.clipFraction = clipFraction;
  const last = points[points.length - 1];
  if (last) run.tokensPerSecond = last.tokensPerSecond;
}

/** Adds a gradient-flow column; past the cap, every other column is dropped (the time axis halves its resolution). */
export function addFlow(run: RunRecord, column: FlowColumn): void {
  if (run.flows.length > 0 && run.flows[run.flows.length - 1]!.step === column.step) run.flows[run.flows.length - 1] = column;
  else run.flows.push(column);
  if (column.step === 0 && run.firstFlow === null) run.firstFlow = column;
  if (run.flows.length > MAX_FLOW_COLUMNS) run.flows = run.flows.filter((_, i) => i % 2 === 0 || i === run.flows.length - 1);
}

export function addSpectrum(run: RunRecord, spectrum: Spectrum): void {
  if (spectrum.step === 0) run.initialSpectra.set(`${spectrum.layer}:${spectrum.block}`, spectrum);
  run.latestSpectrum = spectrum;
}

/** Exponential moving average with bias correction (as TensorBoard's smoothing). */
export function smooth(values: readonly number[], weight = 0.95): number[] {
  const out: number[] = [];
  let avg = 0;
  let norm = 0;
  for (const v of values) {
    if (!Number.isFinite(v)) {
      out.push(Number.NaN);
      continue;
    }
    avg = weight * avg + (1 - weight) * v;
    norm = weight * norm + (1 - weight);
    out.push(avg / norm);
  }
  return out;
}

export interface ChartData {
  readonly series: SeriesSpec[];
  readonly data: (number | null)[][];
  /** A y range that keeps the curves readable (single spikes of the raw loss run off the top). */
  readonly yRange?: [number, number];
}

/** Values of `run` placed on the x axis 1..n by step (null where the run has none). */
function byStep(run: RunRecord, values: readonly (number | null)[], n: number): (number | null)[] {
  const out: (number | null)[] = new Array<number | null>(n).fill(null);
  run.steps.forEach((s, i) => {
    const v = values[i];
    if (s >= 1 && s <= n && v !== null && v !== undefined && Number.isFinite(v)) out[s - 1] = v;
  });
  return out;
}

function axis(runs: readonly RunRecord[]): number[] {
  const n = Math.max(1, ...runs.map((r) => r.steps[r.steps.length - 1] ?? 0));
  return Array.from({ length: n }, (_, i) => i + 1);
}

const shortLabel = (run: RunRecord): string => `#${run.id}`;

export function lossChart(current: RunRecord, previous: readonly RunRecord[]): ChartData {
  const x = axis([current, ...previous]);
  const n = x.length;
  const series: SeriesSpec[] = [
    { label: `${shortLabel(current)} loss`, color: "rgba(31, 95, 191, 0.3)", width: 1 },
    { label: `${shortLabel(current)} smoothed`, color: RUN_COLORS[0], width: 2.5 },
    { label: `${shortLabel(current)} validation`, color: "#111", points: true },
  ];
  const evals: (number | null)[] = new Array<number | null>(n).fill(null);
  for (const e of current.evals) if (e.step >= 1 && e.step <= n) evals[e.step - 1] = e.loss;
  const data: (number | null)[][] = [x, byStep(current, current.loss, n), byStep(current, smooth(current.loss), n), evals];
  previous.forEach((run, i) => {
    series.push({ label: `${shortLabel(run)} smoothed`, color: RUN_COLORS[(i + 1) % RUN_COLORS.length]!, width: 2, dash: [6, 4] });
    data.push(byStep(run, smooth(run.loss), n));
  });
  let top = 0;
  for (const column of data.slice(2)) for (const v of column) if (v !== null && Number.isFinite(v)) top = Math.max(top, v);
  return { series, data, ...(top > 0 ? { yRange: [0, 1.15 * top] as [number, number] } : {}) };
}

export function gradChart(current: RunRecord, previous: readonly RunRecord[]): ChartData {
  const x = axis([current, ...previous]);
  const n = x.length;
  const series: SeriesSpec[] = [
    { label: `${shortLabel(current)} ||g|| before clipping`, color: RUN_COLORS[0], width: 1.25 },
    { label: "clipping threshold", color: "#c0392b", width: 2, dash: [8, 5] },
  ];
  const data: (number | null)[][] = [x, byStep(current, current.gradNorm, n), byStep(current, current.maxNorm, n)];
  previous.forEach((run, i) => {
    series.push({ label: `${shortLabel(run)} ||g||`, color: RUN_COLORS[(i + 1) % RUN_COLORS.length]!, width: 1, dash: [4, 3] });
    data.push(byStep(run, run.gradNorm, n));
  });
  return { series, data };
}

/** ||dL/dh|| against the number of steps back from the loss: latest and step 0 of this run, latest of earlier runs. */
export function flowChart(current: RunRecord, previous: readonly RunRecord[]): ChartData {
  const curves: { spec: SeriesSpec; column: FlowColumn | null }[] = [
    { spec: { label: `${shortLabel(current)} now`, color: RUN_COLORS[0], width: 2.5 }, column: current.flows[current.flows.length - 1] ?? null },
    { spec: { label: `${shortLabel(current)} step 0`, color: "#888", width: 1.5, dash: [6, 4] }, column: current.firstFlow },
    ...previous.map((run, i) => ({
      spec: { label: `${shortLabel(run)} at step ${run.flows[run.flows.length - 1]?.step ?? 0}`, color: RUN_COLORS[(i + 1) % RUN_COLORS.length]!, width: 1.5, dash: [4, 3] },
      column: run.flows[run.flows.length - 1] ?? null,
    })),
  ].filter((c) => c.column !== null);
  const T = Math.max(1, ...curves.map((c) => c.column!.norms.length));
  const x = Array.from({ length: T }, (_, d) => d);
  const data: (number | null)[][] = [x];
  for (const c of curves) {
    const norms = c.column!.norms;
    data.push(x.map((d) => {
      const v = norms[norms.length - 1 - d];
      return v !== undefined && v > 0 && Number.isFinite(v) ? v : null;
    }));
  }
  return { series: curves.map((c) => c.spec), data };
}
