import { Tensor } from "@unroll/tensor";
import type { RecurrentState } from "@unroll/cells";
import type { LanguageModel, LanguageModelParams } from "../model/language-model.js";
import type { StepFunction } from "./generate.js";

/** The library model as a `StepFunction` for `generateTokens`/`generateText`. */
export function modelStep(model: LanguageModel, params: LanguageModelParams): StepFunction<RecurrentState> {
  return (tokens, state) => {
    const { logits, state: next } = model.step(params, new Tensor(Int32Array.from(tokens), [tokens.length]), state);
    return { logits: logits.data, state: next };
  };
}
