import { describe, expect, it } from "vitest";
import { attentionOverlay, attentionStrip } from "../index.js";

const white = (side: number) => ({ width: side, height: side, data: new Uint8Array(side * side * 3).fill(255) });
const pixel = (image: { width: number; data: Uint8Array }, x: number, y: number) => image.data[(y * image.width + x) * 3]!;

describe("attentionOverlay", () => {
  it("keeps the image bright where the word looked and fades it elsewhere", () => {
    // All the weight on the top-left region of a 2×2 grid.
    const out = attentionOverlay(white(8), [1, 0, 0, 0], [2, 2], { size: 96 });
    expect([out.width, out.height]).toEqual([96, 96]);
    expect(pixel(out, 5, 5)).toBe(255);
    expect(pixel(out, 90, 90)).toBe(Math.round(255 * 0.15));
    expect(pixel(out, 90, 5)).toBeLessThan(pixel(out, 40, 5));
    // Scaled by the maximum: halving every weight draws the same picture.
    expect(Array.from(attentionOverlay(white(8), [0.5, 0, 0, 0], [2, 2], { size: 96 }).data)).toEqual(Array.from(out.data));
  });

  it("refuses weights that do not fit the grid", () => {
    expect(() => attentionOverlay(white(4), [1, 0, 0], [2, 2])).toThrow(/a 2×2 grid has 4 weights, got 3/);
  });
});

describe("attentionStrip", () => {
  it("lays out the image and one overlay per word with gaps between", () => {
    const strip = attentionStrip(white(8), [[1, 0, 0, 0], [0, 0, 0, 1]], [2, 2], { size: 20, gap: 4 });
    expect([strip.width, strip.height]).toEqual([3 * 20 + 2 * 4, 20]);
    expect(pixel(strip, 19, 19)).toBe(255); // the image itself
    expect(pixel(strip, 22, 10)).toBe(255); // a gap
    expect(pixel(strip, 24 + 1, 1)).toBe(255); // word 1 looked top-left
    expect(pixel(strip, 48 + 1, 1)).toBe(Math.round(255 * 0.15)); // word 2 looked bottom-right
    expect(pixel(strip, 48 + 19, 19)).toBe(255);
  });
});
