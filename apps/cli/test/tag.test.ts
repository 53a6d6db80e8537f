import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { lines, unroll } from "./unroll-binary.js";
import { taggingBatch, TokenVocabulary } from "@unroll/nlp";
import { OnnxSession } from "@unroll/onnx";

// End-to-end: `unroll train tag`, `tag` and `eval tag` as a user runs them (the real binary,
// stdin and files) on CoNLL-style files of a rule that needs the next token.

let work: string;
let train: string;
let dev: string;
const tiny = ["--hidden", "16", "--embedding", "8", "--batch", "16", "--lr", "0.02", "--eval-every", "100", "--checkpoint-every", "100"];

/** Sentences of a-e; tag A for a, B for a token just before an a (only the right context tells), O otherwise. */
function tagged(n: number, seed: number): string {
  let s = seed;
  const next = (): number => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const words = ["a", "b", "c", "d", "e"];
  return Array.from({ length: n }, () => {
    const tokens = Array.from({ length: 3 + Math.floor(next() * 6) }, () => words[Math.floor(next() * words.length)]!);
    return tokens.map((t, k) => `${t}\t${t === "a" ? "A" : tokens[k + 1] === "a" ? "B" : "O"}`).join("\n");
  }).join("\n\n");
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "unroll-tag-cli-"));
  train = join(work, "train.tsv");
  dev = join(work, "dev.tsv");
  await writeFile(train, `${tagged(300, 1)}\n`);
  await writeFile(dev, `${tagged(40, 2)}\n`);
});

