import type { DataArray } from "../dtype.js";
import type { Shape } from "../shape.js";

/**
 * A tensor as kernels see it: a contiguous row-major typed array and its shape. `Tensor`
 * satisfies this structurally, so kernels can be called with tensors directly.
 */
export interface KernelTensor {
  readonly data: DataArray;
  readonly shape: Shape;
}

export type UnaryOp = "neg" | "exp" | "log" | "sqrt" | "tanh" | "sigmoid" | "relu" | "abs" | "sign";
export type ArithmeticOp = "add" | "sub" | "mul" | "div" | "pow";
export type ComparisonOp = "greater" | "greaterEqual" | "less" | "lessEqual" | "equal" | "notEqual";
export type BinaryOp = ArithmeticOp | ComparisonOp;
export type ReduceOp = "sum" | "max";

/** The cells a fused recurrent scan knows (gate order as PyTorch: LSTM i,f,g,o; GRU r,z,n). */
export type RecurrentCell = "rnn_tanh" | "rnn_relu" | "lstm" | "gru";

/**
 * One direction of one recurrent layer over a whole sequence, the hot loop of recurrent training.
 * Shapes: T steps, B examples, I inputs, H hidden units, G gates (1, 4 or 3).
 * - `x` `[T, B, I]`, `weightIH` `[G*H, I]`, `biasIH` `[G*H]`: the input side of every step,
 *   `x_t W_ihᵀ + b_ih`, is computed first for all steps in one product
 * - `weightHH` `[G*H, H]`, `biasHH` `[G*H]`, `h0` `[B, H]`, `c0` `[B, H]` (LSTM only)
 * - `lengths` `[B]` int32 or null: step t of example b is real when t < lengths[b]; padded steps
 *   keep the state and output zeros.
 * - `reverse`: read every example backwards from its own last real step (the reverse direction of a
 *   bidirectional layer, ONNX's direction "reverse"); outputs stay in input time order.
 */
export interface RecurrentForwardArgs {
  readonly cell: RecurrentCell;
  readonly x: KernelTensor;
  readonly weightIH: KernelTensor;
  readonly biasIH: KernelTensor;
  readonly weightHH: KernelTensor;
  readonly biasHH: KernelTensor;
  readonly h0: KernelTensor;
  readonly c0: KernelTensor | null;
  readonly lengths: KernelTensor | null;
  readonly reverse: boolean;
}

/**
 * What the forward scan writes:
 * - `hs` `[T, B, H]` outputs in input time order (zero on padding), `hT` `[B, H]` final state, `cT` (LSTM)
 * - `states` `[T, B, H]` the carried hidden state after every scan step, or null where they are `hs`
 *   (a forward scan without `lengths`: the caller need not keep a copy), `cells` `[T, B, H]` (LSTM),
 *   indexed by scan step (for `reverse`, scan step t of example b is its time step len_b - 1 - t)
 * - `gates` `[T, B, S]`, by scan step, what backward needs: LSTM i,f,g,o after their nonlinearities (S = 4H);
 *   GRU r, z, n and the recurrent part of n, `h W_hnᵀ + b_hn` (S = 4H); RNN nothing (S = 0).
 */
export interface RecurrentForwardOut {
  readonly hs: KernelTensor;
  readonly hT: KernelTensor;
  readonly cT: KernelTensor | null;
  readonly states: KernelTensor | null;
  readonly cells: KernelTensor | null;
  readonly gates: KernelTensor;
}

/**
 * Backward of `recurrentForward`: the saved tensors, the cotangents of `hs`, `hT`, `cT`, and the
 * forward's input `x` `[T, B, I]` and `weightIH` `[G*H, I]`, which the input side's gradients need.
 */
export interface RecurrentBackwardArgs {
  readonly cell: RecurrentCell;
  readonly reverse: boolean;
  readonly x: KernelTensor;
  readonly weightIH: KernelTensor;
  readonly weightHH: KernelTensor;
  readonly h0: KernelTensor;
  readonly c0: KernelTensor | null;
  readonly lengths: KernelTensor | null;
  readonly states: KernelTensor;
  readonly cells: KernelTensor | null;
  readonly gates: KernelTensor;
  readonly dhs: KernelTensor;
  readonly dhT: KernelTensor;
  readonly dcT: KernelTensor | null;
}

