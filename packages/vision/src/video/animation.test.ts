import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32, deflateSync } from "node:zlib";
import { GIFEncoder } from "gifenc";
import { describe, expect, it } from "vitest";
import { decodeAnimation, encodePng, readVideo, videosToTensor } from "../index.js";

// Test animations are 4×2 pixels: a red pixel walks along a white row, one step per frame, so the
// frame order and the compositing can be read back from the pixels.
const W = 4;
const H = 2;
const WHITE = [255, 255, 255];
const RED = [255, 0, 0];
const BLUE = [0, 0, 255];

/** The RGB of pixel (x, y) of a decoded frame. */
const at = (image: { data: Uint8Array; width: number }, x: number, y: number): number[] => Array.from(image.data.subarray((y * image.width + x) * 3, (y * image.width + x) * 3 + 3));

function gif(frames: { index: number[]; dispose?: number; transparent?: boolean }[], palette = [WHITE, RED, BLUE]): Uint8Array {
  const g = GIFEncoder();
  for (const f of frames) g.writeFrame(Uint8Array.from(f.index), W, H, { palette, delay: 100, ...(f.transparent ? { transparent: true, transparentIndex: 0 } : {}), ...(f.dispose !== undefined ? { dispose: f.dispose } : {}) });
  g.finish();
  return g.bytes();
}

const walking = (n: number) => Array.from({ length: n }, (_, t) => ({ index: Array.from({ length: W * H }, (_, p) => (p === t ? 1 : 0)) }));

/**
 * An APNG written chunk by chunk from the specification (RGB, 8 bits): frame 0 is the default image
 * (IDAT); each later frame is a sub-rectangle `[x, y, width, height]` of pixels drawn over the
 * canvas (blend "over", dispose "none"), so the decoder's compositing is exercised too.
 */
function apng(first: number[][], later: { rect: [number, number, number, number]; pixels: number[][] }[]): Uint8Array {
  const chunk = (type: string, data: Buffer): Buffer => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, "ascii");
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const pixelData = (pixels: number[][], width: number): Buffer => {
    const rows: number[] = [];
    pixels.forEach((rgb, p) => {
      if (p % width === 0) rows.push(0); // filter type 0 per row
      rows.push(...rgb);
    });
    return deflateSync(Buffer.from(rows));
  };
  let sequence = 0;
  const u32 = (...values: number[]): Buffer => Buffer.concat(values.map((v) => { const b = Buffer.alloc(4); b.writeUInt32BE(v, 0); return b; }));
  const frameControl = ([x, y, w, h]: [number, number, number, number], blend: number): Buffer =>
    chunk("fcTL", Buffer.concat([u32(sequence++, w, h, x, y), Buffer.from([0, 1, 0, 10, 0, blend])]));
  const ihdr = Buffer.concat([u32(W, H), Buffer.from([8, 2, 0, 0, 0])]);
  const parts = [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("acTL", u32(1 + later.length, 0))];
  parts.push(frameControl([0, 0, W, H], 0), chunk("IDAT", pixelData(first, W)));
  for (const f of later) parts.push(frameControl(f.rect, 1), chunk("fdAT", Buffer.concat([u32(sequence++), pixelData(f.pixels, f.rect[2])])));
  parts.push(chunk("IEND", Buffer.alloc(0)));
  return new Uint8Array(Buffer.concat(parts));
}