describe("unroll train tag / tag / eval tag", () => {
  it("trains with dev accuracy in metrics.jsonl, resumes exactly, tags stdin line by line, exports to ONNX with the same tags, and scores a file (text and SVG)", { timeout: 180_000 }, async () => {
    const out = join(work, "run");
    const first = await unroll(["--json", "train", "tag", "--data", train, "--dev", dev, "--out", out, "--steps", "200", ...tiny]);
    expect(first.code, first.stderr).toBe(0);
    const records = lines(first.stdout);
    expect(records.filter((r) => r.event === "classification").map((r) => r.step)).toEqual([100, 200]);
    const resumed = await unroll(["--json", "train", "tag", "--out", out, "--resume", "--steps", "300"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const straight = await unroll(["--json", "train", "tag", "--data", train, "--dev", dev, "--out", join(work, "straight"), "--steps", "300", ...tiny]);
    const losses = (r: { stdout: string }) => lines(r.stdout).filter((e) => e.event === "step").map((e) => e.loss);
    expect([...losses(first), ...losses(resumed)]).toEqual(losses(straight));
    const done = lines(resumed.stdout).at(-1)!;
    expect(done).toMatchObject({ event: "done", steps: 300, accuracy: 1 });

    const tagging = await unroll(["tag", join(out, "best")], "b a c d a\n\ne a\n");
    expect(tagging.code, tagging.stderr).toBe(0);
    expect(tagging.stdout).toBe("b/B a/A c/O d/B a/A\n\ne/B a/A\n");
    const json = await unroll(["--json", "tag", join(out, "best")], "c a\n");
    expect(lines(json.stdout)[0]).toMatchObject({ line: 1, tokens: [{ token: "c", tag: "B" }, { token: "a", tag: "A" }] });

    // Exported: onnxruntime gives the tags `tag` printed, from the vocabulary and tags the file carries.
    const onnxFile = join(work, "tagger.onnx");
    const exported = await unroll(["export", "onnx", join(out, "best"), "--out", onnxFile]);
    expect(exported.code, exported.stderr).toBe(0);
    const session = await OnnxSession.create(await readFile(onnxFile));
    const vocabulary = TokenVocabulary.fromJSON(JSON.parse(session.metadata["unroll.token_vocabulary"]!));
    const names = JSON.parse(session.metadata["unroll.tags"]!) as string[];
    expect(names).toEqual(["A", "B", "O"]);
    const sentence = ["b", "a", "c", "d", "a"];
    const batch = taggingBatch([{ ids: vocabulary.encode(sentence), tags: new Int32Array(sentence.length) }]);
    const logits = (await session.runTensors({ inputs: batch.inputs, lengths: batch.lengths }))["logits"]!;
    expect(logits.shape).toEqual([5, 1, 3]);
    const argmax = (t: number) => [0, 1, 2].reduce((k, c) => (logits.data[t * 3 + c]! > logits.data[t * 3 + k]! ? c : k), 0);
    expect(sentence.map((token, t) => `${token}/${names[argmax(t)]}`).join(" ")).toBe("b/B a/A c/O d/B a/A");
    await session.release();

    const svg = join(work, "confusion.svg");
    const scored = await unroll(["eval", "tag", join(out, "best"), "--data", dev, "--svg", svg]);
    expect(scored.code, scored.stderr).toBe(0);
    expect(scored.stdout).toMatch(/40 sentences/);
    expect(scored.stdout).toMatch(/accuracy 100\.00%\s+macro-F1 100\.00%/);
    expect(await readFile(svg, "utf8")).toMatch(/^<svg/);
  });

  it("data punctuation writes a tagging set from a text (first 80% / next 10% / last 10%) that train tag reads; refuses an existing --out and a text too short to split", { timeout: 120_000 }, async () => {
    const text = join(work, "book.txt");
    await writeFile(text, Array.from({ length: 60 }, (_, i) => `Chapter ${i}, in which a thing happens. Does it? It does; and then, another.`).join("\n"));
    const set = join(work, "punct");
    const made = await unroll(["--json", "data", "punctuation", "--corpus", text, "--words", "10", "--out", set]);
    expect(made.code, made.stderr).toBe(0);
    expect(lines(made.stdout)[0]).toMatchObject({ words: 10, sequences: { train: 67, dev: 9, test: 8 } });
    expect(await readdir(set)).toEqual(["dev.tsv", "test.tsv", "train.tsv"]);
    const train = (await readFile(join(set, "train.tsv"), "utf8")).split("\n");
    expect(train.slice(0, 4)).toEqual(["chapter\tO", "0\tCOMMA", "in\tO", "which\tO"]);
    const trained = await unroll(["train", "tag", "--data", join(set, "train.tsv"), "--dev", join(set, "dev.tsv"), "--out", join(work, "punct-run"), "--steps", "3", ...tiny]);
    expect(trained.code, trained.stderr).toBe(0);
    expect(trained.stderr).toMatch(/67 training sentences \(670 tokens: COMMA \d+, O \d+, PERIOD \d+, QUESTION \d+\)/);
    expect(trained.stderr).toMatch(/dev sentences, kernels wasm/);

    // Sequences of one length: the compiled step, asked for, gives the library's losses; tag weights it refuses.
    const steps = (r: { stdout: string }) => lines(r.stdout).filter((e) => e.event === "step").map((e) => e.loss as number);
    const settings = ["--data", join(set, "train.tsv"), "--dev", join(set, "dev.tsv"), "--steps", "8", ...tiny];
    const compiled = await unroll(["--json", "train", "tag", ...settings, "--engine", "onnxruntime", "--out", join(work, "punct-ort")]);
    expect(compiled.code, compiled.stderr).toBe(0);
    const library = await unroll(["--json", "train", "tag", ...settings, "--out", join(work, "punct-lib")]);
    const [a, b] = [steps(compiled), steps(library)];
    expect(a).toHaveLength(8);
    a.forEach((l, i) => expect(Math.abs(l - b[i]!) / b[i]!).toBeLessThan(1e-4));
    const weighted = await unroll(["train", "tag", ...settings, "--engine", "onnxruntime", "--class-weights", "balanced", "--out", join(work, "punct-weighted")]);
    expect(weighted.code).toBe(1);
    expect(weighted.stderr).toMatch(/--class-weights needs the library's engine/);

    // diagnose on the tagger's run: the last tag's loss reaches back through every step of its dev sequences.
    const prefix = join(work, "punct-diagnosis");
    const diagnosed = await unroll(["diagnose", join(work, "punct-run"), "--length", "8", "--batch", "4", "--out", prefix]);
    expect(diagnosed.code, diagnosed.stderr).toBe(0);
    expect(diagnosed.stdout).toMatch(/\|\|dL\/dh_0\|\| \/ \|\|dL\/dh_7\|\| = /);
    const report = JSON.parse(await readFile(`${prefix}.json`, "utf8")) as { kind: string; gradNorms: number[]; sentences: string };
    expect(report.kind).toBe("sequence-tagger");
    expect(report.sentences).toBe(join(set, "dev.tsv"));
    expect(report.gradNorms).toHaveLength(8);
    expect(report.gradNorms.every((g) => g > 0)).toBe(true);

    const again = await unroll(["data", "punctuation", "--corpus", text, "--out", set]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists/);
    const short = join(work, "short.txt");
    await writeFile(short, "Too short. Really.");
    const refused = await unroll(["data", "punctuation", "--corpus", short, "--out", join(work, "short-set")]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/makes 1 sequences of 40 words: too few to split 80\/10\/10/);
    expect(await readdir(work)).not.toContain("short-set");
  });

  it("bad input: a line without a tab, a missing --data, an unknown tag at evaluation, another kind of run; nothing written", { timeout: 120_000 }, async () => {
    const broken = join(work, "broken.tsv");
    await writeFile(broken, "a\tA\nb B\n");
    const noTab = await unroll(["train", "tag", "--data", broken, "--out", join(work, "broken-run")]);
    expect(noTab.code).toBe(1);
    expect(noTab.stderr).toMatch(/broken\.tsv line 2 has no tab/);
    expect(noTab.stderr).toMatch(/a token, a tab, then its tag/);
    expect(noTab.stderr).not.toMatch(/\n\s+at /);
    expect(await readdir(work)).not.toContain("broken-run");

    const noData = await unroll(["train", "tag", "--out", join(work, "no-data")]);
    expect(noData.code).toBe(1);
    expect(noData.stderr).toMatch(/train tag needs tagged sentences: --data/);

    const out = join(work, "small");
    const trained = await unroll(["train", "tag", "--data", train, "--out", out, "--steps", "5", ...tiny]);
    expect(trained.code, trained.stderr).toBe(0);
    const unknownTag = join(work, "unknown-tag.tsv");
    await writeFile(unknownTag, "a\tA\nb\tX\n");
    const scored = await unroll(["eval", "tag", out, "--data", unknownTag]);
    expect(scored.code).toBe(1);
    expect(scored.stderr).toMatch(/sentence 1, token 2 \("b"\): the label "X" is not one the model was trained on/);
    expect(scored.stderr).toMatch(/the model's tags only \(A, B, O\)/);

    const classifier = join(work, "classifier");
    await writeFile(join(work, "texts.tsv"), Array.from({ length: 40 }, (_, i) => `${i % 2 ? "x" : "y"}\tword${i % 2} and more`).join("\n"));
    expect((await unroll(["train", "classify", "--data", join(work, "texts.tsv"), "--out", classifier, "--steps", "2", "--hidden", "8", "--embedding", "8", "--min-frequency", "1"])).code).toBe(0);
    const wrongKind = await unroll(["tag", classifier], "a b\n");
    expect(wrongKind.code).toBe(1);
    expect(wrongKind.stderr).toMatch(/not a sequence tagger: it is a classifier \(use `unroll classify` with it\)/);
  });
});
