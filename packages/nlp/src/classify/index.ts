export { SequenceEncoder, pool, POOLINGS, lengthsTensor } from "./encoder.js";
export type { Pooling, SequenceEncoderConfig, ResolvedEncoderConfig, SequenceEncoderParams, EncodeOptions, EncodedSequence, AttentionPoolParams } from "./encoder.js";
export { SequenceClassifier, weightedCrossEntropy, predictedClasses, checkClassWeights, classifierGradientFlow } from "./classifier.js";
export type { SequenceClassifierConfig, ResolvedClassifierConfig, SequenceClassifierParams, ClassificationBatch, ClassifierLossOptions } from "./classifier.js";
export { SequenceTagger, taggerGradientFlow } from "./tagger.js";
export type { SequenceTaggerConfig, ResolvedTaggerConfig, SequenceTaggerParams, TaggingBatch } from "./tagger.js";
export { classificationBatch, classificationBatches, taggingBatch } from "./batches.js";
export type { EncodedExample, TaggedExample } from "./batches.js";
export { parseLabelledTsv, LabelSet, splitExamples } from "./data.js";
export type { LabelledText, SplitOptions } from "./data.js";
export { spamAssassin, sotuAddresses, sotuPassages, sotuText, mailText, classificationDataset, CLASSIFICATION_DATASETS, sensorReadings, SPAM_ASSASSIN_PACKAGE, SOTU_PACKAGE, SENSOR_PACKAGE } from "./datasets.js";
export type { SotuAddress, SotuParagraphOptions, ClassificationDatasetName, ClassificationDatasetOptions } from "./datasets.js";
export { classificationReport, formatClassificationReport, confusionMatrixSvg } from "./metrics.js";
export { trainBagOfWords, majorityClass } from "./baseline.js";
export type { BagOfWordsOptions, BagOfWordsModel } from "./baseline.js";
export type { ClassificationReport } from "./metrics.js";
export { trainClassifier, loadClassifier, classifyTexts, evaluateClassifier, evaluateClassifierOn, encodeExamples, classifierConfigOf } from "./train.js";
export type {
  TrainClassifyConfig, ClassifierCheckpointConfig, ClassifierEvaluation, TrainClassifyOptions, TrainClassifyInfo, TrainClassifyResult,
  LoadedClassifier, ClassifierParts, Classification,
} from "./train.js";
export { parseTaggedTsv, TokenVocabulary, trainTagger, loadTagger, tagSentences, evaluateTagger, evaluateTaggerOn, encodeSentences, taggerConfigOf } from "./tagging.js";
export type {
  TaggedSentence, TrainTaggerConfig, TaggerCheckpointConfig, TaggerEvaluation, TrainTaggerOptions, TrainTaggerInfo, TrainTaggerResult, TaggerParts, LoadedTagger, TokenTag,
} from "./tagging.js";
export { punctuationTagging, punctuationDataset, formatTaggedTsv, mostFrequentTagBaseline, PUNCTUATION_TAGS } from "./punctuation.js";
export type { PunctuationTag, PunctuationOptions } from "./punctuation.js";
