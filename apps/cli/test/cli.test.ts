import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { Rng } from "@unroll/tensor";
import { saveCheckpoint } from "@unroll/train";

// End-to-end: the real binary as a child process, as a user runs it.
const bin = fileURLToPath(new URL("../bin/unroll.js", import.meta.url));
const run = promisify(execFile);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function unroll(...args: string[]): Promise<Result> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { maxBuffer: 1 << 24 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

let work: string;
let corpus: string;
const tiny = ["--hidden", "16", "--embedding", "8", "--batch", "4", "--window", "8", "--eval-every", "3", "--eval-tokens", "200", "--checkpoint-every", "3"];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "unroll-cli-"));
  corpus = join(work, "corpus.txt");
  await writeFile(corpus, "the quick brown fox jumps over the lazy dog. ".repeat(200));
});

describe("unroll train lm / sample / eval", () => {
  it("trains, resumes exactly, samples reproducibly and evaluates, with --json output", async () => {
    const out = join(work, "run");
    const first = await unroll("--json", "train", "lm", "--data", corpus, "--out", out, "--steps", "6", "--sample", "0", ...tiny);
    expect(first.code, first.stderr).toBe(0);
    const records = first.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.filter((r) => r.event === "step").map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(records.filter((r) => r.event === "validation").map((r) => r.step)).toEqual([3, 6]);
    expect(records.at(-1)).toMatchObject({ event: "done", steps: 6, stopReason: "steps" });

    const resumed = await unroll("--json", "train", "lm", "--out", out, "--resume", "--steps", "9", "--sample", "0");
    expect(resumed.code, resumed.stderr).toBe(0);
    const steps = resumed.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.event === "step");
    expect(steps.map((r) => r.step)).toEqual([7, 8, 9]);
    // The same 9 steps straight through give the same losses (exact resume).
    const straight = await unroll("--json", "train", "lm", "--data", corpus, "--out", join(work, "straight"), "--steps", "9", "--sample", "0", ...tiny);
    const straightLosses = straight.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.event === "step").map((r) => r.loss);
    expect([...records.filter((r) => r.event === "step").map((r) => r.loss), ...steps.map((r) => r.loss)]).toEqual(straightLosses);
    const metrics = (await readFile(join(out, "metrics.jsonl"), "utf8")).trim().split("\n");
    expect(metrics.length).toBe(9 + 3); // 9 steps and 3 validations

    const a = await unroll("sample", out, "--prime", "the ", "--length", "40", "--seed", "5");
    const b = await unroll("sample", out, "--prime", "the ", "--length", "40", "--seed", "5");
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout.startsWith("the ")).toBe(true);
    expect(a.stdout.length).toBe("the ".length + 40 + 1);

    const score = await unroll("--json", "eval", out);
    expect(score.code, score.stderr).toBe(0);
    const result = JSON.parse(score.stdout) as { loss: number; bitsPerToken: number; perplexity: number; step: number };
    expect(result.step).toBe(9);
    expect(result.bitsPerToken).toBeCloseTo(result.loss / Math.LN2, 10);
  });

  it("stops quietly when the reader of its output goes away (unroll sample ... | head)", async () => {
    const out = join(work, "piped");
    const trained = await unroll("train", "lm", "--data", corpus, "--out", out, "--steps", "2", "--sample", "0", ...tiny);
    expect(trained.code, trained.stderr).toBe(0);
    const child = spawn(process.execPath, [bin, "sample", out, "--prime", "the", "--length", "20000", "--seed", "3"], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout.once("data", () => child.stdout.destroy()); // the first text has come: close the pipe
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(stderr).not.toMatch(/EPIPE|Error/);
    expect(code, stderr).toBe(0);
  });

  it("takes its settings from a YAML config file, flags overriding it", async () => {
    const config = join(work, "lm.yaml");
    await writeFile(config, `data: ${corpus}\ncell: gru\nhidden: 12\nembedding: 6\nbatch: 2\nwindow: 8\nsteps: 2\nsample: 0\n`);
    const r = await unroll("train", "lm", "--config", config, "--out", join(work, "yaml"), "--layers", "2");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/2-layer gru \(hidden 12\)/);
  });
});

/** A well-formed SVG document: an <svg> root and balanced tags. */
function expectValidSvg(text: string): void {
  expect(text.startsWith("<svg")).toBe(true);
  expect(text.trimEnd().endsWith("</svg>")).toBe(true);
  const stack: string[] = [];
  for (const m of text.matchAll(/<(\/?)([a-zA-Z][\w:-]*)[^>]*?(\/?)>/g)) {
    const [, close, name, selfClosing] = m;
    if (selfClosing) continue;
    if (close) expect(stack.pop()).toBe(name);
    else stack.push(name!);
  }
  expect(stack).toEqual([]);
}

