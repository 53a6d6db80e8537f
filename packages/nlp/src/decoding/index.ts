export { greedySearch } from "./greedy.js";
export { beamSearch } from "./beam.js";
export type { BeamOptions } from "./beam.js";
export { applyLengthPenalty, scoreUpperBound } from "./search.js";
export type { Decoder, DecoderStepResult, Hypothesis, LengthPenalty, SearchOptions } from "./search.js";
