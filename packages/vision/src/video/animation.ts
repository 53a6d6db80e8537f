import { DataError } from "@unroll/nlp";
import { decompressFrames, type ParsedFrame, parseGIF } from "gifuct-js";
import UPNG from "upng-js";
import { DEFAULT_MAX_PIXELS, type DecodeOptions, decodeImage, imageFormat, imageSize, rgbaToRgb, type RgbImage } from "../image/decode.js";
import { readVideoFrames } from "./frames.js";

// Animated GIF (gifuct-js) and APNG (UPNG.js), both pure JavaScript like the still-image decoders,
// so a video decodes the same in Node and in a page. As for still images, the limits are checked
// before any pixel is decompressed: the canvas size from the header, the frame count from the
// frame table (GIF) or the acTL chunk (APNG).

/** At most this many frames per animation unless `maxFrames` says otherwise. */
export const DEFAULT_MAX_FRAMES = 1000;

export interface AnimationOptions extends DecodeOptions {
  /** Refuse animations with more frames than this (default 1,000). */
  readonly maxFrames?: number;
}

const GIF_MAGIC = [0x47, 0x49, 0x46, 0x38]; // "GIF8"

export function isGif(bytes: Uint8Array): boolean {
  return bytes.length >= 6 && GIF_MAGIC.every((b, i) => bytes[i] === b) && (bytes[4] === 0x37 || bytes[4] === 0x39) && bytes[5] === 0x61;
}

/**
 * The frames of an animated GIF or APNG as 8-bit RGB (alpha over white, as `decodeImage`), each
 * composited onto the canvas the way a browser shows it (the frames' disposal and blending
 * applied). A still PNG or JPEG is a video of one frame.
 */
export function decodeAnimation(bytes: Uint8Array, options: AnimationOptions = {}): RgbImage[] {
  const name = options.name ?? "the video";
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const maxFrames = options.maxFrames ?? DEFAULT_MAX_FRAMES;
  if (bytes.length === 0) throw new DataError("EMPTY", `${name} is empty (0 bytes)`, { path: name });
  if (isGif(bytes)) return decodeGif(bytes, name, maxPixels, maxFrames);
  const format = imageFormat(bytes);
  if (format === "png") {
    const frames = apngFrameCount(bytes, name);
    if (frames === null) return [decodeImage(bytes, options)];
    return decodeApng(bytes, name, maxPixels, maxFrames, frames);
  }
  if (format === "jpeg") return [decodeImage(bytes, options)];
  throw new DataError("MALFORMED", `${name} is not a GIF, PNG/APNG or JPEG file`, { path: name });
}

function checkCanvas(name: string, width: number, height: number, frames: number, maxPixels: number, maxFrames: number): void {
  if (width === 0 || height === 0) throw new DataError("MALFORMED", `${name} is ${width}×${height} pixels: there is nothing to decode`, { path: name });
  if (width * height > maxPixels) {
    throw new DataError("TOO_LARGE", `${name} is ${width}×${height} pixels, more than the limit of ${maxPixels.toLocaleString("en-US")} (maxPixels)`, { path: name });
  }
  if (frames === 0) throw new DataError("EMPTY", `${name} holds no frames`, { path: name });
  if (frames > maxFrames) throw new DataError("TOO_LARGE", `${name} holds ${frames} frames, more than the limit of ${maxFrames} (maxFrames)`, { path: name });
}

