import { DataError } from "@unroll/nlp";
import { Tensor, ValueRangeError } from "@unroll/tensor";
import { type CaptionEntry, readCaptions } from "../data/captions.js";
import { readImage, type RgbImage } from "../image/decode.js";
import { IMAGENET_MEAN, IMAGENET_STD, imagesToTensor, videosToTensor } from "../image/tensor.js";
import { readVideo } from "../video/animation.js";

/** How images (or videos) become a captioner's input: kept with a trained model so captioning prepares them alike. */
export interface CaptionInput {
  /** Images are resized to `imageSize × imageSize` (default 32). */
  readonly imageSize: number;
  /** Videos are sampled to this many frames, evenly (default 8); null for image models. */
  readonly frames: number | null;
  /** "none": values in [0, 1] (default); "imagenet": ImageNet's per-channel mean and std (pretrained encoders). */
  readonly normalise: "none" | "imagenet";
}

/** Captioned images or videos ready to train on: one input per image, all its captions. */
export interface CaptionSet {
  /** Each input's name (its path, for a file) in the order of `inputs`. */
  readonly ids: readonly string[];
  /** `[M, 3, S, S]` images or `[M, T, 3, S, S]` videos. */
  readonly inputs: Tensor;
  readonly captions: readonly (readonly string[])[];
}

export function resolveCaptionInput(input: Partial<CaptionInput> = {}, video = false): CaptionInput {
  const imageSize = input.imageSize ?? 32;
  if (!Number.isInteger(imageSize) || imageSize < 8 || imageSize > 1024) throw new ValueRangeError("captioning", `imageSize must be an integer from 8 to 1024, got ${imageSize}`);
  const frames = video ? (input.frames ?? 8) : null;
  if (frames !== null && (!Number.isInteger(frames) || frames < 1 || frames > 256)) throw new ValueRangeError("captioning", `frames must be an integer from 1 to 256, got ${frames}`);
  const normalise = input.normalise ?? "none";
  if (normalise !== "none" && normalise !== "imagenet") throw new ValueRangeError("captioning", `normalise must be "none" or "imagenet", got ${JSON.stringify(normalise)}`);
  return { imageSize, frames, normalise };
}

/** Decoded images (or videos: lists of frames) as the model's input tensor. */
export function captionInputs(items: readonly RgbImage[] | readonly (readonly RgbImage[])[], input: CaptionInput): Tensor {
  const size: [number, number] = [input.imageSize, input.imageSize];
  const scale = input.normalise === "imagenet" ? { mean: IMAGENET_MEAN, std: IMAGENET_STD } : {};
  if (input.frames === null) {
    if (items.some((x) => Array.isArray(x))) throw new ValueRangeError("captioning", "this is an image model: give it images, not videos");
    return imagesToTensor(items as readonly RgbImage[], { size, ...scale });
  }
  const videos = items.map((x) => (Array.isArray(x) ? (x as readonly RgbImage[]) : [x as RgbImage]));
  return videosToTensor(videos, { size, frames: input.frames, ...scale });
}

/**
 * Reads a caption file (`image<TAB>caption`, see `readCaptions`) and every image it names, or with
 * `input.frames` set every video (a folder of frames, an animated GIF or APNG). A file that cannot
 * be read or decoded is a `DataError` naming it and the caption file's line.
 */
export async function loadCaptionSet(file: string, input: CaptionInput, options: { readonly maxPixels?: number } = {}): Promise<CaptionSet> {
  const entries = await readCaptions(file);
  if (entries.length === 0) throw new DataError("EMPTY", `${file} holds no captions`, { path: file });
  return loadCaptionEntries(entries, input, { ...options, file });
}

/**
 * `loadCaptionSet` over entries already read (the emoji set, a list built in code): every image
 * (or video) decoded and prepared; errors name `options.file` and the entry's line when given.
 */
export async function loadCaptionEntries(entries: readonly CaptionEntry[], input: CaptionInput, options: { readonly maxPixels?: number; readonly file?: string } = {}): Promise<CaptionSet> {
  if (entries.length === 0) throw new ValueRangeError("loadCaptionEntries", "there are no captioned images");
  const limits = options.maxPixels !== undefined ? { maxPixels: options.maxPixels } : {};
  const decoded = await Promise.all(
    entries.map(async (e) => {
      try {
        return input.frames === null ? await readImage(e.image, limits) : await readVideo(e.image, limits);
      } catch (error) {
        if (error instanceof DataError && options.file !== undefined) throw new DataError(error.code, `${options.file}, line ${e.line}: ${error.message}`, { path: options.file, cause: error });
        throw error;
      }
    }),
  );
  return { ids: entries.map((e) => e.image), inputs: captionInputs(decoded as RgbImage[] | RgbImage[][], input), captions: entries.map((e) => e.captions) };
}

/** The inputs `indices` of a set, as one batch tensor. */
export function pickInputs(inputs: Tensor, indices: ArrayLike<number>): Tensor {
  const per = inputs.size / inputs.shape[0]!;
  const out = new Float32Array(indices.length * per);
  const data = inputs.data as Float32Array;
  for (let k = 0; k < indices.length; k++) out.set(data.subarray(indices[k]! * per, (indices[k]! + 1) * per), k * per);
  return new Tensor(out, [indices.length, ...inputs.shape.slice(1)]);
}

/** A set's inputs `[start, end)` and their captions. */
export function sliceSet(set: CaptionSet, start: number, end: number): CaptionSet {
  const indices = Array.from({ length: Math.max(0, end - start) }, (_, i) => start + i);
  return { ids: set.ids.slice(start, end), inputs: pickInputs(set.inputs, indices), captions: set.captions.slice(start, end) };
}
