import { ValueRangeError } from "@unroll/tensor";
import type { RgbImage } from "../image/decode.js";
import { resizeImage } from "../image/tensor.js";

/**
 * One word's attention drawn over the image, as Show, Attend and Tell's figures do: the weights
 * over the `grid` (row by row) upsampled bilinearly to the picture and scaled by their maximum;
 * the image keeps its brightness where the model looked and fades to black elsewhere. The picture
 * is `image` resized to `size` pixels square (default: the image's own size, at least 96).
 */
export function attentionOverlay(image: RgbImage, weights: ArrayLike<number>, grid: readonly [number, number], options: { readonly size?: number } = {}): RgbImage {
  const [gh, gw] = grid;
  if (weights.length !== gh * gw) throw new ValueRangeError("attentionOverlay", `a ${gh}×${gw} grid has ${gh * gw} weights, got ${weights.length}`);
  const size = options.size ?? Math.max(96, image.width, image.height);
  const picture = resizeImage(image, size, size);
  let max = 0;
  for (let i = 0; i < weights.length; i++) max = Math.max(max, weights[i]!);
  const map = new Uint8Array(gh * gw * 3);
  for (let i = 0; i < gh * gw; i++) map.fill(max > 0 ? Math.round((255 * weights[i]!) / max) : 0, i * 3, i * 3 + 3);
  const heat = resizeImage({ width: gw, height: gh, data: map }, size, size);
  const out = new Uint8Array(size * size * 3);
  for (let p = 0; p < size * size; p++) {
    const a = 0.15 + (0.85 * heat.data[p * 3]!) / 255;
    for (let c = 0; c < 3; c++) out[p * 3 + c] = Math.round(picture.data[p * 3 + c]! * a);
  }
  return { width: size, height: size, data: out };
}

/**
 * The image and then one overlay per produced word (the end symbol's too, when the caption ended),
 * side by side with white gaps: the picture `unroll caption --attention-map` writes.
 */
export function attentionStrip(image: RgbImage, attention: readonly ArrayLike<number>[], grid: readonly [number, number], options: { readonly size?: number; readonly gap?: number } = {}): RgbImage {
  const size = options.size ?? Math.max(96, image.width, image.height);
  const gap = options.gap ?? 4;
  const tiles = [resizeImage(image, size, size), ...attention.map((w) => attentionOverlay(image, w, grid, { size }))];
  const width = tiles.length * size + (tiles.length - 1) * gap;
  const data = new Uint8Array(width * size * 3).fill(255);
  tiles.forEach((tile, k) => {
    for (let y = 0; y < size; y++) data.set(tile.data.subarray(y * size * 3, (y + 1) * size * 3), (y * width + k * (size + gap)) * 3);
  });
  return { width, height: size, data };
}