function decodeGif(bytes: Uint8Array, name: string, maxPixels: number, maxFrames: number): RgbImage[] {
  if (bytes.length < 13) throw new DataError("MALFORMED", `${name} is truncated: a GIF header is 13 bytes, the file has ${bytes.length}`, { path: name });
  const width = bytes[6]! | (bytes[7]! << 8);
  const height = bytes[8]! | (bytes[9]! << 8);
  checkCanvas(name, width, height, 1, maxPixels, maxFrames);
  let parsed: ReturnType<typeof parseGIF>;
  let frames: ParsedFrame[];
  try {
    parsed = parseGIF(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    const images = parsed.frames.filter((f) => "image" in f).length;
    checkCanvas(name, width, height, images, maxPixels, maxFrames);
    frames = decompressFrames(parsed, true);
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError("MALFORMED", `${name} cannot be decoded as a GIF: ${(e as Error).message.split("\n")[0]}`, { path: name, cause: e });
  }
  if (frames.length === 0) throw new DataError("EMPTY", `${name} holds no frames`, { path: name });
  // The GIF canvas starts transparent (shown over white); each frame is drawn over what the
  // previous frame's disposal left: 2 clears its rectangle, 3 restores what was under it.
  const canvas = new Uint8ClampedArray(width * height * 4);
  const out: RgbImage[] = [];
  for (const frame of frames) {
    const { left, top, width: fw, height: fh } = frame.dims;
    const saved = frame.disposalType === 3 ? canvas.slice() : null;
    for (let y = 0; y < fh; y++) {
      const cy = top + y;
      if (cy >= height) break;
      for (let x = 0; x < fw; x++) {
        const cx = left + x;
        if (cx >= width) break;
        const s = (y * fw + x) * 4;
        if (frame.patch[s + 3] === 0) continue; // the transparent index keeps what is under it
        const d = (cy * width + cx) * 4;
        canvas[d] = frame.patch[s]!;
        canvas[d + 1] = frame.patch[s + 1]!;
        canvas[d + 2] = frame.patch[s + 2]!;
        canvas[d + 3] = 255;
      }
    }
    out.push({ width, height, data: rgbaToRgb(canvas, width * height) });
    if (saved) canvas.set(saved);
    else if (frame.disposalType === 2) {
      for (let y = top; y < Math.min(height, top + fh); y++) canvas.fill(0, (y * width + left) * 4, (y * width + Math.min(width, left + fw)) * 4);
    }
  }
  return out;
}

/** The frame count of an APNG's acTL chunk, or null for a still PNG (no acTL before the image data). */
function apngFrameCount(bytes: Uint8Array, name: string): number | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 8; at + 8 <= bytes.length; ) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(bytes[at + 4]!, bytes[at + 5]!, bytes[at + 6]!, bytes[at + 7]!);
    if (type === "acTL") {
      if (at + 16 > bytes.length) throw new DataError("MALFORMED", `${name} is truncated inside its animation chunk (acTL)`, { path: name });
      return view.getUint32(at + 8);
    }
    if (type === "IDAT" || type === "IEND") return null;
    at += 12 + length;
  }
  return null;
}

function decodeApng(bytes: Uint8Array, name: string, maxPixels: number, maxFrames: number, frameCount: number): RgbImage[] {
  const { width, height } = imageSize(bytes, name);
  checkCanvas(name, width, height, frameCount, maxPixels, maxFrames);
  let rgba: ArrayBuffer[];
  try {
    const decoded = UPNG.decode(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    // The frame table must agree with the acTL count checked above.
    checkCanvas(name, decoded.width, decoded.height, decoded.frames.length, maxPixels, maxFrames);
    rgba = UPNG.toRGBA8(decoded);
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError("MALFORMED", `${name} cannot be decoded as an APNG: ${(e as Error).message.split("\n")[0]}`, { path: name, cause: e });
  }
  return rgba.map((frame) => {
    const pixels = new Uint8Array(frame);
    if (pixels.length < width * height * 4) throw new DataError("MALFORMED", `${name} cannot be decoded: a frame holds fewer pixels than its header says`, { path: name });
    return { width, height, data: rgbaToRgb(pixels, width * height) };
  });
}

/**
 * A video from disk (Node only): a folder of frames (`readVideoFrames`), an animated GIF or APNG,
 * or a still image (one frame). Sample and stack with `videosToTensor`.
 */
export async function readVideo(path: string, options: Omit<AnimationOptions, "name"> = {}): Promise<RgbImage[]> {
  const { readFile, stat } = await import("node:fs/promises");
  let isFolder: boolean;
  try {
    isFolder = (await stat(path)).isDirectory();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataError(code === "ENOENT" ? "NOT_FOUND" : "UNREADABLE", `cannot read the video ${path}: ${(e as Error).message}`, { path, cause: e });
  }
  if (isFolder) return readVideoFrames(path, options);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw new DataError("UNREADABLE", `cannot read the video ${path}: ${(e as Error).message}`, { path, cause: e });
  }
  return decodeAnimation(bytes, { ...options, name: path });
}
