import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { maskedCrc32c } from "@unroll/train";

// End-to-end, as a user runs them: samples while training, early stopping and the best checkpoint,
// the model summary, metrics.csv beside metrics.jsonl, TensorBoard event files.
const bin = fileURLToPath(new URL("../bin/unroll.js", import.meta.url));
const exec = promisify(execFile);

async function unroll(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [bin, ...args], { maxBuffer: 1 << 24 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const records = (stdout: string): Record<string, unknown>[] => stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);

/** The scalars of a TensorBoard event file: [step, tag, value] per value, and the other events (file version, session start). */
async function readEventFile(path: string): Promise<{ scalars: [number, string, number][]; marks: [number, string][] }> {
  const bytes = new Uint8Array(await readFile(path));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const scalars: [number, string, number][] = [];
  const marks: [number, string][] = [];
  const fields = (b: Uint8Array): [number, number, Uint8Array | number][] => {
    const out: [number, number, Uint8Array | number][] = [];
    let at = 0;
    const varint = (): number => {
      let v = 0;
      for (let s = 1; ; s *= 128) {
        const x = b[at++]!;
        v += (x & 0x7f) * s;
        if (x < 0x80) return v;
      }
    };
    while (at < b.length) {
      const key = varint();
      const wire = key & 7;
      if (wire === 0) out.push([key >> 3, wire, varint()]);
      else {
        const n = wire === 1 ? 8 : wire === 5 ? 4 : varint();
        out.push([key >> 3, wire, b.subarray(at, at + n)]);
        at += n;
      }
    }
    return out;
  };
  for (let at = 0; at < bytes.length; ) {
    const n = Number(view.getBigUint64(at, true));
    expect(view.getUint32(at + 8, true)).toBe(maskedCrc32c(bytes.subarray(at, at + 8)));
    const data = bytes.subarray(at + 12, at + 12 + n);
    expect(view.getUint32(at + 12 + n, true)).toBe(maskedCrc32c(data));
    at += 16 + n;
    const event = fields(data);
    const step = (event.find(([f]) => f === 2)?.[2] as number | undefined) ?? 0;
    for (const [f, , v] of event) {
      if (f === 3) marks.push([step, new TextDecoder().decode(v as Uint8Array)]);
      if (f === 7) marks.push([step, `session ${String(fields(v as Uint8Array)[0]?.[2])}`]);
      if (f === 5) {
        for (const [, , value] of fields(v as Uint8Array)) {
          const parts = fields(value as Uint8Array);
          const tag = new TextDecoder().decode(parts.find(([g]) => g === 1)![2] as Uint8Array);
          const raw = parts.find(([g]) => g === 2)![2] as Uint8Array;
          scalars.push([step, tag, new DataView(raw.buffer, raw.byteOffset).getFloat32(0, true)]);
        }
      }
    }
  }
  return { scalars, marks };
}

/** metrics.csv parsed back (numbers only; empty fields left out), to compare with metrics.jsonl. */
function parseCsv(text: string): Record<string, number>[] {
  const [header, ...rows] = text.trim().split("\n");
  const columns = header!.split(",");
  return rows.map((row) => Object.fromEntries(row.split(",").flatMap((v, i) => (v === "" ? [] : [[columns[i]!, Number(v)]]))));
}

let work: string;
let corpus: string;
const tiny = ["--hidden", "16", "--embedding", "8", "--batch", "4", "--window", "8", "--eval-every", "3", "--eval-tokens", "200", "--checkpoint-every", "3", "--sample", "0"];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "unroll-training-"));
  corpus = join(work, "corpus.txt");
  await writeFile(corpus, "the quick brown fox jumps over the lazy dog. ".repeat(200));
});

