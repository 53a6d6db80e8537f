import { ValueRangeError } from "@unroll/tensor";

/**
 * One update of truncated backpropagation through time over a stream.
 * - Run the model over steps `[start, end)` from the (detached) state saved at `start`.
 * - The loss counts steps `[lossFrom, end)`: the `k1` new steps. Steps before `lossFrom` were
 *   counted by earlier windows; they are re-run so that gradients reach `k2` steps back.
 * - Save the state after step `carryAt - 1` (i.e. after `carryAt - start` steps of this window),
 *   detached: it is where the next window starts.
 */
export interface BpttWindow {
  readonly start: number;
  readonly end: number;
  readonly lossFrom: number;
  readonly carryAt: number;
}

/**
 * The windows of TBPTT(k1, k2) over `length` steps (Williams & Peng 1990; Sutskever 2013): every
 * `k1` steps, backpropagate `k2` steps. With k1 = k2 (the default) the windows do not overlap and
 * the state simply carries over, as in char-rnn and min-char-rnn; with k2 > k1 each update
 * recomputes `k2 - k1` earlier steps so that their gradient paths are longer. Memory depends on
 * `k2`, never on `length`.
 */
export function bpttWindows(length: number, k1: number, k2 = k1): BpttWindow[] {
  for (const [name, v] of [["length", length], ["k1", k1], ["k2", k2]] as const) {
    if (!Number.isInteger(v) || v < (name === "length" ? 0 : 1)) {
      throw new ValueRangeError("bpttWindows", `${name} must be a ${name === "length" ? "non-negative" : "positive"} integer, got ${v}`);
    }
  }
  if (k2 < k1) {
    throw new ValueRangeError(
      "bpttWindows",
      `k2 (${k2}) < k1 (${k1}) would leave some steps' losses without a gradient path; use k2 >= k1 (k2 = k1 is plain truncated BPTT)`,
    );
  }
  const windows: BpttWindow[] = [];
  const overlap = k2 - k1;
  for (let lossFrom = 0; lossFrom < length; lossFrom += k1) {
    const end = Math.min(lossFrom + k1, length);
    const start = Math.max(0, lossFrom - overlap);
    windows.push({ start, end, lossFrom, carryAt: Math.max(start, end - overlap) });
  }
  return windows;
}
