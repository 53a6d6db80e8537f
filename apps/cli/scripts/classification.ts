// The sequence-classification results of the README (issue 22): on the embedded corpora's fixed
// 80/10/10 splits (the same ones `unroll train classify` and `eval classify` use), a recurrent
// classifier trained for a time budget against a bag-of-words logistic regression trained by this
// script on the same training split, and the majority class; scores on the held-out test split.
//   npx --yes pnpm@12.4.2 --filter @unroll/cli classification -- [--tasks spam-assassin,sotu] [--minutes 5]
//     [--pooling mean] [--dropout 0] [--json classification.json]
//     [--engine library|onnxruntime] [--threads N]
// (from apps/cli: `npx tsx scripts/classification.ts ...`; the packages must be built).
// The model selected is the checkpoint of the lowest dev loss (<out>/best), as a user would.
import { writeFileSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  classificationDataset,
  type ClassificationDatasetName,
  classificationReport,
  evaluateClassifier,
  loadClassifier,
  majorityClass,
  type Pooling,
  trainBagOfWords,
  trainClassifier,
} from "@unroll/nlp";
import { onnxruntimeEngine } from "@unroll/onnx";
import { defaultWasmThreads } from "@unroll/tensor";

const { values: args } = parseArgs({
  options: {
    tasks: { type: "string", default: "spam-assassin,sotu" },
    minutes: { type: "string", default: "5" },
    pooling: { type: "string", default: "mean" },
    dropout: { type: "string", default: "0" },
    presidents: { type: "string" },
    threads: { type: "string" },
    engine: { type: "string", default: "library" },
    json: { type: "string" },
  },
});

const rows: Record<string, unknown>[] = [];
for (const task of args.tasks!.split(",") as ClassificationDatasetName[]) {
  const presidents = args.presidents?.split(",").map((s) => s.trim());
  const split = await classificationDataset(task, presidents ? { presidents } : {});
  const majority = majorityClass(split.train);
  const t0 = performance.now();
  const bow = trainBagOfWords(split.train, { epochs: 10 });
  const bowSeconds = (performance.now() - t0) / 1000;
  const bowReport = classificationReport(split.test.map((e) => bow.labels.id(e.label)), bow.predict(split.test.map((e) => e.text)), bow.labels.names);
  const dir = mkdtempSync(join(tmpdir(), `unroll-${task}-`));
  const result = await trainClassifier({
    train: split.train,
    dev: split.dev,
    config: {
      model: { pooling: args.pooling as Pooling, dropout: Number(args.dropout) },
      timeBudgetMinutes: Number(args.minutes),
      evalEvery: 100,
      ...(args.threads ? { threads: Number(args.threads) } : {}),
    },
    checkpointDir: dir,
    keepBest: true,
    ...(args.engine === "onnxruntime" ? { engine: onnxruntimeEngine({ threads: args.threads ? Number(args.threads) : defaultWasmThreads() }) } : {}),
  });
  const best = await loadClassifier(join(dir, "best"));
  const rnn = evaluateClassifier(best, split.test);
  const row = {
    task,
    classes: bow.labels.names,
    train: split.train.length,
    dev: split.dev.length,
    test: split.test.length,
    majority: { label: majority.label, accuracy: split.test.filter((e) => e.label === majority.label).length / split.test.length },
    bagOfWords: { accuracy: bowReport.accuracy, macroF1: bowReport.macroF1, features: bow.features, seconds: bowSeconds },
    rnn: { accuracy: rnn.report.accuracy, macroF1: rnn.report.macroF1, steps: result.steps, bestStep: best.step, minutes: Number(args.minutes), pooling: args.pooling, dropout: Number(args.dropout), parameters: result.parameters, engine: args.engine },
  };
  rows.push(row);
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  console.log(
    `${task}: ${row.classes.length} classes, ${row.train}/${row.dev}/${row.test} train/dev/test\n` +
      `  majority class (${majority.label})   accuracy ${pct(row.majority.accuracy)}\n` +
      `  bag-of-words logistic regression   accuracy ${pct(bowReport.accuracy)}  macro-F1 ${pct(bowReport.macroF1)}  (${bow.features} words, ${bowSeconds.toFixed(1)} s)\n` +
      `  bi-LSTM, ${args.pooling} pooling, dropout ${args.dropout} (${args.engine} engine, ${args.minutes} min, best of ${result.steps} steps at ${best.step})   accuracy ${pct(rnn.report.accuracy)}  macro-F1 ${pct(rnn.report.macroF1)}`,
  );
}
if (args.json) writeFileSync(args.json, `${JSON.stringify(rows, null, 2)}\n`);
