import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { parse as parseYaml } from "yaml";
import { parseSetting, type SettingKind } from "./settings/validate.js";
import { UserError } from "./ui/errors.js";

/** Reads a JSON or YAML configuration file into a plain object (its keys are checked by `readSettings`). */
export async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new UserError(`cannot read the config file ${path}: ${(e as Error).message}`, "check the path given to --config");
  }
  let value: unknown;
  const yaml = [".yaml", ".yml"].includes(extname(path).toLowerCase());
  try {
    // YAML: one document, no aliases that expand (a "billion laughs" file), keys as plain strings.
    value = yaml ? parseYaml(text, { maxAliasCount: 0, uniqueKeys: true, logLevel: "error" }) : JSON.parse(text);
  } catch (e) {
    const message = String((e as Error).message).split("\n")[0]!.slice(0, 300);
    throw new UserError(`the config file ${path} is not valid ${yaml ? "YAML" : "JSON"}: ${message}`, yaml ? undefined : "config files ending in .yaml or .yml are read as YAML, others as JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UserError(`the config file ${path} must hold an object of settings (e.g. "hidden: 256"), found ${Array.isArray(value) ? "a list" : value === null ? "nothing" : typeof value}`);
  }
  if (value instanceof Map || Object.getPrototypeOf(value) !== Object.prototype) {
    throw new UserError(`the config file ${path} must hold a plain mapping of settings to values`);
  }
  return value as Record<string, unknown>;
}

const KINDS: Readonly<Record<"integer" | "positive-integer" | "non-negative-integer" | "number" | "positive" | "non-negative" | "fraction", SettingKind>> = {
  integer: { type: "integer" },
  "positive-integer": { type: "integer", min: 1 },
  "non-negative-integer": { type: "integer", min: 0 },
  number: { type: "number" },
  positive: { type: "number", min: 0, minExclusive: true },
  "non-negative": { type: "number", min: 0 },
  fraction: { type: "number", min: 0, max: 1, maxExclusive: true },
};

/** Parses a numeric flag (strictly: see settings/validate.ts); `kind` says what is allowed. */
export function numberFlag(name: string, raw: unknown, kind: keyof typeof KINDS): number {
  return parseSetting(`--${name}`, raw, KINDS[kind]) as number;
}

/** Checks a flag against its allowed values. */
export function choiceFlag<T extends string>(name: string, raw: unknown, choices: readonly T[]): T {
  return parseSetting(`--${name}`, raw, { type: "choice", choices }) as T;
}
