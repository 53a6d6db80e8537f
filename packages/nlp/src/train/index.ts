export { trainLanguageModel, loadLanguageModel, languageModelConfigOf, selectKernels } from "./train-lm.js";
export type { TrainLmConfig, TrainLmOptions, TrainLmInfo, TrainLmResult, LanguageModelCheckpointConfig, LoadedLanguageModel } from "./train-lm.js";
export { buildOptimizer, buildSchedule, resumedConfig, RESUMABLE_SETTINGS } from "./recipe.js";
export type { OptimizerSettings, ScheduleSettings } from "./recipe.js";
export { checkTrainLmConfig, corpusFingerprint, readLanguageModelCheckpointConfig, verifyCorpus } from "./checkpoint-config.js";
export type { CorpusFingerprint } from "./checkpoint-config.js";
export { saveModel, loadModel, MODEL_FILE_FORMAT, MODEL_FILE_VERSION } from "./model-file.js";
export type { SavableLanguageModel } from "./model-file.js";
