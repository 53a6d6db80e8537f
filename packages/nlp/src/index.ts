// @unroll/nlp: everything public is exported here.

// The recurrent language model, its evaluation and text generation over any step function.
export * from "./model/index.js";
export * from "./generate/index.js";

// Tokenisers: character, word and byte-level BPE, serialised with the model.
export * from "./tokenizers/index.js";

// Corpora (text files, the embedded Moby-Dick, downloads) and the batches the Trainer reads.
export * from "./data/index.js";
export * from "./train/index.js";
export * from "./probes/index.js";

// Sequence to sequence: encoder, decoders with and without attention, vocabularies, batches.
export * from "./seq2seq/index.js";

// Translation metrics: sacreBLEU-compatible BLEU and chrF.
export * from "./metrics/index.js";

// Decoding shared by translation and captioning: greedy and batched beam search over any step function.
export * from "./decoding/index.js";

// Many-to-one and synced many-to-many: sequence classification (pooling, attention pooling) and tagging.
export * from "./classify/index.js";

// Numeric sequences: CSV tables, per-feature scaling, windows, forecasting against naive baselines.
export * from "./series/index.js";