describe("decodeAnimation", () => {
  it("reads every frame of an animated GIF in order", () => {
    const frames = decodeAnimation(gif(walking(3)), { name: "walk.gif" });
    expect(frames).toHaveLength(3);
    frames.forEach((f, t) => {
      expect([f.width, f.height]).toEqual([W, H]);
      for (let x = 0; x < W; x++) expect(at(f, x, 0)).toEqual(x === t ? RED : WHITE);
    });
    expect(videosToTensor([frames], { frames: 2 }).shape).toEqual([1, 2, 3, H, W]);
  });

  it("composites GIF frames: transparent pixels keep what the frame before left", () => {
    // Frame 1 paints pixel 0 red; frame 2 is transparent except pixel 1 (blue): pixel 0 stays red.
    const second = Array.from({ length: W * H }, (_, p) => (p === 1 ? 2 : 0));
    const frames = decodeAnimation(gif([walking(1)[0]!, { index: second, transparent: true }]));
    expect(at(frames[1]!, 0, 0)).toEqual(RED);
    expect(at(frames[1]!, 1, 0)).toEqual(BLUE);
  });

  it("reads every frame of an APNG, sub-rectangle frames drawn over the canvas, and a still PNG or JPEG as one frame", () => {
    const white = Array.from({ length: W * H }, () => WHITE);
    // The red pixel walks: frame 1 paints (1, 0) red and frame 2 paints (2, 0) blue, each a 1×1 tile.
    const frames = decodeAnimation(apng(white.map((c, p) => (p === 0 ? RED : c)), [{ rect: [1, 0, 1, 1], pixels: [RED] }, { rect: [2, 0, 1, 1], pixels: [BLUE] }]), { name: "walk.png" });
    expect(frames).toHaveLength(3);
    expect([0, 1, 2, 3].map((x) => at(frames[0]!, x, 0))).toEqual([RED, WHITE, WHITE, WHITE]);
    expect([0, 1, 2, 3].map((x) => at(frames[1]!, x, 0))).toEqual([RED, RED, WHITE, WHITE]);
    expect([0, 1, 2, 3].map((x) => at(frames[2]!, x, 0))).toEqual([RED, RED, BLUE, WHITE]);
    expect(at(frames[2]!, 0, 1)).toEqual(WHITE);
    const still = decodeAnimation(encodePng({ width: 1, height: 1, data: Uint8Array.of(1, 2, 3) }));
    expect(still.map((f) => Array.from(f.data))).toEqual([[1, 2, 3]]);
  });

  it("checks the canvas size and the frame count before decompressing anything", () => {
    const big = gif(walking(2));
    // The header's logical screen: 40,000 × 40,000.
    big[6] = 0x40;
    big[7] = 0x9c;
    big[8] = 0x40;
    big[9] = 0x9c;
    expect(() => decodeAnimation(big, { name: "bomb.gif" })).toThrow(/bomb\.gif is 40000×40000 pixels, more than the limit of 16,777,216 \(maxPixels\)/);
    expect(() => decodeAnimation(gif(walking(5)), { name: "long.gif", maxFrames: 4 })).toThrow(/long\.gif holds 5 frames, more than the limit of 4 \(maxFrames\)/);
    const white = Array.from({ length: W * H }, () => WHITE);
    const tile = { rect: [0, 0, 1, 1] as [number, number, number, number], pixels: [RED] };
    expect(() => decodeAnimation(apng(white, [tile, tile]), { name: "long.png", maxFrames: 2 })).toThrow(/long\.png holds 3 frames, more than the limit of 2/);
  });

  it("names the file for empty, truncated and foreign bytes", () => {
    expect(() => decodeAnimation(new Uint8Array(0), { name: "empty.gif" })).toThrow(/empty\.gif is empty/);
    expect(() => decodeAnimation(gif(walking(1)).subarray(0, 10), { name: "cut.gif" })).toThrow(/cut\.gif is truncated/);
    expect(() => decodeAnimation(gif(walking(2)).subarray(0, 40), { name: "cut.gif" })).toThrow(/cut\.gif/);
    expect(() => decodeAnimation(new TextEncoder().encode("hello, world"), { name: "notes.txt" })).toThrow(/notes\.txt is not a GIF, PNG\/APNG or JPEG file/);
  });
});

describe("readVideo", () => {
  it("reads a folder of frames, an animated GIF and an APNG alike", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unroll-video-"));
    const folder = join(dir, "frames");
    mkdirSync(folder);
    for (let t = 0; t < 3; t++) writeFileSync(join(folder, `${t}.png`), encodePng({ width: 1, height: 1, data: Uint8Array.of(t, 0, 0) }));
    writeFileSync(join(dir, "walk.gif"), gif(walking(3)));
    expect((await readVideo(folder)).map((f) => f.data[0])).toEqual([0, 1, 2]);
    expect(await readVideo(join(dir, "walk.gif"))).toHaveLength(3);
    await expect(readVideo(join(dir, "nowhere.gif"))).rejects.toThrow(/cannot read the video .*nowhere\.gif/);
  });
});
