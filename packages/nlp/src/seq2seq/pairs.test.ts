import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DataError, parsePairs, readPairs } from "../index.js";

describe("parsePairs", () => {
  it("reads source<TAB>target lines, trims them, ignores further columns and skips blank lines", () => {
    const text = "Guten Morgen.\tGood morning.\r\n\n  Danke!  \tThanks!\tCC-BY 2.0 (France) Attribution\n";
    const { pairs, blankLines } = parsePairs(text);
    expect(pairs).toEqual([
      { source: "Guten Morgen.", target: "Good morning.", line: 1 },
      { source: "Danke!", target: "Thanks!", line: 3 },
    ]);
    expect(blankLines).toBe(1);
  });

  it("takes the columns in either order (Anki's eng-fra.txt read French to English)", () => {
    const { pairs } = parsePairs("Go.\tVa !\tCC-BY\nHi.\tSalut !\tCC-BY", { columns: [1, 0] });
    expect(pairs.map((p) => [p.source, p.target])).toEqual([["Va !", "Go."], ["Salut !", "Hi."]]);
  });

  it("names the line of a malformed pair and shows it", () => {
    const missingTab = () => parsePairs("a\tb\nno tab here\n", { name: "pairs.tsv" });
    expect(missingTab).toThrow(DataError);
    expect(missingTab).toThrow('pairs.tsv, line 2: expected 2 tab-separated columns (source then target), found 1: "no tab here"; separate the two sentences with a tab');
    expect(() => parsePairs("a\tb\n\t x\n")).toThrow('the pair file, line 2: the source sentence (column 1) is empty: "\\t x"');
    expect(() => parsePairs("a\t  \n")).toThrow(/line 1: the target sentence \(column 2\) is empty/);
    expect(() => parsePairs("a\tb\n", { columns: [0, 2] })).toThrow(/line 1: expected 3 tab-separated columns \(source then target\), found 2/);
    expect(() => parsePairs("\n \n")).toThrow(/holds no sentence pairs \(2 lines, all blank\)/);
    expect(() => parsePairs("a\tb", { columns: [1, 1] })).toThrow(/both 1/);
  });

  it("reads a file, and reports bytes that are not UTF-8 with their line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unroll-pairs-"));
    const good = join(dir, "good.tsv");
    writeFileSync(good, "\ufeffEins.\tOne.\nZwei.\tTwo.\n");
    expect((await readPairs(good)).pairs.map((p) => p.source)).toEqual(["Eins.", "Zwei."]);
    const bad = join(dir, "bad.tsv");
    writeFileSync(bad, Buffer.concat([Buffer.from("Eins.\tOne.\nZw"), Buffer.from([0xff]), Buffer.from("ei.\tTwo.\n")]));
    await expect(readPairs(bad)).rejects.toThrow(/not UTF-8.*line 2/);
    await expect(readPairs(join(dir, "missing.tsv"))).rejects.toThrow(DataError);
  });
});
