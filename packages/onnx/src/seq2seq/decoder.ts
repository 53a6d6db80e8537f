import { OnnxRuntimeError, type OnnxSession, type OrtTensor } from "../runtime/session.js";
import { TRANSLATION_METADATA_KEY, type TranslationSignature } from "./translation.js";

/** The rows of a batch being decoded: onnxruntime tensors by the decoder step's input names. */
export type OnnxRows = Readonly<Record<string, OrtTensor>>;

/**
 * nlp's `Decoder` (a structural type: this package does not import nlp) over the two graphs of
 * `exportTranslationModel`, plus `encode` for the first rows: greedy and beam search run on it
 * exactly as on the library's model.
 */
export interface OnnxTranslationDecoder {
  readonly signature: TranslationSignature;
  /** Runs the encoder on a padded source batch, time-first `[S, B]` (0 pads), and returns the decoder's first rows. */
  encode(src: Int32Array, lengths: Int32Array): Promise<OnnxRows>;
  step(tokens: Int32Array, rows: OnnxRows): Promise<{ logits: Float32Array; state: OnnxRows; attention?: Float32Array }>;
  select(rows: OnnxRows, indices: Int32Array): OnnxRows;
}

function signatureOf(session: OnnxSession, which: string): TranslationSignature {
  const text = session.metadata[TRANSLATION_METADATA_KEY];
  if (text === undefined) {
    throw new OnnxRuntimeError("onnxTranslationDecoder", `the ${which} has no ${TRANSLATION_METADATA_KEY} metadata: export it with exportTranslationModel (unroll export onnx RUN)`);
  }
  return JSON.parse(text) as TranslationSignature;
}

/** A decoder over an encoder session and a decoder-step session written by `exportTranslationModel`. */
export function onnxTranslationDecoder(encoder: OnnxSession, decoder: OnnxSession): OnnxTranslationDecoder {
  const signature = signatureOf(encoder, "encoder");
  const other = signatureOf(decoder, "decoder step");
  if (JSON.stringify(other) !== JSON.stringify(signature)) throw new OnnxRuntimeError("onnxTranslationDecoder", "the encoder and decoder-step files come from different exports");
  for (const name of [signature.tokens, ...signature.rows.map((r) => r.name)]) {
    if (!decoder.inputNames.includes(name)) throw new OnnxRuntimeError("onnxTranslationDecoder", `the decoder step has no input "${name}" (inputs: ${decoder.inputNames.join(", ")})`);
  }
  const { Tensor } = decoder.ort;
  return {
    signature,
    async encode(src, lengths) {
      const B = lengths.length;
      const S = src.length / B;
      if (!Number.isInteger(S)) throw new OnnxRuntimeError("onnxTranslationDecoder", `src holds ${src.length} ids, not a multiple of the batch ${B}`);
      const out = await encoder.session.run({ [signature.src]: new encoder.ort.Tensor("int32", src, [S, B]), [signature.srcLengths]: new encoder.ort.Tensor("int32", lengths, [B]) });
      const rows: Record<string, OrtTensor> = {};
      for (const r of signature.rows) rows[r.name] = r.zeros ? new Tensor("float32", new Float32Array(B * r.zeros.width), [B, r.zeros.width]) : out[r.name]!;
      return rows;
    },
    ...rowsDecoder(decoder, signature),
  };
}

/** What a decoder-step graph's signature says about its rows (translation's and captioning's). */
export interface StepSignature {
  readonly tokens: string;
  readonly logits: string;
  readonly attention?: string;
  readonly rows: readonly { readonly name: string; readonly output?: string; readonly batchAxis: number }[];
}

/** `step` and `select` of nlp's `Decoder` over a decoder-step session: one run per step, rows gathered for the beams. */
export function rowsDecoder(decoder: OnnxSession, signature: StepSignature): Pick<OnnxTranslationDecoder, "step" | "select"> {
  const { Tensor } = decoder.ort;
  const axes = new Map(signature.rows.map((r) => [r.name, r.batchAxis]));
  return {
    async step(tokens, rows) {
      const out = await decoder.session.run({ ...rows, [signature.tokens]: new Tensor("int32", tokens, [tokens.length]) });
      const next: Record<string, OrtTensor> = {};
      for (const r of signature.rows) next[r.name] = r.output !== undefined ? out[r.output]! : rows[r.name]!;
      const logits = out[signature.logits]!.data as Float32Array;
      return { logits, state: next, ...(signature.attention ? { attention: out[signature.attention]!.data as Float32Array } : {}) };
    },
    select(rows, indices) {
      const next: Record<string, OrtTensor> = {};
      for (const [name, t] of Object.entries(rows)) next[name] = new Tensor(t.type, gatherRows(t.data as Float32Array, t.dims, axes.get(name) ?? 0, indices), withAxis(t.dims, axes.get(name) ?? 0, indices.length));
      return next;
    },
  };
}

function withAxis(dims: readonly number[], axis: number, size: number): number[] {
  const out = [...dims];
  out[axis] = size;
  return out;
}

/** Rows `indices` of `data` along `axis` (a copy). */
function gatherRows(data: Float32Array, dims: readonly number[], axis: number, indices: Int32Array): Float32Array {
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const n = dims[axis]!;
  const out = new Float32Array(outer * indices.length * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < indices.length; i++) {
      const from = (o * n + indices[i]!) * inner;
      out.set(data.subarray(from, from + inner), (o * indices.length + i) * inner);
    }
  }
  return out;
}
