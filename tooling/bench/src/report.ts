// From the engines' raw results to the summary (medians, spreads, ratios) and its tables.
import { WORKLOAD_IDS, WORKLOAD_TITLES, type WorkloadId } from "./config.js";
import type { EngineResult, MemoryReport } from "./protocol.js";
import { summarize } from "./stats.js";

/**
 * A row is flagged as disturbed when the cores other processes used during its timed runs, plus
 * the threads the engine computes with, exceed the machine's cores by more than this: then the
 * engine and the others competed for a core. (A free core does not make a measurement clean: the
 * others still share the caches and the memory bandwidth; `bg cores` says how busy it was.)
 */
export const DISTURBED_CORES = 0.3;

export function isDisturbed(backgroundCores: number | null | undefined, threads: number, cores: number): boolean {
  return (backgroundCores ?? 0) + threads > cores + DISTURBED_CORES;
}

export interface Row {
  readonly label: string;
  readonly engine: string;
  readonly threads: number;
  /** Absent when the engine could not run the workload. */
  readonly median?: number;
  readonly min?: number;
  readonly max?: number;
  readonly n?: number;
  readonly backgroundCores?: number | null;
  readonly disturbed?: boolean;
  /** Why there is no number: "not installed", an error. */
  readonly missing?: string;
  /** Ours over theirs for each unroll row, by the unroll row's label: > 1 means unroll is faster. */
  readonly ratios: Readonly<Record<string, number>>;
}

export interface WorkloadSummary {
  readonly id: WorkloadId;
  readonly title: string;
  readonly unit: string;
  readonly rows: readonly Row[];
}

const TORCH_BEST = "torch (best setting)";

/** One row per engine result and workload, a synthesized best-of-threads torch row, and the ratios. */
export function summarizeResults(engines: readonly EngineResult[], ids: readonly WorkloadId[], cores: number): WorkloadSummary[] {
  const out: WorkloadSummary[] = [];
  for (const id of WORKLOAD_IDS.filter((w) => ids.includes(w))) {
    let unit = "";
    const rows: Omit<Row, "ratios">[] = [];
    for (const e of engines) {
      if (e.unavailable !== undefined) {
        rows.push({ label: e.label, engine: e.engine, threads: e.threads, missing: e.unavailable });
        continue;
      }
      const w = e.workloads.find((x) => x.id === id);
      if (!w) continue;
      unit = w.unit;
      if (w.error !== undefined || w.unsupported !== undefined || w.values.length === 0) {
        rows.push({ label: e.label, engine: e.engine, threads: e.threads, missing: w.error ?? (w.unsupported !== undefined ? `not supported: ${w.unsupported}` : "no runs") });
        continue;
      }
      const s = summarize(w.values);
      rows.push({
        label: e.label,
        engine: e.engine,
        threads: e.threads,
        median: s.median,
        min: s.min,
        max: s.max,
        n: s.n,
        backgroundCores: w.backgroundCores,
        disturbed: isDisturbed(w.backgroundCores, e.threads, cores),
      });
    }
    const torch = rows.filter((r) => r.engine === "torch" && r.median !== undefined);
    if (torch.length > 1) {
      const best = torch.reduce((a, b) => (b.median! > a.median! ? b : a));
      rows.push({ ...best, label: `${TORCH_BEST} = ${best.label.replace(/^torch \((.*)\)$/, "$1")}` });
    }
    const ours = rows.filter((r) => r.engine === "unroll" && r.median !== undefined);
    const withRatios = rows.map((r) => ({
      ...r,
      ratios: Object.fromEntries(ours.filter(() => r.median !== undefined).map((u) => [u.label, u.median! / r.median!])),
    }));
    out.push({ id, title: WORKLOAD_TITLES[id], unit, rows: withRatios });
  }
  return out;
}

