import { Rng, ValueRangeError } from "@unroll/tensor";

/** Grammatical number of a noun or a verb form. */
export type GrammaticalNumber = "singular" | "plural";

/**
 * The kind of an attractor phrase: a prepositional phrase ("of the books", "near the tables") or an
 * object relative clause ("that the cats saw"). Either holds one noun between subject and verb.
 */
export type AttractorKind = "prepositional" | "relative";

/** A singular form and its plural: "man"/"men", "is"/"are". */
export interface NumberPair {
  readonly singular: string;
  readonly plural: string;
}

/**
 * The words the templates are filled from (all lowercase, one word each):
 * - `nouns`: subjects and attractor nouns, as singular/plural pairs;
 * - `verbs`: the verb slot, third-person singular/plural pairs ("is"/"are", "runs"/"run");
 * - `prepositions`: heads of the prepositional attractors ("of", "near");
 * - `relativeVerbs`: verbs of the relative-clause attractors, in forms that do not show number
 *   (past tense: "saw", "knew"), so the clause adds a noun but no agreement cue.
 * The templates also use "the" (always) and "that" (relative clauses).
 */
export interface AgreementLexicon {
  readonly nouns: readonly NumberPair[];
  readonly verbs: readonly NumberPair[];
  readonly prepositions: readonly string[];
  readonly relativeVerbs: readonly string[];
}

const pairs = (list: string): NumberPair[] =>
  list.split(" ").map((p) => {
    const [singular, plural] = p.split("/") as [string, string];
    return { singular, plural };
  });

/**
 * A small lexicon of common English words. Most of it occurs in Moby-Dick (the nouns are sea-going
 * on purpose): counts in its 254k lowercased words include man/men 474/236, whale/whales 1030/246,
 * boat/boats 291/143, sailor/sailors 79/52, is/are 1687/587, was/were 1623/675, has/have 288/754,
 * seems/seem 86/83, of 6462, near 63, saw 102. A few words ("writer", "cats") are rare or absent
 * there: pass `vocabulary` to `agreementItems` to keep only the words a tokenizer knows.
 */
export const DEFAULT_AGREEMENT_LEXICON: AgreementLexicon = {
  nouns: pairs(
    "man/men woman/women boy/boys child/children friend/friends king/kings captain/captains sailor/sailors " +
      "seaman/seamen whaleman/whalemen harpooneer/harpooneers mate/mates officer/officers mariner/mariners " +
      "hunter/hunters stranger/strangers savage/savages creature/creatures whale/whales shark/sharks " +
      "bird/birds dog/dogs cat/cats ship/ships boat/boats island/islands house/houses book/books " +
      "table/tables writer/writers",
  ),
  verbs: pairs(
    "is/are was/were has/have does/do seems/seem comes/come goes/go looks/look stands/stand knows/know " +
      "says/say lives/live runs/run",
  ),
  prepositions: ["of", "near", "behind", "beside", "with", "from", "on", "by"],
  relativeVerbs: ["saw", "knew", "found", "heard", "left", "killed", "followed", "met", "hunted", "chased", "loved"],
};

/** One templated sentence, cut before its verb. */
export interface AgreementItem {
  /** The words before the verb, lowercase: ["the", "captain", "of", "the", "ships"]. */
  readonly prefix: readonly string[];
  /** `prefix` joined by spaces. */
  readonly text: string;
  /** The subject noun (the head the verb agrees with) and its number. */
  readonly subject: string;
  readonly number: GrammaticalNumber;
  /** The verb form that agrees with the subject, and the other form of the same verb. */
  readonly correct: string;
  readonly wrong: string;
  /** Attractor phrases between subject and verb (0, 1 or 2). */
  readonly attractors: number;
  /** Kind and noun number of each attractor phrase, in sentence order. */
  readonly kinds: readonly AttractorKind[];
  readonly attractorNumbers: readonly GrammaticalNumber[];
  /** Attractor nouns whose number differs from the subject's. */
  readonly mismatches: number;
}

/**
 * Which numbers the attractor nouns take:
 * - "balanced" (default): every combination of subject number and attractor numbers equally often
 *   (item i of a group of n attractors takes combination i mod 2^(n+1));
 * - "all": every attractor mismatches the subject (Linzen et al.'s "attractors");
 * - "none": every attractor matches it (the control).
 * In each case the subject is singular and plural equally often (alternating).
 */
export type MismatchDesign = "balanced" | "all" | "none";

export interface AgreementOptions {
  readonly seed: number;
  /** Items for each number of attractors (default 200). */
  readonly perCount?: number;
  /** Numbers of attractor phrases to generate, each 0, 1 or 2 (default [0, 1, 2]). */
  readonly attractors?: readonly number[];
  readonly mismatch?: MismatchDesign;
  /** Allow relative-clause attractors (default true); at most one per sentence, after any prepositional ones. */
  readonly relativeClauses?: boolean;
  /**
   * Keep only the lexicon entries whose words pass: a noun or verb pair needs both forms. For a
   * word-level tokenizer: `(w) => tokenizer.idOf(w) !== tokenizer.unkId`.
   */
  readonly vocabulary?: ReadonlySet<string> | ((word: string) => boolean);
  /** Default `DEFAULT_AGREEMENT_LEXICON`. */
  readonly lexicon?: AgreementLexicon;
}

const OPPOSITE: Record<GrammaticalNumber, GrammaticalNumber> = { singular: "plural", plural: "singular" };

