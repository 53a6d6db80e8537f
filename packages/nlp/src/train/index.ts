export { trainLanguageModel, loadLanguageModel, languageModelConfigOf, selectKernels } from "./train-lm.js";
export type { TrainLmConfig, TrainLmOptions, TrainLmInfo, TrainLmResult, LanguageModelCheckpointConfig, LoadedLanguageModel } from "./train-lm.js";
