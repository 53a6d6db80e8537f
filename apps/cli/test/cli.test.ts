import { execFile, spawn } from "node:child_process";
import { cp, mkdtemp, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { Rng } from "@unroll/tensor";
import { saveCheckpoint } from "@unroll/train";
import { snapshotDir } from "@unroll/testing/files";

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
  it("trains on the compiled onnxruntime step with --engine onnxruntime, as the library does, resumes on the library, and samples on onnxruntime", async () => {
    const steps = async (r: Result): Promise<{ step: number; loss: number }[]> =>
      r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { event: string; step: number; loss: number }).filter((e) => e.event === "step");
    const compiled = await unroll("--json", "train", "lm", "--data", corpus, "--out", join(work, "engine-ort"), "--steps", "6", "--sample", "0", "--engine", "onnxruntime", ...tiny);
    expect(compiled.code, compiled.stderr).toBe(0);
    const library = await unroll("--json", "train", "lm", "--data", corpus, "--out", join(work, "engine-lib"), "--steps", "9", "--sample", "0", "--engine", "library", ...tiny);
    const resumed = await unroll("--json", "train", "lm", "--out", join(work, "engine-ort"), "--resume", "--steps", "9", "--sample", "0", "--engine", "library");
    expect(resumed.code, resumed.stderr).toBe(0);
    const mixed = [...(await steps(compiled)), ...(await steps(resumed))];
    const straight = await steps(library);
    expect(mixed.map((e) => e.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // The default engine (auto) is the compiled one; --kernels asks for the library's.
    const byDefault = await unroll("train", "lm", "--data", corpus, "--out", join(work, "engine-auto"), "--steps", "1", "--sample", "0", ...tiny);
    expect(byDefault.code, byDefault.stderr).toBe(0);
    expect(byDefault.stderr).toMatch(/training tokens, engine onnxruntime \(auto\)/);
    const withKernels = await unroll("train", "lm", "--data", corpus, "--out", join(work, "engine-kernels"), "--steps", "1", "--sample", "0", "--kernels", "reference", ...tiny);
    expect(withKernels.stderr).toMatch(/training tokens, kernels reference/);
    mixed.forEach((e, i) => expect(Math.abs(e.loss - straight[i]!.loss) / straight[i]!.loss).toBeLessThan(1e-4));

    // Generation on onnxruntime: the same text for the same seed.
    const viaLibrary = await unroll("sample", join(work, "engine-ort"), "--prime", "the ", "--length", "80", "--seed", "3");
    const viaOnnx = await unroll("sample", join(work, "engine-ort"), "--prime", "the ", "--length", "80", "--seed", "3", "--engine", "onnxruntime");
    expect(viaOnnx.code, viaOnnx.stderr).toBe(0);
    expect(viaOnnx.stdout).toBe(viaLibrary.stdout);
    expect(viaOnnx.stdout.length).toBe("the ".length + 80 + 1);

    // Dropout: the masks are drawn from the run's generator as the library draws them.
    const dropped = ["--steps", "4", "--sample", "0", "--dropout", "0.2", "--layers", "2", ...tiny];
    const withOnnx = await unroll("--json", "train", "lm", "--data", corpus, "--out", join(work, "engine-dropout-ort"), "--engine", "onnxruntime", ...dropped);
    const withLibrary = await unroll("--json", "train", "lm", "--data", corpus, "--out", join(work, "engine-dropout-lib"), "--engine", "library", ...dropped);
    expect(withOnnx.code, withOnnx.stderr).toBe(0);
    const [p, q] = [await steps(withOnnx), await steps(withLibrary)];
    expect(p).toHaveLength(4);
    p.forEach((e, i) => expect(Math.abs(e.loss - q[i]!.loss) / q[i]!.loss).toBeLessThan(1e-4));
  });

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

  it("refuses a resumed run's model or optimiser settings that differ from the run's own, and takes its own values again", async () => {
    const out = join(work, "resume-flags");
    expect((await unroll("train", "lm", "--data", corpus, "--out", out, "--steps", "2", "--sample", "0", ...tiny)).code).toBe(0);
    const changed = await unroll("train", "lm", "--out", out, "--resume", "--steps", "3", "--sample", "0", "--hidden", "32", "--lr", "0.1");
    expectUserError(changed, /error: --hidden, --lr cannot change on --resume: the run continues with its own model, data and optimiser settings/);
    const same = await unroll("train", "lm", "--data", corpus, "--out", out, "--resume", "--steps", "3", "--sample", "0", ...tiny);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stderr).toMatch(/resuming from step 2/);
    expect((await unroll("train", "lm", "--help")).stdout).toMatch(/On --resume only --steps, --time, --patience, --kernels, --threads, --engine, --sample, --sample-every, --sample-length, --tensorboard and --checkpoint-every may change/);
  });

  it("says every flag's default in each train command's --help (or that the flag is required)", async () => {
    for (const command of ["lm", "mt", "classify", "tag", "caption", "video", "forecast"]) {
      const help = (await unroll("train", command, "--help")).stdout;
      const options = help.split("Options:\n")[1]!.split("\nDefaults")[0]!;
      const entries = options.split(/\n(?= {2}-)/).map((e) => e.replace(/\s+/g, " ").trim());
      expect(entries.length, command).toBeGreaterThan(20);
      const silent = entries.filter((e) => !/^(--config|--resume|--force|-h, --help)\b/.test(e) && !/\b(default|required)\b/.test(e));
      expect(silent, `train ${command}: flags whose help gives no default`).toEqual([]);
    }
    const lm = (await unroll("train", "lm", "--help")).stdout.replace(/\s+/g, " ");
    expect(lm).toContain("--cell <value> lstm | gru | rnn_tanh | rnn_relu (default lstm)");
    expect(lm).toContain("--weight-decay <value> weight decay (default 0; adamw: 0.01)");
  });

  it("stops on Ctrl-C after saving a checkpoint, and exits 130 as an interrupted program does", async () => {
    const out = join(work, "interrupted");
    const child = spawn(process.execPath, [bin, "train", "lm", "--data", corpus, "--out", out, "--steps", "100000", "--sample", "0", ...tiny], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    const started = new Promise<void>((resolve) =>
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
        if (/step \d+/.test(stderr)) resolve();
      }),
    );
    await started;
    child.kill("SIGINT");
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/stopping after this step and saving a checkpoint/);
    expect(stdout).toMatch(/stopped at step \d+; checkpoint saved in .*interrupted(; validation loss [\d.]+ nats\/token)?\nresume with: unroll train lm --out .*interrupted --resume/);
    const latest = JSON.parse(await readFile(join(out, "latest.json"), "utf8")) as { step: number };
    expect(latest.step).toBeGreaterThan(0);
  });

  it("records the validation of the model as it ends in metrics.jsonl, also between validations", async () => {
    const out = join(work, "final-validation");
    const r = await unroll("train", "lm", "--data", corpus, "--out", out, "--steps", "4", "--sample", "0", ...tiny); // validations every 3
    expect(r.code, r.stderr).toBe(0);
    const metrics = (await readFile(join(out, "metrics.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as { step: number; validation?: number });
    expect(metrics.filter((m) => m.validation !== undefined).map((m) => m.step)).toEqual([3, 4]);
    const printed = Number(/validation loss ([\d.]+) nats\/token$/m.exec(r.stdout)![1]);
    expect(metrics.at(-1)!.validation!).toBeCloseTo(printed, 4);
  });

  it("checks every sampling flag before writing anything, names flags (not API fields), and gives JSON errors with --json", async () => {
    const out = join(work, "sampling-flags");
    expect((await unroll("train", "lm", "--data", corpus, "--out", out, "--steps", "1", "--sample", "0", ...tiny)).code).toBe(0);
    const topP = await unroll("sample", out, "--prime", "the", "--top-p", "2");
    expectUserError(topP, /error: --top-p must be a number in \(0, 1\], got "2"/);
    expect(topP.stdout).toBe("");
    const temperature = await unroll("sample", out, "--prime", "the", "--temperature", "-1");
    expectUserError(temperature, /error: --temperature must be a number >= 0, got "-1"/);
    expect(temperature.stdout).toBe("");
    const json = await unroll("--json", "sample", out, "--prime", "the", "--top-p", "2");
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ event: "error", error: '--top-p must be a number in (0, 1], got "2"', internal: false });
  });

  it("run onnx --provider cuda,cpu falls back with a note in words, without onnxruntime's raw C++ log", async () => {
    const out = join(work, "provider");
    expect((await unroll("train", "lm", "--data", corpus, "--out", out, "--steps", "1", "--sample", "0", ...tiny)).code).toBe(0);
    const file = join(work, "provider.onnx");
    expect((await unroll("export", "onnx", out, "--out", file)).code).toBe(0);
    const r = await unroll("run", "onnx", file, "--prime", "the", "--length", "5", "--provider", "cuda,cpu");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.startsWith("the")).toBe(true);
    // A machine with CUDA runs there and says nothing; elsewhere, one note and no native log lines.
    if (r.stderr !== "") {
      expect(r.stderr).toMatch(/^note: CUDA execution provider is not available \(.*\)\. .*Running on the CPU \(cpu\) instead\.\n$/);
      expect(r.stderr).not.toMatch(/onnxruntime_src|\[E:onnxruntime/);
    }
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


/** No crash reported as a bug, no stack trace. */
function expectUserError(r: Result, message: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/internal error|looks like a bug|\n\s+at /);
}

describe("a run folder: no run lost", () => {
  it("refuses a folder holding a run with a damaged latest.json; --force moves the old run aside, byte for byte", async () => {
    const out = join(work, "damaged");
    expect((await unroll("train", "lm", "--data", corpus, "--out", out, "--steps", "6", "--sample", "0", ...tiny)).code).toBe(0);
    await writeFile(join(out, "latest.json"), '{"format": "unroll-checkpoint-pointer", "ver');
    const before = await snapshotDir(out);
    const r = await unroll("train", "lm", "--data", corpus, "--out", out, "--steps", "3", "--sample", "0", ...tiny);
    expectUserError(r, /error: .*damaged already holds a run: its latest\.json cannot be used: .*is not JSON.*\(2 checkpoints, metrics\.jsonl, metrics\.csv, best\/\)\nhint: continue it with --resume/);
    expect(await snapshotDir(out)).toEqual(before); // no checkpoint pruned, no line appended

    const resumed = await unroll("train", "lm", "--out", out, "--resume", "--sample", "0");
    expectUserError(resumed, /error: the run in .*damaged cannot be resumed: latestCheckpoint: .*latest\.json: is not JSON/);
    expect(resumed.stderr).not.toMatch(/no checkpoint to resume/);

    const forced = await unroll("train", "lm", "--data", corpus, "--out", out, "--steps", "3", "--sample", "0", ...tiny, "--force");
    expect(forced.code, forced.stderr).toBe(0);
    const moved = /moved the old run in .* \(latest\.json, best, metrics\.csv, metrics\.jsonl, step-00000003, step-00000006\) to (.*damaged\.replaced-\d{8}-\d{6})\n/.exec(forced.stderr);
    expect(moved, forced.stderr).not.toBeNull();
    expect(await snapshotDir(moved![1]!)).toEqual(before);
    expect((await readFile(join(out, "metrics.jsonl"), "utf8")).trim().split("\n").length).toBe(3 + 1); // the new run's lines only
  });

  it("takes a lock: a second training in the same folder is refused with the first one's pid, --force included", async () => {
    const out = join(work, "locked");
    const child = spawn(process.execPath, [bin, "train", "lm", "--data", corpus, "--out", out, "--steps", "1000000", "--sample", "0", ...tiny], { stdio: "ignore" });
    try {
      for (let i = 0; i < 600; i++) {
        if (await stat(join(out, "latest.json")).then(() => true, () => false)) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const lock = JSON.parse(await readFile(join(out, "run.lock"), "utf8")) as { pid: number };
      expect(lock.pid).toBe(child.pid);
      for (const extra of [[], ["--force"], ["--resume"]]) {
        const r = await unroll("train", "lm", "--data", corpus, "--out", out, "--steps", "3", "--sample", "0", ...tiny, ...extra);
        expectUserError(r, new RegExp(`error: another process \\(pid ${child.pid}, \`unroll train lm --out .*locked\`, since .*\\) is training in .*locked`));
        expect(r.stderr).toMatch(/hint: wait until it has finished \(or stop it\), or choose another --out/);
      }
      expect((await readdir(work)).filter((n) => n.startsWith("locked.replaced"))).toEqual([]); // --force moved nothing
    } finally {
      await new Promise((resolve) => {
        child.once("exit", resolve);
        child.kill("SIGKILL");
      });
    }
    // Killed, its lock is stale: a resume takes the folder over.
    const step = (JSON.parse(await readFile(join(out, "latest.json"), "utf8")) as { step: number }).step;
    const r = await unroll("train", "lm", "--out", out, "--resume", "--steps", String(step + 2), "--sample", "0");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`resuming from step ${step}`));
    await expect(stat(join(out, "run.lock"))).rejects.toThrow(/ENOENT/);
  });
});

describe("settings: the same strict rules for flags and config keys (more cases in settings.test.ts)", () => {
  it("refuses --seed \"\" and a config's hidden: true, and --hidden 1e6 at once, with the memory it would need", async () => {
    const base = ["train", "lm", "--data", corpus, "--out", join(work, "never"), "--steps", "1", "--sample", "0"];
    expectUserError(await unroll(...base, "--seed", ""), /error: --seed must be an integer, got ""/);
    await writeFile(join(work, "bool.json"), '{"hidden": true}');
    expectUserError(await unroll("train", "lm", "--config", join(work, "bool.json"), "--out", join(work, "never")), /error: hidden in .*bool\.json must be a positive integer, got true/);
    const started = performance.now();
    const huge = await unroll(...base, "--hidden", "1e6");
    expectUserError(huge, /error: the model is too large: rnn\.weight_hh_l0 alone would have 4\.0 trillion numbers \(16\.0 TB\).*would need about [\d.]+ TB of memory \(this machine has [\d.]+ [GT]B\)\nhint: use a smaller --hidden/);
    expect(performance.now() - started).toBeLessThan(8000); // refused before reading or allocating anything
    await expect(stat(join(work, "never"))).rejects.toThrow(/ENOENT/);
  });
});

describe("bad files and texts are the user's errors, with the fix", () => {
  it("a one-character training file says what is too short and what would do", async () => {
    const one = join(work, "one.txt");
    await writeFile(one, "x");
    const r = await unroll("train", "lm", "--data", one, "--out", join(work, "one"), "--steps", "2", ...tiny);
    expectUserError(r, /error: .*one\.txt is too short to train on: its training part \(the first 90%, 0 characters\) is 0 tokens with the char tokenizer \(vocabulary 2\), and 4 parallel streams \(batchSize\) need at least 5/);
    expect(r.stderr).toMatch(/hint: give a longer text with --data, or lower --batch or --window/);
    await expect(readdir(join(work, "one"))).rejects.toThrow(/ENOENT/); // no run folder left behind (no metrics.jsonl, no lock)
  });

  it("--resume explains a checkpoint.json with a bad setting, no tokenizer or a foreign data position", async () => {
    const out = join(work, "to-edit");
    expect((await unroll("train", "lm", "--data", corpus, "--out", out, "--steps", "3", "--sample", "0", ...tiny)).code).toBe(0);
    type Manifest = { config: { training: Record<string, unknown>; tokenizer?: unknown }; data: unknown };
    const edits: [(m: Manifest) => void, RegExp][] = [
      [(m) => (m.config.training.optimizer = { lr: "fast" }), /checkpoint\.json: config\.training\.optimizer\.lr must be a positive number, got "fast"/],
      [(m) => delete m.config.tokenizer, /checkpoint\.json: config\.tokenizer is missing: the checkpoint carries no tokenizer/],
      [(m) => (m.data = { epoch: 0, window: 123456 }), /checkpoint\.json: this run cannot continue from it: streamBatches\.seek: not a position of this source/],
    ];
    for (const [i, [edit, message]] of edits.entries()) {
      const copy = join(work, `edited-${i}`);
      await cp(out, copy, { recursive: true });
      const path = join(copy, "step-00000003", "checkpoint.json");
      const manifest = JSON.parse(await readFile(path, "utf8")) as Manifest;
      edit(manifest);
      await writeFile(path, JSON.stringify(manifest));
      const r = await unroll("train", "lm", "--out", copy, "--resume", "--steps", "6", "--sample", "0");
      expectUserError(r, message);
      expect(r.stderr).toMatch(/hint: restore the file from a backup; or start a new run with --force/);
    }
  });

  it("eval checks the corpus against its recorded sha256; --data scores another text on purpose", async () => {
    const text = join(work, "changing.txt");
    await writeFile(text, "a small text that will change. ".repeat(100));
    const out = join(work, "eval-run");
    expect((await unroll("train", "lm", "--data", text, "--out", out, "--steps", "2", "--sample", "0", ...tiny)).code).toBe(0);
    expect((await unroll("eval", out)).code).toBe(0);
    await writeFile(text, "another text entirely, on purpose or not. ".repeat(100));
    const r = await unroll("eval", out);
    expectUserError(r, /error: .*changing\.txt is not the text this run was trained on: its sha256 is [0-9a-f]{64} \([\d,]+ bytes\), the checkpoint records [0-9a-f]{64}/);
    expect(r.stderr).toContain(`hint: to score this text on purpose, name it: unroll eval ${out} --data ${text}`);
    const onPurpose = await unroll("--json", "eval", out, "--data", text);
    expect(onPurpose.code, onPurpose.stderr).toBe(0);
    expect(JSON.parse(onPurpose.stdout)).toMatchObject({ data: text, split: "validation" });
    const resumed = await unroll("train", "lm", "--out", out, "--resume", "--steps", "4", "--sample", "0");
    expectUserError(resumed, /is not the text this run was trained on/);
    expect(resumed.stderr).toMatch(/hint: a resumed run must read the text it was trained on/);
  });

  it("export onnx --opset 1 and run onnx on a file that is not ONNX", async () => {
    const out = join(work, "run-for-onnx");
    const opset = await unroll("export", "onnx", out, "--opset", "1", "--out", join(work, "never.onnx"));
    expectUserError(opset, /error: --opset must be an integer from 13 to 21, got "1"\nhint: the exporter writes opsets 13 to 21/);
    await expect(stat(join(work, "never.onnx"))).rejects.toThrow(/ENOENT/);
    const junk = join(work, "junk.onnx");
    await writeFile(junk, "this is a text file, not a model\n".repeat(20));
    expectUserError(await unroll("run", "onnx", junk), /error: .*junk\.onnx: .*(not an ONNX model file|has no unroll\.format metadata)/);
  });
});

describe("divergence", () => {
  it("--lr 1000 warns that the loss is far above ln V and never marks an infinite perplexity (best)", async () => {
    const r = await unroll("train", "lm", "--data", corpus, "--out", join(work, "diverged"), "--steps", "9", "--lr", "1000", "--clip", "0", "--sample", "0", ...tiny);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: validation loss [\d.]+ nats\/token at step \d+ is far above [\d.]+, the loss of a uniform guess \(ln of the vocabulary size\): training is diverging; lower the learning rate/);
    const validations = r.stderr.split("\n").filter((l) => l.includes("validation loss") && l.includes("perplexity"));
    expect(validations.length).toBe(3);
    for (const line of validations) if (/overflows|Infinity/.test(line)) expect(line).not.toMatch(/\(best\)/);
  });
});
