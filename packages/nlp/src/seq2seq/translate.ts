import { gather, noGrad, Tensor, ValueRangeError } from "@unroll/tensor";
import type { RecurrentState } from "@unroll/cells";
import { beamSearch } from "../decoding/beam.js";
import { greedySearch } from "../decoding/greedy.js";
import type { Decoder, Hypothesis, LengthPenalty } from "../decoding/search.js";
import type { AttentionMemory } from "./attention.js";
import { makeBatch } from "./batches.js";
import type { DecoderState, Seq2Seq, Seq2SeqParams } from "./model.js";
import { Vocabulary } from "./vocabulary.js";

/** A decoder's rows: the attention memory of each row's sentence and the decoder state. */
export interface Seq2SeqRows {
  readonly memory: AttentionMemory | null;
  readonly state: DecoderState;
}

/**
 * The library model as a `Decoder` for greedy and beam search: one step of every row with no
 * gradients recorded; `select` gathers rows of the memory and the state (beams reordered,
 * finished sentences dropped).
 */
export function seq2seqDecoder(model: Seq2Seq, params: Seq2SeqParams): Decoder<Seq2SeqRows> {
  return {
    step(tokens, rows) {
      return noGrad(() => {
        const out = model.decodeStep(params, rows.memory, rows.state, new Tensor(Int32Array.from(tokens), [tokens.length]));
        return {
          logits: out.logits.data,
          state: { memory: rows.memory, state: out.state },
          ...(out.attention ? { attention: out.attention.data } : {}),
        };
      });
    },
    select(rows, indices) {
      return noGrad(() => {
        const index = new Tensor(indices, [indices.length]);
        const pick = (t: Tensor, axis: number): Tensor => gather(t, index, axis);
        const rnn: RecurrentState = { h: pick(rows.state.rnn.h, 1), ...(rows.state.rnn.c ? { c: pick(rows.state.rnn.c, 1) } : {}) };
        const m = rows.memory;
        const memory = m ? { values: pick(m.values, 0), keys: pick(m.keys, m.keysBatchAxis), keysBatchAxis: m.keysBatchAxis, mask: pick(m.mask, 0) } : null;
        return { memory, state: { rnn, feed: rows.state.feed ? pick(rows.state.feed, 0) : null } };
      });
    },
  };
}

/**
 * What translation runs on: the first rows of a source batch (`src` int32 `[S, B]` padded with 0,
 * `lengths` `[B]`) and a decoder over them. `libraryEngine` is the library's model; an exported
 * model over onnxruntime (`@unroll/onnx`'s `onnxTranslationDecoder`) is another.
 */
export interface TranslationEngine<S> {
  encode(src: Tensor, lengths: Tensor): S | Promise<S>;
  readonly decoder: Decoder<S>;
}

/** The library model as a `TranslationEngine`. */
export function libraryEngine(model: Seq2Seq, params: Seq2SeqParams): TranslationEngine<Seq2SeqRows> {
  return {
    encode: (src, lengths) =>
      noGrad(() => {
        const encoded = model.encode(params, src, lengths);
        return { memory: encoded.memory, state: model.initialDecoderState(encoded) };
      }),
    decoder: seq2seqDecoder(model, params),
  };
}

export interface TranslateOptions {
  /** 1 (default) decodes greedily; more keeps that many hypotheses per sentence. */
  readonly beamSize?: number;
  /** Default none; GNMT's `{ kind: "gnmt", alpha: 0.6 }` favours longer outputs. */
  readonly lengthPenalty?: LengthPenalty;
  /** Produced tokens at most: `maxLengthA * sourceLength + maxLengthB` (default 2x + 10), and at most `maxLength` (default 200). */
  readonly maxLength?: number;
  readonly maxLengthA?: number;
  readonly maxLengthB?: number;
  readonly noRepeatNgram?: number;
  /** Keep searching until no live beam can beat the finished ones (false), or stop at beamSize finished (default true). */
  readonly earlyStop?: boolean;
  /** Sentences decoded together (default 32). */
  readonly batchSize?: number;
  readonly signal?: AbortSignal;
}

