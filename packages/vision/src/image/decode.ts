import { DataError } from "@unroll/nlp";
import { ValueRangeError } from "@unroll/tensor";
import jpeg from "jpeg-js";
import { PNG } from "pngjs";

// PNG and JPEG decoding with the pure-JavaScript pngjs and jpeg-js: the same code in Node and in a
// bundled page, nothing native to install (sharp is faster at resizing, but ships a platform
// binary and does not run in browsers; the images here are small). Every limit is checked on the
// header, before a pixel is decoded, so a decompression bomb costs nothing.

/** An image as 8-bit RGB, row-major `[height, width, 3]`, alpha composited onto white. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

export interface DecodeOptions {
  /** Named in error messages (a file path). */
  readonly name?: string;
  /** Refuse images with more pixels than this (default 4096 × 4096, 16.8 million). */
  readonly maxPixels?: number;
}

export const DEFAULT_MAX_PIXELS = 4096 * 4096;

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** The format of an image file by its first bytes, or null. */
export function imageFormat(bytes: Uint8Array): "png" | "jpeg" | null {
  if (bytes.length >= 8 && PNG_MAGIC.every((b, i) => bytes[i] === b)) return "png";
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  return null;
}

/** Width and height from the header (PNG's IHDR, JPEG's first start-of-frame), without decoding. */
export function imageSize(bytes: Uint8Array, name = "the image"): { width: number; height: number } {
  const format = imageFormat(bytes);
  if (format === "png") {
    if (bytes.length < 24) throw truncated(name);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return { width: view.getUint32(16), height: view.getUint32(20) };
  }
  if (format === "jpeg") {
    let i = 2;
    while (i + 9 < bytes.length) {
      if (bytes[i] !== 0xff) throw new DataError("MALFORMED", `${name}: not a valid JPEG file (a marker is missing at byte ${i})`, { path: name, byteOffset: i });
      const marker = bytes[i + 1]!;
      const length = (bytes[i + 2]! << 8) | bytes[i + 3]!;
      // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { height: (bytes[i + 5]! << 8) | bytes[i + 6]!, width: (bytes[i + 7]! << 8) | bytes[i + 8]! };
      }
      i += 2 + length;
    }
    throw truncated(name);
  }
  throw new DataError("MALFORMED", `${name} is neither a PNG nor a JPEG file`, { path: name });
}

function truncated(name: string): DataError {
  return new DataError("MALFORMED", `${name} is truncated: its header ends before the image size`, { path: name });
}

/**
 * Decodes a PNG or JPEG file to 8-bit RGB. Throws a `DataError` naming the file for anything that
 * is not a readable image: an unknown format, a truncated or corrupt file, a zero-sized image, or
 * one above `maxPixels` (checked before decoding).
 */
export function decodeImage(bytes: Uint8Array, options: DecodeOptions = {}): RgbImage {
  const name = options.name ?? "the image";
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!(maxPixels > 0)) throw new ValueRangeError("decodeImage", `maxPixels must be positive, got ${maxPixels}`);
  if (bytes.length === 0) throw new DataError("EMPTY", `${name} is empty (0 bytes)`, { path: name });
  const { width, height } = imageSize(bytes, name);
  if (width === 0 || height === 0) throw new DataError("MALFORMED", `${name} is ${width}×${height} pixels: an image needs at least one`, { path: name });
  if (width * height > maxPixels) {
    throw new DataError(
      "TOO_LARGE",
      `${name} is ${width}×${height} = ${(width * height).toLocaleString("en-US")} pixels, more than the limit of ${maxPixels.toLocaleString("en-US")}; resize it first, or raise maxPixels`,
      { path: name },
    );
  }
  let rgba: Uint8Array;
  try {
    if (imageFormat(bytes) === "png") {
      rgba = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).data;
    } else {
      rgba = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: maxPixels / 1e6, maxMemoryUsageInMB: Math.max(64, (maxPixels * 8) / 2 ** 20) }).data;
    }
  } catch (e) {
    throw new DataError("MALFORMED", `${name} cannot be decoded: ${(e as Error).message.split("\n")[0]}`, { path: name, cause: e });
  }
  if (rgba.length < width * height * 4) throw new DataError("MALFORMED", `${name} cannot be decoded: it holds fewer pixels than its header says`, { path: name });
  return { width, height, data: rgbaToRgb(rgba, width * height) };
}

export function rgbaToRgb(rgba: ArrayLike<number>, pixels: number): Uint8Array {
  const rgb = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    // Alpha over white: the captioning sets are drawings on white.
    const a = rgba[p * 4 + 3]! / 255;
    for (let c = 0; c < 3; c++) rgb[p * 3 + c] = Math.round(rgba[p * 4 + c]! * a + 255 * (1 - a));
  }
  return rgb;
}

/**
 * A browser `ImageData` (RGBA, from a canvas's `getImageData`; an `ImageBitmap` or `<img>` drawn
 * onto an `OffscreenCanvas` first) as 8-bit RGB, alpha composited onto white as `decodeImage` does.
 */
export function fromImageData(image: { readonly width: number; readonly height: number; readonly data: ArrayLike<number> }): RgbImage {
  const { width, height, data } = image;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new ValueRangeError("fromImageData", `the image must be at least 1×1 pixels, got ${String(width)}×${String(height)}`);
  }
  if (data.length !== width * height * 4) {
    throw new ValueRangeError("fromImageData", `a ${width}×${height} ImageData holds ${width * height * 4} RGBA values, got ${data.length}`);
  }
  return { width, height, data: rgbaToRgb(data, width * height) };
}

/** `decodeImage` over a file (Node only): a missing or unreadable file is a `DataError` too. */
export async function readImage(path: string, options: Omit<DecodeOptions, "name"> = {}): Promise<RgbImage> {
  const { readFile, stat } = await import("node:fs/promises");
  let bytes: Uint8Array;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new DataError("NOT_A_FILE", `${path} is not a file`, { path });
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    if (e instanceof DataError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataError(code === "ENOENT" ? "NOT_FOUND" : "UNREADABLE", `cannot read ${path}: ${(e as Error).message}`, { path, cause: e });
  }
  return decodeImage(bytes, { ...options, name: path });
}

/** Encodes 8-bit RGB as a PNG file (attention overlays, test images). */
export function encodePng(image: RgbImage): Uint8Array {
  const png = new PNG({ width: image.width, height: image.height });
  for (let p = 0; p < image.width * image.height; p++) {
    png.data[p * 4] = image.data[p * 3]!;
    png.data[p * 4 + 1] = image.data[p * 3 + 1]!;
    png.data[p * 4 + 2] = image.data[p * 3 + 2]!;
    png.data[p * 4 + 3] = 255;
  }
  return new Uint8Array(PNG.sync.write(png));
}
