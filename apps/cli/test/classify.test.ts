import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { lines, unroll } from "./unroll-binary.js";
import { classificationBatch, Standardizer, Vocabulary } from "@unroll/nlp";
import { Tensor } from "@unroll/tensor";
import { OnnxSession } from "@unroll/onnx";

// End-to-end: `unroll train classify`, `classify` and `eval classify` as a user runs them (the
// real binary, stdin and files), on a labelled file and on the embedded State of the Union set.

let work: string;
let reviews: string;
let heldOut: string;
const tiny = ["--hidden", "16", "--embedding", "16", "--batch", "16", "--lr", "0.01", "--eval-every", "20", "--min-frequency", "1", "--kernels", "reference"];

// Filler words with one telling word among them.
function reviewLines(n: number, seed: number): string[] {
  let s = seed;
  const next = (): number => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const filler = ["the", "film", "was", "a", "plot", "and", "actors", "music", "long", "story"];
  return Array.from({ length: n }, () => {
    const words = Array.from({ length: 3 + Math.floor(next() * 8) }, () => filler[Math.floor(next() * filler.length)]!);
    const positive = next() < 0.6;
    words.splice(Math.floor(next() * words.length), 0, positive ? "great" : "awful");
    return `${positive ? "pos" : "neg"}\t${words.join(" ")}`;
  });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "unroll-classify-cli-"));
  reviews = join(work, "reviews.tsv");
  heldOut = join(work, "held-out.tsv");
  await writeFile(reviews, `${reviewLines(300, 3).join("\n")}\n`);
  await writeFile(heldOut, `${reviewLines(60, 99).join("\n")}\n`);
});

