import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";

// The README promises that every example runs as written: run each ```ts block against the source.
const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
const entry = fileURLToPath(new URL("./index.ts", import.meta.url));
const dir = new URL("../.readme-examples/", import.meta.url);

describe("README examples", () => {
  afterEach(() => vi.restoreAllMocks());

  it("has examples", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(4);
  });

  blocks.forEach((code, i) => {
    it(`example ${i + 1} runs and prints`, async () => {
      mkdirSync(dir, { recursive: true });
      const file = new URL(`example-${i + 1}.ts`, dir);
      writeFileSync(file, code.replaceAll(`from "@unroll/tensor"`, `from ${JSON.stringify(entry)}`));
      const printed: string[] = [];
      vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void printed.push(args.map(String).join(" ")));
      await import(pathToFileURL(fileURLToPath(file)).href);
      expect(printed.length).toBeGreaterThan(0);
      // Where an example prints a check's outcome, the README shows `true`: hold it to that.
      if (code.includes("gradcheck(")) expect(printed[0]).toMatch(/^true gradcheck:/);
      if (code.includes("Rng.fromState")) expect(printed[0]).toMatch(/ true$/);
    });
  });
});