/**
 * Gradients of `x` (`dx` `[T, B, I]`, or null when not wanted), `weightIH`, `biasIH`, `weightHH`,
 * `biasHH`, `h0`, `c0`; outputs arrive zero-filled. The input side follows from the gradient of the
 * input projection `x W_ihᵀ + b_ih` by products (dx = dxProj W_ih, dW_ih = dxProjᵀ x, db_ih = Σ
 * dxProj), which a backend computes as it goes, so that dxProj (`[T*B, G*H]`, the largest gradient
 * of a training step) never needs to exist whole.
 */
export interface RecurrentBackwardOut {
  readonly dx: KernelTensor | null;
  readonly dWeightIH: KernelTensor;
  readonly dBiasIH: KernelTensor;
  readonly dWeightHH: KernelTensor;
  readonly dBiasHH: KernelTensor;
  readonly dh0: KernelTensor;
  readonly dc0: KernelTensor | null;
}

/**
 * A one-layer recurrent decoder with additive attention (Bahdanau et al. 2015) over a whole,
 * teacher-forced target sequence: at step t, with the previous state h_{t-1} as the query,
 * `u_s = tanh(k_s + W_q h_{t-1})`, `e_s = vᵀ u_s` over the real source positions (mask 1),
 * `α_t = softmax(e)`, `ctx_t = Σ_s α_s m_s`, then the cell on the input `[x_t; ctx_t]`:
 * `[x_t; ctx_t] W_ihᵀ + b_ih` and `h_{t-1} W_hhᵀ + b_hh`. Shapes: T steps, B examples, E input
 * width, S source positions, D memory width, A attention width, H hidden units, GH = G*H.
 * - `x` `[T, B, E]`: the embedded previous tokens
 * - `weightIH` `[GH, E + D]`, `biasIH` `[GH]`, `weightHH` `[GH, H]`, `biasHH` `[GH]`, `h0`, `c0` `[B, H]`
 * - `values` `[B, S, D]` (the memory m), `keys` `[S, B, A]` (W_k m, time-first), `mask` `[B, S]`,
 *   `weightQ` `[A, H]`, `v` `[A]`
 */
export interface AttentionDecoderForwardArgs {
  readonly cell: RecurrentCell;
  readonly x: KernelTensor;
  readonly weightIH: KernelTensor;
  readonly biasIH: KernelTensor;
  readonly weightHH: KernelTensor;
  readonly biasHH: KernelTensor;
  readonly h0: KernelTensor;
  readonly c0: KernelTensor | null;
  readonly values: KernelTensor;
  readonly keys: KernelTensor;
  readonly mask: KernelTensor;
  readonly weightQ: KernelTensor;
  readonly v: KernelTensor;
}

/**
 * What the fused decoder writes: `hs` `[T, B, H]`, `contexts` `[T, B, D]`, the attention
 * `weights` `[T, B, S]`, `hT`, `cT` (LSTM) `[B, H]`; and for backward `cells` `[T, B, H]` (LSTM) and
 * `gates` `[T, B, S_g]` (as `RecurrentForwardOut.gates`). Backward recomputes the attention's
 * `u = tanh(k_s + W_q h_{t-1})` from the keys rather than keep `[T, S, B, A]` of them.
 */
export interface AttentionDecoderForwardOut {
  readonly hs: KernelTensor;
  readonly contexts: KernelTensor;
  readonly weights: KernelTensor;
  readonly hT: KernelTensor;
  readonly cT: KernelTensor | null;
  readonly cells: KernelTensor | null;
  readonly gates: KernelTensor;
}

/** Backward of `attentionDecoderForward`: its inputs, what it saved, and the cotangents of its outputs (`dweights` may be null). */
export interface AttentionDecoderBackwardArgs {
  readonly cell: RecurrentCell;
  readonly x: KernelTensor;
  readonly weightIH: KernelTensor;
  readonly weightHH: KernelTensor;
  readonly h0: KernelTensor;
  readonly c0: KernelTensor | null;
  readonly values: KernelTensor;
  readonly keys: KernelTensor;
  readonly weightQ: KernelTensor;
  readonly v: KernelTensor;
  readonly hs: KernelTensor;
  readonly cells: KernelTensor | null;
  readonly gates: KernelTensor;
  readonly contexts: KernelTensor;
  readonly weights: KernelTensor;
  readonly dhs: KernelTensor;
  readonly dcontexts: KernelTensor;
  readonly dweights: KernelTensor | null;
  readonly dhT: KernelTensor;
  readonly dcT: KernelTensor | null;
}

