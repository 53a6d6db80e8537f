import { ValueRangeError } from "@unroll/tensor";
import { DataError } from "../data/errors.js";

export interface StandardizerJSON {
  readonly features: readonly string[];
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/**
 * Per-feature standardisation `(x - mean) / std`, fitted on the training part only (so the dev and
 * test parts stay unseen) and saved with the model, which reads its inputs scaled as in training.
 * A constant feature (zero variance) is refused: it carries no information and would divide by zero.
 */
export class Standardizer {
  readonly features: readonly string[];
  readonly mean: Float64Array;
  readonly std: Float64Array;

  constructor(features: readonly string[], mean: ArrayLike<number>, std: ArrayLike<number>) {
    if (mean.length !== features.length || std.length !== features.length) throw new ValueRangeError("Standardizer", `${features.length} features need as many means and deviations`);
    for (let j = 0; j < features.length; j++) {
      if (!(Number.isFinite(mean[j]) && std[j]! > 0 && Number.isFinite(std[j]))) {
        throw new ValueRangeError("Standardizer", `feature "${features[j]}" has mean ${mean[j]} and deviation ${std[j]}: the deviation must be a finite number above 0`);
      }
    }
    this.features = [...features];
    this.mean = Float64Array.from(mean);
    this.std = Float64Array.from(std);
  }

  /** Fits on row-major series (`length × features` each), all of them together. */
  static fit(features: readonly string[], series: readonly { readonly values: Float64Array; readonly length: number }[]): Standardizer {
    const F = features.length;
    const sum = new Float64Array(F);
    let n = 0;
    for (const s of series) {
      for (let t = 0; t < s.length; t++) for (let j = 0; j < F; j++) sum[j]! += s.values[t * F + j]!;
      n += s.length;
    }
    if (n === 0) throw new DataError("TOO_SHORT", "there are no rows to fit the feature scaling on");
    const mean = sum.map((v) => v / n);
    const sq = new Float64Array(F);
    for (const s of series) {
      for (let t = 0; t < s.length; t++) {
        for (let j = 0; j < F; j++) {
          const d = s.values[t * F + j]! - mean[j]!;
          sq[j]! += d * d;
        }
      }
    }
    const std = sq.map((v) => Math.sqrt(v / n));
    for (let j = 0; j < F; j++) {
      // Relative to the scale of the values: 1e-12 of the mean is rounding, not variation.
      if (!(std[j]! > 1e-12 * Math.max(1, Math.abs(mean[j]!)))) {
        throw new DataError(
          "MALFORMED",
          `feature column "${features[j]}" is constant in the training part (every value ${mean[j]}): it tells the model nothing and cannot be scaled; leave it out of the features`,
        );
      }
    }
    return new Standardizer(features, mean, std);
  }

  /** Scaled copy of row-major values (`rows × features`) as float32, the model's input. */
  transform(values: Float64Array): Float32Array {
    const F = this.features.length;
    const out = new Float32Array(values.length);
    for (let i = 0; i < values.length; i++) out[i] = (values[i]! - this.mean[i % F]!) / this.std[i % F]!;
    return out;
  }

  /** Feature `j`'s value back in its own units. */
  unscale(j: number, v: number): number {
    return v * this.std[j]! + this.mean[j]!;
  }

  toJSON(): StandardizerJSON {
    return { features: [...this.features], mean: Array.from(this.mean), std: Array.from(this.std) };
  }

  static fromJSON(json: StandardizerJSON): Standardizer {
    return new Standardizer(json.features, json.mean, json.std);
  }
}
