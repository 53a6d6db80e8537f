import {
  concat,
  dropout,
  formatShape,
  matmul,
  reshape,
  type Rng,
  ShapeError,
  slice,
  squeeze,
  expandDims,
  split,
  stack,
  Tensor,
  transpose,
  ValueRangeError,
  where,
  zeros,
  add,
} from "@unroll/tensor";
import {
  CELL_NAME,
  type CellMode,
  type CellState,
  type CellWeights,
  checkCellWeights,
  GATE_COUNT,
  type GateObserver,
  inputProjection,
  stepFromProjection,
} from "../cells/cell.js";
import { type InitScheme, initializeCell } from "../init/apply.js";
import { recurrentSequence, withCondition } from "../fused/sequence.js";
import { floatDType, lengthsFromMask, resolveLengths, reverseSequences, stepMasks } from "./sequence.js";

export interface RecurrentOptions {
  readonly inputSize: number;
  readonly hiddenSize: number;
  /** Stacked layers; layer l > 0 reads layer l-1's outputs. Default 1. */
  readonly numLayers?: number;
  /** Whether the cells have `bias_ih`/`bias_hh`. Default true. */
  readonly bias?: boolean;
  /** Inputs and outputs `[B, T, F]` instead of `[T, B, F]`. Default false. */
  readonly batchFirst?: boolean;
  /** Dropout on the outputs of every layer but the last, when training. Default 0. */
  readonly dropout?: number;
  /** A second, reverse-direction scan per layer, outputs concatenated. Default false. */
  readonly bidirectional?: boolean;
  /** Width of a conditioning input added to the first layer at every step (`weight_ch_l0`). */
  readonly conditionSize?: number;
}

/** Parameters of a recurrent layer under PyTorch's state_dict names (`weight_ih_l0`, `bias_hh_l1_reverse`, ...). */
export type RecurrentParams = Readonly<Record<string, Tensor>>;

/** Stacked states `[numLayers * directions, B, H]` (PyTorch order: layer 0 forward, layer 0 reverse, ...). */
export interface RecurrentState {
  readonly h: Tensor;
  readonly c?: Tensor;
}

export interface ForwardOptions {
  readonly initialState?: RecurrentState;
  /** Per-example lengths of a padded batch: padding changes no result and gets no gradient. */
  readonly lengths?: readonly number[] | Tensor;
  /**
   * The same as a mask: 1 on real steps, 0 on padding, laid out like the input's first two axes
   * (`[T, B]`, or `[B, T]` with `batchFirst`). Padding must come after the real steps.
   */
  readonly mask?: Tensor;
  /** `[B, conditionSize]`, for a layer built with `conditionSize`. */
  readonly condition?: Tensor;
  /** Enables dropout between layers (needs `rng`). Default false. */
  readonly training?: boolean;
  readonly rng?: Rng;
  /** Also return every layer's output sequence (`layerOutputs`). */
  readonly returnAllLayers?: boolean;
  /**
   * Sees every step's new hidden state and returns the one carried on. Diagnostics add a zero
   * "probe" tensor here and differentiate with respect to it to read dL/dh_t. `t` is the scan
   * step (the reverse direction counts from the end).
   */
  readonly onHidden?: (h: Tensor, at: { readonly layer: number; readonly direction: number; readonly t: number }) => Tensor;
  /** Sees every step's gate activations (see `GateObserver`): LSTM i,f,g,o,c,h; GRU r,z,n,h; RNN h. */
  readonly onGates?: (activations: Readonly<Record<string, Tensor>>, at: { readonly layer: number; readonly direction: number; readonly t: number }) => void;
}

export interface ForwardResult extends RecurrentState {
  /** The last layer's hidden states at every step, `[T, B, D*H]` (or batch-first); zero on padding. */
  readonly output: Tensor;
  /** Each layer's output sequence, time-first `[T, B, D*H]`, when `returnAllLayers` is set. */
  readonly layerOutputs?: readonly Tensor[];
}

