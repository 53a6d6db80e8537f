import { ValueRangeError } from "@unroll/tensor";
import { BpeTokenizer } from "../tokenizers/bpe.js";
import { CharTokenizer } from "../tokenizers/char.js";
import { tokenizerFromJSON } from "../tokenizers/from-json.js";
import { describe, type Tokenizer, type TokenizerJSON, TokenizerFormatError } from "../tokenizers/tokenizer.js";
import { WordTokenizer } from "../tokenizers/word.js";

export const VOCABULARY_FORMAT = "unroll-seq2seq-vocabulary";
export const VOCABULARY_VERSION = 1;

export interface VocabularyJSON {
  readonly format: typeof VOCABULARY_FORMAT;
  readonly version: typeof VOCABULARY_VERSION;
  /** The texts of ids 0, 1, 2: padding, start and end of a sentence. */
  readonly specials: readonly [string, string, string];
  readonly tokenizer: TokenizerJSON;
}

export interface FitVocabularyOptions {
  /** "word" (pieces with their leading space, the default), "bpe" (byte-level) or "char". */
  readonly kind?: "word" | "bpe" | "char";
  /** Word pieces seen fewer times become the unknown symbol (default 2). */
  readonly minFrequency?: number;
  /** The largest word vocabulary, unknown symbol included. */
  readonly maxVocab?: number;
  /** Target size of a BPE vocabulary (default 4000). */
  readonly bpeVocabSize?: number;
  /** Word vocabularies only: lowercase every piece (decoded text is lowercase too). */
  readonly lowercase?: boolean;
}

/**
 * A tokenizer with the three symbols a sentence-to-sentence model needs in front: id 0 pads a
 * batch, 1 starts a sentence (the decoder's first input), 2 ends it (the decoder's last
 * output). The tokenizer's own ids follow, shifted by 3. One vocabulary per side, or one joint
 * vocabulary for both (fitted on both sides' texts) when the embeddings are shared.
 */
export class Vocabulary {
  static readonly PAD = 0;
  static readonly BOS = 1;
  static readonly EOS = 2;
  private static readonly OFFSET = 3;
  readonly tokenizer: Tokenizer;

  constructor(tokenizer: Tokenizer) {
    this.tokenizer = tokenizer;
  }

  /** Fits a tokenizer on `texts` (one sentence each) and puts the special symbols in front. */
  static fit(texts: readonly string[], options: FitVocabularyOptions = {}): Vocabulary {
    const kind = options.kind ?? "word";
    const lowercase = options.lowercase ?? false;
    if (lowercase && kind !== "word") throw new ValueRangeError("Vocabulary.fit", `lowercase applies to word vocabularies, not ${kind}: lowercase the texts before fitting instead`);
    const text = texts.join("\n");
    switch (kind) {
      case "word":
        return new Vocabulary(
          WordTokenizer.fit(text, {
            attachSpaces: true,
            lowercase,
            minFrequency: options.minFrequency ?? 2,
            ...(options.maxVocab !== undefined ? { maxVocab: options.maxVocab } : {}),
          }),
        );
      case "bpe":
        return new Vocabulary(BpeTokenizer.train(text, { vocabSize: options.bpeVocabSize ?? 4000 }));
      case "char":
        return new Vocabulary(CharTokenizer.fromText(text));
      default:
        throw new ValueRangeError("Vocabulary.fit", `kind must be "word", "bpe" or "char", got ${describe(kind)}`);
    }
  }

  static fromJSON(json: unknown): Vocabulary {
    const op = "Vocabulary.fromJSON";
    if (typeof json !== "object" || json === null || Array.isArray(json)) throw new TokenizerFormatError(op, `expected an object, got ${describe(json)}`);
    const o = json as Record<string, unknown>;
    if (o["format"] !== VOCABULARY_FORMAT) throw new TokenizerFormatError(op, `format must be "${VOCABULARY_FORMAT}", got ${describe(o["format"])}`);
    if (o["version"] !== VOCABULARY_VERSION) {
      throw new TokenizerFormatError(op, `version ${describe(o["version"])} is not supported (this library reads version ${VOCABULARY_VERSION})`);
    }
    return new Vocabulary(tokenizerFromJSON(o["tokenizer"]));
  }

  /** Every id: the three special symbols and the tokenizer's. */
  get size(): number {
    return this.tokenizer.vocabSize + Vocabulary.OFFSET;
  }

  /** The id of the unknown symbol, or null for BPE, which encodes every text. */
  get unkId(): number | null {
    return this.tokenizer.unkId === null ? null : this.tokenizer.unkId + Vocabulary.OFFSET;
  }

  /** The ids of a sentence, without the start and end symbols. */
  encode(text: string): Int32Array {
    const ids = this.tokenizer.encode(text);
    for (let i = 0; i < ids.length; i++) ids[i]! += Vocabulary.OFFSET;
    return ids;
  }

  /** The text of `ids`: special symbols are left out, and an end symbol ends the sentence. */
  decode(ids: ArrayLike<number>): string {
    const inner: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id === Vocabulary.EOS) break;
      if (id >= Vocabulary.OFFSET) inner.push(id - Vocabulary.OFFSET);
      else if (id < 0 || id >= this.size || !Number.isInteger(id)) throw new ValueRangeError("Vocabulary.decode", `id ${id} is not in [0, ${this.size})`);
    }
    return this.tokenizer.decode(inner);
  }

  /** The text of one id, for attention plots: special symbols by name. */
  tokenText(id: number): string {
    if (id === Vocabulary.PAD) return "<pad>";
    if (id === Vocabulary.BOS) return "<s>";
    if (id === Vocabulary.EOS) return "</s>";
    return this.tokenizer.tokenText(id - Vocabulary.OFFSET);
  }

  toJSON(): VocabularyJSON {
    return { format: VOCABULARY_FORMAT, version: VOCABULARY_VERSION, specials: ["<pad>", "<s>", "</s>"], tokenizer: this.tokenizer.toJSON() };
  }
}
