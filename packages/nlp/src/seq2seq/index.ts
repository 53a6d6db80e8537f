export { Seq2Seq, translationTokens } from "./model.js";
export type {
  Seq2SeqConfig, ResolvedSeq2SeqConfig, Seq2SeqParams, Seq2SeqBatch, Encoded, DecoderState, DecoderStepOutput, Seq2SeqForwardOptions, LossOptions,
} from "./model.js";
export { ATTENTION_KINDS, attend, attentionKeys, attentionScores } from "./attention.js";
export type { AttentionKind, AttentionMemory, AttentionParams } from "./attention.js";
export { labelSmoothedCrossEntropy } from "./loss.js";
export { Vocabulary, VOCABULARY_FORMAT, VOCABULARY_VERSION } from "./vocabulary.js";
export type { VocabularyJSON, FitVocabularyOptions } from "./vocabulary.js";
export { makeBatch, pairBatches, inOrderBatches } from "./batches.js";
export type { EncodedPair, PairBatchOptions, PairPosition, PairDataSource } from "./batches.js";
export { parsePairs, readPairs } from "./pairs.js";
export type { SentencePair, ParsePairsOptions, ParsedPairs } from "./pairs.js";
export { evaluateTranslationLoss } from "./evaluate.js";
export type { TranslationLossResult } from "./evaluate.js";
export { seq2seqDecoder, translate, translateWith, libraryEngine } from "./translate.js";
export type { Seq2SeqRows, TranslateOptions, Translation, TranslationEngine } from "./translate.js";
export { trainTranslationModel, loadTranslationModel, translationConfigOf, evaluateTranslation, encodePairs } from "./train.js";
export type { TrainMtConfig, TrainMtOptions, TrainMtInfo, TrainMtResult, TranslationCheckpointConfig, TranslationEvaluation, LoadedTranslationModel } from "./train.js";
export { attentionDecoderSequence, AttentionDecoderSequence, AttentionDecoderSequenceGrad, fusedDecoderPays } from "./fused.js";
export type { FusedDecoderResult } from "./fused.js";
