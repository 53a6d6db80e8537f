import { pySplit } from "./text.js";

/** The tokenizers BLEU can apply before counting words: sacreBLEU's default "13a", or "none" (split on whitespace only). */
export type BleuTokenizer = "13a" | "none";

export const BLEU_TOKENIZERS: readonly BleuTokenizer[] = ["13a", "none"];

// mteval-v13a.pl unescapes these four entities (in this order, so "&amp;lt;" becomes "<").
const ENTITIES: readonly (readonly [string, string])[] = [
  ["&quot;", '"'],
  ["&amp;", "&"],
  ["&lt;", "<"],
  ["&gt;", ">"],
];

// The language-dependent part of mteval-v13a (Western languages), applied in order, each rule over
// the whole line before the next (global, non-overlapping, left to right, like Python's re.sub).
const RULES: readonly (readonly [RegExp, string])[] = [
  // ASCII punctuation and symbols except the apostrophe, "," "-" "." (handled below) become words:
  // the ranges are { to ~, [ to `, space to &, ( to +, : to @, and "/".
  [/([{-~[-` -&(-+:-@/])/gu, " $1 "],
  // "." and "," split off unless between digits (3.5 and 1,000 stay whole):
  // first where not preceded by a digit,
  [/([^0-9])([.,])/gu, "$1 $2 "],
  // then where not followed by one.
  [/([.,])([^0-9])/gu, " $1 $2"],
  // A dash after a digit is its own word (1990-2000), elsewhere it stays (well-known).
  [/([0-9])(-)/gu, "$1 $2 "],
];

/**
 * sacreBLEU's default "13a" tokenizer, equivalent to the mteval-v13a.pl script WMT used: drops
 * "<skipped>" markers, joins words hyphenated across a line break ("-\n"), turns other line breaks
 * into spaces, unescapes &quot; &amp; &lt; &gt;, splits off punctuation (see the rules above), and
 * returns the words joined by single spaces, with no space at either end. Whitespace means Python's
 * (so U+00A0 separates words and U+FEFF does not), as in sacreBLEU.
 */
export function tokenize13a(text: string): string {
  let line = text.replaceAll("<skipped>", "").replaceAll("-\n", "").replaceAll("\n", " ");
  for (const [entity, char] of ENTITIES) line = line.replaceAll(entity, char);
  // The padding lets the punctuation rules see a neighbour at both ends of the line.
  line = ` ${line} `;
  for (const [re, replacement] of RULES) line = line.replace(re, replacement);
  return pySplit(line).join(" ");
}

/** `text` as the named tokenizer leaves it; "none" returns it unchanged (words are split on whitespace later). */
export function applyBleuTokenizer(tokenizer: BleuTokenizer, text: string): string {
  return tokenizer === "13a" ? tokenize13a(text) : text;
}
