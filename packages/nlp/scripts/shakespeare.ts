// The quality benchmark of the README's "Character-level Shakespeare" section: a 2x512 character
// LSTM (embedding 64, dropout 0.2, Adam 2e-3, clip 5, batch 32, window 64, carried state) trained
// on tiny Shakespeare's first 90% for a time budget, validated on the last 10% every 250 steps;
// then samples from the trained model and from the same architecture at its initial weights.
//   npx tsx scripts/shakespeare.ts [--data ../../../shared/data/tinyshakespeare/input.txt] [--minutes 60]
//     [--out runs/shakespeare] [--json shakespeare.json]
// The same run as `unroll train lm --data <file> --layers 2 --hidden 512 --embedding 64 --dropout 0.2
// --lr 0.002 --clip 5 --batch 32 --window 64 --time 60 --eval-every 250`.
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { pinTensors, Rng, treeLeaves } from "@unroll/tensor";
import { collect, generateText, modelStep } from "../src/generate/index.js";
import { trainLanguageModel } from "../src/train/index.js";

const { values: args } = parseArgs({
  options: {
    data: { type: "string", default: "../../../shared/data/tinyshakespeare/input.txt" },
    minutes: { type: "string", default: "60" },
    out: { type: "string", default: "runs/shakespeare" },
    json: { type: "string" },
  },
});

const text = readFileSync(args.data!, "utf8");
const validation: { step: number; loss: number; minutes: number }[] = [];
const started = performance.now();
const minutes = (): number => (performance.now() - started) / 60000;
const result = await trainLanguageModel({
  text,
  config: {
    model: { cell: "lstm", numLayers: 2, hiddenSize: 512, embeddingSize: 64, dropout: 0.2 },
    optimizer: { name: "adam", lr: 0.002 },
    clip: 5,
    batchSize: 32,
    window: 64,
    timeBudgetMinutes: Number(args.minutes),
    evalEvery: 250,
  },
  checkpointDir: args.out!,
  checkpointEvery: 500,
  onTrainer: (trainer, info) => {
    console.log(`${info.parameters.toLocaleString("en")} parameters, ${info.trainTokens.toLocaleString("en")} training characters, kernels ${info.kernels}`);
    trainer.events.on("eval", (e) => {
      validation.push({ step: e.step, loss: e.metrics.loss, minutes: minutes() });
      console.log(`step ${e.step} (${minutes().toFixed(1)} min): validation ${e.metrics.loss.toFixed(4)} nats/char`);
    });
  },
});
const final = result.validation!.loss;
const trainedFor = minutes(); // training, validations and checkpoints included
console.log(`finished at step ${result.steps} after ${trainedFor.toFixed(1)} min: validation ${final.toFixed(4)} nats/char`);

// 300 characters from a newline at temperature 0.8, seed 1: trained, then the initial weights.
const sampleOf = async (params: typeof result.params): Promise<string> => {
  const release = pinTensors(treeLeaves(params));
  try {
    return await collect(generateText(modelStep(result.model, params), result.tokenizer, { prime: "\n", maxTokens: 300, temperature: 0.8, seed: 1 }));
  } finally {
    release();
  }
};
const trained = await sampleOf(result.params);
const untrained = await sampleOf(result.model.init(new Rng(0)));
console.log(`\n--- trained\n${trained}\n\n--- untrained (initial weights)\n${untrained}`);

const tokensPerSecond = (result.steps * 32 * 64) / (trainedFor * 60);
if (args.json) {
  const report = { parameters: result.parameters, steps: result.steps, minutes: trainedFor, tokensPerSecond, validation, final, samples: { trained, untrained } };
  writeFileSync(args.json, `${JSON.stringify(report, null, 2)}\n`);
}
