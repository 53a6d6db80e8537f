// The number-agreement probe (Linzen et al. 2016) on a word-level LSTM language model trained on
// Moby-Dick for a few minutes:
//   npx tsx scripts/agreement-probe.ts [--steps 330] [--minutes 9] [--hidden 192] [--out agreement-probe.json]
//
// Words are fed as `WordTokenizer.encodeWords` gives them: the lowercased words and punctuation marks
// of the text, whitespace dropped, each word kept in the vocabulary when it occurs at least
// --min-frequency times in the training split (the rest map to <unk>). The training split is one
// stream of those ids, read in streamBatches windows with the LSTM state carried across windows.
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { loadWasmKernelsSync, Rng, setKernels, Tensor } from "@unroll/tensor";
import { adam, cosineWithWarmup, Trainer } from "@unroll/train";
import { mobyDick, splitText, streamBatches } from "../src/data/index.js";
import { evaluate, LanguageModel } from "../src/model/index.js";
import { WordTokenizer } from "../src/tokenizers/index.js";
import { agreementItems, type AgreementModel, type AgreementReport, scoreAgreement } from "../src/probes/index.js";

const { values: args } = parseArgs({
  options: {
    steps: { type: "string", default: "330" },
    minutes: { type: "string", default: "9" },
    hidden: { type: "string", default: "192" },
    embedding: { type: "string", default: "96" },
    "min-frequency": { type: "string", default: "8" },
    "batch-size": { type: "string", default: "64" },
    window: { type: "string", default: "35" },
    lr: { type: "string", default: "0.004" },
    dropout: { type: "string", default: "0.1" },
    "per-count": { type: "string", default: "1200" },
    seed: { type: "string", default: "1" },
    out: { type: "string", default: "agreement-probe.json" },
  },
});
const num = (name: keyof typeof args): number => Number(args[name]);

setKernels(loadWasmKernelsSync());
const t0 = performance.now();
const text = await mobyDick();
const { train, validation } = splitText(text, { trainFraction: 0.9 });
const tokenizer = WordTokenizer.fit(train, { lowercase: true, minFrequency: num("min-frequency") });
const trainIds = tokenizer.encodeWords(train);
const validIds = tokenizer.encodeWords(validation);
const unkRate = (ids: Int32Array) => ids.filter((id) => id === tokenizer.unkId).length / ids.length;
console.log(
  `Moby-Dick: ${trainIds.length} training words, ${validIds.length} validation words (<unk>: ${(100 * unkRate(trainIds)).toFixed(1)}% / ` +
    `${(100 * unkRate(validIds)).toFixed(1)}%), vocabulary ${tokenizer.vocabSize} (min frequency ${num("min-frequency")})`,
);

const config = {
  vocabSize: tokenizer.vocabSize,
  cell: "lstm",
  hiddenSize: num("hidden"),
  embeddingSize: num("embedding"),
  dropout: num("dropout"),
  forgetBias: 1,
} as const;
const model = new LanguageModel(config);
const params = model.init(new Rng(num("seed")));
const steps = num("steps");
const trainer = new Trainer({
  params,
  loss: model.lossFunction(),
  data: streamBatches(trainIds, { batchSize: num("batch-size"), window: num("window"), remainder: "drop" }),
  optimizer: adam({ lr: num("lr") }),
  schedule: cosineWithWarmup({ lr: num("lr"), warmupSteps: Math.min(50, Math.floor(steps / 10)), totalSteps: steps, minLr: num("lr") / 10 }),
  clip: { maxNorm: 5 },
  seed: num("seed"),
});
let lastLog = 0;
trainer.events.on("step", (e) => {
  if (e.step % 50 === 0 || e.step <= 3 || e.elapsedMs - lastLog > 60_000) {
    lastLog = e.elapsedMs;
    console.log(`step ${e.step}: loss ${e.loss.toFixed(3)}, ${Math.round(e.tokensPerSecond)} words/s, ${(e.elapsedMs / 1000).toFixed(0)} s`);
  }
});
const trainStart = performance.now();
const stopReason = await trainer.run({ steps, timeBudgetMs: num("minutes") * 60_000 });
const trainSeconds = (performance.now() - trainStart) / 1000;
const valid = evaluate(model, params, validIds, { batchSize: 16, window: 128 });
console.log(
  `trained ${trainer.step} steps (${stopReason}) in ${trainSeconds.toFixed(0)} s; validation perplexity ${valid.perplexity.toFixed(1)} ` +
    `(loss ${valid.loss.toFixed(3)} nats/word)`,
);

