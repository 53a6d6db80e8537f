import type { DataArray } from "../../dtype.js";
import type { RecurrentCell } from "../kernels.js";

// One example's step of a recurrent cell, forward and backward, shared by the fused recurrent scan
// and the fused attention decoder. Equations and gate orders as PyTorch's (LSTM i, f, g, o; GRU r,
// z, n). `x` holds the input projection `x W_ihᵀ + b_ih` (G*H values from `xo`), `hp` the recurrent
// projection `h_prev W_hhᵀ` without its bias (from `po`), `bias` is b_hh.

export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** Where a step reads and writes: arrays and the offset of this example's row in each. */
export interface StepRows {
  readonly x: DataArray;
  readonly xo: number;
  readonly hp: DataArray;
  readonly po: number;
  readonly bias: DataArray;
  /** h_prev (H values from `ho`). */
  readonly hPrev: DataArray;
  readonly ho: number;
  /** c_prev (LSTM; H values from `co`). */
  readonly cPrev: DataArray | null;
  readonly co: number;
  /** What backward needs (4H per row for LSTM and GRU), from `go`. */
  readonly gates: DataArray;
  readonly go: number;
}

/** Writes the new h (and, for LSTM, c) of one example into `h[hOff..]` and `c[cOff..]`. */
export function cellForward(cell: RecurrentCell, H: number, r: StepRows, h: DataArray, hOff: number, c: DataArray | null, cOff: number): void {
  const { x, xo, hp, po, bias, gates, go } = r;
  for (let j = 0; j < H; j++) {
    switch (cell) {
      case "rnn_tanh":
        h[hOff + j] = Math.tanh(x[xo + j]! + hp[po + j]! + bias[j]!);
        break;
      case "rnn_relu": {
        const a = x[xo + j]! + hp[po + j]! + bias[j]!;
        h[hOff + j] = a > 0 ? a : a === a ? 0 : a;
        break;
      }
      case "lstm": {
        const i = sigmoid(x[xo + j]! + hp[po + j]! + bias[j]!);
        const f = sigmoid(x[xo + H + j]! + hp[po + H + j]! + bias[H + j]!);
        const g = Math.tanh(x[xo + 2 * H + j]! + hp[po + 2 * H + j]! + bias[2 * H + j]!);
        const o = sigmoid(x[xo + 3 * H + j]! + hp[po + 3 * H + j]! + bias[3 * H + j]!);
        gates[go + j] = i;
        gates[go + H + j] = f;
        gates[go + 2 * H + j] = g;
        gates[go + 3 * H + j] = o;
        const cNew = f * r.cPrev![r.co + j]! + i * g;
        c![cOff + j] = cNew;
        h[hOff + j] = o * Math.tanh(cNew);
        break;
      }
      case "gru": {
        const rr = sigmoid(x[xo + j]! + hp[po + j]! + bias[j]!);
        const z = sigmoid(x[xo + H + j]! + hp[po + H + j]! + bias[H + j]!);
        const hn = hp[po + 2 * H + j]! + bias[2 * H + j]!;
        const n = Math.tanh(x[xo + 2 * H + j]! + rr * hn);
        gates[go + j] = rr;
        gates[go + H + j] = z;
        gates[go + 2 * H + j] = n;
        gates[go + 3 * H + j] = hn;
        const prev = r.hPrev[r.ho + j]!;
        h[hOff + j] = n + z * (prev - n);
        break;
      }
    }
  }
}

/** What one example's backward step reads besides its gates. */
export interface BackRows {
  /** d h_new (H values from `dho`). */
  readonly dh: ArrayLike<number>;
  readonly dho: number;
  /** The new h (for tanh RNNs) and, for LSTM, the new c (H values from `so`). */
  readonly hNew: DataArray;
  readonly cNew: DataArray | null;
  readonly so: number;
  readonly hPrev: DataArray;
  readonly ho: number;
  readonly cPrev: DataArray | null;
  readonly co: number;
  readonly gates: DataArray;
  readonly go: number;
}

