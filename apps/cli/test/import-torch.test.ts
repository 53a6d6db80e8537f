// `unroll import torch`: a PyTorch state dict of export torch's layout becomes a run that sample and
// eval read. Round trips export torch -> import torch give the original run's logits and samples
// (no Python needed); layouts that differ are user errors naming the tensor; nothing is left
// behind on a refusal. Where PyTorch is installed (UNROLL_PYTHON), a state dict that PyTorch itself
// saves imports and gives PyTorch's logits; elsewhere that check skips with the reason.
import { execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadLanguageModel } from "@unroll/nlp";
import { Rng, Tensor } from "@unroll/tensor";
import { decodeSafetensors, encodeSafetensors } from "@unroll/train";
import { haveTool, missingMessage, probeTool, toolPath } from "@unroll/testing/optional-tools";

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

function python(args: string[], cwd: string, timeoutMs = 120_000): Promise<Result> {
  return new Promise((done) => {
    const child = spawn(toolPath("pytorch"), ["-I", ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code: code ?? -1, stdout, stderr });
    });
  });
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

let work: string;
let corpus: string;
const tiny = ["--batch", "4", "--window", "8", "--eval-tokens", "200", "--sample", "0", "--steps", "3"];
const RUNS = {
  lstm: ["--cell", "lstm", "--layers", "2", "--hidden", "16", "--embedding", "8"],
  gru: ["--cell", "gru", "--tokenizer", "word", "--hidden", "16", "--embedding", "16", "--tie-weights"],
  relu: ["--cell", "rnn_relu", "--embedding", "one-hot", "--hidden", "12"],
} as const;
type RunName = keyof typeof RUNS;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "unroll-import-torch-"));
  corpus = join(work, "corpus.txt");
  await writeFile(corpus, "the quick brown fox jumps over the lazy dog. It's 3 o'clock!\n".repeat(150));
  await Promise.all(
    (Object.keys(RUNS) as RunName[]).map(async (name) => {
      const r = await unroll("train", "lm", "--data", corpus, "--out", join(work, name), ...tiny, ...RUNS[name]);
      expect(r.code, r.stderr).toBe(0);
      const e = await unroll("export", "torch", join(work, name), "--out", join(work, `${name}.torch`));
      expect(e.code, e.stderr).toBe(0);
    }),
  );
}, 180_000);
afterAll(() => rm(work, { recursive: true, force: true }));

/** The logits of the run in `dir` for a fixed token sequence (T, 2), from the zero state. */
async function logitsOf(dir: string): Promise<Float32Array> {
  const loaded = await loadLanguageModel(dir);
  const ids = loaded.tokenizer.encode("the lazy fox jumps over the quick dog. It's 5 o'clock?\n");
  const T = Math.floor(ids.length / 2);
  const tokens = new Int32Array(T * 2);
  for (let i = 0; i < tokens.length; i++) tokens[i] = ids[i]!;
  return loaded.model.forward(loaded.params, new Tensor(tokens, [T, 2])).logits.data as Float32Array;
}

/** The files left in `work` whose names contain `part` (a refused import leaves none). */
async function leftovers(part: string): Promise<string[]> {
  return (await readdir(work)).filter((n) => n.includes(part));
}

