import { ValueRangeError } from "@unroll/tensor";
import type { TaggedSentence } from "./tagging.js";

// Punctuation restoration as tagging (Tilk & Alumäe 2016, "Bidirectional recurrent neural network
// with attention mechanism for punctuation restoration"): the words of a text, lowercased and
// stripped of punctuation, each tagged with the mark that followed it. Any book is a labelled
// corpus, so the embedded texts make a real tagging task without a download; and a comma or a
// full stop often depends on the words after it, which a bidirectional tagger reads.

/** The tags, in name order: COMMA (, ; : and dashes), O (nothing), PERIOD (. !), QUESTION (?). */
export const PUNCTUATION_TAGS = ["COMMA", "O", "PERIOD", "QUESTION"] as const;
export type PunctuationTag = (typeof PUNCTUATION_TAGS)[number];

const WORD = /[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*/gu;

/** The tag of what lies between two words: the strongest mark in it (a question over a full stop over a comma). */
function markOf(between: string): PunctuationTag {
  if (between.includes("?")) return "QUESTION";
  if (/[.!]/.test(between)) return "PERIOD";
  if (/[,;:—–]|--/.test(between)) return "COMMA";
  return "O";
}

export interface PunctuationOptions {
  /** Words per sequence (default 40): sequences cut the text regardless of sentences, whose ends are what is tagged. */
  readonly words?: number;
}

/**
 * A text as punctuation-tagged word sequences: every word lowercased (apostrophes kept inside,
 * "don't"), tagged with the mark between it and the next word, in consecutive sequences of
 * `words` words (the last may be shorter).
 */
export function punctuationTagging(text: string, options: PunctuationOptions = {}): TaggedSentence[] {
  const size = options.words ?? 40;
  if (!Number.isSafeInteger(size) || size < 2) throw new ValueRangeError("punctuationTagging", `words must be an integer of at least 2, got ${size}`);
  const tokens: string[] = [];
  const tags: PunctuationTag[] = [];
  let end = -1;
  for (const m of text.matchAll(WORD)) {
    if (end >= 0) tags.push(markOf(text.slice(end, m.index)));
    tokens.push(m[0].toLowerCase().replace(/’/g, "'"));
    end = m.index + m[0].length;
  }
  if (end >= 0) tags.push(markOf(text.slice(end)));
  if (tokens.length < 2) throw new ValueRangeError("punctuationTagging", `the text has ${tokens.length} word${tokens.length === 1 ? "" : "s"}: there is nothing to tag`);
  const out: TaggedSentence[] = [];
  for (let i = 0; i < tokens.length; i += size) out.push({ tokens: tokens.slice(i, i + size), tags: tags.slice(i, i + size) });
  return out;
}

/**
 * `punctuationTagging`'s sequences split into the text's first 80% (train), next 10% (dev) and
 * last 10% (test): contiguous parts, so no passage is on two sides. Fewer than 10 sequences is an error.
 */
export function punctuationDataset(text: string, options: PunctuationOptions = {}): { train: TaggedSentence[]; dev: TaggedSentence[]; test: TaggedSentence[] } {
  const sentences = punctuationTagging(text, options);
  if (sentences.length < 10) throw new ValueRangeError("punctuationDataset", `the text makes ${sentences.length} sequences of ${options.words ?? 40} words: too few to split 80/10/10`);
  const a = Math.round(sentences.length * 0.8);
  const b = Math.round(sentences.length * 0.9);
  return { train: sentences.slice(0, a), dev: sentences.slice(a, b), test: sentences.slice(b) };
}

/** Tagged sentences as CoNLL-style text: `token<TAB>tag` lines, a blank line between sentences (what `parseTaggedTsv` reads). */
export function formatTaggedTsv(sentences: readonly TaggedSentence[]): string {
  return sentences.map((s) => s.tokens.map((t, k) => `${t}\t${s.tags[k]}\n`).join("")).join("\n");
}

/**
 * The most frequent tag of each token in the training sentences (ties: the tag first in name
 * order), and the overall most frequent tag for tokens never seen: the baseline a tagger that
 * reads context should beat.
 */
export function mostFrequentTagBaseline(train: readonly TaggedSentence[]): { readonly predict: (tokens: readonly string[]) => string[]; readonly fallback: string } {
  const counts = new Map<string, Map<string, number>>();
  const overall = new Map<string, number>();
  for (const s of train) {
    s.tokens.forEach((t, k) => {
      const tag = s.tags[k]!;
      const c = counts.get(t) ?? new Map<string, number>();
      c.set(tag, (c.get(tag) ?? 0) + 1);
      counts.set(t, c);
      overall.set(tag, (overall.get(tag) ?? 0) + 1);
    });
  }
  const top = (c: ReadonlyMap<string, number>): string => [...c].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]![0];
  if (overall.size === 0) throw new ValueRangeError("mostFrequentTagBaseline", "there are no training tokens");
  const fallback = top(overall);
  const best = new Map([...counts].map(([t, c]) => [t, top(c)]));
  return { predict: (tokens) => tokens.map((t) => best.get(t) ?? fallback), fallback };
}
