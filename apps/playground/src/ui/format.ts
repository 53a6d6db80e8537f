// Number formats for axes and read-outs.
/** Tick labels of a log axis: plain numbers near 1, powers of ten (1e-4) far from it. */
export function formatLogTick(v: number | null): string {
  if (v === null || !Number.isFinite(v) || v <= 0) return "";
  if (v >= 0.01 && v < 1e4) return String(+v.toPrecision(2));
  const exponent = Math.log10(v);
  return Number.isInteger(Math.round(exponent * 1e6) / 1e6) ? `1e${Math.round(exponent)}` : v.toExponential(0);
}

/**
 * Tick positions of a log axis: the powers of ten in [min, max] (every second or third one over
 * many decades), with 2 and 5 between them when the range is under two decades.
 */
export function logSplits(min: number, max: number): number[] {
  if (!(min > 0) || !(max > min)) return [];
  const lo = Math.ceil(Math.log10(min) - 1e-9);
  const hi = Math.floor(Math.log10(max) + 1e-9);
  const decades = Math.log10(max / min);
  const every = decades > 16 ? 4 : decades > 10 ? 3 : decades > 6 ? 2 : 1;
  const out: number[] = [];
  for (let e = lo; e <= hi; e++) if ((e - lo) % every === 0) out.push(Number(`1e${e}`));
  if (decades < 2) {
    for (let e = lo - 1; e <= hi; e++) for (const m of [2, 5]) out.push(Number(`${m}e${e}`));
  }
  return out.filter((v) => v >= min * (1 - 1e-9) && v <= max * (1 + 1e-9)).sort((a, b) => a - b);
}