describe("unroll import torch", () => {
  for (const name of Object.keys(RUNS) as RunName[]) {
    it(`${name}: export torch -> import torch gives the run's model, logits, samples and validation loss`, async () => {
      const imported = join(work, `${name}.imported`);
      // The weights file and its tokenizer named explicitly (config.json beside it tells relu from tanh).
      const r = await unroll("--json", "import", "torch", join(work, `${name}.torch`, "weights.safetensors"), "--tokenizer", join(work, `${name}.torch`, "tokenizer.json"), "--out", imported);
      expect(r.code, r.stderr).toBe(0);
      const record = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { step: number; model: Record<string, unknown> };
      const original = await loadLanguageModel(join(work, name));
      const back = await loadLanguageModel(imported);
      expect(back.model.config).toEqual(original.model.config);
      expect(record.step).toBe(3);
      expect(back.tokenizer.toJSON()).toEqual(original.tokenizer.toJSON());
      expect(maxAbsDiff(await logitsOf(imported), await logitsOf(join(work, name)))).toBe(0);

      const sample = ["sample", "--length", "40", "--seed", "7", "--temperature", "1"];
      const a = await unroll(...sample, join(work, name));
      const b = await unroll(...sample, imported);
      expect(b.code, b.stderr).toBe(0);
      expect(b.stdout).toBe(a.stdout);
      expect(b.stdout.length).toBeGreaterThan(0);
      // eval finds the corpus the export's config.json records, and checks its sha256.
      const ea = await unroll("--json", "eval", join(work, name));
      const eb = await unroll("--json", "eval", imported);
      expect(eb.code, eb.stderr).toBe(0);
      const last = (t: string): { loss: number } => JSON.parse(t.trim().split("\n").at(-1)!) as { loss: number };
      expect(last(eb.stdout).loss).toBe(last(ea.stdout).loss);
    });
  }

  it("reads the cell, layers, hidden size and vocabulary from the weights alone (no config.json, no tokenizer flag)", async () => {
    const bare = join(work, "bare");
    await mkdir(bare);
    await writeFile(join(bare, "lm.safetensors"), await readFile(join(work, "lstm.torch", "weights.safetensors")));
    await writeFile(join(bare, "tokenizer.json"), await readFile(join(work, "lstm.torch", "tokenizer.json")));
    const r = await unroll("import", "torch", join(bare, "lm.safetensors"), "--out", join(work, "bare.run"));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/a 2-layer lstm \(hidden 16, vocabulary \d+, embedding 8\) at step 0/);
    expect(maxAbsDiff(await logitsOf(join(work, "bare.run")), await logitsOf(join(work, "lstm")))).toBe(0);
    // Weights without training state: train lm --resume says so, and how to go on (no stack trace, no "damaged").
    const resumed = await unroll("train", "lm", "--out", join(work, "bare.run"), "--resume", "--data", corpus, "--steps", "5", "--sample", "0");
    expect(resumed.code).toBe(1);
    expect(resumed.stderr).toMatch(/bare\.run holds weights but no training state .*: it was written by `unroll import torch`, so it cannot be resumed\nhint: sample and eval read it as it is; to train it further, continue in PyTorch: unroll export torch/);
    // An export folder stands for its weights; an RNN without config.json is read as tanh, and says so.
    const relu = join(work, "relu.bare");
    await mkdir(relu);
    for (const f of ["weights.safetensors", "tokenizer.json"]) await writeFile(join(relu, f), await readFile(join(work, "relu.torch", f)));
    const t = await unroll("import", "torch", relu, "--out", join(work, "relu.tanh"));
    expect(t.code, t.stderr).toBe(0);
    expect(t.stderr + t.stdout).toMatch(/read as tanh \(pass --cell rnn_relu for a relu RNN\)/);
    expect((await loadLanguageModel(join(work, "relu.tanh"))).model.config.cell).toBe("rnn_tanh");
    const rl = await unroll("import", "torch", relu, "--cell", "rnn_relu", "--out", join(work, "relu.relu"));
    expect(rl.code, rl.stderr).toBe(0);
    expect(maxAbsDiff(await logitsOf(join(work, "relu.relu")), await logitsOf(join(work, "relu")))).toBe(0);
  });

  it("refuses a state dict of another layout with the tensor and the expected name or shape, and leaves nothing behind", async () => {
    const weights = decodeSafetensors(await readFile(join(work, "lstm.torch", "weights.safetensors"))).tensors;
    const tokenizer = join(work, "lstm.torch", "tokenizer.json");
    const vocab = weights["head.bias"]!.shape[0]!;
    const rng = new Rng(1);
    const cases: [string, Record<string, Tensor>, RegExp][] = [
      ["renamed", { ...Object.fromEntries(Object.entries(weights).filter(([k]) => k !== "embedding.weight")), "encoder.weight": weights["embedding.weight"]! }, /tensor named encoder\.weight \[\d+, 8\], which is not part of the model/],
      ["reverse", { ...weights, "rnn.weight_ih_l0_reverse": rng.normal([64, 8]) }, /rnn\.weight_ih_l0_reverse .*bidirectional RNN/],
      ["missing", Object.fromEntries(Object.entries(weights).filter(([k]) => k !== "rnn.bias_hh_l1")), /read as a 2-layer lstm of hidden size 16 .*missing rnn\.bias_hh_l1 \(expected shape \[64\]\)/],
      ["shape", { ...weights, "rnn.weight_ih_l1": rng.normal([64, 15]) }, /rnn\.weight_ih_l1 has shape \[64, ?15\], expected \[64, ?16\]/],
      ["gates", { ...weights, "rnn.weight_hh_l0": rng.normal([40, 16]) }, /rnn\.weight_hh_l0 has shape \[40, 16\], expected \[4 x hidden, hidden\] \(LSTM\)/],
      ["nohead", Object.fromEntries(Object.entries(weights).filter(([k]) => k !== "head.bias")), /has no head\.bias \(expected shape \[vocab\]\)/],
      ["nan", { ...weights, "head.bias": new Tensor(new Float32Array(vocab).fill(Number.NaN), [vocab]) }, /head\.bias holds NaN/],
      ["float64", { ...weights, "head.bias": new Tensor(new Float64Array(vocab), [vocab]) }, /tensor head\.bias is float64; the model's weights are float32\nhint: save the state dict of the model in float32/],
    ];
    for (const [name, tensors, message] of cases) {
      const file = join(work, `bad-${name}.safetensors`);
      await writeFile(file, encodeSafetensors(tensors, { format: "pt" }));
      const r = await unroll("import", "torch", file, "--tokenizer", tokenizer, "--out", join(work, `bad-${name}.run`));
      expect(r.code, name).toBe(1);
      expect(r.stderr, name).toMatch(/^error: /);
      expect(r.stderr, name).toMatch(message);
      expect(r.stderr, name).not.toMatch(/ at .*\.js:\d+/); // no stack trace
      expect(await leftovers(`bad-${name}.run`), name).toEqual([]);
    }
    const wrongTokenizer = await unroll("import", "torch", join(work, "lstm.torch"), "--tokenizer", join(work, "gru.torch", "tokenizer.json"), "--out", join(work, "mixed.run"));
    expect(wrongTokenizer.stderr).toMatch(/has \d+ tokens, but .*weights\.safetensors is a model over \d+ \(head\.bias \[\d+\]\): they do not belong together/);
    const notSafetensors = await unroll("import", "torch", corpus, "--tokenizer", tokenizer, "--out", join(work, "text.run"));
    expect(notSafetensors.stderr).toMatch(/corpus\.txt is not a safetensors file this library reads: .*\nhint: save the model's state dict with safetensors\.torch\.save_file/);
    const wrongCell = await unroll("import", "torch", join(work, "lstm.torch"), "--cell", "gru", "--out", join(work, "cell.run"));
    expect(wrongCell.stderr).toMatch(/rnn\.weight_hh_l0 has shape \[64, 16\]: 4 gates of 16, a lstm layer, not gru/);
    const existing = await unroll("import", "torch", join(work, "lstm.torch"), "--out", join(work, "lstm"));
    expect(existing.stderr).toMatch(/lstm already exists\nhint: give a new --out/);
    expect([...(await leftovers("mixed.run")), ...(await leftovers("text.run")), ...(await leftovers("cell.run")), ...(await leftovers(".tmp-"))]).toEqual([]);
  });
});

/**
 * A fresh nn.Module from the exported model.py with its own random weights, saved by PyTorch (the
 * safetensors package where installed, else model.py's writer), and its logits on a fixed input.
 */
const FRESH = `
import json, sys, torch
sys.path.insert(0, sys.argv[1])
import model
torch.manual_seed(3)
config = model.read_config(sys.argv[1])["model"]
lm = model.LanguageModel.from_config(config).eval()
sd = lm.unroll_state_dict()
try:
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in sd.items()}, sys.argv[2])
    writer = "safetensors"
except ImportError:
    model.write_safetensors(sys.argv[2], sd)
    writer = "model.py"
tokens = torch.tensor(json.loads(sys.argv[3]))
with torch.no_grad():
    logits, _ = lm(tokens)
print(json.dumps({"logits": logits.reshape(-1).tolist(), "writer": writer}))
`;

/** The logits of the model in an export-layout folder (model.py's load) on a fixed input. */
const LOGITS = `
import json, sys, torch
sys.path.insert(0, sys.argv[1])
import model
lm, _ = model.load(sys.argv[2])
with torch.no_grad():
    logits, _ = lm(torch.tensor(json.loads(sys.argv[3])))
print(json.dumps({"logits": logits.reshape(-1).tolist()}))
`;

function skipWithoutTorch(ctx: { skip: (reason: string) => void }): void {
  if (!haveTool("pytorch")) {
    const reason = `import torch's PyTorch checks skipped: ${missingMessage("pytorch", probeTool("pytorch"))}`;
    console.warn(reason);
    ctx.skip(reason);
  }
}

describe("a state dict saved by PyTorch", () => {
  it("lstm: the folder train.py writes after a training step imports (its step and corpus with it) and gives PyTorch's logits", async (ctx) => {
    skipWithoutTorch(ctx);
    const continued = join(work, "lstm.continued");
    const t = await python([join(work, "lstm.torch", "train.py"), "--data", corpus, "--steps", "1", "--out", continued, "--json"], work);
    expect(t.code, t.stderr).toBe(0);
    const tokens = [[1, 2], [3, 0], [2, 2], [0, 1], [4, 3]];
    const r = await python(["-c", LOGITS, join(work, "lstm.torch"), continued, JSON.stringify(tokens)], work);
    expect(r.code, r.stderr).toBe(0);
    const theirs = (JSON.parse(r.stdout) as { logits: number[] }).logits;
    const out = join(work, "lstm.continued.run");
    const i = await unroll("--json", "import", "torch", continued, "--out", out);
    expect(i.code, i.stderr).toBe(0);
    expect(JSON.parse(i.stdout.trim().split("\n").at(-1)!)).toMatchObject({ step: 4 });
    const loaded = await loadLanguageModel(out);
    const ours = loaded.model.forward(loaded.params, new Tensor(Int32Array.from(tokens.flat()), [5, 2])).logits.data;
    const diff = maxAbsDiff(ours, theirs);
    console.log(`import torch of train.py's output: logits max |diff| ${diff.toExponential(2)}`);
    expect(diff).toBeLessThan(1e-5);
    // The weights moved: this is not the exported run's model.
    expect(maxAbsDiff(await logitsOf(out), await logitsOf(join(work, "lstm")))).toBeGreaterThan(1e-6);
    const e = await unroll("eval", out);
    expect(e.code, e.stderr).toBe(0);
  });

  for (const name of ["lstm", "gru"] as const) {
    it(`${name}: imports and gives PyTorch's logits`, async (ctx) => {
      skipWithoutTorch(ctx);
      const tokens = [[1, 2], [3, 0], [2, 2], [0, 1], [4, 3]];
      const saved = join(work, `${name}.fresh.safetensors`);
      const r = await python(["-c", FRESH, join(work, `${name}.torch`), saved, JSON.stringify(tokens)], work);
      expect(r.code, r.stderr).toBe(0);
      const theirs = JSON.parse(r.stdout) as { logits: number[]; writer: string };
      const out = join(work, `${name}.fresh.run`);
      const i = await unroll("import", "torch", saved, "--tokenizer", join(work, `${name}.torch`, "tokenizer.json"), "--out", out);
      expect(i.code, i.stderr).toBe(0);
      const loaded = await loadLanguageModel(out);
      const ours = loaded.model.forward(loaded.params, new Tensor(Int32Array.from(tokens.flat()), [5, 2])).logits.data;
      const diff = maxAbsDiff(ours, theirs.logits);
      console.log(`import torch ${name} (saved by ${theirs.writer}): logits max |diff| ${diff.toExponential(2)}`);
      expect(diff).toBeLessThan(1e-5);
    });
  }
});
