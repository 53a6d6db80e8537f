import { DataError } from "@unroll/nlp";
import type { CaptionEntry } from "./captions.js";

// Google's emoji as a real captioning set that installs from the npm registry: 64×64 PNGs from
// `emoji-datasource-google` with their Unicode names as captions ("grinning face with smiling
// eyes", "ferris wheel", "japan flag"). An optional peer dependency: it is 74 MB, and only the CLI's
// captioning demo needs it (the CLI depends on it).

export const EMOJI_PACKAGE = "emoji-datasource-google";

interface EmojiRecord {
  readonly name: string | null;
  readonly short_name: string;
  readonly image: string;
  readonly category: string;
  readonly sort_order: number;
  readonly has_img_google: boolean;
}

/** The emoji set split deterministically: every tenth emoji (in Unicode's order) is held out. */
export interface EmojiCaptions {
  readonly train: CaptionEntry[];
  readonly dev: CaptionEntry[];
}

/** `emojiCaptions` with the package found by `resolve` (tests give one that fails). */
export async function emojiCaptionsFrom(resolve: (specifier: string) => string): Promise<EmojiCaptions> {
  const { dirname, join } = await import("node:path");
  const { readFile } = await import("node:fs/promises");
  let root: string;
  try {
    root = dirname(resolve(`${EMOJI_PACKAGE}/package.json`));
  } catch (error) {
    throw new DataError(
      "NOT_FOUND",
      `the emoji set comes from the package ${EMOJI_PACKAGE} (74 MB), an optional peer dependency of @unroll/vision, which is not installed; ` +
        `install it next to @unroll/vision: npm install ${EMOJI_PACKAGE} (or pnpm add / yarn add)`,
      { cause: error },
    );
  }
  const records = JSON.parse(await readFile(join(root, "emoji.json"), "utf8")) as EmojiRecord[];
  // Skin-tone swatches ("Component") are colour patches, not things to describe.
  const usable = records.filter((r) => r.has_img_google && r.category !== "Component").sort((a, b) => a.sort_order - b.sort_order);
  const entries = usable.map((r, i): CaptionEntry => ({ image: join(root, "img", "google", "64", r.image), captions: [(r.name ?? r.short_name.replace(/[_-]/g, " ")).toLowerCase()], line: i + 1 }));
  return { train: entries.filter((_, i) => i % 10 !== 9), dev: entries.filter((_, i) => i % 10 === 9) };
}

/** Google's emoji with their names as captions (Node only; needs the optional `emoji-datasource-google`). */
export async function emojiCaptions(): Promise<EmojiCaptions> {
  const { createRequire } = await import("node:module");
  return emojiCaptionsFrom(createRequire(import.meta.url).resolve);
}
