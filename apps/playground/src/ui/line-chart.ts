// Line charts with uPlot: loss, gradient norm with the clipping threshold, and gradient-flow curves.
// The chart is rebuilt when its set of series changes (a new run) and only re-fed data otherwise.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { formatLogTick, logSplits } from "./format.js";

export interface SeriesSpec {
  readonly label: string;
  readonly color: string;
  readonly width?: number;
  readonly dash?: readonly number[];
  /** Draw points only (sparse series such as validation loss). */
  readonly points?: boolean;
  /** Connect across missing values. */
  readonly spanGaps?: boolean;
}

export interface LineChartOptions {
  readonly xLabel: string;
  readonly yLabel: string;
  readonly log?: boolean;
  readonly height?: number;
}

export class LineChart {
  private plot: uPlot | null = null;
  private key = "";
  /** A fixed y range for the next draws (null: fit the data). */
  private yRange: [number, number] | null = null;

  constructor(
    private readonly el: HTMLElement,
    private readonly options: LineChartOptions,
  ) {
    new ResizeObserver(() => this.plot?.setSize(this.size())).observe(el);
  }

  private size(): { width: number; height: number } {
    return { width: Math.max(200, this.el.clientWidth), height: this.options.height ?? 220 };
  }

  /** `data[0]` is x; `data[i + 1]` belongs to `series[i]`; `yRange` fixes the y axis (else it fits the data). */
  set(series: readonly SeriesSpec[], data: (readonly (number | null)[] | Float64Array)[], yRange: [number, number] | null = null): void {
    this.yRange = yRange;
    const key = series.map((s) => `${s.label}|${s.color}`).join(";");
    const aligned = data as unknown as uPlot.AlignedData;
    if (this.plot && key === this.key) {
      this.plot.setData(aligned);
      return;
    }
    this.plot?.destroy();
    this.key = key;
    const font = "12px system-ui, sans-serif";
    const axis = (label: string): uPlot.Axis => ({ label, font, labelFont: font, stroke: "#333", grid: { stroke: "#eee" }, ticks: { stroke: "#ccc" } });
    const yAxis: uPlot.Axis = { ...axis(this.options.yLabel), size: 60, ...(this.options.log
        ? {
            splits: (_u: uPlot, _axis: number, min: number, max: number) => logSplits(min, max),
            // uPlot's own filter keeps only labels whose decimal form starts with 1 (not "1e-8"): label every split.
            filter: (_u: uPlot, splits: number[]) => splits,
            values: (_u: uPlot, splits: number[]) => splits.map(formatLogTick),
          }
        : {}),
    };
    this.plot = new uPlot(
      {
        ...this.size(),
        scales: {
          x: { time: false },
          y: this.options.log ? { distr: 3 } : { range: (_u: uPlot, min: number, max: number): uPlot.Range.MinMax => this.yRange ?? [min, max] },
        },
        axes: [axis(this.options.xLabel), yAxis],
        legend: { live: false },
        cursor: { drag: { x: true, y: false } },
        series: [
          { label: this.options.xLabel },
          ...series.map(
            (s): uPlot.Series => ({
              label: s.label,
              stroke: s.color,
              width: s.width ?? 1.5,
              ...(s.dash ? { dash: [...s.dash] } : {}),
              ...(s.points ? { paths: () => null, points: { show: true, size: 6, fill: s.color } } : { points: { show: false } }),
              spanGaps: s.spanGaps ?? false,
            }),
          ),
        ],
      },
      aligned,
      this.el,
    );
  }
}

