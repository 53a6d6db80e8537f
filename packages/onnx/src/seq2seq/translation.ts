import { type Tensor, treeEntries, zeros } from "@unroll/tensor";
import { OnnxExportError } from "../export/builder.js";
import { traceToOnnx } from "../export/graph-to-onnx.js";
import type { RecurrentLowering } from "../export/lowering.js";
import { formatMetadata } from "../metadata.js";
import { encodeModel, type ModelProto } from "../proto/onnx.js";

// The translation model's export, without importing @unroll/nlp: the model is anything with the
// shape of nlp's `Seq2Seq`. Two graphs: the encoder (source batch -> attention memory and the
// decoder's first state) and one decoder step (previous tokens, state and memory -> logits, new
// state, attention weights), so that greedy and beam search run in TypeScript over either the
// library or onnxruntime.

/** The attention memory of a sentence batch (nlp's `AttentionMemory`). */
export interface AttentionMemoryLike {
  readonly values: Tensor;
  readonly keys: Tensor;
  readonly keysBatchAxis: 0 | 1;
  readonly mask: Tensor;
}

/** The decoder's state (nlp's `DecoderState`). */
export interface DecoderStateLike {
  readonly rnn: { readonly h: Tensor; readonly c?: Tensor };
  readonly feed: Tensor | null;
}

/** What the exporter needs of a translation model: nlp's `Seq2Seq` fits. */
export interface TranslationModelLike<P> {
  readonly config: {
    readonly srcVocabSize: number;
    readonly tgtVocabSize: number;
    readonly cell: string;
    readonly attention: string;
    readonly decoderLayers: number;
    readonly decoderHiddenSize: number;
  };
  encode(params: P, src: Tensor, lengths: Tensor): { readonly memory: AttentionMemoryLike | null; readonly state: { readonly h: Tensor; readonly c?: Tensor }; readonly lengths: readonly number[] };
  initialDecoderState(encoded: ReturnType<TranslationModelLike<P>["encode"]>): DecoderStateLike;
  decodeStep(params: P, memory: AttentionMemoryLike | null, state: DecoderStateLike, tokens: Tensor): { readonly logits: Tensor; readonly state: DecoderStateLike; readonly attention: Tensor | null };
}

/** Which graph input/output carries what, stored as metadata `unroll.translation` in both files. */
export interface TranslationSignature {
  /** Encoder inputs. */
  readonly src: "src";
  readonly srcLengths: "src_lengths";
  /** Decoder-step inputs besides the state. */
  readonly tokens: "tokens";
  readonly logits: "logits";
  /** Present with attention. */
  readonly attention?: "attention";
  /** Everything the decoder step reads besides the tokens: produced by the encoder under `name`, fed to the step under `name`, returned by a step under `output` when it changes. */
  readonly rows: readonly { readonly name: string; readonly output?: string; readonly batchAxis: number; readonly zeros?: { readonly width: number } }[];
  /** Padding, start and end ids. */
  readonly pad: number;
  readonly bos: number;
  readonly eos: number;
}

export const TRANSLATION_METADATA_KEY = "unroll.translation";

export interface ExportTranslationOptions {
  /** Each side's vocabulary (its `toJSON()`), stored as metadata so that the files carry them. */
  readonly vocabularies?: { readonly source: { toJSON(): unknown }; readonly target: { toJSON(): unknown } };
  /** "operators" (default): ONNX LSTM/GRU/RNN for the encoder and the step. */
  readonly lowering?: RecurrentLowering;
  readonly opset?: number;
  readonly metadata?: Readonly<Record<string, string>>;
}

const PAD = 0;
const BOS = 1;
const EOS = 2;

