// Strict, typed settings: one set of rules for a value given as a flag (`--hidden 256`, a string)
// and as a key of a JSON or YAML config file (`hidden: 256`, any JSON value). A number is a finite
// JS number or a string that is exactly a decimal number ("256", "2e-3"; not "", " 5", "0x10",
// "Infinity"); a boolean is true/false or "true"/"false"; a choice is one of its strings. Nothing
// else is converted: `true` is not 1, `[16]` is not 16, null is not 0. Every training command
// (`train lm` now, `train mt` and captioning later) declares its settings as a table of kinds and
// reads flags and config files through `readSettings`.

import { UserError } from "../ui/errors.js";

/** What a setting's value must be. */
export type SettingKind =
  | { readonly type: "integer"; readonly min?: number; readonly max?: number }
  | { readonly type: "number"; readonly min?: number; readonly minExclusive?: boolean; readonly max?: number; readonly maxExclusive?: boolean }
  | { readonly type: "boolean" }
  | { readonly type: "choice"; readonly choices: readonly string[] }
  | { readonly type: "string" }
  /** A positive integer, or one of `words` ("one-hot"). */
  | { readonly type: "size-or"; readonly words: readonly string[] };

/** The usual kinds. */
export const kinds = {
  integer: { type: "integer" },
  positiveInteger: { type: "integer", min: 1 },
  nonNegativeInteger: { type: "integer", min: 0 },
  number: { type: "number" },
  positive: { type: "number", min: 0, minExclusive: true },
  nonNegative: { type: "number", min: 0 },
  /** [0, 1) */
  fraction: { type: "number", min: 0, max: 1, maxExclusive: true },
  boolean: { type: "boolean" },
  string: { type: "string" },
  choice: (...choices: string[]): SettingKind => ({ type: "choice", choices }),
} as const satisfies Record<string, SettingKind | ((...a: string[]) => SettingKind)>;

/** A setting: its kind, the help line of its flag, and its default as the help shows it. */
export interface SettingSpec {
  readonly kind: SettingKind;
  readonly help: string;
  /** What applies without the flag ("lstm", "0: off", "the cores"), added to the help line as "(default ...)". */
  readonly default?: string;
}

/** A setting's help line with its default, unless the line already says it. */
export function helpLine(spec: SettingSpec): string {
  if (spec.default === undefined || /\bdefault\b/.test(spec.help)) return spec.help;
  return `${spec.help} (default ${spec.default})`;
}

export type SettingsTable = Readonly<Record<string, SettingSpec>>;

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** `raw` as shown in a message. */
export function show(raw: unknown): string {
  if (raw === undefined) return "nothing";
  if (typeof raw === "string") return JSON.stringify(raw.length > 60 ? `${raw.slice(0, 60)}...` : raw);
  if (Array.isArray(raw)) return `a list (${JSON.stringify(raw).slice(0, 40)})`;
  if (raw === null) return "null";
  if (typeof raw === "object") return raw instanceof Date ? `a date (${raw.toISOString()})` : "an object";
  return String(raw);
}

/** What a kind asks for, in words: "a positive integer", "a number in [0, 1)". */
export function describeKind(kind: SettingKind): string {
  switch (kind.type) {
    case "integer":
      if (kind.min === 1 && kind.max === undefined) return "a positive integer";
      if (kind.min === 0 && kind.max === undefined) return "a non-negative integer";
      if (kind.min !== undefined && kind.max !== undefined) return `an integer from ${kind.min} to ${kind.max}`;
      return kind.min !== undefined ? `an integer >= ${kind.min}` : "an integer";
    case "number": {
      if (kind.min === 0 && kind.minExclusive && kind.max === undefined) return "a positive number";
      if (kind.min === 0 && !kind.minExclusive && kind.max === undefined) return "a number >= 0";
      if (kind.min !== undefined && kind.max !== undefined) return `a number in ${kind.minExclusive ? "(" : "["}${kind.min}, ${kind.max}${kind.maxExclusive ? ")" : "]"}`;
      if (kind.min !== undefined) return `a number ${kind.minExclusive ? ">" : ">="} ${kind.min}`;
      if (kind.max !== undefined) return `a number ${kind.maxExclusive ? "<" : "<="} ${kind.max}`;
      return "a number";
    }
    case "boolean":
      return "true or false";
    case "choice":
      return `one of ${kind.choices.join(", ")}`;
    case "string":
      return "a non-empty string";
    case "size-or":
      return `a positive integer or ${kind.words.join(", ")}`;
  }
}

