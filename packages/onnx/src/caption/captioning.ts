import { Rng, type Tensor, treeEntries, zeros } from "@unroll/tensor";
import { OnnxExportError } from "../export/builder.js";
import { traceToOnnx } from "../export/graph-to-onnx.js";
import type { RecurrentLowering } from "../export/lowering.js";
import { formatMetadata } from "../metadata.js";
import { encodeModel, type ModelProto } from "../proto/onnx.js";
import { OnnxRuntimeError, type OnnxSession, type OrtTensor } from "../runtime/session.js";
import { type OnnxRows, type OnnxTranslationDecoder, rowsDecoder, type StepSignature } from "../seq2seq/decoder.js";
import type { AttentionMemoryLike } from "../seq2seq/translation.js";

// The captioning model's export, without importing @unroll/vision: the model is anything with the
// shape of vision's `Captioner`. As for translation, two graphs: the encoder (images or videos ->
// the decoder's rows) and one decoder step, so that the same greedy and beam search run in
// TypeScript over the library or onnxruntime.

/** The decoder's state (vision's `CaptionState`). */
export interface CaptionStateLike {
  readonly rnn: { readonly h: Tensor; readonly c?: Tensor };
  readonly condition: Tensor | null;
}

/** What the exporter needs of a captioning model: vision's `Captioner` fits. */
export interface CaptionModelLike<P> {
  readonly config: { readonly vocabSize: number; readonly cell: string; readonly decoder: string; readonly video: boolean };
  encode(params: P, images: Tensor): { readonly memory: AttentionMemoryLike | null; readonly grid: readonly [number, number] };
  initialDecoderState(encoded: ReturnType<CaptionModelLike<P>["encode"]>): CaptionStateLike;
  decodeStep(params: P, memory: AttentionMemoryLike | null, state: CaptionStateLike, tokens: Tensor): { readonly logits: Tensor; readonly state: CaptionStateLike; readonly attention: Tensor | null };
}

/** Which graph input/output carries what, stored as metadata `unroll.captioning` in both files. */
export interface CaptionSignature extends StepSignature {
  /** The encoder's input: float32 `[batch, 3, H, W]`, or `[batch, T, 3, H, W]` for video. */
  readonly images: "images";
  /** The input's shape after the batch axis (fixed at export). */
  readonly imageShape: readonly number[];
  /** The attention grid `[h, w]` (`[1, T]` for video). */
  readonly grid: readonly [number, number];
  /** `fill`: a row the caller makes, `value` everywhere, `shape` with the batch at `batchAxis` (the all-ones attention mask, inject's zero first state). */
  readonly rows: readonly { readonly name: string; readonly output?: string; readonly batchAxis: number; readonly fill?: { readonly value: number; readonly shape: readonly number[] } }[];
  readonly pad: number;
  readonly bos: number;
  readonly eos: number;
}

export const CAPTION_METADATA_KEY = "unroll.captioning";

export interface ExportCaptionOptions {
  /** The image size `[H, W]` the graphs take (the encoder's grid follows from it). */
  readonly imageSize: readonly [number, number];
  /** Frames per video, for a video captioner. */
  readonly frames?: number;
  /** The vocabulary (its `toJSON()`), stored as metadata. */
  readonly vocabulary?: { toJSON(): unknown };
  readonly lowering?: RecurrentLowering;
  readonly opset?: number;
  readonly metadata?: Readonly<Record<string, string>>;
}