function fmt(x: number): string {
  if (x >= 1000) return Math.round(x).toLocaleString("en-US");
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

function ratio(x: number): string {
  return x >= 10 ? `${x.toFixed(0)}×` : x >= 1 ? `${x.toFixed(2)}×` : `${x.toPrecision(2)}×`;
}

/** Header and body cells of the main table; the unroll labels name the ratio columns. */
export function tableCells(summaries: readonly WorkloadSummary[]): { header: string[]; body: string[][] } {
  const ourLabels = [...new Set(summaries.flatMap((s) => s.rows.filter((r) => r.engine === "unroll" && r.median !== undefined).map((r) => r.label)))];
  const header = ["workload", "engine", "threads", "median", "spread (min–max)", "runs", "bg cores", ...ourLabels.map((l) => `${l.replace(/^unroll /, "unroll")} ÷ this`)];
  const body: string[][] = [];
  for (const s of summaries) {
    s.rows.forEach((r, i) => {
      const first = i === 0 ? `${s.title} (${s.unit})` : "";
      if (r.median === undefined) {
        body.push([first, r.label, r.threads ? String(r.threads) : "", r.missing ?? "", "", "", "", ...ourLabels.map(() => "")]);
        return;
      }
      body.push([
        first,
        r.label,
        String(r.threads),
        fmt(r.median),
        `${fmt(r.min!)}–${fmt(r.max!)}`,
        String(r.n),
        r.backgroundCores === null || r.backgroundCores === undefined ? "?" : `${r.backgroundCores.toFixed(2)}${r.disturbed ? " !" : ""}`,
        ...ourLabels.map((l) => (r.engine === "unroll" ? (r.label === l ? "1" : r.ratios[l] ? ratio(r.ratios[l]) : "") : r.ratios[l] ? ratio(r.ratios[l]) : "")),
      ]);
    });
  }
  return { header, body };
}

export function textTable(header: readonly string[], body: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i >= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

export function markdownTable(header: readonly string[], body: readonly (readonly string[])[]): string {
  const esc = (c: string): string => c.replace(/\|/g, "\\|");
  return [
    `| ${header.map(esc).join(" | ")} |`,
    `|${header.map((_, i) => (i >= 2 ? "---:" : "---")).join("|")}|`,
    ...body.map((r) => `| ${r.map(esc).join(" | ")} |`),
  ].join("\n");
}

export function memoryLines(m: MemoryReport): string[] {
  const r = m.required;
  return [
    `W1 training memory (unroll, ${m.method}):`,
    `  measured peak: ${m.peakMB.toFixed(1)} MiB, ${m.peakAboveBaselineMB.toFixed(1)} MiB above the ${m.baselineMB.toFixed(1)} MiB before the model existed (at: ${m.peakAt})`,
    `  resident set size: ${m.peakRssMB.toFixed(1)} MiB at the peak sample, ${(m.peakRssMB - m.baselineRssMB).toFixed(1)} MiB above the start`,
    `  required at least: ${r.totalMB.toFixed(1)} MiB = ${r.formula}, P = ${r.parameters.toLocaleString("en-US")}`,
    ...Object.entries(r.floats).map(([k, v]) => `    ${k}: ${v.toLocaleString("en-US")} floats = ${((v * 4) / 2 ** 20).toFixed(2)} MiB`),
    `  measured / required: ${(m.peakAboveBaselineMB / r.totalMB).toFixed(1)}×`,
  ];
}

/** Relative difference of first-step losses under which two engines count as running the same model. */
export const SAME_LOSS_TOLERANCE = 1e-4;
/** The same after one Adam step (the gradients, the clipping and the update enter). */
export const SAME_LOSS_AFTER_STEP_TOLERANCE = 2e-3;

export interface ConsistencyEntry {
  readonly id: WorkloadId;
  readonly label: string;
  /** Training: losses before and after the first update, and their relative differences from the reference row. */
  readonly loss0?: number;
  readonly loss1?: number;
  readonly diff0?: number;
  readonly diff1?: number;
  /** Generation: how many of the sampled characters equal the reference row's, out of how many. */
  readonly sameChars?: number;
  readonly ofChars?: number;
  readonly ok: boolean;
}

/**
 * Every engine starts from the same weights and data (weights.ts), so its first training loss must
 * equal the reference row's (the first engine's) to float32 rounding, the loss after one update
 * nearly so, and generation must sample the same characters. Shows that the rows time the same model.
 */
export function consistency(engines: readonly EngineResult[], ids: readonly WorkloadId[]): ConsistencyEntry[] {
  const out: ConsistencyEntry[] = [];
  const ran = engines.filter((e) => e.unavailable === undefined);
  for (const id of ids) {
    const rows = ran.map((e) => ({ label: e.label, w: e.workloads.find((w) => w.id === id && w.error === undefined) })).filter((r) => r.w);
    const ref = rows[0];
    if (!ref) continue;
    for (const r of rows) {
      const w = r.w!;
      if (w.losses?.length && ref.w!.losses?.length) {
        const rel = (a: number | undefined, b: number | undefined): number | undefined =>
          a === undefined || b === undefined ? undefined : Math.abs(a - b) / Math.max(1e-12, Math.abs(b));
        const diff0 = rel(w.losses[0], ref.w!.losses[0])!;
        const diff1 = rel(w.losses[1], ref.w!.losses[1]);
        out.push({
          id,
          label: r.label,
          loss0: w.losses[0]!,
          ...(w.losses[1] !== undefined ? { loss1: w.losses[1] } : {}),
          diff0,
          ...(diff1 !== undefined ? { diff1 } : {}),
          ok: Number.isFinite(w.losses[0]!) && diff0 <= SAME_LOSS_TOLERANCE && (diff1 === undefined || diff1 <= SAME_LOSS_AFTER_STEP_TOLERANCE),
        });
      } else if (w.sample && ref.w!.sample) {
        const n = Math.min(w.sample.length, ref.w!.sample.length);
        let same = 0;
        while (same < n && w.sample[same] === ref.w!.sample[same]) same++;
        out.push({ id, label: r.label, sameChars: same, ofChars: n, ok: same === n && n > 0 });
      }
    }
  }
  return out;
}

export function consistencyLines(entries: readonly ConsistencyEntry[]): string[] {
  const lines: string[] = [];
  for (const e of entries) {
    if (e.loss0 !== undefined && e.id === "W5") {
      // a forward pass: the pooled features' mean (a checksum, the same every run), not a loss
      lines.push(`W5 ${e.label}: pooled-feature mean ${e.loss0.toFixed(6)} (Δ ${e.diff0!.toExponential(1)})${e.ok ? "" : "  MISMATCH"}`);
    } else if (e.loss0 !== undefined) {
      const after = e.loss1 !== undefined ? `, after one update ${e.loss1.toFixed(6)} (Δ ${e.diff1!.toExponential(1)})` : "";
      lines.push(`${e.id} ${e.label}: first loss ${e.loss0.toFixed(6)} (Δ ${e.diff0!.toExponential(1)})${after}${e.ok ? "" : "  MISMATCH"}`);
    } else {
      lines.push(`${e.id} ${e.label}: ${e.sameChars} of the first ${e.ofChars} sampled characters as the reference${e.ok ? "" : "  MISMATCH"}`);
    }
  }
  return lines;
}
