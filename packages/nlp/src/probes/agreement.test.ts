import { describe, expect, it } from "vitest";
import { agreementItems, type AgreementItem, type AgreementLexicon, DEFAULT_AGREEMENT_LEXICON, type GrammaticalNumber } from "./index.js";

const lex = DEFAULT_AGREEMENT_LEXICON;

/** The number of a noun form according to the lexicon (throws if it is not one). */
function nounNumber(word: string, lexicon: AgreementLexicon = lex): GrammaticalNumber {
  if (lexicon.nouns.some((p) => p.singular === word)) return "singular";
  if (lexicon.nouns.some((p) => p.plural === word)) return "plural";
  throw new Error(`not a noun of the lexicon: ${word}`);
}

/**
 * Parses a prefix back into subject and attractor nouns, independently of the generator:
 * "the" N (P "the" N | "that" "the" N V)*.
 */
function parse(prefix: readonly string[], lexicon: AgreementLexicon = lex): { subject: string; attractors: string[]; kinds: string[] } {
  expect(prefix[0]).toBe("the");
  const subject = prefix[1]!;
  const attractors: string[] = [];
  const kinds: string[] = [];
  let i = 2;
  while (i < prefix.length) {
    if (prefix[i] === "that") {
      expect(prefix[i + 1]).toBe("the");
      expect(lexicon.relativeVerbs).toContain(prefix[i + 3]);
      attractors.push(prefix[i + 2]!);
      kinds.push("relative");
      i += 4;
    } else {
      expect(lexicon.prepositions).toContain(prefix[i]);
      expect(prefix[i + 1]).toBe("the");
      attractors.push(prefix[i + 2]!);
      kinds.push("prepositional");
      i += 3;
    }
  }
  expect(i).toBe(prefix.length);
  return { subject, attractors, kinds };
}

function lemma(word: string): string {
  const pair = lex.nouns.find((p) => p.singular === word || p.plural === word);
  if (!pair) throw new Error(`not a noun: ${word}`);
  return pair.singular;
}

