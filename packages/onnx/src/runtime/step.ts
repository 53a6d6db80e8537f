import { type GraphSignature } from "../metadata.js";
import { OnnxRuntimeError, type OnnxSession, type OrtTensor } from "./session.js";

/** The recurrent state between steps: onnxruntime tensors by input name, fed back as they are. */
export type OnnxState = Readonly<Record<string, OrtTensor>>;

/**
 * nlp's `StepFunction` over an exported step graph (a structural type: this package does not
 * import nlp): given one token per example (`[B]`) and the state (null: zeros), the next-token
 * logits (`B * vocab`, row-major) and the new state. `generateText`/`generateTokens` and beam
 * search run on it exactly as on the library's own model.
 */
export type OnnxStepFunction = (tokens: Int32Array, state: OnnxState | null) => Promise<{ logits: Float32Array; state: OnnxState }>;

/**
 * A step function over `session`, whose inputs and outputs are named by `signature` (default: the
 * model's `unroll.signature` metadata, which `exportLanguageModel` writes; pass one for other
 * files, e.g. a PyTorch export).
 */
export function onnxStepFunction(session: OnnxSession, signature: GraphSignature | null = session.signature): OnnxStepFunction {
  if (!signature) {
    throw new OnnxRuntimeError(
      "onnxStepFunction",
      "the model has no unroll.signature metadata (it was not written by exportLanguageModel); pass the signature: { tokens, tokenType, logits, state: [{ input, output, shape }] }",
    );
  }
  if (signature.lengths !== undefined) {
    throw new OnnxRuntimeError("onnxStepFunction", "this is a whole-sequence graph (it takes lengths); export the step graph (exportLanguageModel with graph: \"step\")");
  }
  for (const name of [signature.tokens, ...signature.state.map((s) => s.input)]) {
    if (!session.inputNames.includes(name)) throw new OnnxRuntimeError("onnxStepFunction", `the model has no input "${name}" (inputs: ${session.inputNames.join(", ")})`);
  }
  for (const name of [signature.logits, ...signature.state.map((s) => s.output)]) {
    if (!session.outputNames.includes(name)) throw new OnnxRuntimeError("onnxStepFunction", `the model has no output "${name}" (outputs: ${session.outputNames.join(", ")})`);
  }
  const { Tensor } = session.ort;
  return async (tokens, state) => {
    const B = tokens.length;
    const feeds: Record<string, OrtTensor> = {
      [signature.tokens]: signature.tokenType === "int64" ? new Tensor("int64", BigInt64Array.from(tokens, BigInt), [B]) : new Tensor("int32", tokens, [B]),
    };
    for (const s of signature.state) {
      const given = state?.[s.input];
      if (given) feeds[s.input] = given;
      else {
        const dims = s.shape.map((d) => (d === "batch" ? B : d));
        feeds[s.input] = new Tensor("float32", new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
      }
    }
    const out = await session.session.run(feeds);
    const logits = out[signature.logits]!.data;
    if (!(logits instanceof Float32Array)) throw new OnnxRuntimeError("onnxStepFunction", `output ${signature.logits} is ${out[signature.logits]!.type}, expected float32`);
    const next: Record<string, OrtTensor> = {};
    for (const s of signature.state) next[s.input] = out[s.output]!;
    return { logits, state: next };
  };
}