/** Both graphs as `ModelProto`s (see `exportCaptioningModel`). */
export function captioningModelToOnnx<P>(model: CaptionModelLike<P>, params: P, options: ExportCaptionOptions): { encoder: ModelProto; decoder: ModelProto } {
  const c = model.config;
  const [H, W] = options.imageSize ?? [];
  if (!Number.isInteger(H) || !Number.isInteger(W) || H! < 1 || W! < 1) {
    throw new OnnxExportError("exportCaptioningModel", `imageSize must be [height, width] in pixels, got ${JSON.stringify(options.imageSize)}`);
  }
  if (c.video && !(Number.isInteger(options.frames) && options.frames! >= 1)) {
    throw new OnnxExportError("exportCaptioningModel", `a video captioner needs frames (how many frames each video is sampled to), got ${String(options.frames)}`);
  }
  const imageShape = c.video ? [options.frames!, 3, H!, W!] : [3, H!, W!];
  const lstm = c.cell === "lstm";
  // Examples at two batch sizes, so that the batch axis is dynamic.
  const rng = new Rng(11);
  const examples = [2, 5].map((N) => rng.normal([N, ...imageShape], 0, 1));
  const names = new Map<Tensor, string>(treeEntries(params).map(([path, t]) => [t, path]));
  const encoded = examples.map((images) => {
    const e = model.encode(params, images);
    return { images, e, start: model.initialDecoderState(e) };
  });
  const probe = encoded[0]!;
  const attention = probe.e.memory !== null;
  const conditioned = probe.start.condition !== null;
  if (attention && probe.e.memory!.keysBatchAxis !== 1) throw new OnnxExportError("exportCaptioningModel", "expected the attention keys time-first [regions, batch, attention]");

  // Rows of one value (a graph output cannot be a constant whose shape follows the batch): made by the caller.
  const constant = (t: Tensor, value: number, batchAxis: number): { value: number; shape: number[] } | undefined =>
    Array.prototype.every.call(t.data, (x: number) => x === value) ? { value, shape: t.shape.map((d, i) => (i === batchAxis ? 0 : d)) } : undefined;
  const rows: { name: string; output?: string; batchAxis: number; fill?: { value: number; shape: number[] } }[] = [];
  if (attention) {
    const mask = constant(probe.e.memory!.mask, 1, 0);
    if (!mask) throw new OnnxExportError("exportCaptioningModel", "expected an attention mask of ones (no padded image regions)");
    rows.push({ name: "memory", batchAxis: 0 }, { name: "keys", batchAxis: 1 }, { name: "mask", batchAxis: 0, fill: mask });
  }
  // The inject decoder starts from zeros; the others from the image.
  const zeroStart = c.decoder === "inject";
  const hFill = zeroStart ? constant(probe.start.rnn.h, 0, 1) : undefined;
  if (zeroStart && !hFill) throw new OnnxExportError("exportCaptioningModel", "expected the inject decoder's first state to be zeros");
  rows.push({ name: "h", output: "h_n", batchAxis: 1, ...(hFill ? { fill: hFill } : {}) });
  if (lstm) rows.push({ name: "c", output: "c_n", batchAxis: 1, ...(hFill ? { fill: { ...hFill } } : {}) });
  if (conditioned) rows.push({ name: "condition", batchAxis: 0 });
  const signature: CaptionSignature = {
    images: "images",
    imageShape,
    grid: probe.e.grid,
    tokens: "tokens",
    logits: "logits",
    ...(attention ? { attention: "attention" } : {}),
    rows,
    pad: 0,
    bos: 1,
    eos: 2,
  };
  const metadata = (graph: string): Record<string, string> => ({
    ...formatMetadata(graph, model.config),
    [CAPTION_METADATA_KEY]: JSON.stringify(signature),
    ...(options.vocabulary ? { "unroll.vocabulary": JSON.stringify(options.vocabulary.toJSON()) } : {}),
    ...options.metadata,
  });
  const common = { names, lowering: options.lowering ?? "operators", ...(options.opset !== undefined ? { opset: options.opset } : {}) } as const;
  const rowTensors = (memory: AttentionMemoryLike | null, state: CaptionStateLike): Tensor[] => [
    ...(memory ? [memory.values, memory.keys, memory.mask] : []),
    state.rnn.h,
    ...(lstm ? [state.rnn.c!] : []),
    ...(conditioned ? [state.condition!] : []),
  ];
  const rowAxes: Record<string, Record<number, string>> = Object.fromEntries(rows.map((r) => [r.name, { [r.batchAxis]: "batch" }]));
  const kind = `${c.decoder} ${c.cell} ${c.video ? "video" : "image"} captioner`;

  const encoder = traceToOnnx(
    (images) => {
      const e = model.encode(params, images!);
      const made = rowTensors(e.memory, model.initialDecoderState(e));
      return made.filter((_, k) => !rows[k]!.fill);
    },
    encoded.map(({ images }) => [images]),
    {
      ...common,
      inputNames: ["images"],
      outputNames: rows.filter((r) => !r.fill).map((r) => r.name),
      dynamicAxes: { images: { 0: "batch" } },
      graphName: "captioning-encoder",
      docString: `encoder of a ${kind}: images [batch, ${imageShape.join(", ")}] -> decoder rows`,
      metadata: metadata("captioning/encoder"),
    },
  );

  const unpack = (inputs: readonly Tensor[]): { memory: AttentionMemoryLike | null; state: CaptionStateLike } => {
    const row = new Map(rows.map((r, k) => [r.name, inputs[k]!]));
    const values = row.get("memory");
    const memory = values ? { values, keys: row.get("keys")!, keysBatchAxis: 1 as const, mask: row.get("mask")! } : null;
    const cell = row.get("c");
    return { memory, state: { rnn: { h: row.get("h")!, ...(cell ? { c: cell } : {}) }, condition: row.get("condition") ?? null } };
  };
  const decoder = traceToOnnx(
    (tokens, ...rest) => {
      const { memory, state } = unpack(rest);
      const out = model.decodeStep(params, memory, state, tokens!);
      return [out.logits, ...(out.attention ? [out.attention] : []), out.state.rnn.h, ...(lstm ? [out.state.rnn.c!] : [])];
    },
    encoded.map(({ e, start }) => {
      const N = start.rnn.h.shape[1]!;
      const tokens = zeros([N], "int32");
      for (let n = 0; n < N; n++) tokens.data[n] = n % 2 === 0 ? signature.bos : 3 + (n % (c.vocabSize - 3));
      return [tokens, ...rowTensors(e.memory, start)];
    }),
    {
      ...common,
      inputNames: ["tokens", ...rows.map((r) => r.name)],
      outputNames: ["logits", ...(attention ? ["attention"] : []), ...rows.filter((r) => r.output).map((r) => r.output!)],
      dynamicAxes: { tokens: { 0: "batch" }, ...rowAxes },
      graphName: "captioning-decoder-step",
      docString: `one decoder step of a ${kind}`,
      metadata: metadata("captioning/decoder-step"),
    },
  );
  return { encoder, decoder };
}