describe("unroll train classify / classify / eval classify", () => {
  it("trains on the compiled onnxruntime step with --engine onnxruntime: the library's losses; a CSV of numbers is refused", { timeout: 120_000 }, async () => {
    const losses = async (run: string) =>
      (await readFile(join(run, "metrics.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as { loss?: number }).filter((r) => r.loss !== undefined).map((r) => r.loss!);
    const settings = ["--data", reviews, "--steps", "20", "--pooling", "attention", ...tiny.filter((f) => f !== "--kernels" && f !== "reference")];
    const compiled = await unroll(["train", "classify", "--out", join(work, "engine-ort"), "--engine", "onnxruntime", ...settings]);
    expect(compiled.code, compiled.stderr).toBe(0);
    expect(compiled.stderr).toMatch(/dev texts, engine onnxruntime/);
    // By default (--engine auto) texts train on the library's kernels: each length of text would be a graph of its own.
    const library = await unroll(["train", "classify", "--out", join(work, "engine-lib"), ...settings]);
    expect(library.code, library.stderr).toBe(0);
    expect(library.stderr).toMatch(/dev texts, kernels wasm/);
    const a = await losses(join(work, "engine-ort"));
    const b = await losses(join(work, "engine-lib"));
    expect(a).toHaveLength(20);
    a.forEach((l, i) => expect(Math.abs(l - b[i]!) / b[i]!).toBeLessThan(1e-4));

    const csv = join(work, "engine.csv");
    await writeFile(csv, `x,y\n${Array.from({ length: 40 }, (_, i) => `${i % 7},${i % 2}`).join("\n")}\n`);
    const refused = await unroll(["train", "classify", "--data", csv, "--label", "y", "--window", "4", "--out", join(work, "engine-csv"), "--engine", "onnxruntime"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/--engine onnxruntime trains text classifiers/);
  });

  it("diagnose on a classifier's run: the class loss's gradient at every step, decaying backwards from the end with last-state pooling, flat with mean pooling", { timeout: 120_000 }, async () => {
    const ratios: Record<string, number> = {};
    for (const pooling of ["last", "mean"]) {
      const run = join(work, `diagnose-${pooling}`);
      const trained = await unroll(["train", "classify", "--data", reviews, "--out", run, "--steps", "2", "--cell", "rnn_tanh", "--bidirectional", "false", "--pooling", pooling, ...tiny]);
      expect(trained.code, trained.stderr).toBe(0);
      const prefix = join(work, `diagnosis-${pooling}`);
      const d = await unroll(["diagnose", run, "--length", "8", "--batch", "4", "--out", prefix, "--kernels", "reference"]);
      expect(d.code, d.stderr).toBe(0);
      expect(d.stdout).toMatch(/\|\|dL\/dh_0\|\| \/ \|\|dL\/dh_7\|\| = /);
      const report = JSON.parse(await readFile(`${prefix}.json`, "utf8")) as { kind: string; pooling: string; gradNorms: number[]; vanishingRatio: number; spectralRadii: Record<string, number>; texts: string };
      expect(report.kind).toBe("sequence-classifier");
      expect(report.pooling).toBe(pooling);
      expect(report.texts).toBe(reviews); // a file without --dev: its texts (a data set: its dev split)
      expect(report.gradNorms).toHaveLength(8);
      expect(report.gradNorms.every((g) => Number.isFinite(g) && g > 0)).toBe(true);
      expect(Object.keys(report.spectralRadii).length).toBeGreaterThan(0);
      const svg = await readFile(`${prefix}.svg`, "utf8");
      expect(svg).toContain(`loss through ${pooling} pooling; top layer, forward direction`);
      ratios[pooling] = report.vanishingRatio;
      console.log(`diagnose ${pooling} pooling: ||dL/dh_0|| / ||dL/dh_7|| = ${report.vanishingRatio.toExponential(2)}`);
    }
    // Last-state pooling reaches step 0 only through 7 steps of the recurrence; mean pooling directly.
    expect(ratios.last!).toBeLessThan(0.1); // measured: 5.6e-3
    expect(ratios.mean!).toBeGreaterThan(0.5); // measured: 0.99
    const refused = await unroll(["diagnose", join(work, "diagnose-last"), "--jacobian", "--length", "8", "--batch", "4", "--out", join(work, "no")]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/--jacobian applies to language models/);
  });

  it("trains on label<TAB>text lines, classifies stdin line by line, and scores a held-out file with a confusion matrix", { timeout: 120_000 }, async () => {
    const run = join(work, "reviews");
    const trained = await unroll(["train", "classify", "--data", reviews, "--out", run, "--steps", "60", "--pooling", "attention", "--class-weights", "balanced", ...tiny]);
    expect(trained.code, trained.stderr).toBe(0);
    expect(trained.stderr).toMatch(/bidirectional lstm classifier \(1 × 16, attention pooling\)/);
    expect(trained.stderr).toMatch(/step 60: dev accuracy 100\.00%/);
    expect(trained.stderr).toMatch(/texts\/s/);
    expect(trained.stdout).toMatch(/score it with: unroll eval classify .*best/);
    const metrics = (await readFile(join(run, "metrics.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as Record<string, number>);
    expect(metrics.filter((m) => m.accuracy !== undefined).map((m) => m.step)).toEqual([20, 40, 60]);

    const classified = await unroll(["classify", join(run, "best")], "the music was great\n\nawful plot and long\n");
    expect(classified.code, classified.stderr).toBe(0);
    const out = classified.stdout.split("\n");
    expect(out[0]).toMatch(/^pos\t[01]\.\d{4}$/);
    expect(out[1]).toBe("");
    expect(out[2]).toMatch(/^neg\t[01]\.\d{4}$/);
    const json = await unroll(["--json", "classify", join(run, "best")], "a great story\n");
    const [row] = lines(json.stdout);
    expect(row!.label).toBe("pos");
    expect((row!.attention as { token: string }[]).map((a) => a.token).join("")).toBe("a great story");

    // Exported: onnxruntime gives the probabilities `classify` printed, from the vocabulary the file carries.
    const onnxFile = join(work, "reviews.onnx");
    const exported = await unroll(["export", "onnx", join(run, "best"), "--out", onnxFile]);
    expect(exported.code, exported.stderr).toBe(0);
    const session = await OnnxSession.create(await readFile(onnxFile));
    const vocabulary = Vocabulary.fromJSON(JSON.parse(session.metadata["unroll.vocabulary"]!));
    expect(JSON.parse(session.metadata["unroll.labels"]!)).toEqual(["neg", "pos"]);
    const batch = classificationBatch([{ ids: vocabulary.encode("a great story"), label: 0 }]);
    const logits = (await session.runTensors({ inputs: batch.inputs, lengths: batch.lengths }))["logits"]!.data;
    const pos = 1 / (1 + Math.exp(logits[0]! - logits[1]!));
    expect(pos).toBeCloseTo((row!.probabilities as Record<string, number>)["pos"]!, 5);

    const svg = join(work, "confusion.svg");
    const scored = await unroll(["eval", "classify", join(run, "best"), "--data", heldOut, "--svg", svg]);
    expect(scored.code, scored.stderr).toBe(0);
    expect(scored.stdout).toMatch(/accuracy 100\.00%\s+macro-F1 100\.00%\s+\(60 examples\)/);
    expect(scored.stdout).toMatch(/confusion \(rows: gold, columns: predicted\)/);
    expect((await readFile(svg, "utf8")).startsWith("<svg")).toBe(true);
  });

  it("on the embedded State of the Union data: trains on one split, and eval classify scores the held-out test split by default", { timeout: 180_000 }, async () => {
    const run = join(work, "sotu");
    const trained = await unroll(["--json", "train", "classify", "--data", "sotu", "--presidents", "Barack Obama,George Washington", "--passage-words", "60", "--out", run, "--steps", "20", ...tiny]);
    expect(trained.code, trained.stderr).toBe(0);
    const scored = await unroll(["--json", "eval", "classify", run]);
    expect(scored.code, scored.stderr).toBe(0);
    const [r] = lines(scored.stdout);
    expect(r!.data).toBe("sotu (test split)");
    expect(r!.classes).toEqual(["Barack Obama", "George Washington"]);
    expect(r!.examples as number).toBeGreaterThan(10);
  });

  it("bad input: a line without a tab, an unknown data set, an unknown label at evaluation, another kind of run: clear errors, nothing written", async () => {
    const bad = join(work, "bad.tsv");
    await writeFile(bad, "pos\tfine\nthis line has no tab\n");
    const out = join(work, "bad-run");
    const r = await unroll(["train", "classify", "--data", bad, "--out", out, "--steps", "5"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.tsv line 2 has no tab: each line must be "label<TAB>text"/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    await expect(readdir(out)).rejects.toThrow(/ENOENT/);

    const missing = await unroll(["train", "classify", "--data", "spam-asassin", "--out", out, "--steps", "5"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/one of the embedded data sets: spam-assassin, sotu/);

    const run = join(work, "reviews");
    const unknown = join(work, "unknown.tsv");
    await writeFile(unknown, "pos\tgreat film\nneutral\tthe film\n");
    const e = await unroll(["eval", "classify", join(run, "best"), "--data", unknown]);
    expect(e.code).toBe(1);
    expect(e.stderr).toMatch(/example 2: the label "neutral" is not one the model was trained on \("neg", "pos"\)/);

    const noTest = await unroll(["eval", "classify", join(run, "best")]);
    expect(noTest.code).toBe(1);
    expect(noTest.stderr).toMatch(/was trained on a file .* which has no held-out test split of its own/);

    // A mistake found only once training starts leaves no run folder behind either.
    const weights = await unroll(["train", "classify", "--data", reviews, "--class-weights", "1,2,3", "--out", out, "--steps", "5"]);
    expect(weights.code).toBe(1);
    expect(weights.stderr).toMatch(/classWeights has 3 numbers but there are 2 classes \(neg, pos, in this order\)/);
    await expect(readdir(out)).rejects.toThrow(/ENOENT/);

    const resumeChange = await unroll(["train", "classify", "--out", run, "--resume", "--hidden", "32"]);
    expect(resumeChange.code).toBe(1);
    expect(resumeChange.stderr).toMatch(/--hidden cannot change on --resume/);
  });

  it("a CSV of numbers: windows labelled by the label column at their last row, trained on some series and scored on another", { timeout: 120_000 }, async () => {
    // Spikes (label 1) in a noisy wave, two training series and one held-out series.
    const rows = (group: number, seed: number): string[] => {
      let s = seed;
      const next = (): number => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
      return Array.from({ length: 1500 }, (_, t) => {
        const spike = t > 12 && next() < 0.03;
        return `${group},${(Math.sin(t / 30) + 0.1 * (next() - 0.5) + (spike ? 1.5 : 0)).toFixed(4)},${spike ? 1 : 0}`;
      });
    };
    const trainCsv = join(work, "spikes.csv");
    const otherCsv = join(work, "spikes-other.csv");
    await writeFile(trainCsv, ["sensor,x,event", ...rows(1, 5), ...rows(2, 6)].join("\n") + "\n");
    await writeFile(otherCsv, ["sensor,x,event", ...rows(3, 7)].join("\n") + "\n");
    const run = join(work, "spikes");
    const trained = await unroll(["train", "classify", "--data", trainCsv, "--label", "event", "--features", "x", "--group", "sensor", "--window", "10", "--steps", "300", "--lr", "0.01", "--kernels", "reference", "--out", run]);
    expect(trained.code, trained.stderr).toBe(0);
    expect(trained.stderr).toMatch(/window classifier of x \(10 rows per window, labelled by "event" at the last row; classes 0, 1\), 2 series/);
    expect(trained.stdout).toMatch(/finished at step 300/);
    expect(trained.stderr).toMatch(/step 200: dev accuracy/);
    // The dev part's evaluations (every 200 steps and at the end) in metrics.jsonl, the best in <out>/best.
    const evaluated = (await readFile(join(run, "metrics.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as Record<string, number>).filter((m) => m.macroF1 !== undefined);
    expect(evaluated.map((m) => m.step)).toEqual([200, 300]);
    expect(trained.stdout).toMatch(/lowest dev loss [\d.]+ at step (200|300), kept in .*best/);
    const scored = await unroll(["--json", "eval", "classify", run, "--data", otherCsv]);
    expect(scored.code, scored.stderr).toBe(0);
    const [r] = lines(scored.stdout);
    const event = (r!.perClass as { f1: number; support: number }[])[1]!;
    expect(event.support).toBeGreaterThan(20);
    expect(event.f1).toBeGreaterThan(0.9);

    // diagnose on a window classifier's run: the class loss's gradient at every step of its window of 10.
    const prefix = join(work, "spikes-diagnosis");
    const d = await unroll(["diagnose", run, "--batch", "6", "--out", prefix, "--kernels", "reference"]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/\|\|dL\/dh_0\|\| \/ \|\|dL\/dh_9\|\| = /);
    const diagnosis = JSON.parse(await readFile(`${prefix}.json`, "utf8")) as { kind: string; sequenceLength: number; gradNorms: number[] };
    expect(diagnosis).toMatchObject({ kind: "window-classifier", sequenceLength: 10 });
    expect(diagnosis.gradNorms.every((g) => g > 0)).toBe(true);

    // --resume continues the run exactly, from the series it was trained on.
    const more = await unroll(["train", "classify", "--out", run, "--resume", "--steps", "310"]);
    expect(more.code, more.stderr).toBe(0);
    expect(more.stderr).toMatch(/resuming from .*step-0+300/);

    // classify: one line per row, the class of the window ending there (none for the first 9 rows).
    const csvText = await readFile(otherCsv, "utf8");
    const perRow = await unroll(["classify", run], csvText);
    expect(perRow.code, perRow.stderr).toBe(0);
    const out = perRow.stdout.split("\n").slice(0, -1);
    expect(out).toHaveLength(1500);
    expect(out.slice(0, 9)).toEqual(new Array(9).fill(""));
    const gold = csvText.trim().split("\n").slice(1).map((l) => l.split(",")[2]);
    const hits = out.slice(9).filter((c, i) => c === "1" && gold[i + 9] === "1").length;
    expect(hits).toBeGreaterThan(0.9 * gold.slice(9).filter((g) => g === "1").length);

    // Exported: onnxruntime gives each window the class `classify` printed, scaled by the file's own scaler.
    const onnxFile = join(work, "spikes.onnx");
    const exported = await unroll(["export", "onnx", run, "--out", onnxFile]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toMatch(/a window classifier/);
    const session = await OnnxSession.create(await readFile(onnxFile));
    const scaler = Standardizer.fromJSON(JSON.parse(session.metadata["unroll.scaler"]!));
    const classes = JSON.parse(session.metadata["unroll.labels"]!) as string[];
    const xs = csvText.trim().split("\n").slice(1).map((l) => Number(l.split(",")[1]));
    const ends = [10, 200, 777, 1500];
    const windows = new Float32Array(10 * ends.length);
    ends.forEach((end, b) => scaler.transform(Float64Array.from(xs.slice(end - 10, end))).forEach((v, t) => (windows[t * ends.length + b] = v)));
    const logits = (await session.runTensors({ inputs: new Tensor(windows, [10, ends.length, 1]), lengths: new Tensor(new Int32Array(ends.length).fill(10), [ends.length]) }))["logits"]!;
    const C = classes.length;
    ends.forEach((end, b) => {
      let k = 0;
      for (let c = 1; c < C; c++) if (logits.data[b * C + c]! > logits.data[b * C + k]!) k = c;
      expect(classes[k], `window ending at row ${end}`).toBe(out[end - 1]);
    });
    await session.release();

    // A time budget and patience apply to windows too; the settings of texts are refused, not ignored.
    const timed = await unroll(["--json", "train", "classify", "--data", trainCsv, "--label", "event", "--features", "x", "--group", "sensor", "--window", "10", "--time", "0.01", "--patience", "3", "--kernels", "reference", "--out", join(work, "spikes-timed")]);
    expect(timed.code, timed.stderr).toBe(0);
    expect(lines(timed.stdout).at(-1)).toMatchObject({ event: "done", stopReason: "time" });
    const texty = await unroll(["train", "classify", "--data", trainCsv, "--label", "event", "--features", "x", "--min-frequency", "2", "--max-length", "9", "--out", join(work, "spikes-texty")]);
    expect(texty.code).toBe(1);
    expect(texty.stderr).toMatch(/--min-frequency, --max-length apply to texts, not to a CSV of numbers \(--label\)/);
    await expect(readdir(join(work, "spikes-texty"))).rejects.toThrow(/ENOENT/);

    const orphan = await unroll(["train", "classify", "--data", trainCsv, "--features", "x", "--out", join(work, "orphan")]);
    expect(orphan.code).toBe(1);
    expect(orphan.stderr).toMatch(/--features apply to a CSV of numbers, with --label naming its label column/);
    const one = join(work, "one-class.csv");
    await writeFile(one, "x,event\n1,0\n2,0\n3,0\n");
    const single = await unroll(["train", "classify", "--data", one, "--label", "event", "--features", "x", "--out", join(work, "one")]);
    expect(single.code).toBe(1);
    expect(single.stderr).toMatch(/the label column "event" holds one value only \(0\): a classifier needs at least 2 classes/);
    await expect(readdir(join(work, "one"))).rejects.toThrow(/ENOENT/);
  });
});