export interface Translation {
  readonly text: string;
  /** Target ids produced, without the start and end symbols. */
  readonly tokens: number[];
  /** The source ids the model read. */
  readonly sourceTokens: number[];
  readonly score: number;
  readonly logProb: number;
  /** Ended with the end symbol (false: stopped at the length limit). */
  readonly finished: boolean;
  /** Attention weights, one row per produced token (the end symbol included), one column per source token; absent for the bottleneck model. */
  readonly attention?: number[][];
}

/**
 * Translates sentences with the library model: sources encoded with `source`, decoded greedily or
 * by beam search, in batches of sentences of similar length; results in input order. An empty
 * (or all-whitespace) sentence translates to the empty string without running the model.
 */
export function translate(
  model: Seq2Seq,
  params: Seq2SeqParams,
  vocabularies: { readonly source: Vocabulary; readonly target: Vocabulary },
  sentences: readonly string[],
  options: TranslateOptions = {},
): Promise<Translation[]> {
  return translateWith(libraryEngine(model, params), vocabularies, sentences, options);
}

/** `translate` over any engine: the same batching, search and results. */
export async function translateWith<S>(
  engine: TranslationEngine<S>,
  vocabularies: { readonly source: Vocabulary; readonly target: Vocabulary },
  sentences: readonly string[],
  options: TranslateOptions = {},
): Promise<Translation[]> {
  const beamSize = options.beamSize ?? 1;
  if (!Number.isInteger(beamSize) || beamSize < 1) throw new ValueRangeError("translate", `beamSize must be a positive integer, got ${beamSize}`);
  const batchSize = options.batchSize ?? 32;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ValueRangeError("translate", `batchSize must be a positive integer, got ${batchSize}`);
  const sources = sentences.map((s) => (s.trim() === "" ? new Int32Array(0) : vocabularies.source.encode(s)));
  const order = sources.map((_, i) => i).filter((i) => sources[i]!.length > 0);
  order.sort((a, b) => sources[a]!.length - sources[b]!.length || a - b);
  const results: Translation[] = sentences.map(() => ({ text: "", tokens: [], sourceTokens: [], score: 0, logProb: 0, finished: true }));
  const decoder = engine.decoder;
  for (let i = 0; i < order.length; i += batchSize) {
    const chunk = order.slice(i, i + batchSize);
    const batch = makeBatch(chunk.map((k) => ({ src: sources[k]!, tgt: new Int32Array(0) })));
    const rows = await engine.encode(batch.src, batch.srcLengths);
    const lengths = Array.from(batch.srcLengths.data);
    const search = {
      bos: Vocabulary.BOS,
      eos: Vocabulary.EOS,
      maxLength: options.maxLength ?? 200,
      maxLengthA: options.maxLengthA ?? 2,
      maxLengthB: options.maxLengthB ?? 10,
      sourceLengths: lengths,
      exclude: [Vocabulary.PAD, Vocabulary.BOS],
      ...(options.noRepeatNgram !== undefined ? { noRepeatNgram: options.noRepeatNgram } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    };
    const best: Hypothesis[] =
      beamSize === 1 && options.lengthPenalty === undefined
        ? await greedySearch(decoder, rows, chunk.length, search)
        : (
            await beamSearch(decoder, rows, chunk.length, {
              ...search,
              beamSize,
              ...(options.lengthPenalty ? { lengthPenalty: options.lengthPenalty } : {}),
              ...(options.earlyStop !== undefined ? { earlyStop: options.earlyStop } : {}),
            })
          ).map((h) => h[0]!);
    chunk.forEach((k, j) => {
      const h = best[j]!;
      const S = sources[k]!.length;
      results[k] = {
        text: vocabularies.target.decode(h.tokens),
        tokens: h.tokens,
        sourceTokens: Array.from(sources[k]!),
        score: h.score,
        logProb: h.logProb,
        finished: h.finished,
        // Rows come padded to the batch's longest source: keep this sentence's columns.
        ...(h.attention ? { attention: h.attention.map((row) => row.slice(0, S)) } : {}),
      };
    });
  }
  return results;
}
