import { Tensor, ValueRangeError } from "@unroll/tensor";
import type { RgbImage } from "./decode.js";

/** ImageNet's per-channel mean and standard deviation (what pretrained encoders expect). */
export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

/**
 * Resizes with bilinear interpolation, sampling at pixel centres (PyTorch's
 * `interpolate(mode="bilinear", align_corners=False)`), so that an image resized to its own size
 * is unchanged.
 */
export function resizeImage(image: RgbImage, width: number, height: number): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new ValueRangeError("resizeImage", `the size must be positive integers, got ${width}×${height}`);
  }
  if (width === image.width && height === image.height) return image;
  const out = new Uint8Array(width * height * 3);
  const sx = image.width / width;
  const sy = image.height / height;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), image.height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, image.height - 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), image.width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, image.width - 1);
      const wx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const at = (yy: number, xx: number): number => image.data[(yy * image.width + xx) * 3 + c]!;
        const v = (1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x1)) + wy * ((1 - wx) * at(y1, x0) + wx * at(y1, x1));
        out[(y * width + x) * 3 + c] = Math.round(v);
      }
    }
  }
  return { width, height, data: out };
}

export interface ToTensorOptions {
  /** Resize every image to `[height, width]` first (they must agree otherwise). */
  readonly size?: readonly [number, number];
  /** Per-channel mean and standard deviation of `x / 255` (default: none, values in [0, 1]). */
  readonly mean?: readonly [number, number, number];
  readonly std?: readonly [number, number, number];
}

/** A batch of images as a float32 tensor `[N, 3, H, W]` (NCHW), scaled to [0, 1] and normalised. */
export function imagesToTensor(images: readonly RgbImage[], options: ToTensorOptions = {}): Tensor {
  if (images.length === 0) throw new ValueRangeError("imagesToTensor", "there are no images");
  const [H, W] = options.size ?? [images[0]!.height, images[0]!.width];
  const mean = options.mean ?? [0, 0, 0];
  const std = options.std ?? [1, 1, 1];
  const N = images.length;
  const data = new Float32Array(N * 3 * H * W);
  images.forEach((original, n) => {
    const image = options.size ? resizeImage(original, W, H) : original;
    if (image.width !== W || image.height !== H) {
      throw new ValueRangeError("imagesToTensor", `image ${n} is ${image.width}×${image.height}, the first is ${W}×${H}: pass size to resize them all`);
    }
    for (let c = 0; c < 3; c++) {
      const o = (n * 3 + c) * H * W;
      for (let p = 0; p < H * W; p++) data[o + p] = (image.data[p * 3 + c]! / 255 - mean[c]!) / std[c]!;
    }
  });
  return new Tensor(data, [N, 3, H, W]);
}

/**
 * Videos (each a list of frames) to `[N, T, 3, H, W]`: each video sampled to `frames` frames evenly
 * over its length (frame `floor((i + 0.5) · length / frames)`), all resized and normalised as
 * `imagesToTensor` does. Without `frames`, every video must have the first one's length.
 */
export function videosToTensor(videos: readonly (readonly RgbImage[])[], options: ToTensorOptions & { readonly frames?: number } = {}): Tensor {
  if (videos.length === 0) throw new ValueRangeError("videosToTensor", "there are no videos");
  const T = options.frames ?? videos[0]!.length;
  if (!Number.isInteger(T) || T < 1) throw new ValueRangeError("videosToTensor", `frames must be a positive integer, got ${T}`);
  const sampled = videos.map((video, n) => {
    if (video.length === 0) throw new ValueRangeError("videosToTensor", `video ${n} has no frames`);
    if (options.frames === undefined && video.length !== T) {
      throw new ValueRangeError("videosToTensor", `video ${n} has ${video.length} frames, the first has ${T}: pass frames to sample them all to one length`);
    }
    return Array.from({ length: T }, (_, i) => video[Math.floor(((i + 0.5) * video.length) / T)]!);
  });
  const flat = imagesToTensor(sampled.flat(), options);
  const [, C, H, W] = flat.shape as [number, number, number, number];
  return new Tensor(flat.data, [videos.length, T, C, H, W]);
}
