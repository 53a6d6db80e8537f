// The sacreBLEU reference values the metric tests read (excluded from the build with every test-utils.ts).
//
// fixtures/bleu-sacrebleu.json is a committed copy of ../shared/fixtures/bleu-sacrebleu.json (see
// ../shared/fixtures/README.md): 22 cases scored by sacreBLEU 2.5.1 with its defaults. The copy lets
// the tests run on machines without ../shared; where the original is present, the tests check that
// the copy still equals it and also run the original's cases.
import { existsSync, readFileSync } from "node:fs";

export interface CorpusCase {
  readonly kind: "corpus";
  readonly hypotheses: string[];
  readonly references: string[][];
  readonly bleu: number;
  readonly counts: number[];
  readonly totals: number[];
  readonly bp: number;
  readonly sys_len: number;
  readonly ref_len: number;
  readonly signature: string;
  readonly chrf: number;
}

export interface SentenceCase {
  readonly kind: "sentence";
  readonly hypothesis: string;
  readonly references: string[];
  readonly bleu: number;
}

export type FixtureCase = CorpusCase | SentenceCase;

export interface Fixture {
  readonly tool: string;
  readonly cases: FixtureCase[];
}

export const COMMITTED_FIXTURE = new URL("../../fixtures/bleu-sacrebleu.json", import.meta.url);
export const SHARED_FIXTURE = new URL("../../../../../shared/fixtures/bleu-sacrebleu.json", import.meta.url);

export function readFixture(url: URL): Fixture {
  return JSON.parse(readFileSync(url, "utf8")) as Fixture;
}

/** The fixtures to run: the committed copy, and the shared original where present and different. */
export function fixturesToRun(): { readonly name: string; readonly fixture: Fixture }[] {
  const committed = readFixture(COMMITTED_FIXTURE);
  const out = [{ name: "fixtures/bleu-sacrebleu.json", fixture: committed }];
  if (existsSync(SHARED_FIXTURE)) {
    const shared = readFixture(SHARED_FIXTURE);
    if (JSON.stringify(shared) !== JSON.stringify(committed)) out.push({ name: "../shared/fixtures/bleu-sacrebleu.json", fixture: shared });
  }
  return out;
}

export const corpusCases = (f: Fixture): CorpusCase[] => f.cases.filter((c): c is CorpusCase => c.kind === "corpus");
export const sentenceCases = (f: Fixture): SentenceCase[] => f.cases.filter((c): c is SentenceCase => c.kind === "sentence");
