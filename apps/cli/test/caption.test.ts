import { mkdtemp, readdir, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { greedySearch, Vocabulary } from "@unroll/nlp";
import { OnnxSession, onnxCaptionDecoder } from "@unroll/onnx";
import { decodeImage, imagesToTensor } from "@unroll/vision";
import { beforeAll, describe, expect, it } from "vitest";
import { lines, unroll } from "./unroll-binary.js";

// End-to-end: `unroll data shapes`, `train caption` / `train video`, `caption` and `eval caption`
// as a user runs them (the real binary and files).
const tiny = ["--image-size", "16", "--channels", "4,8", "--hidden", "16", "--embedding", "8", "--batch", "8", "--eval-every", "10", "--checkpoint-every", "10", "--min-frequency", "1"];

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "unroll-caption-cli-"));
});

describe("unroll data shapes / train caption / caption / eval caption", () => {
  it("writes the procedural set, trains with dev BLEU-4 and CIDEr-D in metrics.jsonl, resumes, captions with an attention map and scores", { timeout: 120_000 }, async () => {
    const data = join(work, "shapes");
    const written = await unroll(["--json", "data", "shapes", "--out", data, "--count", "48", "--dev", "8", "--side", "16"]);
    expect(written.code, written.stderr).toBe(0);
    const train = (await readFile(join(data, "train.tsv"), "utf8")).trim().split("\n");
    expect(train).toHaveLength(48);
    expect(train[0]).toMatch(/^train\/00000\.png\ta (small|large) \w+ (circle|square|triangle)/);
    expect((await readdir(join(data, "dev"))).length).toBe(8);
    const again = await unroll(["data", "shapes", "--out", data]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists/);

    const out = join(work, "run");
    const first = await unroll(["--json", "train", "caption", "--data", join(data, "train.tsv"), "--dev", join(data, "dev.tsv"), "--out", out, "--steps", "10", ...tiny]);
    expect(first.code, first.stderr).toBe(0);
    expect(lines(first.stdout).at(-1)).toMatchObject({ event: "done", steps: 10, stopReason: "steps" });
    const resumed = await unroll(["--json", "train", "caption", "--out", out, "--resume", "--steps", "20"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const records = lines(resumed.stdout);
    expect(records.filter((r) => r.event === "caption-scores").map((r) => r.step)).toEqual([20]);
    const metrics = (await readFile(join(out, "metrics.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as Record<string, number>);
    expect(metrics.filter((m) => m.cider !== undefined).map((m) => m.step)).toEqual([10, 20]);
    expect(metrics.filter((m) => m.validation !== undefined).map((m) => m.step)).toEqual([10, 20]);

    const image = join(data, "dev", "00000.png");
    const map = join(work, "map.png");
    const captioned = await unroll(["--json", "caption", out, image, "--attention-map", map]);
    expect(captioned.code, captioned.stderr).toBe(0);
    const [c] = lines(captioned.stdout) as [{ caption: string; words: string[]; attention: number[][]; grid: number[] }];
    expect(c.words.length).toBe(c.attention.length);
    expect(c.grid).toEqual([4, 4]); // 16 pixels through two stride-2 stages
    const png = decodeImage(new Uint8Array(await readFile(map)));
    expect([png.width, png.height]).toEqual([(c.words.length + 1) * 96 + c.words.length * 4, 96]);

    // Exported: the encoder and decoder-step graphs, with the vocabulary and the input settings; onnxruntime greedy-decodes the caption the library gave.
    const exported = await unroll(["--json", "export", "onnx", out, "--out", join(work, "shapes.onnx")]);
    expect(exported.code, exported.stderr).toBe(0);
    const encoder = await OnnxSession.create(await readFile(join(work, "shapes.encoder.onnx")));
    const decoder = await OnnxSession.create(await readFile(join(work, "shapes.decoder.onnx")));
    expect(JSON.parse(encoder.metadata["unroll.caption_input"]!)).toMatchObject({ imageSize: 16, frames: null });
    const vocabulary = Vocabulary.fromJSON(JSON.parse(encoder.metadata["unroll.vocabulary"]!));
    const onnx = onnxCaptionDecoder(encoder, decoder);
    const pixels = imagesToTensor([decodeImage(new Uint8Array(await readFile(image)))], { size: [16, 16] });
    const [h] = await greedySearch(onnx, await onnx.encode(pixels.data as Float32Array, 1), 1, { bos: Vocabulary.BOS, eos: Vocabulary.EOS, maxLength: 20, exclude: [Vocabulary.PAD, Vocabulary.BOS] });
    expect(vocabulary.decode(h!.tokens)).toBe(c.caption);

    const scored = await unroll(["--json", "eval", "caption", out, "--data", join(data, "dev.tsv"), "--beam", "1", "--captions", join(work, "dev-captions.tsv")]);
    expect(scored.code, scored.stderr).toBe(0);
    const [s] = lines(scored.stdout) as [{ bleu: number[]; cider: number; images: number; step: number }];
    expect(s).toMatchObject({ images: 8, step: 20 });
    expect(s.bleu).toHaveLength(4);
    // Greedy captions scored here equal the training run's last evaluation of the same model.
    expect(s.cider).toBeCloseTo(records.find((r) => r.event === "caption-scores")!.cider as number, 10);
    expect((await readFile(join(work, "dev-captions.tsv"), "utf8")).trim().split("\n")).toHaveLength(8);
  });

  it("says what is wrong with the usual mistakes, and writes nothing", async () => {
    const noData = await unroll(["train", "video", "--out", join(work, "none")]);
    expect(noData.code).toBe(1);
    expect(noData.stderr).toMatch(/train video needs captioned videos: --data captions\.tsv[\s\S]*unroll data shapes --video --out moving/);
    const emojiVideo = await unroll(["train", "video", "--data", "emoji", "--out", join(work, "none")]);
    expect(emojiVideo.stderr).toMatch(/the emoji set is images, and this is a video captioner/);
    const frames = await unroll(["train", "caption", "--data", "x.tsv", "--frames", "4", "--out", join(work, "none")]);
    expect(frames.stderr).toMatch(/--frames applies to videos[\s\S]*unroll train video/);
    const missing = await unroll(["train", "caption", "--data", join(work, "missing.tsv"), "--out", join(work, "none")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/missing\.tsv/);
    await expect(stat(join(work, "none"))).rejects.toThrow();
    const notARun = await unroll(["caption", work, "x.png"]);
    expect(notARun.code).toBe(1);
    expect(notARun.stderr).toMatch(/hint: point at a run directory written by `unroll train caption`/);
    expect(notARun.stderr).not.toMatch(/internal error|\n\s+at /);
  });
});

describe("unroll train caption on the built-in emoji set", () => {
  it("trains on Google's emoji by default and scores their held-out tenth", { timeout: 120_000 }, async () => {
    const out = join(work, "emoji-run");
    const trained = await unroll(["train", "caption", "--out", out, "--steps", "2", "--eval-images", "8", ...tiny]);
    expect(trained.code, trained.stderr).toBe(0);
    const said = trained.stdout + trained.stderr;
    expect(said).toMatch(/loading the emoji set \(emoji-datasource-google\)/);
    expect(said).toMatch(/1,716 training images \(1,716 captions\), 190 dev/);
    const resumed = await unroll(["train", "caption", "--out", out, "--resume", "--steps", "3"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const scored = await unroll(["--json", "eval", "caption", out, "--data", "emoji", "--beam", "1"]);
    expect(scored.code, scored.stderr).toBe(0);
    expect(lines(scored.stdout)[0]).toMatchObject({ images: 190, step: 3 });
  });
});

describe("unroll train video / caption a folder of frames", () => {
  it("trains a video captioner on frame folders and captions one", { timeout: 120_000 }, async () => {
    const data = join(work, "moving");
    const written = await unroll(["data", "shapes", "--video", "--out", data, "--count", "16", "--dev", "4", "--side", "16", "--frames", "4"]);
    expect(written.code, written.stderr).toBe(0);
    expect((await readdir(join(data, "train", "00000"))).sort()).toEqual(["0.png", "1.png", "2.png", "3.png"]);
    const out = join(work, "video-run");
    const trained = await unroll(["--json", "train", "video", "--data", join(data, "train.tsv"), "--dev", join(data, "dev.tsv"), "--frames", "4", "--out", out, "--steps", "4", ...tiny]);
    expect(trained.code, trained.stderr).toBe(0);
    const captioned = await unroll(["--json", "caption", out, join(data, "dev", "00000"), join(data, "dev", "00001")]);
    expect(captioned.code, captioned.stderr).toBe(0);
    expect(lines(captioned.stdout).map((r) => r.input)).toEqual([join(data, "dev", "00000"), join(data, "dev", "00001")]);
    const wrongResume = await unroll(["train", "caption", "--out", out, "--resume", "--steps", "8"]);
    expect(wrongResume.code).toBe(1);
    expect(wrongResume.stderr).toMatch(/is a video captioner[\s\S]*unroll train video --out/);
  });
});
