import { ValueRangeError } from "@unroll/tensor";
import {
  type BpeTokenizerJSON,
  checkId,
  describe,
  readHeader,
  type StreamDecoder,
  type Tokenizer,
  TOKENIZER_FORMAT,
  TOKENIZER_VERSION,
  TokenizerFormatError,
} from "./tokenizer.js";
import { Wtf8Decoder, wtf8Decode, wtf8Encode } from "./wtf8.js";

export interface BpeTrainOptions {
  /** The vocabulary size to reach: 256 byte tokens plus `vocabSize - 256` merges (at most). */
  readonly vocabSize: number;
  /**
   * A merge is learnt only if its pair occurs at least this often in the text (default 2); training
   * stops early, with a smaller vocabulary, when no pair is that frequent.
   */
  readonly minFrequency?: number;
}

/** The number of byte tokens, ids 0..255. */
const BYTE_TOKENS = 256;
/** The largest vocabulary: pair keys `a * MAX_VOCAB + b` stay exact in a double. */
const MAX_VOCAB = 1 << 24;
const pairKey = (a: number, b: number): number => a * MAX_VOCAB + b;
/** Chunks of at most this many bytes are merged by rescanning (fast when short), longer ones with a heap. */
const SHORT_CHUNK = 24;

// GPT-2's pre-tokenizer (openai/gpt-2 encoder.py): contractions, letter runs and number runs with an
// optional leading space, other symbols, whitespace. Merges never cross chunk boundaries, so " the"
// can become one token but "the cat" cannot. In `u` mode a lone surrogate is a code point of its own
// (matched by the symbol class); the final `[^]` is a guard so the chunks always cover the text.
const GPT2_PATTERN = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+|[^]`;

/** Calls `f` on each GPT-2 chunk of `text`, in order; the chunks concatenate to `text`. */
function forEachChunk(text: string, f: (chunk: string) => void): void {
  const re = new RegExp(GPT2_PATTERN, "guy");
  for (let m = re.exec(text); m !== null; m = re.exec(text)) f(m[0]);
}

/**
 * A max-heap of (count, pair key): the largest count first, ties to the smaller key, so that training
 * is deterministic. Entries go stale as counts fall; the trainer re-checks the top against the live
 * count (lazy deletion, as Hugging Face tokenizers' BPE trainer does). Encoding long chunks reuses it
 * with (-rank, position).
 */
class PairHeap {
  private readonly counts: number[] = [];
  private readonly keys: number[] = [];

  get size(): number {
    return this.keys.length;
  }

  private above(i: number, j: number): boolean {
    const ci = this.counts[i]!;
    const cj = this.counts[j]!;
    return ci > cj || (ci === cj && this.keys[i]! < this.keys[j]!);
  }

  private swap(i: number, j: number): void {
    const c = this.counts[i]!;
    this.counts[i] = this.counts[j]!;
    this.counts[j] = c;
    const k = this.keys[i]!;
    this.keys[i] = this.keys[j]!;
    this.keys[j] = k;
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.keys.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.above(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Removes the top entry and returns it as [count, key]. */
  pop(): [number, number] {
    const top: [number, number] = [this.counts[0]!, this.keys[0]!];
    const last = this.keys.length - 1;
    this.swap(0, last);
    this.counts.pop();
    this.keys.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < last && this.above(l, best)) best = l;
      if (r < last && this.above(r, best)) best = r;
      if (best === i) break;
      this.swap(i, best);
      i = best;
    }
    return top;
  }
}

/**
 * Learns `vocabSize - 256` merges from `text` (fewer if pairs run out or fall below minFrequency).
 *
 * The text is cut into GPT-2 chunks; each distinct chunk is stored once, as a doubly linked list of
 * WTF-8 byte ids weighted by the chunk's frequency (all chunks in one set of flat arrays). Pair counts
 * live in a map, and for each pair, the positions of its left symbol where it was created. Merging
 * (a, b) into z visits only those positions, left to right: at each one still holding (a, b), the
 * neighbouring pairs (x, a) and (b, y) lose the weight and (x, z), (z, y) gain it (so overlapping
 * runs such as "aaa" are counted exactly). Only pairs containing z can grow, so only they are pushed
 * on the heap; falling counts are caught when popped. The cost of a merge is its number of
 * occurrences, not the size of the corpus, so one chunk of a megabyte (a DNA string, a run of CJK)
 * trains as fast as words do. The most frequent pair wins; ties go to the pair with the smaller first
 * id, then second id.
 */
function learnMerges(text: string, vocabSize: number, minFrequency: number): [number, number][] {
  const chunkCounts = new Map<string, number>();
  forEachChunk(text, (c) => chunkCounts.set(c, (chunkCounts.get(c) ?? 0) + 1));
  const chunks: Uint8Array[] = [];
  const chunkFreqs: number[] = [];
  let total = 0;
  for (const [chunk, n] of chunkCounts) {
    const bytes = wtf8Encode(chunk);
    if (bytes.length < 2) continue; // no pairs: nothing to merge
    chunks.push(bytes);
    chunkFreqs.push(n);
    total += bytes.length;
  }

  const sym = new Int32Array(total); // the token at each position; -1 once merged into its left neighbour
  const prev = new Int32Array(total); // the previous live position in the same chunk, or -1
  const next = new Int32Array(total); // the next live position in the same chunk, or -1
  const weight = new Float64Array(total); // the frequency of the chunk a position belongs to
  const counts = new Map<number, number>();
  const where = new Map<number, number[]>(); // pair -> left positions where it was created (may be stale)
  const add = (x: number, y: number, pos: number, w: number): number => {
    const key = pairKey(x, y);
    counts.set(key, (counts.get(key) ?? 0) + w);
    const list = where.get(key);
    if (list === undefined) where.set(key, [pos]);
    else if (list[list.length - 1] !== pos) list.push(pos);
    return key;
  };
  const subtract = (x: number, y: number, w: number): void => {
    const key = pairKey(x, y);
    counts.set(key, counts.get(key)! - w);
  };

  let at = 0;
  chunks.forEach((bytes, c) => {
    const w = chunkFreqs[c]!;
    for (let i = 0; i < bytes.length; i++) {
      sym[at + i] = bytes[i]!;
      prev[at + i] = i === 0 ? -1 : at + i - 1;
      next[at + i] = i === bytes.length - 1 ? -1 : at + i + 1;
      weight[at + i] = w;
      if (i > 0) add(bytes[i - 1]!, bytes[i]!, at + i - 1, w);
    }
    at += bytes.length;
  });
  const heap = new PairHeap();
  for (const [key, c] of counts) heap.push(c, key);

  const merges: [number, number][] = [];
  while (BYTE_TOKENS + merges.length < vocabSize && heap.size > 0) {
    const [stored, key] = heap.pop();
    const live = counts.get(key) ?? 0;
    if (live !== stored) {
      if (live > 0) heap.push(live, key); // stale entry: requeue with the live count
      continue;
    }
    if (live < minFrequency) break; // the best pair is too rare: so is every other
    const a = Math.floor(key / MAX_VOCAB);
    const b = key - a * MAX_VOCAB;
    const z = BYTE_TOKENS + merges.length;
    merges.push([a, b]);

    const positions = where.get(key)!;
    positions.sort((p, q) => p - q); // left to right, as the merge is defined ("aaa" -> "z a")
    const grown = new Set<number>();
    for (const p of positions) {
      if (sym[p] !== a) continue; // stale: merged away or rewritten since
      const q = next[p]!;
      if (q < 0 || sym[q] !== b) continue;
      const w = weight[p]!;
      const l = prev[p]!;
      const r = next[q]!;
      if (l >= 0) subtract(sym[l]!, a, w);
      if (r >= 0) subtract(b, sym[r]!, w);
      sym[p] = z;
      sym[q] = -1;
      next[p] = r;
      if (r >= 0) prev[r] = p;
      if (l >= 0) grown.add(add(sym[l]!, z, l, w));
      if (r >= 0) grown.add(add(z, sym[r]!, p, w));
    }
    counts.delete(key);
    where.delete(key);
    for (const k of grown) {
      const c = counts.get(k)!;
      if (c > 0) heap.push(c, k);
    }
  }
  return merges;
}

/**
 * A byte-level BPE tokenizer (GPT-2 style). Text is encoded to WTF-8 bytes (UTF-8, with lone
 * surrogates as 3-byte sequences), so that every JavaScript string, invalid UTF-16 included, has an
 * encoding and `decode(encode(s)) === s`. Ids 0..255 are the bytes; id `256 + i` is the i-th learnt
 * merge (the concatenation of two earlier tokens). There is no unknown symbol (`unkId` is null).
 * Two merges may spell the same bytes ("ab"+"c" and "a"+"bc"); each keeps its own id, and encoding
 * is defined by the merge order, so the encoding of a text is still unique.
 *
 * Encoding splits the text into GPT-2 chunks and, in each chunk, applies the merges in the order they
 * were learnt (repeatedly merging the adjacent pair of lowest rank), which reproduces how training
 * rewrote its corpus. Decoding concatenates the tokens' bytes and decodes them as WTF-8: an id sequence
 * that is not a whole encoding (a token split off from a character) decodes with U+FFFD for the
 * ill-formed bytes, exactly as TextDecoder would; `streamDecoder` gives the same text incrementally.
 */
export class BpeTokenizer implements Tokenizer {
  readonly kind = "bpe" as const;
  readonly unkId = null;
  private readonly mergeList: readonly (readonly [number, number])[];
  /** Pair key -> rank (index in mergeList). */
  private readonly ranks: Map<number, number>;
  /** The bytes of each id. */
  private readonly bytes: readonly Uint8Array[];
  private cache = new Map<string, Int32Array>();

  private constructor(merges: readonly (readonly [number, number])[]) {
    this.mergeList = merges;
    this.ranks = new Map(merges.map(([a, b], i) => [pairKey(a, b), i]));
    const bytes: Uint8Array[] = [];
    for (let i = 0; i < BYTE_TOKENS; i++) bytes.push(Uint8Array.of(i));
    for (const [a, b] of merges) {
      const x = bytes[a]!;
      const y = bytes[b]!;
      const t = new Uint8Array(x.length + y.length);
      t.set(x, 0);
      t.set(y, x.length);
      bytes.push(t);
    }
    this.bytes = bytes;
  }

  /**
   * Learns merges from `text` until the vocabulary has `vocabSize` tokens (see `BpeTrainOptions`).
   * Deterministic: the same text and options give the same merges.
   */
  static train(text: string, options: BpeTrainOptions): BpeTokenizer {
    const op = "BpeTokenizer.train";
    const { vocabSize, minFrequency = 2 } = options;
    if (!Number.isInteger(vocabSize) || vocabSize < BYTE_TOKENS || vocabSize > MAX_VOCAB) {
      throw new ValueRangeError(op, `vocabSize must be an integer in [${BYTE_TOKENS}, ${MAX_VOCAB}] (256 bytes + merges), got ${vocabSize}`);
    }
    if (!Number.isInteger(minFrequency) || minFrequency < 1) throw new ValueRangeError(op, `minFrequency must be an integer >= 1, got ${minFrequency}`);
    return new BpeTokenizer(learnMerges(text, vocabSize, minFrequency));
  }

  /** Reads a tokenizer written by `toJSON` (see `tokenizerFromJSON` for any kind). */
  static fromJSON(json: unknown): BpeTokenizer {
    const op = "BpeTokenizer.fromJSON";
    const o = readHeader(op, json, "bpe");
    if (o["pretokenizer"] !== "gpt2") throw new TokenizerFormatError(op, `unknown pretokenizer ${describe(o["pretokenizer"])}; this library has "gpt2"`);
    const merges = o["merges"];
    if (!Array.isArray(merges)) throw new TokenizerFormatError(op, `merges must be an array of [a, b] id pairs, got ${describe(merges)}`);
    if (BYTE_TOKENS + merges.length > MAX_VOCAB) throw new TokenizerFormatError(op, `${merges.length} merges exceed the largest vocabulary, ${MAX_VOCAB}`);
    const seen = new Map<number, number>();
    const out: [number, number][] = merges.map((m: unknown, i) => {
      const id = BYTE_TOKENS + i;
      const ok = (x: unknown): x is number => typeof x === "number" && Number.isInteger(x) && x >= 0 && x < id;
      if (!Array.isArray(m) || m.length !== 2 || !ok(m[0]) || !ok(m[1])) {
        throw new TokenizerFormatError(op, `merges[${i}] must be a pair of earlier token ids in [0, ${id}), got ${Array.isArray(m) ? JSON.stringify(m).slice(0, 40) : describe(m)}`);
      }
      const key = pairKey(m[0], m[1]);
      const before = seen.get(key);
      if (before !== undefined) throw new TokenizerFormatError(op, `merges[${i}] repeats merges[${before}] ([${m[0]}, ${m[1]}])`);
      seen.set(key, i);
      return [m[0], m[1]];
    });
    return new BpeTokenizer(out);
  }

  get vocabSize(): number {
    return this.bytes.length;
  }

  /** The learnt merges in order: merge i makes token 256 + i. */
  get merges(): [number, number][] {
    return this.mergeList.map(([a, b]) => [a, b]);
  }

  /** The bytes of token `id` (a copy). */
  tokenBytes(id: number): Uint8Array {
    checkId("BpeTokenizer.tokenBytes", id, this.bytes.length);
    return this.bytes[id]!.slice();
  }

  /** The ids of one chunk: its WTF-8 bytes with the merges applied in the order they were learnt. */
  private encodeChunk(chunk: string): Int32Array {
    const cached = this.cache.get(chunk);
    if (cached !== undefined) return cached;
    const bytes = wtf8Encode(chunk);
    const ids = bytes.length <= SHORT_CHUNK ? this.mergeShort(Array.from(bytes)) : this.mergeLong(bytes);
    if (chunk.length <= 64) {
      if (this.cache.size >= 65536) this.cache = new Map();
      this.cache.set(chunk, ids);
    }
    return ids;
  }

  /** Merges a short chunk: repeatedly find the pair of lowest rank and merge it left to right. */
  private mergeShort(syms: number[]): Int32Array {
    for (;;) {
      let best = Infinity;
      for (let i = 0; i + 1 < syms.length; i++) {
        const r = this.ranks.get(pairKey(syms[i]!, syms[i + 1]!));
        if (r !== undefined && r < best) best = r;
      }
      if (best === Infinity) break;
      const [a, b] = this.mergeList[best]!;
      const z = BYTE_TOKENS + best;
      let n = 0;
      for (let i = 0; i < syms.length; i++) {
        if (i + 1 < syms.length && syms[i] === a && syms[i + 1] === b) {
          syms[n++] = z;
          i++;
        } else syms[n++] = syms[i]!;
      }
      syms.length = n;
    }
    return Int32Array.from(syms);
  }

  /**
   * Merges a long chunk in O(n log n): a linked list of symbols and a heap of (rank, position), lowest
   * rank first and, within a rank, leftmost first, which is the order `mergeShort` merges in (merging
   * rank r only creates pairs of higher rank). Entries whose pair has changed are skipped when popped.
   */
  private mergeLong(bytes: Uint8Array): Int32Array {
    const n = bytes.length;
    const sym = Int32Array.from(bytes); // -1 once merged into the left neighbour
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    const heap = new PairHeap(); // (-rank, position): the heap's largest count is the lowest rank
    const offer = (p: number): void => {
      const q = next[p]!;
      if (q < 0) return;
      const r = this.ranks.get(pairKey(sym[p]!, sym[q]!));
      if (r !== undefined) heap.push(-r, p);
    };
    for (let i = 0; i + 1 < n; i++) offer(i);
    let live = n;
    while (heap.size > 0) {
      const [negRank, p] = heap.pop();
      const rank = -negRank;
      const q = next[p]!;
      if (sym[p]! < 0 || q < 0 || this.ranks.get(pairKey(sym[p]!, sym[q]!)) !== rank) continue; // stale
      sym[p] = BYTE_TOKENS + rank;
      sym[q] = -1;
      live--;
      const r = next[q]!;
      next[p] = r;
      if (r >= 0) prev[r] = p;
      if (prev[p]! >= 0) offer(prev[p]!);
      offer(p);
    }
    const out = new Int32Array(live);
    for (let p = 0, k = 0; p >= 0; p = next[p]!) out[k++] = sym[p]!;
    return out;
  }

  encode(text: string): Int32Array {
    const parts: Int32Array[] = [];
    let total = 0;
    forEachChunk(text, (chunk) => {
      const ids = this.encodeChunk(chunk);
      parts.push(ids);
      total += ids.length;
    });
    const out = new Int32Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      checkId("BpeTokenizer.decode", id, this.bytes.length);
      total += this.bytes[id]!.length;
    }
    const buf = new Uint8Array(total);
    let at = 0;
    for (let i = 0; i < ids.length; i++) {
      const t = this.bytes[ids[i]!]!;
      buf.set(t, at);
      at += t.length;
    }
    return wtf8Decode(buf);
  }

  /** Token `id` decoded on its own (U+FFFD where it holds part of a character). */
  tokenText(id: number): string {
    checkId("BpeTokenizer.tokenText", id, this.bytes.length);
    return wtf8Decode(this.bytes[id]!);
  }

  streamDecoder(): StreamDecoder {
    const decoder = new Wtf8Decoder();
    return {
      push: (id) => {
        checkId("BpeTokenizer.streamDecoder", id, this.bytes.length);
        return decoder.push(this.bytes[id]!);
      },
      flush: () => decoder.flush(),
    };
  }

  toJSON(): BpeTokenizerJSON {
    return { format: TOKENIZER_FORMAT, version: TOKENIZER_VERSION, kind: "bpe", pretokenizer: "gpt2", merges: this.merges };
  }
}