/**
 * Exports a captioning model (vision's `Captioner`, or anything of its shape) as two ONNX files:
 * the encoder (`images` float32 `[batch, 3, H, W]`, or `[batch, T, 3, H, W]` for video, normalised
 * as in training -> the decoder's rows: `memory`, `keys` and `mask` with attention, `h` (and `c`;
 * `condition` for the inject decoder)) and one decoder step (`tokens` int32 `[batch]` and the rows
 * -> `logits` `[batch, vocab]`, `attention` `[batch, regions]`, `h_n`, `c_n`). The batch axis is
 * dynamic, the image size fixed by `imageSize`; metadata carry the configuration, the vocabulary
 * and a `CaptionSignature` that `onnxCaptionDecoder` reads.
 */
export function exportCaptioningModel<P>(model: CaptionModelLike<P>, params: P, options: ExportCaptionOptions): { encoder: Uint8Array; decoder: Uint8Array } {
  const { encoder, decoder } = captioningModelToOnnx(model, params, options);
  return { encoder: encodeModel(encoder), decoder: encodeModel(decoder) };
}

/** nlp's `Decoder` over the two graphs of `exportCaptioningModel`, plus `encode` for the first rows. */
export interface OnnxCaptionDecoder extends Pick<OnnxTranslationDecoder, "step" | "select"> {
  readonly signature: CaptionSignature;
  /** Runs the encoder on `images` (float32, `[N, ...signature.imageShape]` flattened). */
  encode(images: Float32Array, count: number): Promise<OnnxRows>;
}

function captionSignatureOf(session: OnnxSession, which: string): CaptionSignature {
  const text = session.metadata[CAPTION_METADATA_KEY];
  if (text === undefined) throw new OnnxRuntimeError("onnxCaptionDecoder", `the ${which} has no ${CAPTION_METADATA_KEY} metadata: export it with exportCaptioningModel`);
  return JSON.parse(text) as CaptionSignature;
}

/** A decoder over an encoder session and a decoder-step session written by `exportCaptioningModel`. */
export function onnxCaptionDecoder(encoder: OnnxSession, decoder: OnnxSession): OnnxCaptionDecoder {
  const signature = captionSignatureOf(encoder, "encoder");
  if (JSON.stringify(captionSignatureOf(decoder, "decoder step")) !== JSON.stringify(signature)) {
    throw new OnnxRuntimeError("onnxCaptionDecoder", "the encoder and decoder-step files come from different exports");
  }
  const perImage = signature.imageShape.reduce((a, b) => a * b, 1);
  return {
    signature,
    async encode(images, count) {
      if (images.length !== count * perImage) {
        throw new OnnxRuntimeError("onnxCaptionDecoder", `${count} images of [${signature.imageShape.join(", ")}] are ${count * perImage} values, got ${images.length}: resize them to the exported size`);
      }
      const out = await encoder.session.run({ [signature.images]: new encoder.ort.Tensor("float32", images, [count, ...signature.imageShape]) });
      const rows: Record<string, OrtTensor> = {};
      for (const r of signature.rows) {
        if (!r.fill) rows[r.name] = out[r.name]!;
        else {
          const shape = r.fill.shape.map((d, i) => (i === r.batchAxis ? count : d));
          rows[r.name] = new encoder.ort.Tensor("float32", new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(r.fill.value), shape);
        }
      }
      return rows;
    },
    ...rowsDecoder(decoder, signature),
  };
}