// The probe, restricted to the words the tokenizer knows.
const items = agreementItems({ seed: num("seed"), perCount: num("per-count"), vocabulary: (w) => tokenizer.idOf(w) !== tokenizer.unkId });
const lstm = scoreAgreement(model, params, tokenizer, items);

// A baseline that ignores the sentence: logits = log unigram frequency in the training split, so
// it always picks the more frequent form ("is" over "are", "have" over "has").
const counts = new Float32Array(tokenizer.vocabSize).fill(1);
for (const id of trainIds) counts[id]! += 1;
const unigramLogits = counts.map(Math.log);
const unigram: AgreementModel<null> = {
  forward(_params, inputs) {
    const [T, B] = inputs.shape as [number, number];
    const logits = new Float32Array(T * B * tokenizer.vocabSize);
    for (let r = 0; r < T * B; r++) logits.set(unigramLogits, r * tokenizer.vocabSize);
    return { logits: new Tensor(logits, [T, B, tokenizer.vocabSize]) };
  },
};
const baseline = scoreAgreement(unigram, null, tokenizer, items);

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
function table(report: AgreementReport, base: AgreementReport): string {
  const lines = ["| attractors | mismatching | items | LSTM accuracy | unigram baseline | chance |", "|---|---|---|---|---|---|"];
  const row = (label: string, mism: string, r: { correct: number; total: number; accuracy: number }, b: { accuracy: number }) =>
    lines.push(`| ${label} | ${mism} | ${r.total} | ${pct(r.accuracy)} (${r.correct}) | ${pct(b.accuracy)} | 50% |`);
  for (const r of report.byAttractors) {
    const b = base.byAttractors.find((x) => x.attractors === r.attractors)!;
    row(String(r.attractors), "any", r, b);
    for (const c of report.byCondition.filter((x) => x.attractors === r.attractors && r.attractors > 0)) {
      const bc = base.byCondition.find((x) => x.attractors === c.attractors && x.mismatches === c.mismatches)!;
      row(String(c.attractors), String(c.mismatches), c, bc);
    }
  }
  row("all", "any", report.overall, base.overall);
  for (const n of report.byNumber) {
    lines.push(`| (${n.number} subjects) | any | ${n.total} | ${pct(n.accuracy)} (${n.correct}) | ${pct(base.byNumber.find((x) => x.number === n.number)!.accuracy)} | 50% |`);
  }
  return lines.join("\n");
}
console.log(`\nNumber agreement (${items.length} items, ${lstm.skipped} skipped):\n`);
console.log(table(lstm, baseline));

const strip = (r: AgreementReport) => ({ ...r, scores: undefined });
writeFileSync(
  args.out,
  `${JSON.stringify(
    {
      probe: "number-agreement",
      corpus: "moby-dick",
      tokenizer: { kind: "word", lowercase: true, minFrequency: num("min-frequency"), vocabSize: tokenizer.vocabSize },
      model: config,
      training: {
        steps: trainer.step,
        stopReason,
        seconds: Math.round(trainSeconds),
        batchSize: num("batch-size"),
        window: num("window"),
        lr: num("lr"),
        trainWords: trainIds.length,
      },
      validation: { perplexity: valid.perplexity, loss: valid.loss, words: valid.tokens },
      items: { total: items.length, perCount: num("per-count"), seed: num("seed"), skipped: lstm.skipped },
      lstm: strip(lstm),
      unigram: strip(baseline),
      examples: lstm.scores
        .filter((_, i) => i % 400 === 0)
        .map((s) => ({ text: s.item.text, correctForm: s.item.correct, wrongForm: s.item.wrong, logProbCorrect: s.logProbCorrect, logProbWrong: s.logProbWrong, correct: s.correct })),
      seconds: Math.round((performance.now() - t0) / 1000),
    },
    null,
    2,
  )}\n`,
);
console.log(`\nwrote ${args.out}`);
