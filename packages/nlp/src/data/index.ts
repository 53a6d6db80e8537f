// Corpora and batching for language models: text files, the embedded and downloadable corpora,
// and the DataSources the Trainer reads.
export { DataError } from "./errors.js";
export type { DataErrorCode } from "./errors.js";
export { loadText, splitText, codePointLength, DEFAULT_MAX_TEXT_BYTES } from "./text.js";
export type { LoadTextOptions, TextSplit } from "./text.js";
export { corpora, findCorpus } from "./registry.js";
export type { CorpusInfo } from "./registry.js";
export { mobyDick, mobyDickPath, loadCorpus, defaultCacheDir } from "./corpora.js";
export type { LoadCorpusOptions } from "./corpora.js";
export { downloadCorpus } from "./download.js";
export type { DownloadOptions, DownloadProgress } from "./download.js";
export { streamBatches, shuffledWindows, evaluationWindows, permutation, IGNORE_INDEX } from "./batching.js";
export type {
  LmBatch, LmDataSource, Remainder, StreamBatchOptions, StreamPosition, ShuffledWindowOptions, ShuffledPosition,
  EvaluationBatch, EvaluationWindows,
} from "./batching.js";
export { bucketedBatches } from "./bucketed.js";
export type { BucketedOptions, BucketedPosition, BucketedSource } from "./bucketed.js";