/**
 * One example's backward step: the cotangents of the input projection (into `dx[xo..]`) and of the
 * recurrent projection with its bias (into `dhp[po..]`); for LSTM `gc[k..]` holds d c_new on entry
 * and d c_prev on exit; `extra[k..]` gets GRU's direct path to h_prev, z · d h_new (added to what
 * flows back through W_hh).
 */
export function cellBackward(cell: RecurrentCell, H: number, r: BackRows, dx: DataArray, xo: number, dhp: DataArray, po: number, gc: Float64Array, extra: Float64Array, k: number): void {
  const { gates: gt, go } = r;
  for (let j = 0; j < H; j++) {
    const dNew = r.dh[r.dho + j]!;
    switch (cell) {
      case "rnn_tanh": {
        const h = r.hNew[r.so + j]!;
        const da = dNew * (1 - h * h);
        dx[xo + j] = da;
        dhp[po + j] = da;
        break;
      }
      case "rnn_relu": {
        const da = r.hNew[r.so + j]! > 0 ? dNew : 0;
        dx[xo + j] = da;
        dhp[po + j] = da;
        break;
      }
      case "lstm": {
        // c = f·c_prev + i·g; h = o·tanh(c)
        const i = gt[go + j]!;
        const f = gt[go + H + j]!;
        const g = gt[go + 2 * H + j]!;
        const o = gt[go + 3 * H + j]!;
        const tc = Math.tanh(r.cNew![r.so + j]!);
        const dc = gc[k + j]! + dNew * o * (1 - tc * tc);
        const cp = r.cPrev![r.co + j]!;
        const dai = dc * g * i * (1 - i);
        const daf = dc * cp * f * (1 - f);
        const dag = dc * i * (1 - g * g);
        const dao = dNew * tc * o * (1 - o);
        gc[k + j] = dc * f; // to c_prev
        dx[xo + j] = dai;
        dx[xo + H + j] = daf;
        dx[xo + 2 * H + j] = dag;
        dx[xo + 3 * H + j] = dao;
        dhp[po + j] = dai;
        dhp[po + H + j] = daf;
        dhp[po + 2 * H + j] = dag;
        dhp[po + 3 * H + j] = dao;
        break;
      }
      case "gru": {
        // n = tanh(x_n + r·hn); h = n + z·(h_prev - n)
        const rr = gt[go + j]!;
        const z = gt[go + H + j]!;
        const n = gt[go + 2 * H + j]!;
        const hn = gt[go + 3 * H + j]!;
        const hp = r.hPrev[r.ho + j]!;
        const dan = dNew * (1 - z) * (1 - n * n);
        const daz = dNew * (hp - n) * z * (1 - z);
        const dar = dan * hn * rr * (1 - rr);
        extra[k + j] = dNew * z;
        dx[xo + j] = dar;
        dx[xo + H + j] = daz;
        dx[xo + 2 * H + j] = dan;
        dhp[po + j] = dar;
        dhp[po + H + j] = daz;
        dhp[po + 2 * H + j] = dan * rr;
        break;
      }
    }
  }
}

/**
 * The final state of a scan: the state after its last step (`states` and `cells` hold one `[B, H]`
 * block per step), or the initial state when there were no steps.
 */
export function finalState(
  T: number, BH: number, states: DataArray, cells: DataArray | null, h0: DataArray, c0: DataArray | null,
  out: { readonly hT: { readonly data: DataArray }; readonly cT: { readonly data: DataArray } | null },
): void {
  if (T === 0) {
    out.hT.data.set(h0);
    if (out.cT && c0) out.cT.data.set(c0);
  } else {
    out.hT.data.set(states.subarray((T - 1) * BH, T * BH));
    if (out.cT && cells) out.cT.data.set(cells.subarray((T - 1) * BH, T * BH));
  }
}
