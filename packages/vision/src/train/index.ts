export { trainCaptionModel, loadCaptionModel, captionConfigOf, evaluateCaptions, captionSet, captionLoss, scoreCaptions, captionFingerprint, captionerParamsFromStateDict } from "./train-caption.js";
export type { TrainCaptionConfig, TrainCaptionOptions, TrainCaptionInfo, TrainCaptionResult, CaptionCheckpointConfig, CaptionEvaluation, LoadedCaptionModel } from "./train-caption.js";
export { loadCaptionSet, loadCaptionEntries, captionInputs, resolveCaptionInput, pickInputs, sliceSet } from "./data.js";
export type { CaptionInput, CaptionSet } from "./data.js";
export { captionBatches, captionExamples } from "./batches.js";
export type { CaptionExample, CaptionPosition } from "./batches.js";
