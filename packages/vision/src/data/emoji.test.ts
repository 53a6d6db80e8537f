import { describe, expect, it } from "vitest";
import { emojiCaptions, emojiCaptionsFrom, loadCaptionEntries, readImage, resolveCaptionInput } from "../index.js";

describe("emojiCaptions", () => {
  it("gives Google's emoji with their names, every tenth held out", async () => {
    const { train, dev } = await emojiCaptions();
    // emoji-datasource-google 16.0.0: 1,911 emoji, 5 skin-tone swatches left out.
    expect(train.length + dev.length).toBe(1906);
    expect(dev.length).toBe(190);
    const all = [...train, ...dev];
    expect(all.every((e) => e.captions.length === 1 && e.captions[0] === e.captions[0]!.toLowerCase() && e.captions[0]!.trim() !== "")).toBe(true);
    expect(all.map((e) => e.captions[0])).toContain("grinning face");
    expect(new Set(train.map((e) => e.image)).size).toBe(train.length);
    expect(train.some((e) => dev.some((d) => d.image === e.image))).toBe(false);
    const image = await readImage(train[0]!.image);
    expect([image.width, image.height]).toEqual([64, 64]);
    const set = await loadCaptionEntries(dev.slice(0, 3), resolveCaptionInput({ imageSize: 32 }));
    expect(set.inputs.shape).toEqual([3, 3, 32, 32]);
  });

  it("names the package and the install command when it is absent", async () => {
    const absent = (): string => {
      throw new Error("Cannot find module 'emoji-datasource-google/package.json'");
    };
    await expect(emojiCaptionsFrom(absent)).rejects.toThrow(/comes from the package emoji-datasource-google .*not installed.*npm install emoji-datasource-google/);
  });
});