describe("unroll train lm: what it prints and writes besides checkpoints", () => {
  it("--sample-every prints a sample every N steps, seeded with the run's seed (the same run, the same samples), and changes nothing in the training", async () => {
    const run = (out: string, ...extra: string[]) => unroll("--json", "train", "lm", "--data", corpus, "--out", join(work, out), "--steps", "6", ...tiny, ...extra);
    const a = records((await run("sa", "--sample-every", "3", "--sample-length", "12")).stdout);
    const b = records((await run("sb", "--sample-every", "3", "--sample-length", "12")).stdout);
    const plain = records((await run("sc")).stdout);
    const samples = a.filter((r) => r.event === "sample");
    expect(samples.map((r) => [r.step, (r.text as string).length])).toEqual([[3, 12], [6, 12]]);
    expect(b.filter((r) => r.event === "sample")).toEqual(samples);
    const losses = (rs: Record<string, unknown>[]): unknown[] => rs.filter((r) => r.event === "step").map((r) => r.loss);
    expect(losses(a)).toEqual(losses(plain));
    expect(plain.some((r) => r.event === "sample")).toBe(false);

    // On a terminal or in a log: the sample between markers, and the model summary at the start.
    const human = await unroll("train", "lm", "--data", corpus, "--out", join(work, "sd"), "--steps", "3", ...tiny, "--sample-every", "3", "--sample-length", "12");
    expect(human.code, human.stderr).toBe(0);
    expect(human.stderr).toMatch(/--- sample at step 3 ---\n[^]{12}\n---/);
    expect(human.stderr).toMatch(/module \/ tensor\s+shape\s+parameters\n-+\nembedding\s+232\n {2}weight\s+\[29, 8\]\s+232\nrnn \(layer 0\)\s+1,664\n/);
    expect(human.stderr).toMatch(/\ntotal\s+2,389 \(9\.3 KiB as float32\)\n/);
    expect(a.find((r) => r.event === "model")).toEqual({
      event: "model",
      parameters: 2389,
      modules: [{ name: "embedding", parameters: 232 }, { name: "rnn (layer 0)", parameters: 1664 }, { name: "head", parameters: 493 }],
    });
  });

  it("--patience stops early; <out>/best holds the lowest validation's checkpoint, which sample, eval and export read", async () => {
    const out = join(work, "early");
    // lr 0.7 overshoots: validation improves a few times, then is worse once, and patience 1 stops there.
    const r = await unroll("--json", "train", "lm", "--data", corpus, "--out", out, "--steps", "30", ...tiny, "--lr", "0.7", "--patience", "1");
    expect(r.code, r.stderr).toBe(0);
    const rs = records(r.stdout);
    const validations = rs.filter((x) => x.event === "validation");
    const last = validations.at(-1)!;
    const best = validations.at(-2)!;
    expect(validations.map((x) => x.best)).toEqual([...validations.slice(1).map(() => true), false]);
    expect(last.step).toBeLessThan(30);
    expect(rs.at(-1)).toEqual({
      event: "done",
      steps: last.step,
      stopReason: "early-stopping",
      validationLoss: last.loss,
      checkpoint: out,
      best: { step: best.step, validationLoss: best.loss, checkpoint: join(out, "best") },
    });
    const bestStep = best.step as number;
    expect(await readdir(join(out, "best"))).toEqual(["latest.json", `step-${String(bestStep).padStart(8, "0")}`]);
    const score = await unroll("--json", "eval", join(out, "best"));
    expect(score.code, score.stderr).toBe(0);
    expect(JSON.parse(score.stdout), score.stdout).toMatchObject({ step: bestStep });
    const sample = await unroll("--json", "sample", join(out, "best"), "--prime", "the ", "--length", "10");
    expect(JSON.parse(sample.stdout.trim().split("\n").at(-1)!)).toMatchObject({ step: bestStep });
    const exported = await unroll("export", "onnx", join(out, "best"), "--out", join(work, "best.onnx"));
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toMatch(new RegExp(`from step ${bestStep}\\)`));
    // The human form says why it stopped and where the best model is.
    const again = await unroll("train", "lm", "--data", corpus, "--out", out, "--force", "--steps", "30", ...tiny, "--lr", "0.7", "--patience", "1");
    expect(again.stdout).toMatch(new RegExp(`^stopped early \\(the validation loss stopped improving: --patience\\) at step ${String(last.step)}; .*\nbest validation loss \\d\\.\\d{4} at step ${bestStep}, kept in .*early/best \\(unroll sample .*early/best\\)\n$`));
    expect(again.stderr).toMatch(/moved the old run in .* \(latest\.json, best, metrics\.csv, metrics\.jsonl, step-/); // --force moves best/ aside too
  });

  it("writes metrics.csv with metrics.jsonl's rows, and TensorBoard events with the same numbers; a resume keeps both consistent", async () => {
    const out = join(work, "logged");
    const tb = join(work, "tb", "lm");
    expect((await unroll("train", "lm", "--data", corpus, "--out", out, "--steps", "6", ...tiny, "--tensorboard", tb)).code).toBe(0);
    const resumed = await unroll("train", "lm", "--out", out, "--resume", "--steps", "9", "--tensorboard", tb);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/TensorBoard events: .*events\.out\.tfevents\./);
    const jsonl = (await readFile(join(out, "metrics.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as Record<string, number>);
    const csv = await readFile(join(out, "metrics.csv"), "utf8");
    expect(csv.split("\n")[0]).toBe("step,loss,gradNorm,lr,validation");
    expect(parseCsv(csv)).toEqual(jsonl);

    const files = (await readdir(tb)).sort();
    expect(files).toHaveLength(2);
    const [first, second] = [await readEventFile(join(tb, files[0]!)), await readEventFile(join(tb, files[1]!))];
    expect(first.marks).toEqual([[0, "brain.Event:2"]]);
    expect(second.marks).toEqual([[7, "brain.Event:2"], [7, "session 1"]]); // SessionLog.START at the first new step
    const expected = jsonl.flatMap((r) =>
      Object.entries(r)
        .filter(([k]) => k !== "step")
        .map(([k, v]) => [r.step, { loss: "train/loss", gradNorm: "train/grad_norm", lr: "train/lr", validation: "validation/loss" }[k]!, Math.fround(v)] as [number, string, number]),
    );
    expect([...first.scalars, ...second.scalars]).toEqual(expected);

    // A new run into a directory with another run's events is refused; --force hides the old ones.
    const refused = await unroll("train", "lm", "--data", corpus, "--out", join(work, "other"), "--steps", "2", ...tiny, "--tensorboard", tb);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/already holds TensorBoard event files \(2, another run's\): TensorBoard would draw them and this run's as one run\nhint: choose another --tensorboard directory/);
    expect((await unroll("train", "lm", "--data", corpus, "--out", join(work, "other"), "--steps", "2", ...tiny, "--tensorboard", tb, "--force")).code).toBe(0);
    const third = (await readdir(tb)).sort()[2]!;
    expect((await readEventFile(join(tb, third))).marks).toEqual([[1, "brain.Event:2"], [1, "session 1"]]);
  });

  it("lists the new settings in --help, with what may change on --resume", async () => {
    const help = (await unroll("train", "lm", "--help")).stdout;
    for (const flag of ["--sample-every <value>", "--sample-length <value>", "--patience <value>", "--tensorboard <value>"]) expect(help).toContain(flag);
    expect(help).toMatch(/--sample-length 200/);
    expect(help).toMatch(/best\/, the checkpoint of the lowest validation loss/);
    expect(help).toMatch(/On --resume only --steps, --time, --patience, .*--sample-every/);
    expect((await unroll("train", "mt", "--help")).stdout).toMatch(/--patience <value>[^]*--tensorboard <value>/);
  });
});

describe("unroll train mt: the same habits", () => {
  it("prints the model summary, keeps <out>/best (eval mt reads it), takes --patience, writes metrics.csv and TensorBoard events with BLEU and chrF", async () => {
    const de = ["null", "eins", "zwei", "drei", "vier", "fünf"];
    const en = ["zero", "one", "two", "three", "four", "five"];
    const rows = Array.from({ length: 200 }, (_, i) => {
      const ids = [i % 6, (i * 7 + 1) % 6, (i * 5 + 2) % 6].slice(0, 2 + (i % 2));
      return `${ids.map((k) => de[k]).join(" ")}.\t${ids.map((k) => en[k]).join(" ")}.`;
    });
    const pairs = join(work, "pairs.tsv");
    await writeFile(pairs, `${rows.join("\n")}\n`);
    const out = join(work, "mt");
    const tb = join(work, "tb", "mt");
    const r = await unroll(
      "--json", "train", "mt", "--data", pairs, "--out", out, "--steps", "20", "--hidden", "16", "--embedding", "8", "--batch", "16",
      "--eval-every", "10", "--bleu-sentences", "5", "--checkpoint-every", "10", "--patience", "3", "--tensorboard", tb,
    );
    expect(r.code, r.stderr).toBe(0);
    const rs = records(r.stdout);
    const model = rs.find((x) => x.event === "model")!;
    expect((model.modules as { name: string }[]).map((m) => m.name)).toContain("encoder.rnn (layer 0)");
    const done = rs.at(-1)!;
    expect(done).toMatchObject({ event: "done", steps: 20, stopReason: "steps", best: { checkpoint: join(out, "best") } });
    const bestStep = (done.best as { step: number }).step;
    expect([10, 20]).toContain(bestStep);
    const scored = await unroll("--json", "eval", "mt", join(out, "best"), "--data", pairs);
    expect(scored.code, scored.stderr).toBe(0);
    expect(JSON.parse(scored.stdout)).toMatchObject({ step: bestStep });
    const jsonl = (await readFile(join(out, "metrics.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as Record<string, number>);
    expect(parseCsv(await readFile(join(out, "metrics.csv"), "utf8"))).toEqual(jsonl);
    const [file] = await readdir(tb);
    const tags = new Set((await readEventFile(join(tb, file!))).scalars.map(([, tag]) => tag));
    expect([...tags].sort()).toEqual(["train/grad_norm", "train/loss", "train/lr", "validation/bleu", "validation/chrf", "validation/loss"]);
  });
});