function toNumber(raw: unknown): number | null {
  if (typeof raw === "number") return Number.isFinite(raw) ? raw : null;
  if (typeof raw === "string" && DECIMAL.test(raw)) {
    const n = Number(raw);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

/** The value of `raw` under `kind`, or undefined when it does not fit. */
export function convert(kind: SettingKind, raw: unknown): number | string | boolean | undefined {
  switch (kind.type) {
    case "integer": {
      const n = toNumber(raw);
      if (n === null || !Number.isSafeInteger(n)) return undefined;
      if ((kind.min !== undefined && n < kind.min) || (kind.max !== undefined && n > kind.max)) return undefined;
      return n;
    }
    case "number": {
      const n = toNumber(raw);
      if (n === null) return undefined;
      if (kind.min !== undefined && (kind.minExclusive ? n <= kind.min : n < kind.min)) return undefined;
      if (kind.max !== undefined && (kind.maxExclusive ? n >= kind.max : n > kind.max)) return undefined;
      return n;
    }
    case "boolean":
      return raw === true || raw === "true" ? true : raw === false || raw === "false" ? false : undefined;
    case "choice":
      return typeof raw === "string" && kind.choices.includes(raw) ? raw : undefined;
    case "string":
      return typeof raw === "string" && raw !== "" ? raw : undefined;
    case "size-or": {
      if (typeof raw === "string" && kind.words.includes(raw)) return raw;
      const n = toNumber(raw);
      return n !== null && Number.isSafeInteger(n) && n >= 1 ? n : undefined;
    }
  }
}

/**
 * Reads one value: `raw` converted by `kind`, or a UserError "<where> must be <what>, got <raw>",
 * where `where` names the flag (`--hidden`) or the config key (`hidden in lm.yaml`).
 */
export function parseSetting(where: string, raw: unknown, kind: SettingKind, hint?: string): number | string | boolean {
  const value = convert(kind, raw);
  if (value === undefined) throw new UserError(`${where} must be ${describeKind(kind)}, got ${show(raw)}`, hint);
  return value;
}

/** The edit distance between two strings (insertions, deletions, substitutions). */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/** The known name closest to a mistyped one (`hiden` -> `hidden`), if one is close enough to be meant. */
export function nearest(name: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best !== null && bestDistance <= Math.max(1, Math.floor(name.length / 3)) ? best : null;
}

/** `evalEvery` -> `eval-every`: a setting's flag name. */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function camel(key: string): string {
  return key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Where a setting's value came from, for messages. */
export function sourceOf(key: string, fromFlag: boolean, file: string | undefined): string {
  return fromFlag || file === undefined ? `--${flagName(key)}` : `${flagName(key)} in ${file}`;
}

export interface ReadSettings {
  /** Every setting given, converted, by key (camelCase). */
  readonly values: ReadonlyMap<string, number | string | boolean>;
  /** Where each came from, for messages: `--hidden`, or `hidden in lm.yaml`. */
  readonly source: ReadonlyMap<string, string>;
}

/**
 * Reads the settings of `table` from a config file's object (`file`: its name; keys as flags are
 * written, `eval-every`, or camelCase, `evalEvery`) and from flags (commander's values, by
 * camelCase key), flags winning. Keys are looked up as own properties of the table only: a
 * `__proto__` or `toString` key is an unknown setting. Every value is converted by its kind.
 */
export function readSettings(table: SettingsTable, flags: Readonly<Record<string, unknown>>, fileSettings: Readonly<Record<string, unknown>>, file?: string): ReadSettings {
  const specs = new Map(Object.entries(table));
  const known = (): string => [...specs.keys()].map(flagName).join(", ");
  const raw = new Map<string, { value: unknown; fromFlag: boolean; as: string }>();
  for (const [written, value] of Object.entries(fileSettings)) {
    const key = camel(written);
    if (!specs.has(key) || (written !== key && written !== flagName(key))) {
      const near = nearest(flagName(camel(written)), [...specs.keys()].map(flagName));
      throw new UserError(`unknown setting ${JSON.stringify(written)} in ${file}${near ? ` (did you mean ${JSON.stringify(near)}?)` : ""}`, `known settings: ${known()}`);
    }
    const before = raw.get(key);
    if (before !== undefined) throw new UserError(`${file} gives the setting ${flagName(key)} twice (as ${JSON.stringify(before.as)} and ${JSON.stringify(written)})`, "keep one of them");
    raw.set(key, { value, fromFlag: false, as: written });
  }
  for (const key of specs.keys()) {
    if (Object.hasOwn(flags, key) && flags[key] !== undefined) raw.set(key, { value: flags[key], fromFlag: true, as: key });
  }
  const values = new Map<string, number | string | boolean>();
  const source = new Map<string, string>();
  for (const [key, { value, fromFlag }] of raw) {
    const where = sourceOf(key, fromFlag, file);
    values.set(key, parseSetting(where, value, specs.get(key)!.kind));
    source.set(key, where);
  }
  return { values, source };
}
