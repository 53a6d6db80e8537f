export { sampleFromLogits, checkSampling } from "./sampling.js";
export type { SamplingOptions } from "./sampling.js";
export { generateTokens } from "./generate.js";
export type { StepFunction, GenerateOptions } from "./generate.js";
export { generateText, collect } from "./text.js";
export type { TextCodec, GenerateTextOptions } from "./text.js";
export { modelStep } from "./model-step.js";
