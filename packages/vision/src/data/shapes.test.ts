import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { COLOURS, movingShapesDataset, parseCaptions, readCaptions, readImage, shapesDataset } from "../index.js";

const shared = new URL("../../../../../shared/data/tuxpaint/train.tsv", import.meta.url);

describe("procedural shapes", () => {
  it("draws what the caption says, the same for a seed", () => {
    const data = shapesDataset({ count: 200, side: 32, seed: 3 });
    expect(shapesDataset({ count: 200, side: 32, seed: 3 })).toEqual(data);
    const one = /^a (small|large) (red|green|blue|yellow) (circle|square|triangle)$/;
    const two = /^a (small|large) (red|green|blue|yellow) (circle|square|triangle) (above|below|left of|right of) a (red|green|blue|yellow) (circle|square|triangle)$/;
    for (const { image, caption } of data) {
      expect(one.test(caption) || two.test(caption), caption).toBe(true);
      // Every colour named is drawn somewhere, and no other.
      const named = Object.keys(COLOURS).filter((c) => caption.includes(` ${c} `));
      for (const [c, [r, g, b]] of Object.entries(COLOURS)) {
        let present = false;
        for (let p = 0; p < image.width * image.height && !present; p++) present = image.data[p * 3] === r && image.data[p * 3 + 1] === g && image.data[p * 3 + 2] === b;
        expect(present, `${caption}: ${c}`).toBe(named.includes(c));
      }
    }
    const kinds = new Set(data.map((d) => (two.test(d.caption) ? "two" : "one")));
    expect(kinds).toEqual(new Set(["one", "two"]));
  });

  it("places the first shape where the relation says", () => {
    let checked = 0;
    for (const { image, caption } of shapesDataset({ count: 60, side: 32, seed: 5 })) {
      const m = /^a \w+ (\w+) \w+ (above|below|left of|right of) a (\w+)/.exec(caption);
      if (!m || m[1] === m[3]) continue; // one colour for both: the first shape's pixels cannot be told apart
      const [r, g, b] = COLOURS[m[1]!]!;
      let sx = 0, sy = 0, n = 0;
      for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) {
        const o = (y * 32 + x) * 3;
        if (image.data[o] === r && image.data[o + 1] === g && image.data[o + 2] === b) [sx, sy, n] = [sx + x, sy + y, n + 1];
      }
      const [cx, cy] = [sx / n / 32, sy / n / 32];
      const where = { above: cy < 0.45, below: cy > 0.55, "left of": cx < 0.45, "right of": cx > 0.55 }[m[2] as "above"];
      expect(where, caption).toBe(true);
      checked++;
    }
    expect(checked).toBeGreaterThan(15);
  });

  it("moves the shape the way the video's caption says", () => {
    for (const { frames, caption } of movingShapesDataset({ count: 20, side: 32, frames: 6, seed: 1 })) {
      expect(frames).toHaveLength(6);
      const centre = (k: number): [number, number] => {
        let sx = 0, sy = 0, n = 0;
        const im = frames[k]!;
        for (let p = 0; p < 32 * 32; p++) if (im.data[p * 3] !== 255 || im.data[p * 3 + 1] !== 255 || im.data[p * 3 + 2] !== 255) [sx, sy, n] = [sx + (p % 32), sy + Math.floor(p / 32), n + 1];
        return [sx / n, sy / n];
      };
      const [x0, y0] = centre(0);
      const [x1, y1] = centre(5);
      const moved = { "moves left": x1 < x0 - 5, "moves right": x1 > x0 + 5, "moves up": y1 < y0 - 5, "moves down": y1 > y0 + 5 };
      expect(moved[/moves \w+$/.exec(caption)![0] as "moves left"], caption).toBe(true);
    }
  });
});

describe("caption files", () => {
  it("groups several captions of one image and names the line of a malformed one", () => {
    const entries = parseCaptions("a.png\tA kite.\nb.png\tA tower.\na.png\tA red kite.\n");
    expect(entries).toEqual([
      { image: "a.png", captions: ["A kite.", "A red kite."], line: 1 },
      { image: "b.png", captions: ["A tower."], line: 2 },
    ]);
    expect(() => parseCaptions("a.png\tA kite.\nb.png A tower.\n", "captions.tsv")).toThrow(/captions\.tsv, line 2: expected 2 tab-separated columns/);
  });

  it.runIf(existsSync(shared))("reads ../shared/data/tuxpaint: 789 images, each a 96×96 picture (needs ../shared/data; skipped without it)", async () => {
    const entries = await readCaptions(shared.pathname);
    expect(entries.length).toBe(789);
    const first = await readImage(entries[0]!.image);
    expect([first.width, first.height]).toEqual([96, 96]);
  });
});
