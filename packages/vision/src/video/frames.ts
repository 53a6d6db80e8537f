import { DataError } from "@unroll/nlp";
import { type DecodeOptions, imageFormat, readImage, type RgbImage } from "../image/decode.js";

/**
 * A video stored as a folder of frames (`frame-1.png`, `frame-2.png`, ..., PNG or JPEG; other
 * files ignored), in natural name order (`frame-10` after `frame-9`). Node only. Sample and stack
 * with `videosToTensor`.
 */
export async function readVideoFrames(folder: string, options: Omit<DecodeOptions, "name"> = {}): Promise<RgbImage[]> {
  const { readdir, readFile } = await import("node:fs/promises");
  const { join } = await import("node:path");
  let names: string[];
  try {
    names = await readdir(folder);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "does not exist" : code === "ENOTDIR" ? "is not a folder" : `cannot be read (${(e as Error).message})`;
    throw new DataError(code === "ENOENT" ? "NOT_FOUND" : "UNREADABLE", `the video folder ${folder} ${why}`, { path: folder, cause: e });
  }
  const frames: string[] = [];
  for (const name of names.sort((a, b) => a.localeCompare(b, "en", { numeric: true }))) {
    if (!/\.(png|jpe?g)$/i.test(name)) continue;
    // A frame named .png that is not one is the user's mistake to hear about, not to skip.
    const head = new Uint8Array(await readFile(join(folder, name))).subarray(0, 8);
    if (imageFormat(head) === null) throw new DataError("MALFORMED", `${join(folder, name)} is named as an image but is not a PNG or JPEG`, { path: join(folder, name) });
    frames.push(join(folder, name));
  }
  if (frames.length === 0) throw new DataError("EMPTY", `the video folder ${folder} has no PNG or JPEG frames`, { path: folder });
  return Promise.all(frames.map((path) => readImage(path, options)));
}