export interface StepResult {
  /** The last layer's new hidden state `[B, H]`. */
  readonly output: Tensor;
  readonly state: RecurrentState;
}

/**
 * A recurrent layer: a cell scanned over time, stacked `numLayers` deep, optionally
 * bidirectional, over padded variable-length batches. Parameters live outside the layer (pure
 * functions of `params`), named and shaped exactly as PyTorch's `nn.RNN`/`nn.LSTM`/`nn.GRU`, so
 * they move to and from PyTorch state dicts by name.
 */
export class Recurrent {
  readonly mode: CellMode;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bias: boolean;
  readonly batchFirst: boolean;
  readonly dropout: number;
  readonly bidirectional: boolean;
  readonly conditionSize: number | undefined;
  /** Name used in error messages ("LSTM", "GRU", "RNN"). */
  readonly name: string;

  constructor(mode: CellMode, options: RecurrentOptions) {
    this.mode = mode;
    this.name = mode === "lstm" ? "LSTM" : mode === "gru" ? "GRU" : "RNN";
    this.inputSize = options.inputSize;
    this.hiddenSize = options.hiddenSize;
    this.numLayers = options.numLayers ?? 1;
    this.bias = options.bias ?? true;
    this.batchFirst = options.batchFirst ?? false;
    this.dropout = options.dropout ?? 0;
    this.bidirectional = options.bidirectional ?? false;
    this.conditionSize = options.conditionSize;
    for (const [key, value] of [["inputSize", this.inputSize], ["hiddenSize", this.hiddenSize], ["numLayers", this.numLayers]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new ValueRangeError(this.name, `${key} must be a positive integer, got ${value}`);
    }
    if (!(this.dropout >= 0 && this.dropout < 1)) throw new ValueRangeError(this.name, `dropout must be in [0, 1), got ${this.dropout}`);
  }

  get directions(): number {
    return this.bidirectional ? 2 : 1;
  }

  get gates(): number {
    return GATE_COUNT[this.mode];
  }

  /** Parameter names and shapes, in PyTorch's order. */
  parameterShapes(): Record<string, number[]> {
    const shapes: Record<string, number[]> = {};
    const gH = this.gates * this.hiddenSize;
    for (let l = 0; l < this.numLayers; l++) {
      for (let d = 0; d < this.directions; d++) {
        const s = suffix(l, d);
        const inWidth = l === 0 ? this.inputSize : this.hiddenSize * this.directions;
        shapes[`weight_ih${s}`] = [gH, inWidth];
        shapes[`weight_hh${s}`] = [gH, this.hiddenSize];
        if (this.bias) {
          shapes[`bias_ih${s}`] = [gH];
          shapes[`bias_hh${s}`] = [gH];
        }
        if (l === 0 && this.conditionSize !== undefined) shapes[`weight_ch${s}`] = [gH, this.conditionSize];
      }
    }
    return shapes;
  }

  /** Fresh parameters: PyTorch's default U(-1/√H, 1/√H) unless `scheme` says otherwise. */
  init(rng: Rng, scheme: InitScheme = {}): Record<string, Tensor> {
    const params: Record<string, Tensor> = {};
    for (let l = 0; l < this.numLayers; l++) {
      for (let d = 0; d < this.directions; d++) {
        const s = suffix(l, d);
        const cell = initializeCell(rng, scheme, {
          mode: this.mode,
          inputSize: l === 0 ? this.inputSize : this.hiddenSize * this.directions,
          hiddenSize: this.hiddenSize,
          bias: this.bias,
          conditionSize: l === 0 ? this.conditionSize : undefined,
        });
        params[`weight_ih${s}`] = cell.weightIH;
        params[`weight_hh${s}`] = cell.weightHH;
        if (cell.biasIH) params[`bias_ih${s}`] = cell.biasIH;
        if (cell.biasHH) params[`bias_hh${s}`] = cell.biasHH;
        if (cell.weightCH) params[`weight_ch${s}`] = cell.weightCH;
      }
    }
    return params;
  }

  /** Zero state for a batch. */
  initialState(batch: number, dtype: "float32" | "float64" = "float32"): RecurrentState {
    const shape = [this.numLayers * this.directions, batch, this.hiddenSize];
    return this.mode === "lstm" ? { h: zeros(shape, dtype), c: zeros(shape, dtype) } : { h: zeros(shape, dtype) };
  }

  /** The weights of layer `l`, direction `d` (0 forward, 1 reverse), checked against the sizes. */
  cellWeights(params: RecurrentParams, l: number, d: number): CellWeights {
    const s = suffix(l, d);
    const w: CellWeights = {
      weightIH: params[`weight_ih${s}`]!,
      weightHH: params[`weight_hh${s}`]!,
      biasIH: this.bias ? params[`bias_ih${s}`] : null,
      biasHH: this.bias ? params[`bias_hh${s}`] : null,
      weightCH: l === 0 && this.conditionSize !== undefined ? params[`weight_ch${s}`] : null,
    };
    const where = `${this.name} layer ${l}${d ? " (reverse)" : ""}`;
    for (const [key, t] of [["weight_ih", w.weightIH], ["weight_hh", w.weightHH]] as const) {
      if (!t) throw new ShapeError(where, `parameter ${key}${s} is missing; build parameters with init() or load a matching state dict`);
    }
    if (this.bias && (!w.biasIH || !w.biasHH)) throw new ShapeError(where, `parameters bias_ih${s}/bias_hh${s} are missing (the layer has bias: true)`);
    checkCellWeights(where, this.mode, w, {
      inputSize: l === 0 ? this.inputSize : this.hiddenSize * this.directions,
      hiddenSize: this.hiddenSize,
      ...(l === 0 && this.conditionSize !== undefined ? { conditionSize: this.conditionSize } : {}),
    });
    return w;
  }

  /**
   * Runs the whole sequence. `input` is `[T, B, inputSize]` (or `[B, T, inputSize]` with
   * `batchFirst`). Returns every step's output of the last layer and the final states, which for
   * a padded example are its states at its own last step.
   */
  forward(params: RecurrentParams, input: Tensor, options: ForwardOptions = {}): ForwardResult {
    const x = this.batchFirst ? transposeBatchTime(this.name, input) : input;
    if (x.rank !== 3 || x.shape[2] !== this.inputSize) {
      throw new ShapeError(
        this.name,
        `input has shape ${formatShape(input.shape)}, expected ${this.batchFirst ? "[B, T" : "[T, B"}, ${this.inputSize}]`,
      );
    }
    const dtype = floatDType(this.name, x.dtype);
    const [T, B] = x.shape as [number, number];
    if (options.lengths !== undefined && options.mask !== undefined) {
      throw new ShapeError(this.name, "pass either lengths or mask, not both");
    }
    const lengths = resolveLengths(
      this.name,
      options.mask ? lengthsFromMask(this.name, options.mask, T, B, this.batchFirst) : options.lengths,
      T,
      B,
    );
    const masks = lengths ? stepMasks(lengths, T, dtype) : null;
    // A lengths tensor given by the caller is passed on as it is, so that a trace sees it as an input,
    // even when every example is full (the padding-free shortcut would make a traced graph ignore
    // the lengths of later batches).
    const lengthsTensor = options.lengths instanceof Tensor && options.lengths.dtype === "int32" ? options.lengths : null;
    const lengthsInput = lengthsTensor ?? lengths;
    const initial = this.checkState(options.initialState, B) ?? this.initialState(B, dtype);
    const condition = this.checkCondition(options.condition, B);
    if (this.dropout > 0 && options.training && !options.rng) {
      throw new ValueRangeError(this.name, `dropout ${this.dropout} in training needs an rng: forward(params, x, { training: true, rng })`);
    }

    const finalH: Tensor[] = [];
    const finalC: Tensor[] = [];
    const layerOutputs: Tensor[] = [];
    let layerInput = x;
    for (let l = 0; l < this.numLayers; l++) {
      const directionOutputs: Tensor[] = [];
      for (let d = 0; d < this.directions; d++) {
        const w = this.cellWeights(params, l, d);
        const k = l * this.directions + d;
        const start: CellState = {
          h: stateAt(initial.h, k),
          ...(initial.c ? { c: stateAt(initial.c, k) } : {}),
        };
        if (!options.onHidden && !options.onGates) {
          // The fast path: the whole scan of this direction as one fused primitive (same values and
          // gradients as the composed steps below; ONNX's RNN/LSTM/GRU operator one to one).
          const joined = withCondition(layerInput, w, l === 0 ? condition : null);
          const r = recurrentSequence(this.mode, joined.x, joined.w, start.h, start.c ?? null, lengthsInput, d === 1);
          directionOutputs.push(r.hs);
          finalH.push(r.hT);
          if (r.cT) finalC.push(r.cT);
          continue;
        }
        const inputs = d === 1 ? reverseSequences(layerInput, lengths) : layerInput;
        const hook = options.onHidden ? (h: Tensor, t: number) => options.onHidden!(h, { layer: l, direction: d, t }) : null;
        const gates = options.onGates
          ? (t: number): GateObserver => (a) => options.onGates!(a, { layer: l, direction: d, t })
          : null;
        const run = this.scan(w, inputs, start, masks, l === 0 ? condition : null, hook, gates);
        directionOutputs.push(d === 1 ? reverseSequences(run.outputs, lengths) : run.outputs);
        finalH.push(run.state.h);
        if (run.state.c) finalC.push(run.state.c);
      }
      let out = concat(directionOutputs, -1); // (T, B, D*H)
      layerOutputs.push(out);
      if (this.dropout > 0 && options.training && l < this.numLayers - 1) out = dropout(out, this.dropout, options.rng!);
      layerInput = out;
    }
    const output = this.batchFirst ? transpose(layerInput, [1, 0, 2]) : layerInput;
    return {
      output,
      h: stack(finalH),
      ...(this.mode === "lstm" ? { c: stack(finalC) } : {}),
      ...(options.returnAllLayers ? { layerOutputs } : {}),
    };
  }

  /**
   * One time step of every layer with the state passed in and out, for generation and decoders.
   * `x` is `[B, inputSize]`; the state is `[numLayers, B, H]`. Unidirectional layers only.
   */
  step(params: RecurrentParams, state: RecurrentState, x: Tensor, options: { condition?: Tensor } = {}): StepResult {
    if (this.bidirectional) {
      throw new ShapeError(this.name, "step() needs a unidirectional layer: the reverse direction reads the whole sequence");
    }
    if (x.rank !== 2 || x.shape[1] !== this.inputSize) {
      throw new ShapeError(this.name, `step input has shape ${formatShape(x.shape)}, expected [B, ${this.inputSize}]`);
    }
    const B = x.shape[0]!;
    const s = this.checkState(state, B)!;
    const condition = this.checkCondition(options.condition, B);
    const hs: Tensor[] = [];
    const cs: Tensor[] = [];
    let input = x;
    for (let l = 0; l < this.numLayers; l++) {
      const w = this.cellWeights(params, l, 0);
      const joined = withCondition(expandDims(input, 0), w, l === 0 ? condition : null);
      const r = recurrentSequence(this.mode, joined.x, joined.w, stateAt(s.h, l), s.c ? stateAt(s.c, l) : null, null);
      const next = { h: r.hT, ...(r.cT ? { c: r.cT } : {}) };
      hs.push(next.h);
      if (next.c) cs.push(next.c);
      input = next.h;
    }
    return { output: input, state: { h: stack(hs), ...(this.mode === "lstm" ? { c: stack(cs) } : {}) } };
  }

  private scan(
    w: CellWeights,
    inputs: Tensor,
    start: CellState,
    masks: readonly Tensor[] | null,
    condition: Tensor | null,
    hook: ((h: Tensor, t: number) => Tensor) | null,
    gates: ((t: number) => GateObserver) | null,
  ): { outputs: Tensor; state: CellState } {
    const [T, B, I] = inputs.shape as [number, number, number];
    const gH = this.gates * this.hiddenSize;
    // All steps' input projections in one product: (T*B, I) · (I, gH).
    const flat = inputProjection({ ...w, weightCH: null }, reshape(inputs, [T * B, I]));
    let xProj = reshape(flat, [T, B, gH]);
    if (condition) xProj = add(xProj, matmul(condition, w.weightCH!, { transB: true })); // (B, gH) broadcast over T
    let state = start;
    const outputs: Tensor[] = [];
    const steps = T > 0 ? split(xProj, T, 0) : [];
    for (let t = 0; t < T; t++) {
      let next = stepFromProjection(this.mode, w, state, reshape(steps[t]!, [B, gH]), gates?.(t));
      if (hook) next = { ...next, h: hook(next.h, t) };
      const m = masks?.[t];
      if (m) {
        // Padding: keep the previous state, output zeros; `where` also routes the gradients.
        state = { h: where(m, next.h, state.h), ...(next.c ? { c: where(m, next.c, state.c!) } : {}) };
        outputs.push(where(m, next.h, 0));
      } else {
        state = next;
        outputs.push(next.h);
      }
    }
    const out = T > 0 ? stack(outputs) : zeros([0, B, this.hiddenSize], inputs.dtype);
    return { outputs: out, state };
  }

  private checkState(state: RecurrentState | undefined, B: number): RecurrentState | undefined {
    if (!state) return undefined;
    const shape = [this.numLayers * this.directions, B, this.hiddenSize];
    const check = (what: string, t: Tensor | undefined): void => {
      if (!t) throw new ShapeError(this.name, `the ${this.name} state needs ${what} of shape ${formatShape(shape)}`);
      if (t.rank !== 3 || t.shape.some((v, i) => v !== shape[i])) {
        throw new ShapeError(this.name, `state ${what} has shape ${formatShape(t.shape)}, expected ${formatShape(shape)} (layers*directions, batch, hidden)`);
      }
    };
    check("h", state.h);
    if (this.mode === "lstm") check("c", state.c);
    return state;
  }

  private checkCondition(condition: Tensor | undefined, B: number): Tensor | null {
    if (this.conditionSize === undefined) {
      if (condition) throw new ShapeError(this.name, "a condition was given but the layer was built without conditionSize");
      return null;
    }
    if (!condition) throw new ShapeError(this.name, `this layer is conditioned: pass { condition } of shape [${B}, ${this.conditionSize}]`);
    if (condition.rank !== 2 || condition.shape[0] !== B || condition.shape[1] !== this.conditionSize) {
      throw new ShapeError(this.name, `condition has shape ${formatShape(condition.shape)}, expected [${B}, ${this.conditionSize}]`);
    }
    return condition;
  }
}

function suffix(l: number, d: number): string {
  return `_l${l}${d === 1 ? "_reverse" : ""}`;
}

function stateAt(stacked: Tensor, k: number): Tensor {
  return squeeze(slice(stacked, [k], [k + 1], [0]), [0]);
}

function transposeBatchTime(name: string, x: Tensor): Tensor {
  if (x.rank !== 3) throw new ShapeError(name, `input has shape ${formatShape(x.shape)}, expected rank 3 [B, T, F]`);
  return transpose(x, [1, 0, 2]);
}

export { CELL_NAME };
