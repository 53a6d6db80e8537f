import { Rng, ValueRangeError } from "@unroll/tensor";
import { permutation } from "../data/batching.js";
import { DataError } from "../data/errors.js";

/** One labelled text: a mail and "spam"/"ham", a paragraph and its author. */
export interface LabelledText {
  readonly label: string;
  readonly text: string;
  /**
   * Examples of one group are kept on one side of a split (all paragraphs of one speech), so a
   * held-out score is not flattered by near-copies seen in training.
   */
  readonly group?: string;
}

/**
 * Reads `label<TAB>text` lines (blank lines skipped; the text may contain further tabs). A line
 * without a tab, or with an empty label or text, is an error naming the file and line.
 */
export function parseLabelledTsv(content: string, path = "the input"): LabelledText[] {
  const out: LabelledText[] = [];
  const lines = content.split(/\r?\n/);
  for (const [i, line] of lines.entries()) {
    if (line.trim() === "") continue;
    const tab = line.indexOf("\t");
    const where = `${path} line ${i + 1}`;
    if (tab < 0) throw new DataError("MALFORMED", `${where} has no tab: each line must be "label<TAB>text"`, { path });
    const label = line.slice(0, tab).trim();
    const text = line.slice(tab + 1).trim();
    if (label === "") throw new DataError("MALFORMED", `${where} has an empty label before the tab`, { path });
    if (text === "") throw new DataError("MALFORMED", `${where} (label "${label}") has no text after the tab`, { path });
    out.push({ label, text });
  }
  if (out.length === 0) throw new DataError("MALFORMED", `${path} holds no "label<TAB>text" line`, { path });
  return out;
}

/** The classes of a task and their ids: sorted by name, so a run's ids do not depend on the data's order. */
export class LabelSet {
  readonly names: readonly string[];
  private readonly ids: ReadonlyMap<string, number>;

  constructor(names: readonly string[]) {
    if (names.length < 2) throw new ValueRangeError("LabelSet", `a classifier needs at least 2 classes, got ${names.length}${names.length === 1 ? ` (only "${names[0]}")` : ""}`);
    if (new Set(names).size !== names.length) throw new ValueRangeError("LabelSet", "class names must be distinct");
    this.names = [...names];
    this.ids = new Map(names.map((n, i) => [n, i]));
  }

  static fit(labels: Iterable<string>): LabelSet {
    return new LabelSet([...new Set(labels)].sort());
  }

  get size(): number {
    return this.names.length;
  }

  /** The id of `label`; an unknown label is an error that lists the known ones. */
  id(label: string, where?: string): number {
    const id = this.ids.get(label);
    if (id === undefined) {
      throw new ValueRangeError("LabelSet", `${where ? `${where}: ` : ""}the label "${label}" is not one the model was trained on (${this.names.map((n) => `"${n}"`).join(", ")})`);
    }
    return id;
  }

  /** How many examples of each class (in id order). */
  counts(labels: Iterable<string>): number[] {
    const counts = new Array<number>(this.size).fill(0);
    for (const l of labels) counts[this.id(l)]!++;
    return counts;
  }

  /**
   * Class weights inversely proportional to frequency, scikit-learn's "balanced":
   * `n / (classes · count_c)`; a class with no example gets weight 1.
   */
  balancedWeights(labels: Iterable<string>): number[] {
    const counts = this.counts(labels);
    const n = counts.reduce((a, b) => a + b, 0);
    return counts.map((c) => (c === 0 ? 1 : n / (this.size * c)));
  }
}

export interface SplitOptions {
  /** Fraction held out for model selection (default 0.1). */
  readonly dev?: number;
  /** Fraction held out for the final score (default 0.1). */
  readonly test?: number;
  readonly seed?: number;
}

/**
 * A seeded train/dev/test split, stratified by label: each class's examples are shuffled and cut in
 * the same proportions, so that every class is scored. Examples with a `group` move together (all
 * of a group lands in one part), and the fractions are then of each class's groups; a class with 3
 * or more groups keeps at least one in dev and one in test.
 */
export function splitExamples<E extends { readonly group?: string; readonly label?: string }>(examples: readonly E[], options: SplitOptions = {}): { train: E[]; dev: E[]; test: E[] } {
  const dev = options.dev ?? 0.1;
  const test = options.test ?? 0.1;
  if (!(dev >= 0 && test >= 0 && dev + test < 1)) throw new ValueRangeError("splitExamples", `dev (${dev}) and test (${test}) must be fractions ≥ 0 that leave some training data`);
  const groups = new Map<string, E[]>();
  examples.forEach((e, i) => {
    const key = e.group ?? `#${i}`;
    let list = groups.get(key);
    if (!list) groups.set(key, (list = []));
    list.push(e);
  });
  // The groups of each class, in order of first appearance (so the split does not depend on Map internals).
  const byLabel = new Map<string, string[]>();
  for (const [key, list] of groups) {
    const label = list[0]!.label ?? "";
    let keys = byLabel.get(label);
    if (!keys) byLabel.set(label, (keys = []));
    keys.push(key);
  }
  const rng = new Rng(options.seed ?? 0);
  const out = { train: [] as E[], dev: [] as E[], test: [] as E[] };
  for (const label of [...byLabel.keys()].sort()) {
    const keys = byLabel.get(label)!;
    const order = permutation(keys.length, rng);
    const atLeast = (fraction: number): number => (fraction > 0 && keys.length >= 3 ? Math.max(1, Math.round(keys.length * fraction)) : Math.round(keys.length * fraction));
    const nTest = atLeast(test);
    const nDev = atLeast(dev);
    order.forEach((k, i) => out[i < nTest ? "test" : i < nTest + nDev ? "dev" : "train"].push(...groups.get(keys[k]!)!));
  }
  return out;
}
