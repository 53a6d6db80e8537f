import {
  add,
  matmul,
  mul,
  relu,
  sigmoid,
  split,
  sub,
  tanh,
  ShapeError,
  formatShape,
  type Tensor,
} from "@unroll/tensor";

/** The recurrent cells, named as PyTorch's `nn.RNN` modes plus LSTM and GRU. */
export type CellMode = "rnn_tanh" | "rnn_relu" | "lstm" | "gru";

/** Gate blocks stacked in `weightIH`/`weightHH`: PyTorch's `num_chunks`. */
export const GATE_COUNT: Readonly<Record<CellMode, number>> = { rnn_tanh: 1, rnn_relu: 1, lstm: 4, gru: 3 };

/** Display names used in error messages and docs. */
export const CELL_NAME: Readonly<Record<CellMode, string>> = {
  rnn_tanh: "RNNCell(tanh)",
  rnn_relu: "RNNCell(relu)",
  lstm: "LSTMCell",
  gru: "GRUCell",
};

/**
 * One cell's weights in PyTorch's layout, gates stacked along the first axis (LSTM i,f,g,o;
 * GRU r,z,n):
 * - `weightIH` `[gates*H, I]`, `weightHH` `[gates*H, H]`, optional `biasIH`, `biasHH` `[gates*H]`;
 * - optional `weightCH` `[gates*H, C]`: a conditioning input `cond` added to every step's
 *   pre-activation as `cond · W_chᵀ` (the image-conditioned RNN of captioning, made general).
 */
export interface CellWeights {
  readonly weightIH: Tensor;
  readonly weightHH: Tensor;
  readonly biasIH?: Tensor | null;
  readonly biasHH?: Tensor | null;
  readonly weightCH?: Tensor | null;
}

/** The recurrent state: `h` `[B, H]`, and the LSTM's cell `c` `[B, H]`. */
export interface CellState {
  readonly h: Tensor;
  readonly c?: Tensor;
}

/**
 * The input side of a step, `x · W_ihᵀ + b_ih (+ cond · W_chᵀ)`, `[B, gates*H]`. Layers compute it
 * for all time steps in one product before scanning, which is where most of the input FLOPs go.
 */
export function inputProjection(w: CellWeights, x: Tensor, condition?: Tensor | null): Tensor {
  let p = matmul(x, w.weightIH, { transB: true });
  if (w.biasIH) p = add(p, w.biasIH);
  if (condition) {
    if (!w.weightCH) throw new ShapeError("Cell", "a condition was given but the cell has no conditioning weight (weightCH)");
    p = add(p, matmul(condition, w.weightCH, { transB: true }));
  }
  return p;
}

function recurrentProjection(w: CellWeights, h: Tensor): Tensor {
  const p = matmul(h, w.weightHH, { transB: true }); // (B, gates*H)
  return w.biasHH ? add(p, w.biasHH) : p;
}

/**
 * One step from a precomputed input projection `xProj` `[B, gates*H]`:
 * - RNN:  h' = f(xProj + h W_hhᵀ + b_hh), f = tanh or relu
 * - LSTM: i,f,g,o = split(xProj + h W_hhᵀ + b_hh); c' = σ(f)·c + σ(i)·tanh(g); h' = σ(o)·tanh(c')
 * - GRU:  r = σ(x_r + h_r), z = σ(x_z + h_z), n = tanh(x_n + r·h_n), h' = (1-z)·n + z·h, where
 *         x_* and h_* are the gate blocks of xProj and h W_hhᵀ + b_hh (PyTorch: reset after the product)
 */
export function stepFromProjection(
  mode: CellMode,
  w: CellWeights,
  state: CellState,
  xProj: Tensor,
  observe?: GateObserver,
): CellState {
  const hProj = recurrentProjection(w, state.h);
  switch (mode) {
    case "rnn_tanh":
    case "rnn_relu": {
      const h = mode === "rnn_tanh" ? tanh(add(xProj, hProj)) : relu(add(xProj, hProj));
      observe?.({ h });
      return { h };
    }
    case "lstm": {
      if (!state.c) throw new ShapeError("LSTMCell", "the LSTM state needs a cell tensor c as well as h");
      const [ip, fp, gp, op] = split(add(xProj, hProj), 4, -1) as [Tensor, Tensor, Tensor, Tensor];
      const [i, f, g, o] = [sigmoid(ip), sigmoid(fp), tanh(gp), sigmoid(op)];
      const c = add(mul(f, state.c), mul(i, g));
      const h = mul(o, tanh(c));
      observe?.({ i, f, g, o, c, h });
      return { h, c };
    }
    case "gru": {
      const [xr, xz, xn] = split(xProj, 3, -1) as [Tensor, Tensor, Tensor];
      const [hr, hz, hn] = split(hProj, 3, -1) as [Tensor, Tensor, Tensor];
      const r = sigmoid(add(xr, hr));
      const z = sigmoid(add(xz, hz));
      const n = tanh(add(xn, mul(r, hn)));
      const h = add(n, mul(z, sub(state.h, n))); // (1-z)·n + z·h
      observe?.({ r, z, n, hn, h });
      return { h };
    }
  }
}

/**
 * Receives a step's activations after the nonlinearities: LSTM `i, f, g, o, c, h`, GRU
 * `r, z, n, h` (and `hn`, the recurrent part `h W_hnᵀ + b_hn` that the reset gate scales), RNN
 * `h`, each `[B, H]`. For visualising gates and measuring saturation.
 */
export type GateObserver = (activations: Readonly<Record<string, Tensor>>) => void;

/** Checks a cell's weights against its sizes; messages name the cell and the shapes. */
export function checkCellWeights(
  name: string,
  mode: CellMode,
  w: CellWeights,
  sizes: { inputSize: number; hiddenSize: number; conditionSize?: number },
): void {
  const gH = GATE_COUNT[mode] * sizes.hiddenSize;
  const expect = (what: string, t: Tensor | null | undefined, shape: number[]): void => {
    if (!t) throw new ShapeError(name, `missing ${what} (expected shape ${formatShape(shape)})`);
    if (t.rank !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new ShapeError(name, `${what} has shape ${formatShape(t.shape)}, expected ${formatShape(shape)}`);
    }
  };
  expect("weight_ih", w.weightIH, [gH, sizes.inputSize]);
  expect("weight_hh", w.weightHH, [gH, sizes.hiddenSize]);
  if (w.biasIH) expect("bias_ih", w.biasIH, [gH]);
  if (w.biasHH) expect("bias_hh", w.biasHH, [gH]);
  if (sizes.conditionSize !== undefined) expect("weight_ch", w.weightCH, [gH, sizes.conditionSize]);
}
