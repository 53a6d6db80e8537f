import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { unroll } from "./unroll-binary.js";

// End-to-end: `unroll train forecast` and `unroll forecast` as a user runs them, on a CSV written
// here and on the embedded sensor readings, and the bad inputs a CSV brings.
let work: string;
let csv: string;
const wave = (t: number): number => 10 + 2 * Math.sin((2 * Math.PI * t) / 20);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "unroll-forecast-cli-"));
  csv = join(work, "wave.csv");
  // Two series (site 1 and 2), the wave and a second column that leads it by a quarter period.
  const rows = ["site,y,lead"];
  for (const site of [1, 2]) for (let t = 0; t < 400; t++) rows.push(`${site},${wave(t + site).toFixed(4)},${wave(t + site + 5).toFixed(4)}`);
  await writeFile(csv, `${rows.join("\n")}\n`);
});

describe("unroll train forecast / forecast", () => {
  it("trains on the compiled onnxruntime step with --engine onnxruntime: the library's losses (MSE and MAE)", { timeout: 120_000 }, async () => {
    const losses = async (run: string) =>
      (await readFile(join(run, "metrics.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as { loss?: number }).filter((m) => m.loss !== undefined).map((m) => m.loss!);
    for (const loss of ["mse", "mae"]) {
      const settings = ["train", "forecast", "--data", csv, "--target", "y", "--features", "y,lead", "--group", "site", "--window", "12", "--hidden", "8", "--steps", "15", "--loss", loss, "--cell", "gru"];
      const compiled = await unroll([...settings, "--engine", "onnxruntime", "--out", join(work, `engine-ort-${loss}`)]);
      expect(compiled.code, compiled.stderr).toBe(0);
      expect(compiled.stderr).toMatch(/windows, engine onnxruntime/);
      const library = await unroll([...settings, "--engine", "library", "--out", join(work, `engine-lib-${loss}`)]);
      expect(library.code, library.stderr).toBe(0);
      const a = await losses(join(work, `engine-ort-${loss}`));
      const b = await losses(join(work, `engine-lib-${loss}`));
      expect(a).toHaveLength(15);
      a.forEach((l, i) => expect(Math.abs(l - b[i]!) / Math.max(b[i]!, 1e-6), `${loss} step ${i + 1}`).toBeLessThan(1e-4));
    }
  });

  it("trains on a CSV of two series, beats the last value on the held-out end of each series, and forecasts from recent rows", { timeout: 120_000 }, async () => {
    const run = join(work, "wave");
    const r = await unroll(["--json", "train", "forecast", "--data", csv, "--target", "y", "--features", "y,lead", "--group", "site", "--window", "20", "--horizon", "2", "--season", "20", "--hidden", "24", "--steps", "250", "--lr", "0.01", "--kernels", "reference", "--out", run]);
    expect(r.code, r.stderr).toBe(0);
    const done = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { test: { model: { mae: number }; lastValue: { mae: number }; seasonal: { mae: number } } };
    expect(done.test.lastValue.mae).toBeGreaterThan(0.3);
    expect(done.test.model.mae).toBeLessThan(done.test.lastValue.mae / 3);
    expect(done.test.seasonal.mae).toBeLessThan(0.01); // the wave repeats exactly every 20 steps
    const recent = ["y,lead", ...Array.from({ length: 25 }, (_, i) => `${wave(i).toFixed(4)},${wave(i + 5).toFixed(4)}`)].join("\n");
    const f = await unroll(["forecast", join(run, "best")], recent);
    expect(f.code, f.stderr).toBe(0);
    const values = f.stdout.trim().split("\n").map(Number);
    expect(values).toHaveLength(2);
    values.forEach((v, k) => expect(Math.abs(v - wave(25 + k))).toBeLessThan(0.3));

    // diagnose on the forecaster's run: the forecast loss's gradient at every step of its window of 20.
    const prefix = join(work, "wave-diagnosis");
    const d = await unroll(["diagnose", join(run, "best"), "--batch", "4", "--out", prefix, "--kernels", "reference"]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/\|\|dL\/dh_0\|\| \/ \|\|dL\/dh_19\|\| = /);
    const report = JSON.parse(await readFile(`${prefix}.json`, "utf8")) as { kind: string; sequenceLength: number; gradNorms: number[] };
    expect(report).toMatchObject({ kind: "sequence-forecaster", sequenceLength: 20 });
    expect(report.gradNorms).toHaveLength(20);
    expect(report.gradNorms.every((g) => g > 0)).toBe(true);
  });

  it("the embedded sensor readings train with their defaults (series by mote, introduced events left out of training)", { timeout: 120_000 }, async () => {
    const r = await unroll(["train", "forecast", "--data", "sensors", "--target", "temperature", "--window", "12", "--horizon", "3", "--steps", "20", "--hidden", "8", "--out", join(work, "sensors")]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/forecaster \(1 × 8, last\) of temperature 3 steps ahead from 12 steps of temperature \(predicting the change\), .* 4 series/);
    expect(r.stdout).toMatch(/test \(\d+ windows, the last 15% of every series\): MAE [\d.]+, RMSE [\d.]+; last value MAE/);
  });

  it("bad input: a missing cell, a non-numeric cell, a constant column, a series shorter than a window, too few rows to forecast: clear errors, nothing written", async () => {
    const out = join(work, "bad");
    const cases: [string, RegExp][] = [
      ["y,x\n1,2\n3,\n", /line 3, column "x": the value is missing/],
      ["y,x\n1,2\n3,abc\n", /line 3, column "x": "abc" is not a number/],
      [`y,x\n${Array.from({ length: 100 }, (_, i) => `${i},5`).join("\n")}\n`, /feature column "x" is constant in the training part \(every value 5\)/],
      [`y,x\n${Array.from({ length: 10 }, (_, i) => `${i},${i % 3}`).join("\n")}\n`, /series 1 has 10 steps, fewer than one window needs \(48 read \+ 1 predicted = 49\)/],
    ];
    for (const [text, message] of cases) {
      const file = join(work, "bad.csv");
      await writeFile(file, text);
      const r = await unroll(["train", "forecast", "--data", file, "--target", "y", "--features", "y,x", "--out", out, "--steps", "5"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      await expect(readdir(out)).rejects.toThrow(/ENOENT/);
    }
    const unknown = await unroll(["train", "forecast", "--data", csv, "--target", "z", "--out", out]);
    expect(unknown.stderr).toMatch(/there is no target column "z" in .*wave\.csv; its columns are site, y, lead/);
    const short = await unroll(["forecast", join(work, "wave", "best")], "y,lead\n1,2\n");
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/standard input has 1 rows; the model reads the last 20/);
  });
});
