import type { Rng, Tensor } from "@unroll/tensor";
import type { EncodedImages } from "./resnet.js";

/**
 * What the captioner needs of an image encoder: `ResNetEncoder` (trained from scratch) and
 * `MobileNetV2Encoder` (imported, pretrained) both fit. Parameters are a tree of tensors under
 * state-dict names (`parameterShapes`), created by `init` and read by `forward`.
 */
export interface ImageEncoder<P = unknown> {
  /** Channels of the input images (3: RGB). */
  readonly inputChannels: number;
  /** Width of the pooled vector and of each region's features. */
  readonly features: number;
  /** Every parameter's state-dict name and shape. */
  parameterShapes(): Record<string, number[]>;
  init(rng: Rng): P;
  /** Images `[N, 3, H, W]` to the pooled vector `[N, C]` and the region grid `[N, h·w, C]`. */
  forward(params: P, images: Tensor): EncodedImages;
}