/** Gradients of every differentiable input of the fused decoder; outputs arrive zero-filled. */
export interface AttentionDecoderBackwardOut {
  readonly dx: KernelTensor;
  readonly dWeightIH: KernelTensor;
  readonly dBiasIH: KernelTensor;
  readonly dWeightHH: KernelTensor;
  readonly dBiasHH: KernelTensor;
  readonly dh0: KernelTensor;
  readonly dc0: KernelTensor | null;
  readonly dValues: KernelTensor;
  readonly dKeys: KernelTensor;
  readonly dWeightQ: KernelTensor;
  readonly dv: KernelTensor;
}

/**
 * Where a 2-D convolution reads its input (NCHW): `stride` and `dilation` as `[along H, along W]`,
 * `pads` as `[top, left, bottom, right]` (ONNX's order; zeros outside the input). The output's
 * spatial size is `out.shape`'s, the kernel's the weight's; `groups` splits the input and output
 * channels into that many independent convolutions.
 */
export interface Conv2dParams {
  readonly stride: readonly [number, number];
  readonly pads: readonly [number, number, number, number];
  readonly dilation: readonly [number, number];
  readonly groups: number;
}

/**
 * A 2-D pooling window over NCHW planes: `kernel` `[kH, kW]`, `stride`, `dilation` (max pooling
 * only; 1 for average pooling) and `pads` `[top, left, bottom, right]`, as in `Conv2dParams`.
 */
export interface Pool2dParams {
  readonly kernel: readonly [number, number];
  readonly stride: readonly [number, number];
  readonly pads: readonly [number, number, number, number];
  readonly dilation: readonly [number, number];
}

/**
 * Per-channel normalisation of `x` `[N, C, ...]` (channel axis 1):
 * `(x - mean[c]) / sqrt(variance[c] + eps) * weight[c] + bias[c]`, every vector `[C]`.
 */
export interface BatchNormArgs {
  readonly x: KernelTensor;
  readonly mean: KernelTensor;
  readonly variance: KernelTensor;
  readonly weight: KernelTensor;
  readonly bias: KernelTensor;
  readonly eps: number;
}

/**
 * Backward of training-mode batch normalisation, whose `mean` and (biased) `variance` are the
 * batch's own statistics of `x`: the cotangent `dOut` `[N, C, ...]` and the forward's inputs.
 */
export interface BatchNormBackwardArgs {
  readonly x: KernelTensor;
  readonly mean: KernelTensor;
  readonly variance: KernelTensor;
  readonly weight: KernelTensor;
  readonly eps: number;
  readonly dOut: KernelTensor;
}

/** Gradients of `x` `[N, C, ...]`, `weight` `[C]` and `bias` `[C]`; outputs arrive zero-filled. */
export interface BatchNormBackwardOut {
  readonly dx: KernelTensor;
  readonly dWeight: KernelTensor;
  readonly dBias: KernelTensor;
}

/**
 * The scalars of one Adam step, each already rounded to float32 as PyTorch rounds Python scalars
 * (see `Kernels.adamUpdate`).
 */
export interface AdamScalars {
  readonly beta1: number;
  readonly oneMinusBeta1: number;
  readonly beta2: number;
  readonly oneMinusBeta2: number;
  /** sqrt(1 - beta2^t) */
  readonly bias2Sqrt: number;
  /** -lr / (1 - beta1^t) */
  readonly negStepSize: number;
  readonly eps: number;
  /** AdamW's decoupled decay 1 - lr·weightDecay; 1 for Adam. */
  readonly shrink: number;
}

/**
 * The backend table: every computation of the tensor package goes through one of these
 * functions. Kernels write into `out`, which the caller allocated with the right shape and dtype
 * (zero-filled), so a backend never allocates results and buffer reuse can be added in one place.
 *
 * Inputs are validated before a kernel runs (shapes, dtypes, index ranges): kernels may assume
 * well-formed arguments. A backend that accelerates some kernels spreads the reference table and
 * overrides those (`{ ...referenceKernels, matmul: fastMatmul }`), so every kernel keeps its oracle.
 */
