import { add, formatShape, matmul, reshape as reshapeTo, type Rng, ShapeError, type Tensor, ValueRangeError } from "@unroll/tensor";

export interface LinearParams {
  /** `[outFeatures, inFeatures]`, PyTorch's layout. */
  readonly weight: Tensor;
  readonly bias?: Tensor | null;
}

/**
 * `y = x Wᵀ + b` over the last axis: the output projection `y_t = W_hy h_t + b_y` of a recurrent
 * network. Default init as `nn.Linear`: U(-1/√in, 1/√in) for weight and bias.
 */
export class Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly bias: boolean;

  constructor(inFeatures: number, outFeatures: number, options: { bias?: boolean } = {}) {
    for (const [key, value] of [["inFeatures", inFeatures], ["outFeatures", outFeatures]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new ValueRangeError("Linear", `${key} must be a positive integer, got ${value}`);
    }
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.bias = options.bias ?? true;
  }

  init(rng: Rng): { weight: Tensor; bias?: Tensor } {
    const bound = 1 / Math.sqrt(this.inFeatures);
    const weight = rng.uniform([this.outFeatures, this.inFeatures], -bound, bound);
    return this.bias ? { weight, bias: rng.uniform([this.outFeatures], -bound, bound) } : { weight };
  }

  /** `x` `[..., inFeatures]` -> `[..., outFeatures]`. */
  forward(params: LinearParams, x: Tensor): Tensor {
    const w = params.weight;
    if (w.rank !== 2 || w.shape[0] !== this.outFeatures || w.shape[1] !== this.inFeatures) {
      throw new ShapeError("Linear", `weight has shape ${formatShape(w.shape)}, expected [${this.outFeatures}, ${this.inFeatures}]`);
    }
    if (x.rank < 1 || x.shape[x.rank - 1] !== this.inFeatures) {
      throw new ShapeError("Linear", `input has shape ${formatShape(x.shape)}, expected [..., ${this.inFeatures}]`);
    }
    const lead = x.shape.slice(0, -1);
    const flat = x.rank === 2 ? x : reshapeTo(x, [-1, this.inFeatures]);
    let y = matmul(flat, w, { transB: true });
    if (this.bias) {
      if (!params.bias) throw new ShapeError("Linear", "missing bias (the layer was built with bias: true)");
      y = add(y, params.bias);
    }
    return x.rank === 2 ? y : reshapeTo(y, [...lead, this.outFeatures]);
  }
}
