// Tokenisers: character, word and byte-level BPE. Each serialises with the model (`toJSON`, read back
// by `tokenizerFromJSON`, tagged "unroll-tokenizer" version 1).
export {
  type BpeTokenizerJSON,
  type CharTokenizerJSON,
  type StreamDecoder,
  type Tokenizer,
  TOKENIZER_FORMAT,
  TOKENIZER_VERSION,
  TokenizerFormatError,
  type TokenizerJSON,
  type TokenizerKind,
  type WordTokenizerJSON,
} from "./tokenizer.js";
export { CharTokenizer, type CharTokenizerOptions } from "./char.js";
export { WordTokenizer, type WordTokenizerOptions } from "./word.js";
export { BpeTokenizer, type BpeTrainOptions } from "./bpe.js";
export { tokenizerFromJSON } from "./from-json.js";
export { Wtf8Decoder, wtf8Decode, wtf8Encode } from "./wtf8.js";
