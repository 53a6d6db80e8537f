import { selectKernels } from "@unroll/nlp";
import { MAX_WASM_THREADS } from "@unroll/tensor";
import { choiceFlag, numberFlag } from "../config.js";
import { UserError } from "../ui/errors.js";

/** Selects the kernels the flags ask for; returns their name. */
export function useKernels(flags: Record<string, unknown>): string {
  const choice = choiceFlag("kernels", flags.kernels ?? "auto", ["auto", "wasm", "reference"] as const);
  const threads = flags.threads === undefined ? undefined : numberFlag("threads", flags.threads, "positive-integer");
  if (threads !== undefined && threads > MAX_WASM_THREADS) {
    throw new UserError(`--threads ${threads} is more than the kernels support`, `use --threads 1 to ${MAX_WASM_THREADS}`);
  }
  return selectKernels(choice, threads);
}
