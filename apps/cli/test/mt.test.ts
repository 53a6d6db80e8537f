import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { lines, unroll } from "./unroll-binary.js";

// End-to-end: `unroll train mt`, `translate`, `eval mt`, `plot attention` and `export onnx` for a
// translation model, as a user runs them (the real binary, stdin and files).

let work: string;
let pairs: string;
// Numbers word by word, German to English: small enough to learn in seconds.
const de = ["null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben"];
const en = ["zero", "one", "two", "three", "four", "five", "six", "seven"];
const tiny = ["--hidden", "24", "--embedding", "12", "--batch", "16", "--lr", "0.003", "--eval-every", "40", "--bleu-sentences", "20", "--checkpoint-every", "40"];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "unroll-mt-cli-"));
  pairs = join(work, "pairs.tsv");
  let seed = 7;
  const next = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const rows: string[] = [];
  for (let i = 0; i < 300; i++) {
    const ids = Array.from({ length: 2 + Math.floor(next() * 3) }, () => Math.floor(next() * 8));
    rows.push(`${ids.map((k) => de[k]).join(" ")}.\t${ids.map((k) => en[k]).join(" ")}.`);
  }
  await writeFile(pairs, `${rows.join("\n")}\n`);
});

describe("unroll train mt / translate / eval mt / plot attention", () => {
  it("trains on the compiled onnxruntime step with --engine onnxruntime: the library's losses, one graph per batch shape", async () => {
    const steps = (text: string) => lines(text).filter((r) => r.event === "step").map((r) => r.loss as number);
    const compiled = await unroll(["--json", "train", "mt", "--data", pairs, "--out", join(work, "engine-ort"), "--steps", "30", "--engine", "onnxruntime", ...tiny]);
    expect(compiled.code, compiled.stderr).toBe(0);
    const library = await unroll(["--json", "train", "mt", "--data", pairs, "--out", join(work, "engine-lib"), "--steps", "30", "--engine", "library", ...tiny]);
    expect(library.code, library.stderr).toBe(0);
    const a = steps(compiled.stdout);
    const b = steps(library.stdout);
    expect(a).toHaveLength(30);
    a.forEach((l, i) => expect(Math.abs(l - b[i]!) / b[i]!).toBeLessThan(1e-4));

    // A model it cannot compile: a user error naming the cause and the other engine, no stack trace.
    const refused = await unroll(["train", "mt", "--data", pairs, "--out", join(work, "engine-rnn"), "--steps", "3", "--engine", "onnxruntime", "--cell", "rnn_tanh", ...tiny]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/--engine onnxruntime cannot train this model: .*padded \(lengths\) rnn_tanh scan/);
    expect(refused.stderr).toMatch(/--engine library/);
    expect(refused.stderr).not.toMatch(/\n\s+at /);

    // By default (--engine auto) the same model trains on the library's kernels, saying why: the library's losses.
    const fallen = await unroll(["--json", "train", "mt", "--data", pairs, "--out", join(work, "engine-rnn-auto"), "--steps", "3", "--cell", "rnn_tanh", ...tiny]);
    expect(fallen.code, fallen.stderr).toBe(0);
    expect(lines(fallen.stdout).find((r) => r.event === "engine")?.text).toMatch(/the compiled engine cannot train this model \(.*padded \(lengths\) rnn_tanh scan.*\); training on the library's kernels instead/);
    const onLibrary = await unroll(["--json", "train", "mt", "--data", pairs, "--out", join(work, "engine-rnn-lib"), "--steps", "3", "--cell", "rnn_tanh", "--engine", "library", ...tiny]);
    expect(steps(fallen.stdout)).toEqual(steps(onLibrary.stdout));
  });

  it("trains with dev BLEU in metrics.jsonl, resumes exactly, translates from stdin (library and ONNX alike), scores and plots", async () => {
    const out = join(work, "run");
    const first = await unroll(["--json", "train", "mt", "--data", pairs, "--out", out, "--steps", "80", ...tiny]);
    expect(first.code, first.stderr).toBe(0);
    const records = lines(first.stdout);
    expect(records.filter((r) => r.event === "bleu").map((r) => r.step)).toEqual([40, 80]);
    expect(records.at(-1)).toMatchObject({ event: "done", steps: 80, stopReason: "steps" });
    const resumed = await unroll(["train", "mt", "--out", out, "--resume", "--steps", "160"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming from step 80/);
    const straight = join(work, "straight");
    expect((await unroll(["train", "mt", "--data", pairs, "--out", straight, "--steps", "160", ...tiny])).code).toBe(0);
    // The same 160 steps straight through: the same metrics, line for line.
    expect(await readFile(join(out, "metrics.jsonl"), "utf8")).toBe(await readFile(join(straight, "metrics.jsonl"), "utf8"));
    const metrics = lines(await readFile(join(out, "metrics.jsonl"), "utf8"));
    const bleu = metrics.filter((r) => "bleu" in r);
    expect(bleu.map((r) => r.step)).toEqual([40, 80, 120, 160]);
    expect(bleu.at(-1)!.bleu as number).toBeGreaterThan(60);

    const input = "sieben drei null eins.\n\nzwei eins.\n";
    const viaLibrary = await unroll(["translate", out, "--beam", "3"], input);
    expect(viaLibrary.code, viaLibrary.stderr).toBe(0);
    const translations = viaLibrary.stdout.split("\n");
    expect(translations).toHaveLength(4); // one line per input line, the blank one blank
    expect(translations[1]).toBe("");
    expect(translations[0]).toBe("seven three zero one.");

    const exported = await unroll(["export", "onnx", out, "--out", join(work, "mt.onnx")]);
    expect(exported.code, exported.stderr).toBe(0);
    const viaOnnx = await unroll(["translate", join(work, "mt.encoder.onnx"), "--beam", "3"], input);
    expect(viaOnnx.code, viaOnnx.stderr).toBe(0);
    expect(viaOnnx.stdout).toBe(viaLibrary.stdout);

    const json = await unroll(["--json", "translate", out, "--beam", "1"], "zwei eins.\n");
    const [record] = lines(json.stdout);
    expect(record).toMatchObject({ line: 1, source: "zwei eins." });
    expect((record!.attention as number[][])[0]).toHaveLength(3); // one weight per source token: "zwei", " eins", "."

    const score = await unroll(["--json", "eval", "mt", out, "--data", pairs, "--beam", "2"]);
    expect(score.code, score.stderr).toBe(0);
    const s = JSON.parse(score.stdout) as { bleu: number; chrf: number; bleuSignature: string; pairs: number; step: number };
    expect(s.pairs).toBe(300);
    expect(s.step).toBe(160);
    expect(s.bleuSignature).toBe("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.5.1");
    expect(s.bleu).toBeGreaterThan(60);
    expect(s.chrf).toBeGreaterThan(60);

    const svg = join(work, "attention.svg");
    const plotted = await unroll(["plot", "attention", out, "--text", "sieben drei null eins.", "--out", svg, "--json-out", join(work, "attention.json")]);
    expect(plotted.code, plotted.stderr).toBe(0);
    const picture = await readFile(svg, "utf8");
    expect(picture.startsWith("<svg")).toBe(true);
    for (const word of ["sieben", "drei", "seven", "three"]) expect(picture).toContain(word);
    const weights = JSON.parse(await readFile(join(work, "attention.json"), "utf8")) as { sourceTokens: string[]; targetTokens: string[]; weights: number[][] };
    expect(weights.sourceTokens).toEqual(["sieben", " drei", " null", " eins", "."]);
    expect(weights.weights).toHaveLength(weights.targetTokens.length);
    for (const row of weights.weights) expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
  });

  it("says what is wrong with bad input, and changes nothing", async () => {
    const bad = join(work, "bad.tsv");
    await writeFile(bad, "eins.\tone.\nzwei. two.\n");
    const r = await unroll(["train", "mt", "--data", bad, "--out", join(work, "bad-run"), "--steps", "2"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: .*bad\.tsv, line 2: expected 2 tab-separated columns \(source then target\), found 1: "zwei\. two\."; separate the two sentences with a tab/m);
    expect(r.stderr).not.toMatch(/internal error|at .*\.js:\d+/);
    await expect(readdir(join(work, "bad-run"))).rejects.toThrow(/ENOENT/); // the run folder was never made

    const missing = await unroll(["train", "mt", "--steps", "2", "--out", join(work, "no-data")]);
    expect(missing.stderr).toMatch(/train mt needs sentence pairs: --data pairs\.tsv/);

    const lm = join(work, "lm");
    const corpus = join(work, "corpus.txt");
    await writeFile(corpus, "the quick brown fox jumps over the lazy dog. ".repeat(100));
    expect((await unroll(["train", "lm", "--data", corpus, "--out", lm, "--steps", "1", "--sample", "0", "--hidden", "8", "--embedding", "4", "--batch", "2", "--window", "8"])).code).toBe(0);
    const wrongKind = await unroll(["translate", lm], "hallo\n");
    expect(wrongKind.code).toBe(1);
    expect(wrongKind.stderr).toMatch(/error: .* holds a checkpoint of another kind \("language-model"\), not a translation model/);

    const out = join(work, "small");
    expect((await unroll(["train", "mt", "--data", pairs, "--out", out, "--steps", "2", ...tiny])).code).toBe(0);
    const changed = await unroll(["train", "mt", "--out", out, "--resume", "--steps", "4", "--hidden", "64"]);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toMatch(/--hidden cannot change on --resume/);

    const bottleneck = join(work, "bottleneck");
    expect((await unroll(["train", "mt", "--data", pairs, "--out", bottleneck, "--steps", "1", "--attention", "none", ...tiny])).code).toBe(0);
    const noWeights = await unroll(["plot", "attention", bottleneck, "--text", "eins.", "--out", join(work, "none.svg")]);
    expect(noWeights.stderr).toMatch(/has no attention \(the bottleneck decoder\)/);
  });
});
