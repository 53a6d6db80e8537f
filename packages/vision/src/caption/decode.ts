import { beamSearch, type Decoder, greedySearch, type Hypothesis, type LengthPenalty, Vocabulary } from "@unroll/nlp";
import { type AttentionMemory } from "@unroll/nlp";
import { gather, noGrad, Tensor } from "@unroll/tensor";
import type { Captioner, CaptionerParams, CaptionState } from "./model.js";

/** A decoder's rows for captioning: each row's image memory and decoder state. */
export interface CaptionRows {
  readonly memory: AttentionMemory | null;
  readonly state: CaptionState;
}

/** The captioner as nlp's `Decoder`: the same greedy and beam search as translation. */
export function captionDecoder(model: Captioner, params: CaptionerParams): Decoder<CaptionRows> {
  return {
    step(tokens, rows) {
      return noGrad(() => {
        const out = model.decodeStep(params, rows.memory, rows.state, new Tensor(Int32Array.from(tokens), [tokens.length]));
        return { logits: out.logits.data, state: { memory: rows.memory, state: out.state }, ...(out.attention ? { attention: out.attention.data } : {}) };
      });
    },
    select(rows, indices) {
      return noGrad(() => {
        const index = new Tensor(indices, [indices.length]);
        const pick = (t: Tensor, axis: number): Tensor => gather(t, index, axis);
        const m = rows.memory;
        const { rnn, condition } = rows.state;
        return {
          memory: m ? { values: pick(m.values, 0), keys: pick(m.keys, m.keysBatchAxis), keysBatchAxis: m.keysBatchAxis, mask: pick(m.mask, 0) } : null,
          state: { rnn: { h: pick(rnn.h, 1), ...(rnn.c ? { c: pick(rnn.c, 1) } : {}) }, condition: condition ? pick(condition, 0) : null },
        };
      });
    },
  };
}

export interface CaptionOptions {
  /** 1 (default): greedy; more: beam search. */
  readonly beamSize?: number;
  readonly lengthPenalty?: LengthPenalty;
  /** Tokens at most (default 20). */
  readonly maxLength?: number;
  /** Let captions hold the unknown symbol (default false: it is never chosen). */
  readonly allowUnknown?: boolean;
}

export interface Caption {
  readonly text: string;
  readonly tokens: number[];
  readonly score: number;
  readonly finished: boolean;
  /** With the attention decoder: one row per produced token (the end included), one weight per image region, row by row over the grid. */
  readonly attention?: number[][];
  /** The grid's size `[h, w]`, for drawing the attention over the image. */
  readonly grid: readonly [number, number];
}

/** Captions for a batch of images `[N, 3, H, W]` (normalised as in training). */
export async function caption(model: Captioner, params: CaptionerParams, vocabulary: Vocabulary, images: Tensor, options: CaptionOptions = {}): Promise<Caption[]> {
  const N = images.shape[0]!;
  const encoded = noGrad(() => model.encode(params, images));
  const rows: CaptionRows = { memory: encoded.memory, state: model.initialDecoderState(encoded) };
  // The unknown symbol is not a word to write (char-rnn and most captioning code leave it out too).
  const unknown = options.allowUnknown || vocabulary.unkId === null ? [] : [vocabulary.unkId];
  const search = { bos: Vocabulary.BOS, eos: Vocabulary.EOS, maxLength: options.maxLength ?? 20, exclude: [Vocabulary.PAD, Vocabulary.BOS, ...unknown] };
  const decoder = captionDecoder(model, params);
  const best: Hypothesis[] =
    (options.beamSize ?? 1) === 1 && options.lengthPenalty === undefined
      ? await greedySearch(decoder, rows, N, search)
      : (await beamSearch(decoder, rows, N, { ...search, beamSize: options.beamSize ?? 1, ...(options.lengthPenalty ? { lengthPenalty: options.lengthPenalty } : {}) })).map((h) => h[0]!);
  return best.map((h) => ({ text: vocabulary.decode(h.tokens), tokens: h.tokens, score: h.score, finished: h.finished, grid: encoded.grid, ...(h.attention ? { attention: h.attention } : {}) }));
}
