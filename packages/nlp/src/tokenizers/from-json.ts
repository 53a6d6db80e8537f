import { BpeTokenizer } from "./bpe.js";
import { CharTokenizer } from "./char.js";
import { readHeader, type Tokenizer } from "./tokenizer.js";
import { WordTokenizer } from "./word.js";

/**
 * Reads a tokenizer serialised by `toJSON` (the parsed object, e.g. `JSON.parse(text)` or a field of
 * a model file). Checks the format tag ("unroll-tokenizer"), the version (1) and the kind, then the
 * kind's fields; anything else throws a TokenizerFormatError that says what is wrong.
 */
export function tokenizerFromJSON(json: unknown): Tokenizer {
  const { kind } = readHeader("tokenizerFromJSON", json);
  switch (kind) {
    case "char":
      return CharTokenizer.fromJSON(json);
    case "word":
      return WordTokenizer.fromJSON(json);
    case "bpe":
      return BpeTokenizer.fromJSON(json);
  }
}
