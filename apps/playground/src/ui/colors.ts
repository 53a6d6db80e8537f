// Colour maps for the canvas views: viridis for magnitudes, a diverging blue-white-red for signed
// activations, and the run palette the charts share.

/** Viridis, t in [0, 1] (a polynomial fit of matplotlib's map). */
export function viridis(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0));
  const c = [
    [0.2777273272234177, 0.005407344544966578, 0.3340998053353061],
    [0.1050930431085774, 1.404613529898575, 1.384590162594685],
    [-0.3308618287255563, 0.214847559468213, 0.09509516302823659],
    [-4.634230498983486, -5.799100973351585, -19.33244095627987],
    [6.228269936347081, 14.17993336680509, 56.69055260068105],
    [4.776384997670288, -13.74514537774601, -65.35303263337234],
    [-5.435455855934631, 4.645852612178535, 26.3124352495832],
  ] as const;
  const out: [number, number, number] = [0, 0, 0];
  for (let k = 0; k < 3; k++) {
    let v = 0;
    for (let i = 6; i >= 0; i--) v = v * x + c[i]![k]!;
    out[k] = Math.round(255 * Math.min(1, Math.max(0, v)));
  }
  return out;
}

/** Blue (-1) through white (0) to red (+1). */
export function diverging(v: number): [number, number, number] {
  const x = Math.min(1, Math.max(-1, Number.isFinite(v) ? v : 0));
  const blue = [49, 104, 181];
  const red = [200, 55, 45];
  const end = x < 0 ? blue : red;
  const a = Math.abs(x);
  return [0, 1, 2].map((k) => Math.round(255 + (end[k]! - 255) * a)) as [number, number, number];
}

/** White (0) to a deep green (1), for gates that open and close. */
export function sequential(v: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0));
  const end = [20, 110, 70];
  return [0, 1, 2].map((k) => Math.round(255 + (end[k]! - 255) * x)) as [number, number, number];
}

export const rgb = ([r, g, b]: readonly number[]): string => `rgb(${r}, ${g}, ${b})`;

/** Current run first, then earlier runs. */
export const RUN_COLORS = ["#1f5fbf", "#d9730d", "#2a9d55", "#9b51e0", "#c0392b"] as const;
