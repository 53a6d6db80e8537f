import { parsePairs, readPairs } from "@unroll/nlp";

/** One image of a caption file and its captions (several lines may caption the same image). */
export interface CaptionEntry {
  /** The image's path, resolved against the caption file's folder. */
  readonly image: string;
  readonly captions: string[];
  /** The first line that names the image (1-based). */
  readonly line: number;
}

/**
 * Reads a caption file: `image<TAB>caption` per line, image paths relative to the file (as
 * `../shared/data/tuxpaint/train.tsv` lays them out), several lines per image allowed. The lines go
 * through nlp's pair reader, so a line without a tab or with an empty side is an error that names
 * the line, bytes that are not UTF-8 too, and blank lines are skipped. Images keep the order of
 * their first line.
 */
export async function readCaptions(path: string): Promise<CaptionEntry[]> {
  const { dirname, resolve } = await import("node:path");
  const { pairs } = await readPairs(path);
  const folder = dirname(path);
  return groupCaptions(pairs.map((p) => ({ image: resolve(folder, p.source), caption: p.target, line: p.line })));
}

/** `readCaptions` over a file's text (paths kept as written). */
export function parseCaptions(text: string, name = "the caption file"): CaptionEntry[] {
  return groupCaptions(parsePairs(text, { name }).pairs.map((p) => ({ image: p.source, caption: p.target, line: p.line })));
}

function groupCaptions(rows: readonly { image: string; caption: string; line: number }[]): CaptionEntry[] {
  const byImage = new Map<string, { image: string; captions: string[]; line: number }>();
  for (const r of rows) {
    const entry = byImage.get(r.image);
    if (entry) entry.captions.push(r.caption);
    else byImage.set(r.image, { image: r.image, captions: [r.caption], line: r.line });
  }
  return [...byImage.values()];
}
