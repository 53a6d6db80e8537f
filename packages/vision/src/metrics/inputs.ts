// The arguments every COCO caption metric takes, checked once: one hypothesis per image, the
// image's reference captions, and the same image ids on both sides, as pycocoevalcap's scorers
// assert (`gts.keys() == res.keys()`, `len(hypo) == 1`, `len(ref) >= 1`). Their asserts say nothing
// useful when they fail; these errors name the image and the fix.
import { ValueRangeError } from "@unroll/tensor";
import { cocoTokenize } from "./tokenize.js";

/** The hypothesis (generated caption) of each image, keyed by image id. */
export type CaptionHypotheses = ReadonlyMap<string, string> | Readonly<Record<string, string>>;

/** The reference captions of each image (at least one per image), keyed by image id. */
export type CaptionReferences = ReadonlyMap<string, readonly string[]> | Readonly<Record<string, readonly string[]>>;

export interface CocoTokenizeOption {
  /**
   * Run `cocoTokenize` on every caption first, as pycocoevalcap's `COCOEvalCap.evaluate` does before
   * it calls the scorers (default true). With false, captions are scored as given, split on
   * whitespace, which is what the `Bleu` and `Cider` scorers do with their input: use it for text
   * that is already tokenised.
   */
  readonly tokenize?: boolean;
}

/** The checked corpus: image ids in the hypotheses' order, with their captions as word lists. */
export interface CaptionCorpus {
  readonly ids: readonly string[];
  readonly hypotheses: readonly (readonly string[])[];
  readonly references: readonly (readonly (readonly string[])[])[];
}

/** A short description of a value for an error message. */
export function describe(v: unknown): string {
  if (v === undefined) return "undefined";
  if (v === null) return "null";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (v instanceof Map) return `a Map of size ${v.size}`;
  if (typeof v === "object") return "an object";
  return `${typeof v} ${String(v)}`;
}

/**
 * Python 3's `str.split()` whitespace (the scorers split each caption with it). JavaScript's `\s`
 * also has U+FEFF but lacks U+001C..U+001F and U+0085, so it would cut some captions differently.
 * The class is spliced in from a string because eslint's no-control-regex, right about typos,
 * flags these separators, which Python does split on.
 */
const PY_SPACE_CLASS = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const PY_SPACE_RUN = new RegExp(`[${PY_SPACE_CLASS}]+`, "u");

/** The words of a caption as pycocoevalcap's `precook` takes them: `s.split()`. */
export function splitWords(s: string): string[] {
  return s.split(PY_SPACE_RUN).filter((w) => w !== "");
}

/** Checks that `options` is an object (or undefined) before its fields are read. */
export function checkOptions(op: string, options: unknown): void {
  if (options !== undefined && (typeof options !== "object" || options === null || Array.isArray(options))) {
    throw new ValueRangeError(op, `options must be an object, got ${describe(options)}`);
  }
}

export function checkBoolean(op: string, name: string, v: unknown): void {
  if (v !== undefined && typeof v !== "boolean") throw new ValueRangeError(op, `${name} must be true or false, got ${describe(v)}`);
}

/** The entries of a Map or a plain object keyed by image id, in iteration order. */
function entriesOf(op: string, name: string, v: unknown, shape: string): [string, unknown][] {
  if (v instanceof Map) {
    const out: [string, unknown][] = [];
    for (const [key, value] of v as Map<unknown, unknown>) {
      if (typeof key !== "string") {
        throw new ValueRangeError(
          op,
          `${name} has the key ${describe(key)}; image ids are strings, so key the Map by String(id) ` +
            "(in both hypotheses and references, so that they match)",
        );
      }
      out.push([key, value]);
    }
    return out;
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    const hint = Array.isArray(v) ? "; key the captions by image id instead of by position" : "";
    throw new ValueRangeError(op, `${name} must be a Map or an object of ${shape} keyed by image id, got ${describe(v)}${hint}`);
  }
  return Object.entries(v);
}

/**
 * Checks and lines up hypotheses and references, and splits every caption into words (after
 * `cocoTokenize` unless `tokenize` is false). Throws a `ValueRangeError` that names the image for a
 * hypothesis that is not one string, references that are not a non-empty list of strings, or an
 * image id found on one side only.
 */
export function captionCorpus(op: string, hypotheses: unknown, references: unknown, tokenize: boolean): CaptionCorpus {
  const hyps = entriesOf(op, "hypotheses", hypotheses, "caption strings");
  const refs = entriesOf(op, "references", references, "caption lists");
  if (hyps.length === 0) throw new ValueRangeError(op, "hypotheses is empty; give at least one image's hypothesis (a corpus of one image is fine)");
  const words = (caption: string): string[] => splitWords(tokenize ? cocoTokenize(caption) : caption);

  const refsById = new Map<string, string[][]>();
  for (const [id, list] of refs) {
    const where = `references[${JSON.stringify(id)}]`;
    if (typeof list === "string") throw new ValueRangeError(op, `${where} must be an array of captions, got the string ${describe(list)}; pass [caption]`);
    if (!Array.isArray(list)) throw new ValueRangeError(op, `${where} must be an array of caption strings, got ${describe(list)}`);
    if (list.length === 0) {
      throw new ValueRangeError(
        op,
        `${where} is empty; every image needs at least one reference caption: add its captions, or drop image ${JSON.stringify(id)} from both hypotheses and references`,
      );
    }
    refsById.set(
      id,
      list.map((r: unknown, k) => {
        if (typeof r !== "string") throw new ValueRangeError(op, `${where}[${k}] must be a string, got ${describe(r)}`);
        return words(r);
      }),
    );
  }

  const ids: string[] = [];
  const hypWords: string[][] = [];
  const refWords: string[][][] = [];
  for (const [id, h] of hyps) {
    const where = `hypotheses[${JSON.stringify(id)}]`;
    if (Array.isArray(h)) {
      throw new ValueRangeError(
        op,
        `${where} is ${describe(h)}; the COCO metrics score exactly one hypothesis per image: pass one string (for beam search, the best beam)`,
      );
    }
    if (typeof h !== "string") throw new ValueRangeError(op, `${where} must be a string, got ${describe(h)}; use "" for an empty caption`);
    const r = refsById.get(id);
    if (r === undefined) {
      throw new ValueRangeError(
        op,
        `image ${JSON.stringify(id)} has a hypothesis but no references; add references[${JSON.stringify(id)}] or drop it from hypotheses`,
      );
    }
    ids.push(id);
    hypWords.push(words(h));
    refWords.push(r);
  }
  if (refsById.size !== ids.length) {
    const hypIds = new Set(ids);
    const extra = [...refsById.keys()].filter((id) => !hypIds.has(id));
    const more = extra.length > 1 ? ` (and ${extra.length - 1} more)` : "";
    throw new ValueRangeError(
      op,
      `image ${JSON.stringify(extra[0])}${more} has references but no hypothesis; the COCO metrics score the same images on both sides, ` +
        `so add a hypothesis ("" for an empty caption) or drop it from references`,
    );
  }
  return { ids, hypotheses: hypWords, references: refWords };
}

/** The n-gram counts of `words`, one map per order 1..maxN; keys join words with a space, which no word holds. */
export function ngramCounts(words: readonly string[], maxN: number): Map<string, number>[] {
  const out: Map<string, number>[] = [];
  for (let n = 1; n <= maxN; n++) {
    const counts = new Map<string, number>();
    for (let k = 0; k + n <= words.length; k++) {
      const key = words.slice(k, k + n).join(" ");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    out.push(counts);
  }
  return out;
}
