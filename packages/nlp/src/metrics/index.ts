// Machine-translation metrics that reproduce sacreBLEU 2.5.1's default numbers: corpus and sentence
// BLEU (13a tokenizer, exponential smoothing) and chrF, each with sacreBLEU's signature string.
export { corpusBleu, sentenceBleu } from "./bleu.js";
export type { BleuOptions, BleuScore, BleuSmoothing } from "./bleu.js";
export { corpusChrf, sentenceChrf } from "./chrf.js";
export type { ChrfOptions, ChrfScore } from "./chrf.js";
export { tokenize13a } from "./tokenize.js";
export type { BleuTokenizer } from "./tokenize.js";
export { SACREBLEU_VERSION } from "./signature.js";
