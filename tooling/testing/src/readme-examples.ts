// Runs every ```ts block of a package README as a test, so that the README's promise "every
// example runs as written" is checked, not hoped. Imports of the package itself are pointed at
// its source; imports of other packages resolve as a user's would.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { format } from "node:util";
import { afterEach, describe, expect, it, vi } from "vitest";

export interface ReadmeExampleOptions {
  /** The README, e.g. `new URL("../README.md", import.meta.url)`. */
  readonly readme: URL;
  /** Package name -> source entry file (absolute URL), e.g. `{ "@unroll/cells": new URL("./index.ts", import.meta.url) }`. */
  readonly sources: Readonly<Record<string, URL>>;
  /** Checks on what an example printed, keyed by a substring of its code. */
  readonly expectations?: ReadonlyArray<{ readonly when: string; readonly check: (printed: readonly string[]) => void }>;
  readonly minExamples?: number;
}

export function describeReadmeExamples(options: ReadmeExampleOptions): void {
  const text = readFileSync(options.readme, "utf8");
  const blocks = [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const dir = new URL("./.readme-examples/", options.readme);

  describe("README examples", () => {
    afterEach(() => vi.restoreAllMocks());

    it("has examples", () => {
      expect(blocks.length).toBeGreaterThanOrEqual(options.minExamples ?? 1);
    });

    blocks.forEach((code, i) => {
      it(`example ${i + 1} runs and prints`, async () => {
        mkdirSync(dir, { recursive: true });
        const file = new URL(`example-${i + 1}.ts`, dir);
        let source = code;
        for (const [name, entry] of Object.entries(options.sources)) {
          source = source.replaceAll(`from "${name}"`, `from ${JSON.stringify(fileURLToPath(entry))}`);
        }
        writeFileSync(file, source);
        const printed: string[] = [];
        vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void printed.push(format(...args)));
        await import(pathToFileURL(fileURLToPath(file)).href);
        expect(printed.length).toBeGreaterThan(0);
        for (const e of options.expectations ?? []) if (code.includes(e.when)) e.check(printed);
      });
    });
  });
}
