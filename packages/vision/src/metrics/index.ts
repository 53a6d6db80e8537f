// The COCO caption evaluation's metrics (pycocoevalcap): BLEU-1..4, CIDEr-D, and the PTB-style
// tokenisation it applies to captions first.
export { cocoBleu } from "./bleu.js";
export type { Bleu4, CocoBleuOptions, CocoBleuScore } from "./bleu.js";
export { ciderD } from "./cider.js";
export type { CiderDOptions, CiderDScore } from "./cider.js";
export { cocoTokenize } from "./tokenize.js";
export type { CaptionHypotheses, CaptionReferences, CocoTokenizeOption } from "./inputs.js";
