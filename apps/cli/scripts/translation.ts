// The translation results of the README: German -> English on ../shared/data/de-en (17,177 train,
// 1,000 dev pairs), one model per decoder (bottleneck, Bahdanau, Luong general), each for the same
// time budget, dev BLEU and chrF (sacreBLEU defaults, greedy) every `--eval-every` steps against
// the minutes trained, then greedy and beam-5 BLEU/chrF on the whole dev set.
//   npx --yes pnpm@12.4.2 --filter @unroll/cli translation -- [--minutes 15] [--attention none,bahdanau,luong-general]
//     [--vocabulary word|bpe] [--engine library|onnxruntime] [--json translation.json] [--svg translation.svg] [--out runs/mt]
// (from apps/cli: `npx tsx scripts/translation.ts ...`; the packages must be built).
// The reference setting of the issue (PyTorch 1.13 on this kind of machine: bottleneck 1.0 BLEU,
// additive attention 3.1 after 15 minutes): word vocabulary, min count 2, embedding 256, bi-GRU
// encoder 256, GRU decoder 256, Adam 1e-3, batch 64.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type AttentionKind, evaluateTranslation, readPairs, trainTranslationModel, type TrainMtConfig, type TranslationEngine, translateWith, translationTokens } from "@unroll/nlp";
import { exportTranslationModel, OnnxSession, type OnnxRows, onnxruntimeEngine, onnxTranslationDecoder } from "@unroll/onnx";
import type { TopLevelSpec } from "vega-lite";
import { renderSvg } from "../src/charts/render.js";

const { values: args } = parseArgs({
  options: {
    data: { type: "string", default: "../../../shared/data/de-en" },
    svg: { type: "string" },
    minutes: { type: "string", default: "15" },
    attention: { type: "string", default: "none,bahdanau,luong-general" },
    vocabulary: { type: "string", default: "word" },
    "bpe-vocab": { type: "string", default: "8000" },
    "label-smoothing": { type: "string", default: "0" },
    dropout: { type: "string", default: "0" },
    "eval-every": { type: "string", default: "250" },
    threads: { type: "string" },
    // What computes the gradients: the library's kernels, or each step compiled into an onnxruntime graph.
    engine: { type: "string", default: "library" },
    json: { type: "string" },
    out: { type: "string" },
  },
});