/** Both graphs as `ModelProto`s (see `exportTranslationModel`). */
export function translationModelToOnnx<P>(model: TranslationModelLike<P>, params: P, options: ExportTranslationOptions = {}): { encoder: ModelProto; decoder: ModelProto } {
  const c = model.config;
  const lstm = c.cell === "lstm";
  const attention = c.attention !== "none";
  // Examples at two sizes along every dynamic axis (batch 2 and 5, source 3 and 7), padded.
  const sizes = [
    { S: 3, lengths: [3, 2] },
    { S: 7, lengths: [7, 2, 6, 1, 4] },
  ];
  const source = (S: number, lengths: readonly number[]): [Tensor, Tensor] => {
    const B = lengths.length;
    const src = zeros([S, B], "int32");
    for (let b = 0; b < B; b++) for (let s = 0; s < lengths[b]!; s++) src.data[s * B + b] = 3 + ((s * 7 + b * 3) % (c.srcVocabSize - 3));
    const len = zeros([B], "int32");
    len.data.set(lengths);
    return [src, len];
  };
  const names = new Map<Tensor, string>(treeEntries(params).map(([path, t]) => [t, path]));
  const encoded = sizes.map(({ S, lengths }) => {
    const [src, len] = source(S, lengths);
    const e = model.encode(params, src, len);
    return { src, len, e, start: model.initialDecoderState(e) };
  });
  const probe = encoded[0]!;
  const feeding = probe.start.feed !== null;
  if (attention !== (probe.e.memory !== null)) throw new OnnxExportError("exportTranslationModel", "the model's attention setting and its encoder's memory disagree");

  // The rows the decoder step reads, in order: memory (attention only), then the state.
  const rows: { name: string; output?: string; batchAxis: number; zeros?: { width: number } }[] = [];
  // Dot attention's keys are the memory itself: one row serves both.
  const ownKeys = attention && probe.e.memory!.keys !== probe.e.memory!.values;
  if (attention) rows.push({ name: "memory", batchAxis: 0 }, ...(ownKeys ? [{ name: "keys", batchAxis: probe.e.memory!.keysBatchAxis }] : []), { name: "mask", batchAxis: 0 });
  rows.push({ name: "h", output: "h_n", batchAxis: 1 });
  if (lstm) rows.push({ name: "c", output: "c_n", batchAxis: 1 });
  // Input feeding starts from zeros [batch, hidden]: made by the caller, not by the encoder graph.
  if (feeding) rows.push({ name: "feed", output: "feed_n", batchAxis: 0, zeros: { width: c.decoderHiddenSize } });
  const signature: TranslationSignature = {
    src: "src",
    srcLengths: "src_lengths",
    tokens: "tokens",
    logits: "logits",
    ...(attention ? { attention: "attention" as const } : {}),
    rows,
    pad: PAD,
    bos: BOS,
    eos: EOS,
  };
  const metadata = (graph: string): Record<string, string> => ({
    ...formatMetadata(graph, model.config),
    [TRANSLATION_METADATA_KEY]: JSON.stringify(signature),
    ...(options.vocabularies
      ? { "unroll.source_vocabulary": JSON.stringify(options.vocabularies.source.toJSON()), "unroll.target_vocabulary": JSON.stringify(options.vocabularies.target.toJSON()) }
      : {}),
    ...options.metadata,
  });
  const common = { names, lowering: options.lowering ?? "operators", ...(options.opset !== undefined ? { opset: options.opset } : {}) } as const;
  const rowTensors = (memory: AttentionMemoryLike | null, state: DecoderStateLike): Tensor[] => [
    ...(memory ? [memory.values, ...(ownKeys ? [memory.keys] : []), memory.mask] : []),
    state.rnn.h,
    ...(lstm ? [state.rnn.c!] : []),
    ...(feeding ? [state.feed!] : []),
  ];
  const rowAxes = (): Record<string, Record<number, string>> => {
    const axes: Record<string, Record<number, string>> = {};
    for (const r of rows) {
      const sourceAxis = r.name === "memory" || r.name === "mask" ? 1 : r.name === "keys" ? 1 - r.batchAxis : -1;
      axes[r.name] = sourceAxis >= 0 ? { [r.batchAxis]: "batch", [sourceAxis]: "source" } : { [r.batchAxis]: "batch" };
    }
    return axes;
  };

  const encoder = traceToOnnx(
    (src, len) => {
      const e = model.encode(params, src!, len!);
      return rowTensors(e.memory, model.initialDecoderState(e)).slice(0, feeding ? -1 : undefined);
    },
    encoded.map(({ src, len }) => [src, len]),
    {
      ...common,
      inputNames: ["src", "src_lengths"],
      outputNames: rows.filter((r) => !r.zeros).map((r) => r.name),
      dynamicAxes: { src: { 0: "source", 1: "batch" }, src_lengths: { 0: "batch" } },
      graphName: "translation-encoder",
      docString: `encoder of a ${c.cell} translation model (${c.attention} attention): source [source, batch] -> decoder rows`,
      metadata: metadata("translation/encoder"),
    },
  );

  const unpack = (inputs: readonly Tensor[]): { memory: AttentionMemoryLike | null; state: DecoderStateLike } => {
    const row = new Map(rows.map((r, k) => [r.name, inputs[k]!]));
    const values = row.get("memory");
    const memory = values ? { values, keys: row.get("keys") ?? values, keysBatchAxis: probe.e.memory!.keysBatchAxis, mask: row.get("mask")! } : null;
    const cell = row.get("c");
    return { memory, state: { rnn: { h: row.get("h")!, ...(cell ? { c: cell } : {}) }, feed: row.get("feed") ?? null } };
  };
  const stepOutputs = rows.filter((r) => r.output !== undefined).map((r) => r.output!);
  const decoder = traceToOnnx(
    (tokens, ...rest) => {
      const { memory, state } = unpack(rest);
      const out = model.decodeStep(params, memory, state, tokens!);
      return [out.logits, ...(out.attention ? [out.attention] : []), out.state.rnn.h, ...(lstm ? [out.state.rnn.c!] : []), ...(feeding ? [out.state.feed!] : [])];
    },
    encoded.map(({ e, start }) => {
      const B = e.lengths.length;
      const tokens = zeros([B], "int32");
      for (let b = 0; b < B; b++) tokens.data[b] = b % 2 === 0 ? BOS : 3 + b;
      return [tokens, ...rowTensors(e.memory, start)];
    }),
    {
      ...common,
      inputNames: ["tokens", ...rows.map((r) => r.name)],
      outputNames: ["logits", ...(attention ? ["attention"] : []), ...stepOutputs],
      dynamicAxes: { tokens: { 0: "batch" }, ...rowAxes() },
      graphName: "translation-decoder-step",
      docString: `one decoder step of a ${c.cell} translation model (${c.attention} attention)`,
      metadata: metadata("translation/decoder-step"),
    },
  );
  return { encoder, decoder };
}

/**
 * Exports a translation model (nlp's `Seq2Seq`, or anything of its shape) as two ONNX files: the
 * encoder (`src` int32 [source, batch], `src_lengths` int32 [batch] -> the decoder's rows: memory,
 * keys and mask with attention, `h` (and `c`, and `feed` with input feeding)) and one decoder step
 * (`tokens` int32 [batch] and the rows -> `logits` [batch, vocab], `attention` [batch, source], and
 * the new state `h_n`, `c_n`, `feed_n`). Batch and source axes are dynamic; metadata carry the
 * configuration, the vocabularies and a `TranslationSignature` that `onnxTranslationDecoder` reads.
 */
export function exportTranslationModel<P>(model: TranslationModelLike<P>, params: P, options: ExportTranslationOptions = {}): { encoder: Uint8Array; decoder: Uint8Array } {
  const { encoder, decoder } = translationModelToOnnx(model, params, options);
  return { encoder: encodeModel(encoder), decoder: encodeModel(decoder) };
}
