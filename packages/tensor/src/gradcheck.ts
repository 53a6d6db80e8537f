import { valueAndGrad } from "./autodiff/grad.js";
import { noGrad } from "./autodiff/recording.js";
import { isFloat } from "./dtype.js";
import { DTypeError } from "./errors.js";
import { mul } from "./ops/arithmetic.js";
import { cast } from "./ops/cast.js";
import { sum } from "./ops/reduce.js";
import { Rng } from "./random/rng.js";
import { formatShape } from "./shape.js";
import { Tensor } from "./tensor.js";

export interface GradcheckOptions {
  /** Finite-difference step (applied in float64). Default 1e-6. */
  eps?: number;
  /** Absolute tolerance. Default 1e-6. */
  atol?: number;
  /** Relative tolerance, against the numeric value. Default 1e-5. */
  rtol?: number;
  /** Indices of the inputs to differentiate; default every float input. */
  wrt?: readonly number[];
  /** Seed of the random projection applied to non-scalar outputs. */
  seed?: number;
}

export interface GradcheckMismatch {
  readonly input: number;
  readonly index: number;
  readonly analytic: number;
  readonly numeric: number;
}

export interface GradcheckReport {
  readonly ok: boolean;
  /** Number of gradient entries compared. */
  readonly checked: number;
  readonly maxAbsError: number;
  /** Largest difference between the float32 and the float64 analytic gradients. */
  readonly float32MaxAbsError: number;
  readonly mismatches: readonly GradcheckMismatch[];
  /** Human-readable summary (the first mismatches, when any). */
  readonly message: string;
}

function toFloat64(x: Tensor): Tensor {
  return isFloat(x.dtype) ? new Tensor(Float64Array.from(x.data), x.shape) : x;
}

/**
 * Checks the vector-Jacobian products behind `f` against central finite differences, all
 * evaluated in float64 so that differencing error stays far below the tolerance. Outputs of any
 * shape are reduced with a fixed random projection, `L = sum(f(x) * r)`, which exercises the
 * whole Jacobian rather than its column sums. The float32 analytic gradient is also compared
 * with the float64 one, so both precisions of every kernel are exercised.
 *
 * `f` must create its constants in its inputs' dtype (numbers do this automatically).
 */
export function gradcheck(f: (...inputs: Tensor[]) => Tensor, inputs: readonly Tensor[], options: GradcheckOptions = {}): GradcheckReport {
  const eps = options.eps ?? 1e-6;
  const atol = options.atol ?? 1e-6;
  const rtol = options.rtol ?? 1e-5;
  const wrt = options.wrt ?? inputs.flatMap((x, i) => (isFloat(x.dtype) ? [i] : []));
  const xs = inputs.map(toFloat64);

  const probe = noGrad(() => f(...xs));
  if (probe.dtype !== "float64") {
    throw new DTypeError("gradcheck", `f returned ${probe.dtype} for float64 inputs; build constants from numbers or the inputs' dtype`);
  }
  const projection = new Rng(options.seed ?? 0).normal(probe.shape, 0, 1, "float64");
  const objective = (values: readonly Tensor[]): Tensor => {
    const y = f(...values);
    const r = y.dtype === "float64" ? projection : cast(projection, y.dtype);
    return sum(mul(y, r));
  };
  const withParams = (params: Tensor[], base: readonly Tensor[]): Tensor[] => {
    const vals = [...base];
    wrt.forEach((k, j) => (vals[k] = params[j]!));
    return vals;
  };
  const analytic = valueAndGrad((params: Tensor[]) => objective(withParams(params, xs)))(wrt.map((k) => xs[k]!)).grads;

  const xs32 = inputs.map((x) => (isFloat(x.dtype) ? cast(x, "float32") : x));
  const analytic32 = valueAndGrad((params: Tensor[]) => objective(withParams(params, xs32)))(wrt.map((k) => xs32[k]!)).grads;

  const mismatches: GradcheckMismatch[] = [];
  let checked = 0;
  let maxAbsError = 0;
  let float32MaxAbsError = 0;
  let scale = 0;
  noGrad(() => {
    wrt.forEach((k, j) => {
      const x = xs[k]!;
      const data = x.data as Float64Array;
      const a = analytic[j]!.data;
      for (let i = 0; i < x.size; i++) {
        const saved = data[i]!;
        data[i] = saved + eps;
        const plus = objective(xs).item();
        data[i] = saved - eps;
        const minus = objective(xs).item();
        data[i] = saved;
        const numeric = (plus - minus) / (2 * eps);
        const err = Math.abs(a[i]! - numeric);
        checked++;
        maxAbsError = Math.max(maxAbsError, err);
        scale = Math.max(scale, Math.abs(numeric));
        if (!(err <= atol + rtol * Math.abs(numeric))) mismatches.push({ input: k, index: i, analytic: a[i]!, numeric });
        float32MaxAbsError = Math.max(float32MaxAbsError, Math.abs(analytic32[j]!.data[i]! - a[i]!));
      }
    });
  });
  const float32Ok = float32MaxAbsError <= 1e-3 * (1 + scale);
  const ok = mismatches.length === 0 && float32Ok;
  const lines = [`gradcheck: ${checked} entries, max |analytic - numeric| = ${maxAbsError.toExponential(2)}, float32 vs float64 = ${float32MaxAbsError.toExponential(2)}`];
  for (const m of mismatches.slice(0, 5)) {
    lines.push(`  input ${m.input} ${formatShape(inputs[m.input]!.shape)} [${m.index}]: analytic ${m.analytic}, numeric ${m.numeric}`);
  }
  if (!float32Ok) lines.push(`  the float32 gradient departs from the float64 one by ${float32MaxAbsError}`);
  return { ok, checked, maxAbsError, float32MaxAbsError, mismatches, message: lines.join("\n") };
}
