import { add, conv2d, globalAvgPool2d, relu, reshape, type Rng, type Tensor, transpose, ValueRangeError, zeros } from "@unroll/tensor";

/** A small residual CNN's shape: plain JSON, stored with a captioning checkpoint. */
export interface ResNetConfig {
  /** Channels of each stage; every stage halves the grid (a stride-2 3×3 convolution). Default [32, 64, 128]. */
  readonly channels?: readonly number[];
  /** Residual blocks (two 3×3 convolutions and a skip connection) after each stage's downsampling. Default 1. */
  readonly blocks?: number;
}

export interface ConvParams {
  readonly weight: Tensor;
  readonly bias: Tensor;
}

/** Parameters under state-dict names: `stages.0.down.weight`, `stages.0.blocks.0.conv1.bias`, ... */
export interface ResNetParams {
  readonly stages: readonly { readonly down: ConvParams; readonly blocks: readonly { readonly conv1: ConvParams; readonly conv2: ConvParams }[] }[];
}

export interface EncodedImages {
  /** `[N, C]`: the grid averaged over its positions (the image vector of Show and Tell). */
  readonly pooled: Tensor;
  /** `[N, h·w, C]`: one feature vector per region, row by row (the memory that attention reads). */
  readonly regions: Tensor;
  /** The grid's size `[h, w]` (for drawing attention over the image). */
  readonly grid: readonly [number, number];
}

/**
 * A small ResNet-style image encoder trainable from scratch: per stage, a stride-2 3×3 convolution
 * with ReLU, then residual blocks `x + conv(relu(conv(x)))` with ReLU. No batch normalisation (its
 * running statistics would be state outside the parameters; the blocks are shallow enough to train
 * without it, with He initialisation). Returns the pooled vector and the grid of region features.
 */
export class ResNetEncoder {
  readonly channels: readonly number[];
  readonly blocks: number;
  readonly inputChannels = 3;

  constructor(config: ResNetConfig = {}) {
    this.channels = config.channels ?? [32, 64, 128];
    this.blocks = config.blocks ?? 1;
    if (this.channels.length === 0 || this.channels.some((c) => !Number.isInteger(c) || c < 1)) {
      throw new ValueRangeError("ResNetEncoder", `channels must be positive integers, one per stage, got ${JSON.stringify(this.channels)}`);
    }
    if (!Number.isInteger(this.blocks) || this.blocks < 0) throw new ValueRangeError("ResNetEncoder", `blocks must be a non-negative integer, got ${this.blocks}`);
  }

  /** Width of the pooled vector and of each region's features. */
  get features(): number {
    return this.channels[this.channels.length - 1]!;
  }

  /** Every parameter's state-dict name and shape. */
  parameterShapes(): Record<string, number[]> {
    const shapes: Record<string, number[]> = {};
    let inC = this.inputChannels;
    this.channels.forEach((c, s) => {
      shapes[`stages.${s}.down.weight`] = [c, inC, 3, 3];
      shapes[`stages.${s}.down.bias`] = [c];
      for (let b = 0; b < this.blocks; b++) {
        for (const conv of ["conv1", "conv2"]) {
          shapes[`stages.${s}.blocks.${b}.${conv}.weight`] = [c, c, 3, 3];
          shapes[`stages.${s}.blocks.${b}.${conv}.bias`] = [c];
        }
      }
      inC = c;
    });
    return shapes;
  }

  /** He initialisation (normal, std √(2 / fan_in)); the second convolution of a block starts small, so blocks start near the identity. */
  init(rng: Rng): ResNetParams {
    let inC = this.inputChannels;
    const conv = (out: number, inp: number, scale = 1): ConvParams => ({ weight: rng.normal([out, inp, 3, 3], 0, scale * Math.sqrt(2 / (inp * 9))), bias: zeros([out]) });
    const stages = this.channels.map((c) => {
      const stage = { down: conv(c, inC), blocks: Array.from({ length: this.blocks }, () => ({ conv1: conv(c, c), conv2: conv(c, c, 0.1) })) };
      inC = c;
      return stage;
    });
    return { stages };
  }

  /** Images `[N, 3, H, W]` to the pooled vector and the region grid. */
  forward(params: ResNetParams, images: Tensor): EncodedImages {
    if (images.rank !== 4 || images.shape[1] !== this.inputChannels) {
      throw new ValueRangeError("ResNetEncoder", `images must be [N, 3, H, W], got [${images.shape.join(", ")}]`);
    }
    let x = images;
    for (const stage of params.stages) {
      x = relu(conv2d(x, stage.down.weight, stage.down.bias, { stride: 2, padding: 1 }));
      for (const block of stage.blocks) {
        const inner = conv2d(relu(conv2d(x, block.conv1.weight, block.conv1.bias, { padding: 1 })), block.conv2.weight, block.conv2.bias, { padding: 1 });
        x = relu(add(x, inner));
      }
    }
    const [N, C, h, w] = x.shape as [number, number, number, number];
    const pooled = globalAvgPool2d(x, { keepdims: false }); // (N, C)
    const regions = transpose(reshape(x, [N, C, h * w]), [0, 2, 1]); // (N, h·w, C)
    return { pooled, regions, grid: [h, w] };
  }
}
