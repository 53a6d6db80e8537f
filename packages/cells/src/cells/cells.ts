import { formatShape, type Rng, ShapeError, type Tensor, ValueRangeError, zeros } from "@unroll/tensor";
import { type InitScheme, initializeCell } from "../init/apply.js";
import {
  CELL_NAME,
  type CellMode,
  type CellState,
  type CellWeights,
  checkCellWeights,
  GATE_COUNT,
  inputProjection,
  stepFromProjection,
} from "./cell.js";

export interface CellOptions {
  readonly inputSize: number;
  readonly hiddenSize: number;
  /** Default true. */
  readonly bias?: boolean;
  /** Width of a conditioning input added at every step through `weightCH`. */
  readonly conditionSize?: number;
}

/**
 * One recurrent cell: sizes, an initialiser and a pure step `(weights, state, x) -> state'`.
 * The weights live outside the cell, so the same cell steps any set of weights (and gradients
 * flow to whichever tree of weights `valueAndGrad` is given).
 */
export class Cell {
  readonly mode: CellMode;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly bias: boolean;
  readonly conditionSize: number | undefined;

  constructor(mode: CellMode, options: CellOptions) {
    this.mode = mode;
    this.inputSize = options.inputSize;
    this.hiddenSize = options.hiddenSize;
    this.bias = options.bias ?? true;
    this.conditionSize = options.conditionSize;
    for (const [key, value] of [["inputSize", this.inputSize], ["hiddenSize", this.hiddenSize]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new ValueRangeError(CELL_NAME[mode], `${key} must be a positive integer, got ${value}`);
    }
  }

  get gates(): number {
    return GATE_COUNT[this.mode];
  }

  init(rng: Rng, scheme: InitScheme = {}): CellWeights {
    return initializeCell(rng, scheme, this);
  }

  initialState(batch: number, dtype: "float32" | "float64" = "float32"): CellState {
    const h = zeros([batch, this.hiddenSize], dtype);
    return this.mode === "lstm" ? { h, c: zeros([batch, this.hiddenSize], dtype) } : { h };
  }

  /** One step: `x` `[B, inputSize]`, state `[B, hiddenSize]`; see `stepFromProjection` for the equations. */
  step(weights: CellWeights, state: CellState, x: Tensor, options: { condition?: Tensor } = {}): CellState {
    const name = CELL_NAME[this.mode];
    checkCellWeights(name, this.mode, weights, {
      inputSize: this.inputSize,
      hiddenSize: this.hiddenSize,
      ...(this.conditionSize !== undefined ? { conditionSize: this.conditionSize } : {}),
    });
    if (x.rank !== 2 || x.shape[1] !== this.inputSize) {
      throw new ShapeError(name, `input has shape ${formatShape(x.shape)}, expected [B, ${this.inputSize}]`);
    }
    const B = x.shape[0]!;
    for (const [what, t] of [["h", state.h], ["c", state.c]] as const) {
      if (what === "c" && this.mode !== "lstm") continue;
      if (!t || t.rank !== 2 || t.shape[0] !== B || t.shape[1] !== this.hiddenSize) {
        throw new ShapeError(name, `state ${what} has shape ${t ? formatShape(t.shape) : "(missing)"}, expected [${B}, ${this.hiddenSize}]`);
      }
    }
    if ((this.conditionSize !== undefined) !== (options.condition !== undefined)) {
      throw new ShapeError(name, this.conditionSize !== undefined ? `pass { condition } of shape [${B}, ${this.conditionSize}]` : "the cell takes no condition");
    }
    return stepFromProjection(this.mode, weights, state, inputProjection(weights, x, options.condition));
  }
}

/** Elman cell, `h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)` (or relu). */
export class RNNCell extends Cell {
  constructor(options: CellOptions & { readonly nonlinearity?: "tanh" | "relu" }) {
    super(options.nonlinearity === "relu" ? "rnn_relu" : "rnn_tanh", options);
  }
}

/** LSTM cell, gates i,f,g,o (PyTorch's `nn.LSTMCell`). */
export class LSTMCell extends Cell {
  constructor(options: CellOptions) {
    super("lstm", options);
  }
}

/** GRU cell, gates r,z,n, reset after the recurrent product (PyTorch's `nn.GRUCell`). */
export class GRUCell extends Cell {
  constructor(options: CellOptions) {
    super("gru", options);
  }
}
