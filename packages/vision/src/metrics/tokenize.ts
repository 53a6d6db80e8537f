// The tokenisation pycocoevalcap applies before scoring: Stanford CoreNLP 3.4.1's PTBTokenizer run
// with `-preserveLines -lowerCase`, then every token in its PUNCTUATIONS list dropped. The Java
// tokenizer is a large lexer; this is a rule-based reimplementation of the parts that captions
// meet, not a port. The captions of ../shared/fixtures/caption-coco.json are already tokenised
// (lower-case [a-z0-9] words), on which these rules change nothing.

/**
 * pycocoevalcap's PUNCTUATIONS, compared case-sensitively after the tokenizer has lowercased every
 * token: "-LRB-" never matches "-lrb-", so brackets survive COCO tokenisation as words. Kept
 * verbatim so that quirk stays visible.
 */
const PUNCTUATIONS: ReadonlySet<string> = new Set(["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"]);

/** PTB's names for brackets (lowercased, as `-lowerCase` leaves them). */
const BRACKETS: Readonly<Record<string, string>> = { "(": "-lrb-", ")": "-rrb-", "[": "-lsb-", "]": "-rsb-", "{": "-lcb-", "}": "-rcb-" };

const BRACKET_WORDS: ReadonlySet<string> = new Set(Object.values(BRACKETS));

/** Words whose final period PTB keeps as part of the word, as a sample of its abbreviation lists. */
const ABBREVIATIONS: ReadonlySet<string> = new Set(["mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "mt", "vs", "etc", "inc", "ltd", "co", "corp"]);

/** Clitics PTB splits off the word before them ("it's" -> "it 's", "can't" -> "ca n't"). */
const CLITIC = /^(.+?)(n't|'s|'m|'d|'ll|'re|'ve)$/;

function keepsFinalPeriod(word: string): boolean {
  // Acronyms such as "u.s." and "e.g." keep their dots; "z." does not (one letter is not an acronym).
  return /^(?:[a-z]\.){2,}$/.test(word) || ABBREVIATIONS.has(word.slice(0, -1));
}

/** A run of quotes or hyphens at a word's edge as PTB writes it: "'" or "''", "`" or "``", "-" or "--". */
function edgeToken(run: string): string {
  return run.length === 1 ? run : run[0] === "-" ? "--" : run.slice(0, 2);
}

/** One whitespace-free piece, peeled into tokens from both ends. */
function splitPiece(piece: string, out: string[]): void {
  if (/^-+$/.test(piece)) {
    out.push(piece.length === 1 ? "-" : "--");
    return;
  }
  let s = piece;
  const front: string[] = [];
  const back: string[] = [];
  for (;;) {
    const m = /^(`+|'+(?!(?:s|m|d|ll|re|ve)$)|-+|\.(?!\d))/.exec(s);
    if (m === null || m[0].length === s.length) break;
    front.push(edgeToken(m[0]));
    s = s.slice(m[0].length);
  }
  for (;;) {
    let m: RegExpExecArray | null;
    if ((m = /('+|`+|-+)$/.exec(s)) !== null && m.index > 0) {
      back.unshift(edgeToken(m[0]));
      s = s.slice(0, m.index);
    } else if (s.endsWith(".") && s.length > 1 && !keepsFinalPeriod(s)) {
      back.unshift(".");
      s = s.slice(0, -1);
    } else if ((m = CLITIC.exec(s)) !== null && !/^'+$/.test(m[1]!)) {
      back.unshift(m[2]!);
      s = m[1]!;
    } else {
      break;
    }
  }
  out.push(...front, s, ...back);
}

/**
 * A caption tokenised as pycocoevalcap's `PTBTokenizer` does it (Stanford PTBTokenizer 3.4.1 with
 * `-preserveLines -lowerCase`, then its punctuation tokens dropped), its tokens joined by single
 * spaces. The rules, applied in this order:
 *
 * 1. Lowercase; line breaks are spaces (pycocoevalcap replaces "\n", as each caption must stay one line).
 * 2. Curly double quotes and guillemets are `"`, curly single quotes `'`, the dashes U+2012..U+2015
 *    `--`, and "…" is `...` (PTB's quote, dash and ellipsis normalisations).
 * 3. `( ) [ ] { }` become the words `-lrb- -rrb- -lsb- -rsb- -lcb- -rcb-`, which stay: pycocoevalcap's
 *    list names the upper-case forms, and the tokenizer has already lowercased them.
 * 4. `"` (PTB's `` and '') and `? ! ;` split off and are dropped; `$ % #` split off and stay as words;
 *    `,` and `:` split off and are dropped, except between digits ("1,000", "4:45"). `&`, `/` and `@`
 *    stay inside words.
 * 5. At the edges of a word: leading and trailing quotes (`'`, `` ` ``) and hyphens split off and
 *    are dropped (a hyphen inside a word stays: "well-known"), runs of dots are `...` and dropped,
 *    and a final period splits off and is dropped unless the word is an acronym ("u.s.") or a common
 *    abbreviation ("mr.", "st.", "etc."); "3.5" keeps its point. The clitics "n't 's 'm 'd 'll 're 've"
 *    split off and stay: "don't" is "do n't", "cat's" is "cat 's".
 *
 * Known differences from the Java tokenizer: its spelling americanisation ("colour" -> "color") is
 * not applied (it rewrites hypotheses and references alike, so it changes scores only when both
 * spellings occur); it escapes "/" and "*" as "\/" and "\*"; and its abbreviation, URL, e-mail,
 * emoticon and number-with-fraction rules are wider than the list above.
 */
export function cocoTokenize(caption: string): string {
  let s = caption.toLowerCase();
  s = s
    .replace(/[\u201c\u201d\u201e\u201f\u00ab\u00bb]/g, '"')
    .replace(/[\u2018\u2019\u201a\u201b]/g, "'")
    .replace(/[\u2012-\u2015]/g, " -- ")
    .replace(/\u2026/g, " ... ");
  s = s.replace(/[()[\]{}]/g, (c) => ` ${BRACKETS[c]!} `);
  s = s.replace(/["?!;$%#]/g, " $& ");
  s = s.replace(/(?<!\d)[,:]|[,:](?!\d)/g, " $& ");
  s = s.replace(/\.{2,}/g, " ... ");
  const tokens: string[] = [];
  for (const piece of s.split(/\s+/)) {
    if (piece === "") continue;
    if (piece === '"') continue; // PTB's `` or '', both in PUNCTUATIONS
    // Bracket words are whole tokens already; peeling would take their hyphens for dashes.
    if (BRACKET_WORDS.has(piece)) tokens.push(piece);
    else splitPiece(piece, tokens);
  }
  return tokens.filter((t) => !PUNCTUATIONS.has(t)).join(" ");
}
