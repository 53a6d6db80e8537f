export { LanguageModel, languageModelTokens } from "./language-model.js";
export type { LanguageModelConfig, LanguageModelParams, LanguageModelBatch, ForwardOutput, InitName } from "./language-model.js";
export { evaluate } from "./evaluate.js";
export type { EvaluationResult } from "./evaluate.js";