export interface Kernels {
  readonly name: string;
  unary(op: UnaryOp, x: KernelTensor, out: KernelTensor): void;
  /** NumPy broadcasting from `a.shape` and `b.shape` to `out.shape`; comparisons write 1 or 0. */
  binary(op: BinaryOp, a: KernelTensor, b: KernelTensor, out: KernelTensor): void;
  clamp(x: KernelTensor, min: number, max: number, out: KernelTensor): void;
  /** `out = cond != 0 ? a : b`, all three broadcast to `out.shape`. */
  where(cond: KernelTensor, a: KernelTensor, b: KernelTensor, out: KernelTensor): void;
  /** Converts element types (float to int truncates toward zero). */
  cast(x: KernelTensor, out: KernelTensor): void;
  /**
   * Batched matrix product `op(a) · op(b)` over the last two axes, batch axes broadcast;
   * `op` transposes when the flag is set.
   */
  matmul(a: KernelTensor, b: KernelTensor, out: KernelTensor, transA: boolean, transB: boolean): void;
  /** Reduces the sorted `axes`; `out` has the kept axes (size-1 or removed: same layout). */
  reduce(op: ReduceOp, x: KernelTensor, axes: readonly number[], out: KernelTensor): void;
  /** Index of the first maximum along `axis`, into an int32 `out` (the axis removed or kept as 1). */
  argmax(x: KernelTensor, axis: number, out: KernelTensor): void;
  broadcastTo(x: KernelTensor, out: KernelTensor): void;
  /** `out.shape[i] = x.shape[perm[i]]`. */
  transpose(x: KernelTensor, perm: readonly number[], out: KernelTensor): void;
  concat(xs: readonly KernelTensor[], axis: number, out: KernelTensor): void;
  /** Copies the block of `x` starting at `starts` with `out.shape`'s extent. */
  slice(x: KernelTensor, starts: readonly number[], out: KernelTensor): void;
  /** Places `x` at offset `before` inside `out`, filling the rest with `value`. */
  pad(x: KernelTensor, before: readonly number[], value: number, out: KernelTensor): void;
  /** `out[..., j, ...] = x[..., indices[j], ...]` along `axis` (indices flattened, in range). */
  gather(x: KernelTensor, indices: KernelTensor, axis: number, out: KernelTensor): void;
  /** `out[..., indices[j], ...] += updates[..., j, ...]` along `axis`; `out` starts zeroed. */
  scatterAdd(indices: KernelTensor, updates: KernelTensor, axis: number, out: KernelTensor): void;
  /** `out[i, indices[i]] = 1`; indices outside `[0, depth)` give a zero row. */
  oneHot(indices: KernelTensor, out: KernelTensor): void;
  softmax(x: KernelTensor, axis: number, out: KernelTensor): void;
  logSoftmax(x: KernelTensor, axis: number, out: KernelTensor): void;
  /**
   * Per-row loss `logsumexp(logits[i]) - logits[i, targets[i]]` for logits `[N, C]` and int32
   * targets `[N]`; rows whose target equals `ignoreIndex` get 0.
   */
  softmaxCrossEntropy(logits: KernelTensor, targets: KernelTensor, ignoreIndex: number, out: KernelTensor): void;
  /**
   * Its gradient with respect to the logits for per-row cotangents `grad` `[N]`:
   * `(softmax(logits[i]) - onehot(targets[i])) * grad[i]`, a zero row where the target is `ignoreIndex`.
   */
  softmaxCrossEntropyBackward(
    logits: KernelTensor,
    targets: KernelTensor,
    grad: KernelTensor,
    ignoreIndex: number,
    out: KernelTensor,
  ): void;
  /** A fused recurrent scan (see `RecurrentForwardArgs`); the composed primitives are its oracle. */
  recurrentForward(args: RecurrentForwardArgs, out: RecurrentForwardOut): void;
  /** Backpropagation through time of `recurrentForward`, with the weight gradients as one product over all steps. */
  recurrentBackward(args: RecurrentBackwardArgs, out: RecurrentBackwardOut): void;
  /** A fused one-layer decoder with additive attention (see `AttentionDecoderForwardArgs`); the composed primitives are its oracle. */
  attentionDecoderForward(args: AttentionDecoderForwardArgs, out: AttentionDecoderForwardOut): void;
  /** Its backpropagation through time, the weight gradients as products over all steps. */
  attentionDecoderBackward(args: AttentionDecoderBackwardArgs, out: AttentionDecoderBackwardOut): void;
  /**
   * 2-D convolution (cross-correlation, as PyTorch's `conv2d`): `x` `[N, C_in, H, W]`, `weight`
   * `[C_out, C_in/groups, kH, kW]`, `bias` `[C_out]` or null, into `out` `[N, C_out, H_out, W_out]`.
   */
  conv2d(x: KernelTensor, weight: KernelTensor, bias: KernelTensor | null, params: Conv2dParams, out: KernelTensor): void;
  /**
   * Gradient of `conv2d` with respect to its input (a transposed convolution): `dOut`
   * `[N, C_out, H_out, W_out]` and `weight` into `out` `[N, C_in, H, W]`.
   */
  conv2dBackwardInput(dOut: KernelTensor, weight: KernelTensor, params: Conv2dParams, out: KernelTensor): void;
  /** Gradient of `conv2d` with respect to its weight: `x` and `dOut` into `out` `[C_out, C_in/groups, kH, kW]`, summed over the batch. */
  conv2dBackwardWeight(x: KernelTensor, dOut: KernelTensor, params: Conv2dParams, out: KernelTensor): void;
  /**
   * Max pooling of `x` `[N, C, H, W]` into `out` `[N, C, H_out, W_out]` (padded positions never win); `indices`
   * (int32, `out`'s shape) gets each maximum's position `h * W + w` in its plane, the first in the
   * window's row-major order on ties (a NaN wins, as in PyTorch).
   */
  maxPool2d(x: KernelTensor, params: Pool2dParams, out: KernelTensor, indices: KernelTensor): void;
  /** `out[n, c].flat[indices[n, c, i]] += dOut[n, c, i]`: the gradient of `maxPool2d`; `out` `[N, C, H, W]` starts zeroed. */
  maxPool2dBackward(dOut: KernelTensor, indices: KernelTensor, out: KernelTensor): void;
  /**
   * Average pooling (PyTorch's `avg_pool2d`, ceil mode off): the window's sum divided by its
   * size (padding included) when `countIncludePad`, else by the number of real elements it covers.
   */
  avgPool2d(x: KernelTensor, params: Pool2dParams, countIncludePad: boolean, out: KernelTensor): void;
  /** Gradient of `avgPool2d`: each `dOut` element shared out over its window, into `out` `[N, C, H, W]`. */
  avgPool2dBackward(dOut: KernelTensor, params: Pool2dParams, countIncludePad: boolean, out: KernelTensor): void;
  /** Mean and biased variance of every channel of `x` `[N, C, ...]` (axis 1) over all other axes, into `[C]` tensors. */
  channelMoments(x: KernelTensor, mean: KernelTensor, variance: KernelTensor): void;
  /** Batch normalisation with given statistics (see `BatchNormArgs`), into `out` of `x`'s shape. */
  batchNorm(args: BatchNormArgs, out: KernelTensor): void;
  /** Backward of training-mode batch normalisation, the statistics' dependence on `x` included. */
  batchNormBackward(args: BatchNormBackwardArgs, out: BatchNormBackwardOut): void;
  /**
   * Optional: one Adam (AdamW) step of a float32 parameter in place, moments `m` and `v` updated
   * too, fused into one pass: bitwise what @unroll/train's `adam` update loop (PyTorch 1.13's order
   * of operations) computes, which stays the oracle and runs where this is absent.
   */
  adamUpdate?(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, scalars: AdamScalars): void;
  /**
   * Optional: keep these tensors' data inside the backend between calls (weights during
   * generation), until the returned function is called. Their data must not change meanwhile.
   */
  pin?(tensors: readonly KernelTensor[]): () => void;
  /**
   * Optional: bytes the backend holds outside JavaScript's heap and ArrayBuffers (a WebAssembly
   * memory, which never shrinks), which `process.memoryUsage()` leaves out of `arrayBuffers`.
   */
  memoryBytes?(): number;
}