if (args.engine !== "library" && args.engine !== "onnxruntime") throw new Error(`--engine must be library or onnxruntime, got ${args.engine}`);
const train = (await readPairs(join(args.data!, "train.tsv"))).pairs;
const dev = (await readPairs(join(args.data!, "dev.tsv"))).pairs;
const runs: { attention: string; curve: { minutes: number; bleu: number }[]; [more: string]: unknown }[] = [];
for (const attention of args.attention!.split(",") as AttentionKind[]) {
  const config: TrainMtConfig = {
    vocabulary: args.vocabulary as "word" | "bpe",
    ...(args.vocabulary === "bpe" ? { bpeVocabSize: Number(args["bpe-vocab"]), joint: true } : { minFrequency: 2 }),
    model: { cell: "gru", embeddingSize: 256, encoderHiddenSize: 256, decoderHiddenSize: 256, bidirectional: true, attention, dropout: Number(args.dropout) },
    optimizer: { name: "adam", lr: 1e-3 },
    batchSize: 64,
    timeBudgetMinutes: Number(args.minutes),
    evalEvery: Number(args["eval-every"]),
    bleuSentences: 1000,
    labelSmoothing: Number(args["label-smoothing"]),
    ...(args.threads ? { threads: Number(args.threads) } : {}),
  };
  const started = performance.now();
  const minutes = (): number => (performance.now() - started) / 60000;
  const curve: { step: number; minutes: number; loss: number; bleu: number; chrf: number }[] = [];
  const result = await trainTranslationModel({
    train,
    dev,
    config,
    ...(args.engine === "onnxruntime" ? { engine: onnxruntimeEngine({ tokens: translationTokens, ...(args.threads ? { threads: Number(args.threads) } : {}) }) } : {}),
    ...(args.out ? { checkpointDir: join(args.out, attention), checkpointEvery: 1000 } : {}),
    onTrainer: (_t, info) =>
      console.log(`${attention}: ${info.parameters.toLocaleString("en")} parameters, vocabularies ${info.source.size} / ${info.target.size}, ${info.trainPairs} pairs (${info.droppedPairs} too long), ${args.engine === "onnxruntime" ? "engine onnxruntime" : `kernels ${info.kernels}`}`),
    onEvaluation: (step, r) => {
      curve.push({ step, minutes: minutes(), loss: r.loss, bleu: r.bleu, chrf: r.chrf });
      console.log(`  step ${step} (${minutes().toFixed(1)} min): dev loss ${r.loss.toFixed(3)}, BLEU ${r.bleu.toFixed(2)}, chrF ${r.chrf.toFixed(2)}`);
    },
  });
  const trainedMinutes = minutes();
  const vocabularies = { source: result.source, target: result.target };
  const t0 = performance.now();
  const greedy = await evaluateTranslation(result.model, result.params, vocabularies, dev);
  const greedySeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const beam = await evaluateTranslation(result.model, result.params, vocabularies, dev, { beamSize: 5, lengthPenalty: { kind: "gnmt", alpha: 0.6 } });
  const beamSeconds = (performance.now() - t1) / 1000;
  // The same beam search over the exported graphs on onnxruntime-node.
  const files = exportTranslationModel(result.model, result.params, { vocabularies });
  const onnx = onnxTranslationDecoder(await OnnxSession.create(files.encoder), await OnnxSession.create(files.decoder));
  const engine: TranslationEngine<OnnxRows> = { encode: (src, lengths) => onnx.encode(src.data as Int32Array, lengths.data as Int32Array), decoder: onnx };
  const t2 = performance.now();
  const viaOnnx = await translateWith(engine, vocabularies, dev.map((p) => p.source), { beamSize: 5, lengthPenalty: { kind: "gnmt", alpha: 0.6 } });
  const onnxSeconds = (performance.now() - t2) / 1000;
  const sameAsLibrary = viaOnnx.filter((t, i) => t.text === beam.hypotheses[i]).length;
  console.log(
    `${attention}: ${result.steps} steps in ${trainedMinutes.toFixed(1)} min; dev greedy BLEU ${greedy.bleu.score.toFixed(2)} chrF ${greedy.chrf.score.toFixed(2)}; ` +
      `beam 5 BLEU ${beam.bleu.score.toFixed(2)} chrF ${beam.chrf.score.toFixed(2)} (${(dev.length / beamSeconds).toFixed(1)} sentences/s; greedy ${(dev.length / greedySeconds).toFixed(1)}; ` +
      `onnxruntime beam 5 ${(dev.length / onnxSeconds).toFixed(1)} sentences/s, ${sameAsLibrary}/${dev.length} translations identical to the library's)`,
  );
  console.log(`  ${greedy.bleu.signature}`);
  for (let i = 0; i < 3; i++) console.log(`  ${dev[i]!.source}\n    -> ${beam.hypotheses[i]}\n    (${dev[i]!.target})`);
  runs.push({
    attention,
    config,
    engine: args.engine,
    steps: result.steps,
    minutes: trainedMinutes,
    curve,
    greedy: { bleu: greedy.bleu.score, chrf: greedy.chrf.score, signature: greedy.bleu.signature, sentencesPerSecond: dev.length / greedySeconds },
    beam5: { bleu: beam.bleu.score, chrf: beam.chrf.score, sentencesPerSecond: dev.length / beamSeconds },
    onnxBeam5: { sentencesPerSecond: dev.length / onnxSeconds, identical: sameAsLibrary },
    examples: dev.slice(0, 5).map((p, i) => ({ source: p.source, reference: p.target, greedy: greedy.hypotheses[i], beam5: beam.hypotheses[i] })),
  });
  if (args.json) writeFileSync(args.json, `${JSON.stringify({ date: new Date().toISOString(), minutes: Number(args.minutes), vocabulary: args.vocabulary, runs }, null, 1)}\n`);
}

if (args.svg) {
  // Dev BLEU (greedy) against minutes of training, one line per decoder.
  const points = runs.flatMap((r) => [{ attention: r.attention, minutes: 0, bleu: 0 }, ...r.curve.map((c) => ({ attention: r.attention, minutes: c.minutes, bleu: c.bleu }))]);
  const spec: TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: `German -> English, dev BLEU (greedy) against training time (${args.vocabulary} vocabulary)`,
    width: 560,
    height: 320,
    data: { values: points },
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "minutes", type: "quantitative", title: "minutes of training (2 cores)" },
      y: { field: "bleu", type: "quantitative", title: "dev BLEU (sacreBLEU)" },
      color: { field: "attention", type: "nominal", title: "decoder" },
    },
  };
  writeFileSync(args.svg, await renderSvg(spec));
  console.log(`wrote ${args.svg}`);
}
