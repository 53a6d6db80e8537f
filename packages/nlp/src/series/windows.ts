import { Tensor, ValueRangeError } from "@unroll/tensor";
import { DataError } from "../data/errors.js";
import type { ForecastBatch } from "./forecaster.js";

/** A series as row-major values `length × features`. */
export interface Series {
  readonly values: Float64Array;
  readonly length: number;
}

/** One forecasting window: steps `[end - window, end)` of series `series` are read, `[end, end + horizon)` predicted. */
export interface ForecastWindow {
  readonly series: number;
  readonly end: number;
}

export interface WindowShape {
  readonly window: number;
  readonly horizon: number;
}

/** The chronological parts of a series: train `[0, a)`, dev `[a, b)`, test `[b, length)`. */
export function chronologicalSplit(length: number, fractions: { readonly dev: number; readonly test: number }): { train: number; dev: number } {
  const train = Math.floor(length * (1 - fractions.dev - fractions.test));
  const dev = Math.floor(length * (1 - fractions.test));
  return { train, dev };
}

/**
 * Every window whose predicted steps lie in `[from, to)` of each series (its inputs may reach back
 * before `from`: the past is known when forecasting), `stride` steps apart. A series too short for
 * one window is an error naming the lengths.
 */
export function forecastWindows(
  series: readonly Series[],
  shape: WindowShape,
  range: (s: Series, i: number) => { from: number; to: number },
  stride = 1,
): ForecastWindow[] {
  const { window, horizon } = shape;
  if (!Number.isInteger(window) || window < 1) throw new ValueRangeError("forecastWindows", `window must be a positive integer, got ${window}`);
  if (!Number.isInteger(horizon) || horizon < 1) throw new ValueRangeError("forecastWindows", `horizon must be a positive integer, got ${horizon}`);
  const out: ForecastWindow[] = [];
  series.forEach((s, i) => {
    if (s.length < window + horizon) {
      throw new DataError("TOO_SHORT", `series ${i + 1} has ${s.length} steps, fewer than one window needs (${window} read + ${horizon} predicted = ${window + horizon}): use a smaller window or horizon`);
    }
    const { from, to } = range(s, i);
    for (let end = Math.max(window, from); end + horizon <= to; end += stride) out.push({ series: i, end });
  });
  return out;
}

/**
 * Windows as a batch: `inputs [window, B, F]` from the scaled series, `targets [B, horizon]` the
 * scaled target feature `target` of the predicted steps, or with `relative` their change from the
 * last value read divided by `changeScale` (a model that predicts zero is then the naive forecast,
 * and a series that drifts out of the training range stays in range).
 */
export function forecastBatch(
  scaled: readonly Float32Array[],
  features: number,
  target: number,
  shape: WindowShape,
  windows: readonly ForecastWindow[],
  relative = false,
  /** With `relative`, the changes are divided by this (their typical size), so that the targets are of order 1. */
  changeScale = 1,
): ForecastBatch & { readonly tokens: number } {
  const { window: T, horizon: K } = shape;
  const B = windows.length;
  const inputs = new Float32Array(T * B * features);
  const targets = new Float32Array(B * K);
  windows.forEach((w, b) => {
    const s = scaled[w.series]!;
    for (let t = 0; t < T; t++) {
      const row = (w.end - T + t) * features;
      inputs.set(s.subarray(row, row + features), (t * B + b) * features);
    }
    const origin = relative ? s[(w.end - 1) * features + target]! : 0;
    for (let k = 0; k < K; k++) targets[b * K + k] = relative ? (s[(w.end + k) * features + target]! - origin) / changeScale : s[(w.end + k) * features + target]!;
  });
  return { inputs: new Tensor(inputs, [T, B, features]), lengths: new Tensor(new Int32Array(B).fill(T), [B]), targets: new Tensor(targets, [B, K]), tokens: B };
}

/** The naive forecast: the last value read, repeated over the horizon. */
export function lastValueForecast(s: Series, features: number, target: number, w: ForecastWindow, horizon: number): Float64Array {
  return new Float64Array(horizon).fill(s.values[(w.end - 1) * features + target]!);
}

/** The seasonal naive forecast: the value one season (`period` steps) before each predicted step. */
export function seasonalForecast(s: Series, features: number, target: number, w: ForecastWindow, horizon: number, period: number): Float64Array {
  return Float64Array.from({ length: horizon }, (_, k) => {
    // One season back from step end + k, or several seasons where the horizon passes a season.
    const back = period * Math.ceil((k + 1) / period);
    const t = w.end + k - back;
    return s.values[Math.max(0, t) * features + target]!;
  });
}

/** The deviation of one-step changes of feature `target` over the series (scaled units): the size of a typical change. */
export function changeDeviation(scaled: readonly { readonly values: ArrayLike<number>; readonly length: number }[], features: number, target: number): number {
  let sum = 0;
  let sq = 0;
  let n = 0;
  for (const s of scaled) {
    for (let t = 1; t < s.length; t++) {
      const d = s.values[t * features + target]! - s.values[(t - 1) * features + target]!;
      sum += d;
      sq += d * d;
      n++;
    }
  }
  const mean = n > 0 ? sum / n : 0;
  const std = n > 0 ? Math.sqrt(Math.max(0, sq / n - mean * mean)) : 0;
  return std > 0 ? std : 1;
}
