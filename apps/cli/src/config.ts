import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { parse as parseYaml } from "yaml";
import { UserError } from "./ui/errors.js";

/** Reads a JSON or YAML configuration file into a plain object. */
export async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new UserError(`cannot read the config file ${path}: ${(e as Error).message}`, "check the path given to --config");
  }
  let value: unknown;
  try {
    value = [".yaml", ".yml"].includes(extname(path).toLowerCase()) ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new UserError(`the config file ${path} is not valid ${extname(path) === ".json" ? "JSON" : "JSON or YAML"}: ${(e as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UserError(`the config file ${path} must hold an object of settings (e.g. "hidden: 256"), found ${Array.isArray(value) ? "a list" : typeof value}`);
  }
  return value as Record<string, unknown>;
}

/** Parses a numeric flag; `kind` says what is allowed. */
export function numberFlag(name: string, raw: unknown, kind: "integer" | "positive-integer" | "number" | "positive" | "fraction"): number {
  const value = typeof raw === "number" ? raw : Number(raw);
  const ok =
    Number.isFinite(value) &&
    (kind === "integer"
      ? Number.isInteger(value)
      : kind === "positive-integer"
        ? Number.isInteger(value) && value > 0
        : kind === "positive"
          ? value > 0
          : kind === "fraction"
            ? value >= 0 && value < 1
            : true);
  if (!ok) {
    const what = {
      integer: "an integer",
      "positive-integer": "a positive integer",
      number: "a number",
      positive: "a positive number",
      fraction: "a number in [0, 1)",
    }[kind];
    throw new UserError(`--${name} must be ${what}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** Checks a flag against its allowed values. */
export function choiceFlag<T extends string>(name: string, raw: unknown, choices: readonly T[]): T {
  if (typeof raw !== "string" || !choices.includes(raw as T)) {
    throw new UserError(`--${name} must be one of ${choices.join(", ")}, got ${JSON.stringify(raw)}`);
  }
  return raw as T;
}