describe("agreementItems", () => {
  const items = agreementItems({ seed: 7, perCount: 48 });

  it("gives perCount items for each number of attractors, grouped in the order asked", () => {
    expect(items).toHaveLength(3 * 48);
    expect(items.slice(0, 48).every((x) => x.attractors === 0)).toBe(true);
    expect(items.slice(48, 96).every((x) => x.attractors === 1)).toBe(true);
    expect(items.slice(96).every((x) => x.attractors === 2)).toBe(true);
    const only = agreementItems({ seed: 7, perCount: 5, attractors: [2, 0] });
    expect(only.map((x) => x.attractors)).toEqual([2, 2, 2, 2, 2, 0, 0, 0, 0, 0]);
  });

  it("the correct form agrees with the subject; the wrong one is the other form of the same verb", () => {
    for (const item of items) {
      const { subject, attractors, kinds } = parse(item.prefix);
      expect(subject).toBe(item.subject);
      expect(nounNumber(subject)).toBe(item.number);
      const verb = lex.verbs.find((p) => p.singular === item.correct || p.plural === item.correct);
      expect(verb).toBeDefined();
      expect(item.correct).toBe(item.number === "singular" ? verb!.singular : verb!.plural);
      expect(item.wrong).toBe(item.number === "singular" ? verb!.plural : verb!.singular);
      // Attractors as parsed from the words, not as the generator says.
      expect(attractors).toHaveLength(item.attractors);
      expect(kinds).toEqual(item.kinds);
      expect(attractors.map((a) => nounNumber(a))).toEqual(item.attractorNumbers);
      expect(item.mismatches).toBe(attractors.filter((a) => nounNumber(a) !== item.number).length);
      // Distinct nouns; at most one relative clause, last.
      const lemmas = [subject, ...attractors].map(lemma);
      expect(new Set(lemmas).size).toBe(lemmas.length);
      expect(kinds.slice(0, -1)).not.toContain("relative");
      expect(item.text).toBe(item.prefix.join(" "));
    }
  });

  it("uses both attractor kinds and every verb-form position", () => {
    const kinds = new Set(items.flatMap((x) => x.kinds));
    expect(kinds).toEqual(new Set(["prepositional", "relative"]));
    expect(new Set(items.map((x) => x.correct)).size).toBeGreaterThan(6);
  });

  it("balances subject and attractor numbers; 'all' and 'none' fix the mismatches", () => {
    const two = items.filter((x) => x.attractors === 2);
    const cells = new Map<string, number>();
    for (const x of two) {
      const key = [x.number, ...x.attractorNumbers].join(",");
      cells.set(key, (cells.get(key) ?? 0) + 1);
    }
    expect(cells.size).toBe(8);
    expect([...cells.values()]).toEqual(new Array<number>(8).fill(48 / 8));
    expect(items.filter((x) => x.number === "plural")).toHaveLength(items.length / 2);

    const all = agreementItems({ seed: 1, perCount: 20, mismatch: "all" });
    expect(all.every((x) => x.mismatches === x.attractors && x.attractorNumbers.every((n) => n !== x.number))).toBe(true);
    const none = agreementItems({ seed: 1, perCount: 20, mismatch: "none" });
    expect(none.every((x) => x.mismatches === 0 && x.attractorNumbers.every((n) => n === x.number))).toBe(true);
    expect(none.filter((x) => x.attractors > 0).every((x) => parse(x.prefix).attractors.every((a) => nounNumber(a) === x.number))).toBe(true);
  });

  it("is reproducible from its seed", () => {
    expect(agreementItems({ seed: 7, perCount: 48 })).toEqual(items);
    const other = agreementItems({ seed: 8, perCount: 48 });
    expect(other.map((x) => x.text)).not.toEqual(items.map((x) => x.text));
  });

  it("restricts every word to the vocabulary (a set or a predicate)", () => {
    const words = new Set(["the", "of", "near", "that", "saw", "man", "men", "ship", "ships", "whale", "whales", "boy", "is", "are", "was", "were", "has"]);
    const check = (list: AgreementItem[]) => {
      for (const x of list) for (const w of [...x.prefix, x.correct, x.wrong]) expect(words.has(w)).toBe(true);
    };
    const fromSet = agreementItems({ seed: 3, perCount: 30, vocabulary: words });
    check(fromSet);
    // "boy" without "boys" and "has" without "have" are unusable: pairs need both forms.
    expect(fromSet.some((x) => x.subject === "boy" || x.correct === "has" || x.wrong === "has")).toBe(false);
    expect(new Set(fromSet.map((x) => x.correct))).toEqual(new Set(["is", "are", "was", "were"]));
    const fromPredicate = agreementItems({ seed: 3, perCount: 30, vocabulary: (w) => words.has(w) });
    expect(fromPredicate).toEqual(fromSet);
    // Without "that", no relative clauses.
    const noThat = agreementItems({ seed: 3, perCount: 30, vocabulary: (w) => words.has(w) && w !== "that" });
    expect(noThat.some((x) => x.kinds.includes("relative"))).toBe(false);
    check(noThat);
  });

  it("refuses what it cannot build, saying why", () => {
    const few = new Set(["the", "of", "man", "men", "ship", "ships", "is", "are"]);
    expect(() => agreementItems({ seed: 0, vocabulary: few })).toThrow(/2 attractors need 3 distinct nouns .* found 2/);
    expect(agreementItems({ seed: 0, perCount: 4, attractors: [0, 1], vocabulary: few })).toHaveLength(8);
    expect(() => agreementItems({ seed: 0, vocabulary: new Set(["the", "man", "men"]) })).toThrow(/no verb pair/);
    expect(() => agreementItems({ seed: 0, attractors: [3] })).toThrow(/attractors must be 0, 1 or 2/);
    expect(() => agreementItems({ seed: -1 })).toThrow(/seed must be a non-negative integer/);
  });
});