/**
 * Templated sentences for a number-agreement probe in the spirit of Linzen, Dupoux & Goldberg
 * (2016), "The writer of the books is/are": "the" + subject noun, then 0-2 attractor phrases, then
 * the verb slot:
 *
 *     the captain of the ships near the boat | is / are
 *     the men that the whale saw             | were / was
 *
 * Attractor nouns differ from the subject and from each other. Lexical choices are drawn from a
 * generator seeded by `seed`, so the same options give the same items; the numbers follow the
 * `mismatch` design. Items come grouped by number of attractors, in the order of `attractors`.
 */
export function agreementItems(options: AgreementOptions): AgreementItem[] {
  const op = "agreementItems";
  const { seed, perCount = 200, attractors = [0, 1, 2], mismatch = "balanced", relativeClauses = true } = options;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new ValueRangeError(op, `seed must be a non-negative integer, got ${seed}`);
  if (!Number.isSafeInteger(perCount) || perCount < 0) throw new ValueRangeError(op, `perCount must be a non-negative integer, got ${perCount}`);
  for (const n of attractors) {
    if (n !== 0 && n !== 1 && n !== 2) throw new ValueRangeError(op, `attractors must be 0, 1 or 2, got ${n}`);
  }
  if (mismatch !== "balanced" && mismatch !== "all" && mismatch !== "none") {
    throw new ValueRangeError(op, `mismatch must be "balanced", "all" or "none", got ${JSON.stringify(mismatch)}`);
  }
  const lexicon = restrictLexicon(options.lexicon ?? DEFAULT_AGREEMENT_LEXICON, options.vocabulary);
  const canRelate = relativeClauses && lexicon.relativeVerbs.length > 0 && lexicon.hasThat;
  const need = Math.max(0, ...attractors);
  if (!lexicon.hasThe) throw new ValueRangeError(op, `the vocabulary lacks "the", which every template uses`);
  if (lexicon.verbs.length === 0) throw new ValueRangeError(op, "no verb pair has both forms in the vocabulary");
  if (lexicon.nouns.length < need + 1) {
    throw new ValueRangeError(op, `${need} attractors need ${need + 1} distinct nouns with both forms in the vocabulary, found ${lexicon.nouns.length}`);
  }
  if (need > 0 && lexicon.prepositions.length === 0 && !canRelate) {
    throw new ValueRangeError(op, "attractors need a preposition or, for relative clauses, \"that\" and a relative verb in the vocabulary");
  }
  if (need > 1 && lexicon.prepositions.length === 0) {
    throw new ValueRangeError(op, "two attractors need a preposition in the vocabulary (a sentence holds at most one relative clause)");
  }

  const rng = new Rng(seed);
  const below = (n: number): number => Math.floor(rng.random() * n);
  const pick = <T>(list: readonly T[]): T => list[below(list.length)]!;
  const items: AgreementItem[] = [];
  for (const n of attractors) {
    for (let i = 0; i < perCount; i++) {
      // Numbers: bit 0 of the combination is the subject (alternating), bit k+1 attractor k.
      const number: GrammaticalNumber = i % 2 === 0 ? "singular" : "plural";
      const combination = Math.floor(i / 2) % 2 ** n;
      const attractorNumbers = Array.from({ length: n }, (_, k): GrammaticalNumber => {
        if (mismatch === "all") return OPPOSITE[number];
        if (mismatch === "none") return number;
        return (combination >> k) & 1 ? OPPOSITE[number] : number;
      });
      // Kinds: prepositional phrases, the last one possibly a relative clause.
      const kinds = Array.from({ length: n }, (_, k): AttractorKind => {
        const last = k === n - 1;
        if (!last || !canRelate) return "prepositional";
        if (lexicon.prepositions.length === 0) return "relative";
        return below(2) === 0 ? "relative" : "prepositional";
      });
      // Distinct nouns: the subject first, then one per attractor.
      const nouns: NumberPair[] = [];
      while (nouns.length < n + 1) {
        const noun = pick(lexicon.nouns);
        if (!nouns.includes(noun)) nouns.push(noun);
      }
      const subject = nouns[0]![number];
      const prefix = ["the", subject];
      kinds.forEach((kind, k) => {
        const noun = nouns[k + 1]![attractorNumbers[k]!];
        if (kind === "prepositional") prefix.push(pick(lexicon.prepositions), "the", noun);
        else prefix.push("that", "the", noun, pick(lexicon.relativeVerbs));
      });
      const verb = pick(lexicon.verbs);
      items.push({
        prefix,
        text: prefix.join(" "),
        subject,
        number,
        correct: verb[number],
        wrong: verb[OPPOSITE[number]],
        attractors: n,
        kinds,
        attractorNumbers,
        mismatches: attractorNumbers.filter((a) => a !== number).length,
      });
    }
  }
  return items;
}

interface RestrictedLexicon extends AgreementLexicon {
  readonly hasThe: boolean;
  readonly hasThat: boolean;
}

function restrictLexicon(lexicon: AgreementLexicon, vocabulary: AgreementOptions["vocabulary"]): RestrictedLexicon {
  const knows = vocabulary === undefined ? () => true : typeof vocabulary === "function" ? vocabulary : (w: string) => vocabulary.has(w);
  const both = (p: NumberPair) => p.singular !== p.plural && knows(p.singular) && knows(p.plural);
  return {
    nouns: uniquePairs(lexicon.nouns.filter(both)),
    verbs: uniquePairs(lexicon.verbs.filter(both)),
    prepositions: [...new Set(lexicon.prepositions.filter(knows))],
    relativeVerbs: [...new Set(lexicon.relativeVerbs.filter(knows))],
    hasThe: knows("the"),
    hasThat: knows("that"),
  };
}

function uniquePairs(list: readonly NumberPair[]): NumberPair[] {
  const seen = new Set<string>();
  return list.filter((p) => {
    const key = `${p.singular}/${p.plural}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
