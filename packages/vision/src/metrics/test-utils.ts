// The pycocoevalcap reference values the metric tests read (excluded from the build with every test-utils.ts).
//
// fixtures/caption-coco.json is a committed copy of ../shared/fixtures/caption-coco.json (see
// ../shared/fixtures/README.md and fixtures/README.md): 8 cases scored by pycocoevalcap's `Bleu(4)`
// and `Cider()`. The copy lets the tests run without ../shared; where the original is present, the
// tests check that the copy still equals it and also run the original's cases.
import { existsSync, readFileSync } from "node:fs";

export interface CocoCase {
  readonly references: Record<string, string[]>;
  readonly candidates: Record<string, string>;
  readonly bleu: [number, number, number, number];
  readonly cider_d: number;
  readonly cider_d_per_image: number[];
}

export interface CocoFixture {
  readonly tool: string;
  readonly input: string;
  readonly cases: CocoCase[];
}

export const COMMITTED_FIXTURE = new URL("../../fixtures/caption-coco.json", import.meta.url);
export const SHARED_FIXTURE = new URL("../../../../../shared/fixtures/caption-coco.json", import.meta.url);

export function readFixture(url: URL): CocoFixture {
  return JSON.parse(readFileSync(url, "utf8")) as CocoFixture;
}

/** The fixtures to run: the committed copy, and the shared original where present and different. */
export function fixturesToRun(): { readonly name: string; readonly fixture: CocoFixture }[] {
  const committed = readFixture(COMMITTED_FIXTURE);
  const out = [{ name: "fixtures/caption-coco.json", fixture: committed }];
  if (existsSync(SHARED_FIXTURE)) {
    const shared = readFixture(SHARED_FIXTURE);
    if (JSON.stringify(shared) !== JSON.stringify(committed)) out.push({ name: "../shared/fixtures/caption-coco.json", fixture: shared });
  }
  return out;
}
