import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import { decodeImage, encodePng, imagesToTensor, imageSize, readImage, resizeImage } from "../index.js";

const checker = { width: 3, height: 2, data: Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90]) };

function rgbaPng(width: number, height: number, rgba: number[]): Uint8Array {
  const png = new PNG({ width, height });
  png.data.set(rgba);
  return new Uint8Array(PNG.sync.write(png));
}

describe("decoding images", () => {
  it("reads back the PNG it writes, and composites transparency onto white", () => {
    expect(decodeImage(encodePng(checker))).toEqual(checker);
    const half = decodeImage(rgbaPng(1, 1, [0, 0, 0, 128])); // black at alpha 128/255
    expect(Array.from(half.data)).toEqual([127, 127, 127]);
  });

  it("reads JPEG (lossy: close to the pixels written)", () => {
    const width = 16;
    const height = 8;
    const rgba = new Uint8Array(width * height * 4);
    for (let p = 0; p < width * height; p++) rgba.set([200, 100, 50, 255], p * 4);
    const file = jpeg.encode({ data: rgba, width, height }, 95).data;
    const image = decodeImage(new Uint8Array(file));
    expect([image.width, image.height]).toEqual([16, 8]);
    expect(Math.abs(image.data[0]! - 200) + Math.abs(image.data[1]! - 100) + Math.abs(image.data[2]! - 50)).toBeLessThan(12);
    expect(imageSize(new Uint8Array(file))).toEqual({ width: 16, height: 8 });
  });

  it("refuses what is not a readable image, naming the file, before decoding a pixel", () => {
    const png = encodePng(checker);
    expect(() => decodeImage(new Uint8Array(0), { name: "a.png" })).toThrow("a.png is empty (0 bytes)");
    expect(() => decodeImage(new TextEncoder().encode("hello"), { name: "b.txt" })).toThrow("b.txt is neither a PNG nor a JPEG file");
    expect(() => decodeImage(png.slice(0, 20), { name: "c.png" })).toThrow("c.png is truncated: its header ends before the image size");
    expect(() => decodeImage(png.slice(0, png.length - 20), { name: "d.png" })).toThrow(/^d\.png cannot be decoded: /);
    // A header that claims 100,000 × 100,000 pixels: refused from the header alone.
    const bomb = png.slice();
    new DataView(bomb.buffer).setUint32(16, 100_000);
    new DataView(bomb.buffer).setUint32(20, 100_000);
    expect(() => decodeImage(bomb, { name: "bomb.png" })).toThrow(/bomb\.png is 100000×100000 = 10,000,000,000 pixels, more than the limit of 16,777,216; resize it first, or raise maxPixels/);
    const empty = png.slice();
    new DataView(empty.buffer).setUint32(16, 0);
    expect(() => decodeImage(empty, { name: "zero.png" })).toThrow("zero.png is 0×2 pixels: an image needs at least one");
    expect(() => decodeImage(png, { maxPixels: 5 })).toThrow(/more than the limit of 5/);
  });

  it("reads files, and reports a missing one as a data error", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unroll-images-"));
    writeFileSync(join(dir, "x.png"), encodePng(checker));
    expect(await readImage(join(dir, "x.png"))).toEqual(checker);
    await expect(readImage(join(dir, "missing.png"))).rejects.toMatchObject({ name: "DataError", code: "NOT_FOUND" });
    await expect(readImage(dir)).rejects.toThrow(/is not a file/);
  });
});

describe("images as tensors", () => {
  it("resizes by sampling pixel centres (a 2×2 image to 1×1 is their mean; its own size is unchanged)", () => {
    const square = { width: 2, height: 2, data: Uint8Array.from([0, 0, 0, 100, 100, 100, 200, 200, 200, 40, 40, 40]) };
    expect(Array.from(resizeImage(square, 1, 1).data)).toEqual([85, 85, 85]);
    expect(resizeImage(checker, 3, 2)).toBe(checker);
    expect(() => resizeImage(checker, 0, 2)).toThrow(/positive integers/);
  });

  it("lays a batch out as NCHW float32 in [0, 1], normalised with a mean and std when given", () => {
    const t = imagesToTensor([checker, checker]);
    expect(t.shape).toEqual([2, 3, 2, 3]);
    expect(Array.from(t.data.slice(0, 6)).map((v) => Math.round(v * 255))).toEqual([255, 0, 0, 10, 40, 70]); // red channel of image 0
    const n = imagesToTensor([checker], { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
    expect(n.data[0]).toBeCloseTo(1, 6);
    expect(n.data[1]).toBeCloseTo(-1, 6);
    expect(() => imagesToTensor([checker, { width: 2, height: 2, data: new Uint8Array(12) }])).toThrow(/image 1 is 2×2, the first is 3×2: pass size/);
    expect(imagesToTensor([checker, { width: 2, height: 2, data: new Uint8Array(12) }], { size: [4, 4] }).shape).toEqual([2, 3, 4, 4]);
  });
});
