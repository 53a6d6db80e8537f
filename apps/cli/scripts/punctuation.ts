// The tagging result of the README (issue 22): punctuation restoration on an embedded corpus (the
// split `unroll data punctuation` writes: the text's first 80% to train, next 10% dev, last 10%
// test), a bidirectional tagger trained for a time budget against the most frequent tag of each
// word (from the same training split) and the all-O tagger; scores on the test split.
//   npx --yes pnpm@12.4.2 --filter @unroll/cli punctuation -- [--corpus moby-dick] [--minutes 8]
//     [--hidden 128] [--dropout 0] [--json punctuation.json]
// (from apps/cli: `npx tsx scripts/punctuation.ts ...`; the packages must be built).
// The model selected is the checkpoint of the lowest dev loss (<out>/best), as a user would.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { classificationReport, type ClassificationReport, evaluateTagger, LabelSet, loadCorpus, loadTagger, mostFrequentTagBaseline, punctuationDataset, trainTagger } from "@unroll/nlp";

const { values: args } = parseArgs({
  options: {
    corpus: { type: "string", default: "moby-dick" },
    words: { type: "string", default: "40" },
    minutes: { type: "string", default: "8" },
    hidden: { type: "string", default: "128" },
    dropout: { type: "string", default: "0" },
    threads: { type: "string" },
    json: { type: "string" },
  },
});

const split = punctuationDataset(await loadCorpus(args.corpus!), { words: Number(args.words) });
const tags = LabelSet.fit(split.train.flatMap((s) => s.tags));
const gold = split.test.flatMap((s) => s.tags.map((t) => tags.id(t)));
const scoreOf = (predicted: string[]): ClassificationReport => classificationReport(gold, predicted.map((t) => tags.id(t)), tags.names);
const baseline = mostFrequentTagBaseline(split.train);
const perWord = scoreOf(split.test.flatMap((s) => baseline.predict(s.tokens)));
const allO = scoreOf(split.test.flatMap((s) => s.tokens.map(() => "O")));

const dir = mkdtempSync(join(tmpdir(), "unroll-punctuation-"));
const result = await trainTagger({
  train: split.train,
  dev: split.dev,
  config: {
    model: { hiddenSize: Number(args.hidden), dropout: Number(args.dropout) },
    timeBudgetMinutes: Number(args.minutes),
    evalEvery: 100,
    ...(args.threads ? { threads: Number(args.threads) } : {}),
  },
  checkpointDir: dir,
  keepBest: true,
});
const best = await loadTagger(join(dir, "best"));
const rnn = evaluateTagger(best, split.test).report;

const f1 = (r: ClassificationReport): Record<string, number> => Object.fromEntries(r.perClass.map((c) => [c.name, c.f1]));
const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const line = (name: string, r: ClassificationReport): string =>
  `  ${name.padEnd(44)} accuracy ${pct(r.accuracy)}  macro-F1 ${pct(r.macroF1)}  F1 ${r.perClass.map((c) => `${c.name} ${pct(c.f1)}`).join(", ")}`;
const tokens = (part: typeof split.train): number => part.reduce((n, s) => n + s.tokens.length, 0);
console.log(
  `${args.corpus}: ${split.train.length}/${split.dev.length}/${split.test.length} sequences of ${args.words} words (${tokens(split.train)}/${tokens(split.dev)}/${tokens(split.test)} tokens)\n` +
    `${line("all O", allO)}\n${line("most frequent tag of each word", perWord)}\n` +
    line(`bi-LSTM ${args.hidden} (${args.minutes} min, best of ${result.steps} steps at ${best.step})`, rnn),
);
if (args.json) {
  const row = (r: ClassificationReport) => ({ accuracy: r.accuracy, macroF1: r.macroF1, f1: f1(r) });
  writeFileSync(args.json, `${JSON.stringify({ corpus: args.corpus, words: Number(args.words), allO: row(allO), mostFrequent: row(perWord), rnn: { ...row(rnn), steps: result.steps, bestStep: best.step, minutes: Number(args.minutes) } }, null, 2)}\n`);
}