describe("unroll diagnose / plot", () => {
  it("diagnoses a fresh model and a trained run: SVG and JSON with the gradient-flow curve", async () => {
    const prefix = join(work, "diag");
    const r = await unroll("--json", "diagnose", "--data", corpus, "--length", "12", "--batch", "2", "--hidden", "8", "--jacobian", "--out", prefix);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(await readFile(`${prefix}.json`, "utf8")) as { gradNorms: number[]; jacobianNorms: number[]; spectralRadii: Record<string, number> };
    expect(report.gradNorms.length).toBe(12);
    expect(report.jacobianNorms.length).toBe(12);
    expect(report.jacobianNorms[11]).toBeCloseTo(Math.sqrt(8), 5); // dh_T/dh_T is the identity
    expect(Object.keys(report.spectralRadii)).toEqual(["weight_hh_l0"]);
    expectValidSvg(await readFile(`${prefix}.svg`, "utf8"));

    const out = join(work, "run-for-plot");
    expect((await unroll("train", "lm", "--data", corpus, "--out", out, "--steps", "4", "--sample", "0", ...tiny)).code).toBe(0);
    const d = await unroll("diagnose", out, "--length", "8", "--batch", "2", "--out", join(work, "diag2"));
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/spectral radius: weight_hh_l0\[0\] /);
    const p = await unroll("plot", out, join(work, "run"), "--out", join(work, "loss.svg"));
    expect(p.code, p.stderr).toBe(0);
    expectValidSvg(await readFile(join(work, "loss.svg"), "utf8"));
  });
});

describe("unroll export onnx / run onnx", () => {
  it("exports a trained run and generates the same text through onnxruntime as the library", async () => {
    const out = join(work, "run-for-onnx");
    expect((await unroll("train", "lm", "--data", corpus, "--out", out, "--steps", "3", "--sample", "0", ...tiny)).code).toBe(0);
    const file = join(work, "model.onnx");
    const e = await unroll("--json", "export", "onnx", out, "--out", file);
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout)).toMatchObject({ file, graph: "step", lowering: "operators", step: 3 });
    const viaOnnx = await unroll("run", "onnx", file, "--prime", "the ", "--length", "50", "--seed", "9");
    const viaLibrary = await unroll("sample", out, "--prime", "the ", "--length", "50", "--seed", "9");
    expect(viaOnnx.code, viaOnnx.stderr).toBe(0);
    expect(viaOnnx.stdout).toBe(viaLibrary.stdout);

    const seq = join(work, "sequence.onnx");
    expect((await unroll("export", "onnx", out, "--out", seq, "--graph", "sequence")).code).toBe(0);
    const r = await unroll("run", "onnx", seq);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/holds a .*sequence graph; generation needs the step graph/);
    const missing = await unroll("run", "onnx", join(work, "nope.onnx"));
    expect(missing.stderr).toMatch(/error: cannot read .*nope\.onnx/);
  });
});

describe("errors are human-readable, with the fix and a non-zero exit code", () => {
  it("a missing data file", async () => {
    const r = await unroll("train", "lm", "--data", join(work, "nope.txt"), "--out", join(work, "e1"));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: .*nope\.txt/m);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace without --verbose
  });

  it("a bad flag value", async () => {
    const r = await unroll("train", "lm", "--hidden", "many", "--out", join(work, "e2"));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: --hidden must be a positive integer, got "many"');
  });

  it("an unknown flag is a usage error", async () => {
    const r = await unroll("train", "lm", "--hiddne", "12");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--hiddne'/);
  });

  it("a checkpoint of another model kind", async () => {
    const dir = join(work, "other");
    await saveCheckpoint(dir, { step: 1, config: { kind: "seq2seq" }, params: { w: new Rng(0).normal([2]) } });
    const r = await unroll("sample", dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: .*another kind \("seq2seq"\), not a language model/);
  });

  it("out-of-vocabulary prime text", async () => {
    const out = join(work, "oov");
    expect((await unroll("train", "lm", "--data", corpus, "--out", out, "--steps", "1", "--sample", "0", ...tiny)).code).toBe(0);
    const r = await unroll("sample", out, "--prime", "ZZZ");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: the prime text has characters this model never saw/);
    expect(r.stderr).toMatch(/hint: /);
  });

  it("a run directory that already holds a run, an unknown config key, --verbose stacks", async () => {
    const out = join(work, "oov");
    expect((await unroll("train", "lm", "--data", corpus, "--out", out, "--steps", "1")).stderr).toMatch(/already holds a run.*\nhint: continue it with --resume/);
    const config = join(work, "bad.json");
    await writeFile(config, JSON.stringify({ hiddenSize: 3 }));
    const r = await unroll("train", "lm", "--config", config);
    expect(r.stderr).toMatch(/unknown setting "hiddenSize"/);
    const v = await unroll("--verbose", "sample", join(work, "missing"));
    expect(v.stderr).toMatch(/\n\s+at /);
  });
});
