// The vanishing/exploding-gradient heatmap: ||dL/dh_k|| (log scale) for every step k of the probe
// window (rows, the step where the loss is read at the bottom) over training time (columns).
import { availableWidth, paintCells, prepareCanvas, ticks } from "./canvas.js";
import { viridis } from "./colors.js";

export interface FlowColumn {
  readonly step: number;
  readonly norms: Float64Array;
}

const MARGIN = { left: 64, right: 78, top: 10, bottom: 34 };
/** Decades of dynamic range shown below the largest value; smaller values share the darkest colour. */
const DECADES = 10;

export class FlowHeatmap {
  private columns: readonly FlowColumn[] = [];
  private range = { lo: 0, hi: 1 };
  private area = { x: 0, y: 0, w: 1, h: 1 };

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly readout: HTMLElement,
  ) {
    canvas.addEventListener("mousemove", (e) => this.hover(e));
    canvas.addEventListener("mouseleave", () => (this.readout.textContent = this.summary()));
  }

  draw(columns: readonly FlowColumn[]): void {
    this.columns = columns;
    const width = availableWidth(this.canvas.parentElement!);
    const height = 230;
    const ctx = prepareCanvas(this.canvas, width, height);
    const area = { x: MARGIN.left, y: MARGIN.top, w: width - MARGIN.left - MARGIN.right, h: height - MARGIN.top - MARGIN.bottom };
    this.area = area;
    this.canvas.dataset.columns = String(columns.length);
    this.canvas.dataset.rows = String(columns[0]?.norms.length ?? 0);
    ctx.fillStyle = "#f3f4f6";
    ctx.fillRect(area.x, area.y, area.w, area.h);
    ctx.fillStyle = "#333";
    if (columns.length === 0) {
      ctx.textAlign = "center";
      ctx.fillText("Measured at the start and every fraction of a second while training", area.x + area.w / 2, area.y + area.h / 2);
      this.readout.textContent = "";
      return;
    }
    const T = columns[columns.length - 1]!.norms.length;
    let hi = -Infinity;
    let lo = Infinity;
    for (const c of columns) {
      for (const v of c.norms) {
        if (v > 0 && Number.isFinite(v)) {
          const l = Math.log10(v);
          hi = Math.max(hi, l);
          lo = Math.min(lo, l);
        }
      }
    }
    if (!Number.isFinite(hi)) [lo, hi] = [-1, 0];
    lo = Math.max(lo, hi - DECADES);
    if (hi - lo < 1e-6) [lo, hi] = [lo - 0.5, hi + 0.5];
    this.range = { lo, hi };
    const level = (v: number): number => (v > 0 && Number.isFinite(v) ? (Math.log10(v) - lo) / (hi - lo) : v === Infinity ? 1 : 0);
    paintCells(ctx, area.x, area.y, area.w, area.h, columns.length, T, (col, row) => viridis(level(columns[col]!.norms[row] ?? 0)));

    // Axes: rows are k = 0 (top, furthest back) .. T-1 (bottom, where the loss is read).
    ctx.fillStyle = "#333";
    ctx.strokeStyle = "#999";
    ctx.textAlign = "right";
    for (const back of ticks(0, T - 1, 4)) {
      const row = T - 1 - back;
      const y = area.y + ((row + 0.5) / T) * area.h;
      ctx.fillText(String(back), area.x - 6, y);
    }
    ctx.save();
    ctx.translate(14, area.y + area.h / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center";
    ctx.fillText("steps back from the loss", 0, 0);
    ctx.restore();
    ctx.textAlign = "center";
    const first = columns[0]!.step;
    const last = columns[columns.length - 1]!.step;
    const shown = new Set<number>();
    for (const s of ticks(first, last, 5)) {
      const col = columns.findIndex((c) => c.step >= s);
      if (col < 0 || shown.has(col)) continue;
      shown.add(col);
      ctx.fillText(String(columns[col]!.step), area.x + ((col + 0.5) / columns.length) * area.w, area.y + area.h + 12);
    }
    ctx.fillText("training step", area.x + area.w / 2, area.y + area.h + 26);

    // Colour bar: log10 ||dL/dh_k||.
    const bx = area.x + area.w + 14;
    const bw = 14;
    paintCells(ctx, bx, area.y, bw, area.h, 1, 64, (_c, r) => viridis(1 - r / 63));
    ctx.textAlign = "left";
    for (const d of ticks(lo, hi, 4)) {
      const y = area.y + (1 - (d - lo) / (hi - lo)) * area.h;
      ctx.fillText(`1e${Math.round(d)}`, bx + bw + 4, y);
    }
    this.readout.textContent = this.summary();
  }

  /** The latest column in words: the ratio between the first and last step. */
  private summary(): string {
    const c = this.columns[this.columns.length - 1];
    if (!c) return "";
    const T = c.norms.length;
    const ratio = c.norms[0]! / c.norms[T - 1]!;
    const trend = !Number.isFinite(ratio) ? "" : ratio < 1e-2 ? " (vanishing)" : ratio > 1e2 ? " (exploding)" : "";
    return `step ${c.step}: ||dL/dh|| ${T - 1} steps back / at the loss = ${ratio.toExponential(1)}${trend}. Hover for values.`;
  }

  private hover(e: MouseEvent): void {
    const rect = this.canvas.getBoundingClientRect();
    const { x, y, w, h } = this.area;
    const px = e.clientX - rect.left;
    const py = e.clientY - rect.top;
    const col = Math.floor(((px - x) / w) * this.columns.length);
    const c = this.columns[col];
    if (!c || py < y || py > y + h) {
      this.readout.textContent = this.summary();
      return;
    }
    const T = c.norms.length;
    const row = Math.min(T - 1, Math.max(0, Math.floor(((py - y) / h) * T)));
    this.readout.textContent = `step ${c.step}, k = ${row} (${T - 1 - row} steps back): ||dL/dh_k|| = ${c.norms[row]!.toExponential(2)}`;
  }
}

