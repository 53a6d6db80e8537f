import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { encodePng, fromImageData, readVideoFrames, videosToTensor } from "../index.js";

// A 1×1 frame whose red channel is `v`: order is readable from the pixels.
const frame = (v: number) => encodePng({ width: 1, height: 1, data: Uint8Array.of(v, 0, 0) });

describe("readVideoFrames", () => {
  it("reads a folder's PNG frames in natural name order, ignoring other files", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unroll-video-"));
    for (const i of [1, 2, 9, 10, 11]) writeFileSync(join(dir, `frame-${i}.png`), frame(i * 10));
    writeFileSync(join(dir, "notes.txt"), "not a frame");
    const frames = await readVideoFrames(dir);
    expect(frames.map((f) => f.data[0])).toEqual([10, 20, 90, 100, 110]);
    expect(videosToTensor([frames], { frames: 2 }).shape).toEqual([1, 2, 3, 1, 1]);
  });

  it("says what is wrong with a folder that is missing, empty of frames, or holds a broken frame", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unroll-video-"));
    await expect(readVideoFrames(join(dir, "nowhere"))).rejects.toThrow(/the video folder .*nowhere does not exist/);
    writeFileSync(join(dir, "a.txt"), "x");
    await expect(readVideoFrames(dir)).rejects.toThrow(/has no PNG or JPEG frames/);
    await expect(readVideoFrames(join(dir, "a.txt"))).rejects.toThrow(/a\.txt is not a folder/);
    const broken = join(dir, "broken");
    mkdirSync(broken);
    writeFileSync(join(broken, "0.png"), frame(1));
    writeFileSync(join(broken, "1.png"), "GIF89a not really");
    await expect(readVideoFrames(broken)).rejects.toThrow(/1\.png is named as an image but is not a PNG or JPEG/);
  });
});

describe("fromImageData", () => {
  it("drops alpha by compositing onto white, as decoding does", () => {
    // Two pixels: opaque red, and half-transparent black (-> mid grey on white).
    const image = fromImageData({ width: 2, height: 1, data: Uint8ClampedArray.of(255, 0, 0, 255, 0, 0, 0, 128) });
    expect(Array.from(image.data)).toEqual([255, 0, 0, 127, 127, 127]);
  });
  it("refuses data of the wrong length and empty images", () => {
    expect(() => fromImageData({ width: 2, height: 2, data: new Uint8ClampedArray(12) })).toThrow(/a 2×2 ImageData holds 16 RGBA values, got 12/);
    expect(() => fromImageData({ width: 0, height: 2, data: new Uint8ClampedArray(0) })).toThrow(/at least 1×1 pixels, got 0×2/);
  });
});
