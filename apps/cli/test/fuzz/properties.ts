// The fuzz properties: every loader of a file a user hands to unroll, fed mutations of a valid file.
// Each mutation must give a clear error (one of the errors the CLI reports as the user's, never an
// "internal error") or a correct load; never a raw exception, a hang, or a change to any file.
// test/fuzz.test.ts runs them in CI with a fixed seed and few runs; scripts/fuzz.ts runs them long.
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { stringify as toYaml } from "yaml";
import { exportLanguageModel, decodeModel, encodeModel } from "@unroll/onnx";
import {
  BpeTokenizer, CharTokenizer, checkTrainLmConfig, collect, generateText, loadCorpus, loadLanguageModel, readPairs, tokenizerFromJSON, trainLanguageModel, trainTranslationModel,
  type TokenizerJSON, WordTokenizer,
} from "@unroll/nlp";
import { CheckpointError, decodeSafetensors, inspectRunFolder, latestCheckpoint, loadCheckpoint, RunFolder, RunFolderError, truncateMetrics } from "@unroll/train";
import { loadOnnxGenerator } from "../../src/commands/onnx.js";
import { SETTINGS, toConfig } from "../../src/commands/train-lm.js";
import { checkPrime } from "../../src/commands/sampling-flags.js";
import { readConfigFile } from "../../src/config.js";
import { readSettings } from "../../src/settings/validate.js";
import { describeError, isUserFacing } from "../../src/ui/errors.js";
import { byteMutations, jsonMutations, mutateBytes, mutateJson } from "./mutations.js";
import { snapshotDir } from "@unroll/testing/files";

/** The valid files every property starts from, made once. */
export interface Fixtures {
  readonly work: string;
  /** A finished run folder: latest.json -> step-00000002. */
  readonly run: string;
  readonly step: number;
  readonly text: string;
  readonly safetensors: Uint8Array;
  readonly onnx: Uint8Array;
  readonly tokenizers: readonly TokenizerJSON[];
  readonly settings: Readonly<Record<string, unknown>>;
}

export const TEXT = "It was the best of times, it was the worst of times; it was the age of wisdom. ".repeat(12);
const TINY = { model: { cell: "gru" as const, hiddenSize: 6, embeddingSize: 4 }, batchSize: 2, window: 8, evalEvery: 2, evalTokens: 60, seed: 5 };

export async function makeFixtures(): Promise<Fixtures> {
  const work = await mkdtemp(join(tmpdir(), "unroll-fuzz-"));
  const run = join(work, "run");
  const result = await trainLanguageModel({ text: TEXT, config: { ...TINY, steps: 2 }, checkpointDir: run, checkpointEvery: 2 });
  const loaded = await loadLanguageModel(run);
  return {
    work,
    run,
    step: 2,
    text: TEXT,
    safetensors: new Uint8Array(await readFile(join(run, "step-00000002", "model.safetensors"))),
    onnx: exportLanguageModel(loaded.model, loaded.params, { graph: "step", tokenizer: loaded.tokenizer }),
    tokenizers: [result.tokenizer.toJSON(), WordTokenizer.fit(TEXT).toJSON(), BpeTokenizer.train(TEXT, { vocabSize: 270 }).toJSON(), CharTokenizer.fromText("ab").toJSON()],
    settings: { data: "corpus.txt", cell: "gru", layers: 2, hidden: 32, embedding: 16, dropout: 0.1, "tie-weights": false, lr: 0.002, "weight-decay": 0, clip: 5, batch: 8, window: 32, steps: 100, "eval-every": 50, seed: 1, tokenizer: "char" },
  };
}

export async function disposeFixtures(f: Fixtures): Promise<void> {
  await rm(f.work, { recursive: true, force: true });
}

// ------------------------------------------------------------------------------------------------
// What every case must satisfy

/** Throws unless `e` is an error the CLI reports as the user's: "error: <message>", not "internal error". */
function assertUserFacing(e: unknown, what: string): void {
  assert.ok(e instanceof Error, `${what}: threw a non-Error ${String(e)}`);
  assert.ok(isUserFacing(e), `${what}: threw ${e.name}, which the CLI reports as an internal error: ${e.message}\n${e.stack}`);
  assert.ok(e.message.trim().length > 0, `${what}: threw an error without a message`);
  assert.ok(describeError(e, false)[0]!.startsWith("error: "), `${what}: not reported as a user error`);
}

// What a "__proto__" or "constructor" key in a file must never reach.
const PROTOTYPES: readonly object[] = [Object.prototype, Array.prototype, Function.prototype, Object, String.prototype];
const names = (o: object): string => Reflect.ownKeys(o).map(String).sort().join(",");
const BASELINE = PROTOTYPES.map(names);

function assertNoPollution(what: string): void {
  PROTOTYPES.forEach((p, i) => assert.equal(names(p), BASELINE[i], `${what} added a property to a built-in prototype`));
}

/**
 * Runs `f` (within a time limit). A thrown error must be `accept`ed (by default: any error the CLI
 * reports as the user's) and reported as "error: ..."; anything else fails the case. Returns the
 * value, or undefined after an accepted error.
 */
async function attempt<T>(what: string, f: () => T | Promise<T>, accept: (e: unknown) => boolean = isUserFacing): Promise<T | undefined> {
  try {
    return await within(what, f);
  } catch (e) {
    if (e instanceof HangError) throw e;
    if (!accept(e)) {
      const error = e instanceof Error ? e : new Error(String(e));
      assert.fail(`${what}: threw ${error.name} (not a clear error for the user): ${error.message}\n${error.stack}`);
    }
    assertUserFacing(e, what);
    return undefined;
  } finally {
    assertNoPollution(what);
  }
}

class HangError extends Error {}

/** `f()`, or a failure when it takes longer than `ms` (a hang). */
async function within<T>(what: string, f: () => T | Promise<T>, ms = 20_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HangError(`${what}: no answer after ${ms} ms (a hang)`)), ms);
  });
  try {
    return await Promise.race([Promise.resolve().then(f), timeout]);
  } finally {
    clearTimeout(timer);
  }
}


let caseNumber = 0;
async function caseDir(f: Fixtures): Promise<string> {
  const dir = join(f.work, `case-${++caseNumber}`);
  await mkdir(dir);
  return dir;
}

const isCheckpointError = (e: unknown): boolean => e instanceof CheckpointError;

// ------------------------------------------------------------------------------------------------
// Properties

/** A JSON document mutated structurally (mostly) or as bytes; null when the bytes are not JSON any more. */
const jsonOrBytes = fc.oneof({ weight: 3, arbitrary: fc.record({ json: jsonMutations }) }, { weight: 1, arbitrary: fc.record({ bytes: byteMutations }) });

function mutateJsonText(text: string, m: { json?: Parameters<typeof mutateJson>[1]; bytes?: Parameters<typeof mutateBytes>[1] }): Uint8Array {
  if (m.json) return new TextEncoder().encode(JSON.stringify(mutateJson(JSON.parse(text), m.json), null, 2));
  return mutateBytes(new TextEncoder().encode(text), m.bytes!);
}

/** A safetensors file with its header JSON edited (the header length fixed up to match). */
function withHeader(bytes: Uint8Array, edit: (header: unknown) => unknown): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  let json = new TextEncoder().encode(JSON.stringify(edit(header)));
  const padded = new Uint8Array(json.length + ((8 - (json.length % 8)) % 8)).fill(0x20);
  padded.set(json);
  json = padded;
  const out = new Uint8Array(8 + json.length + bytes.length - 8 - n);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(bytes.subarray(8 + n), 8 + json.length);
  return out;
}

const safetensorsMutation = fc.oneof({ weight: 2, arbitrary: fc.record({ bytes: byteMutations }) }, { weight: 2, arbitrary: fc.record({ header: jsonMutations }) });

function mutateSafetensors(bytes: Uint8Array, m: { bytes?: Parameters<typeof mutateBytes>[1]; header?: Parameters<typeof mutateJson>[1] }): Uint8Array {
  return m.header ? withHeader(bytes, (h) => mutateJson(h, m.header!)) : mutateBytes(bytes, m.bytes!);
}

export interface FuzzTarget {
  readonly name: string;
  /** Cases per CI run (the long script multiplies it). */
  readonly runs: number;
  /** Runs the property (`fc.check`): the details say how many cases ran and which failed. */
  check(f: Fixtures, options: fc.Parameters<unknown>): Promise<fc.RunDetails<unknown>>;
}

function target<Ts extends unknown[]>(name: string, runs: number, make: (f: Fixtures) => fc.IAsyncProperty<Ts>): FuzzTarget {
  return { name, runs, check: (f, options) => fc.check(make(f), options as fc.Parameters<Ts>) as Promise<fc.RunDetails<unknown>> };
}

export const targets: readonly FuzzTarget[] = [
  target("safetensors", 150, (f) =>
      fc.asyncProperty(safetensorsMutation, async (m) => {
        const input = mutateSafetensors(f.safetensors, m);
        const copy = input.slice();
        const decoded = await attempt("decodeSafetensors", () => decodeSafetensors(input), isCheckpointError);
        assert.deepEqual(input, copy, "decodeSafetensors changed its input");
        if (decoded) {
          for (const [name, t] of Object.entries(decoded.tensors)) {
            assert.equal(t.data.length, t.shape.reduce((a, b) => a * b, 1), `tensor ${name}: data and shape disagree`);
          }
        }
      }),
  ),
  target("checkpoint.json", 40, (f) =>
      fc.asyncProperty(jsonOrBytes, async (m) => {
        const dir = await caseDir(f);
        await cp(f.run, dir, { recursive: true });
        const manifest = join(dir, "step-00000002", "checkpoint.json");
        await writeFile(manifest, mutateJsonText(await readFile(manifest, "utf8"), m));
        const before = await snapshotDir(dir);
        await attempt("loadCheckpoint", () => loadCheckpoint(dir), isCheckpointError);
        await attempt("loadLanguageModel", () => loadLanguageModel(dir));
        // A resume to the step it is at trains nothing and writes nothing, but reads and checks everything.
        await attempt("trainLanguageModel resume", () => trainLanguageModel({ text: f.text, config: { steps: f.step }, checkpointDir: dir, resume: true }));
        assert.deepEqual(await snapshotDir(dir), before, "a loader changed the run folder");
        await rm(dir, { recursive: true, force: true });
      }),
  ),
  target("model.safetensors (re-signed: sizes and sha256 in checkpoint.json updated, as a deliberate edit would)", 40, (f) =>
      fc.asyncProperty(safetensorsMutation, async (m) => {
        const dir = await caseDir(f);
        await cp(f.run, dir, { recursive: true });
        const weights = mutateSafetensors(f.safetensors, m);
        const manifestPath = join(dir, "step-00000002", "checkpoint.json");
        const manifest = JSON.parse(await readFile(manifestPath, "utf8")) as { files: Record<string, { bytes: number; sha256: string }> };
        manifest.files["model.safetensors"] = { bytes: weights.length, sha256: createHash("sha256").update(weights).digest("hex") };
        await writeFile(join(dir, "step-00000002", "model.safetensors"), weights);
        await writeFile(manifestPath, JSON.stringify(manifest));
        const before = await snapshotDir(dir);
        const loaded = await attempt("loadLanguageModel", () => loadLanguageModel(dir));
        if (loaded) {
          for (const t of [loaded.params.embedding?.weight, loaded.params.head.bias, ...Object.values(loaded.params.rnn)]) {
            if (t) assert.ok(t.dtype === "float32" && Array.from(t.data).every(Number.isFinite), "loaded weights that are not finite float32");
          }
        }
        await attempt("trainLanguageModel resume", () => trainLanguageModel({ text: f.text, config: { steps: f.step }, checkpointDir: dir, resume: true }));
        assert.deepEqual(await snapshotDir(dir), before, "a loader changed the run folder");
        await rm(dir, { recursive: true, force: true });
      }),
  ),
  target("latest.json", 60, (f) =>
      fc.asyncProperty(jsonOrBytes, async (m) => {
        const dir = await caseDir(f);
        await cp(f.run, dir, { recursive: true });
        const pointer = join(dir, "latest.json");
        await writeFile(pointer, mutateJsonText(await readFile(pointer, "utf8"), m));
        const before = await snapshotDir(dir);
        await attempt("latestCheckpoint", () => latestCheckpoint(dir), isCheckpointError);
        await attempt("loadCheckpoint", () => loadCheckpoint(dir), isCheckpointError);
        await attempt("loadLanguageModel", () => loadLanguageModel(dir));
        const contents = await inspectRunFolder(dir);
        assert.ok(contents.entries.includes("latest.json"), "inspectRunFolder lost latest.json");
        // A new run is always refused (the folder holds checkpoints), whatever the pointer says.
        const fresh = await attempt("RunFolder.open new", () => RunFolder.open(dir, { mode: "new" }), (e) => e instanceof RunFolderError);
        assert.equal(fresh, undefined, "a folder holding a run was opened for a new run");
        const resumed = await attempt("RunFolder.open resume", () => RunFolder.open(dir, { mode: "resume" }));
        await resumed?.close();
        assert.deepEqual(await snapshotDir(dir), before, "a loader changed the run folder");
        await rm(dir, { recursive: true, force: true });
      }),
  ),
  target("tokenizer JSON", 150, (f) =>
      fc.asyncProperty(fc.nat(), jsonMutations, async (which, m) => {
        const json = mutateJson(f.tokenizers[which % f.tokenizers.length], m);
        const text = JSON.stringify(json);
        const t = await attempt("tokenizerFromJSON", () => tokenizerFromJSON(json));
        assert.equal(JSON.stringify(json), text, "tokenizerFromJSON changed its input");
        if (t) {
          // A correct load: a tokenizer that works and serialises to what it read.
          assert.ok(Number.isSafeInteger(t.vocabSize) && t.vocabSize >= 1, "a tokenizer without a vocabulary");
          const ids = t.encode(TEXT.slice(0, 80));
          for (const id of ids) assert.ok(id >= 0 && id < t.vocabSize, `encode gave id ${id} outside [0, ${t.vocabSize})`);
          t.decode(ids);
          assert.deepEqual(tokenizerFromJSON(t.toJSON()).toJSON(), t.toJSON(), "toJSON does not read back");
        }
      }),
  ),
  target("config files (JSON and YAML)", 150, (f) =>
      fc.asyncProperty(fc.boolean(), jsonOrBytes, async (yaml, m) => {
        const dir = await caseDir(f);
        const path = join(dir, yaml ? "lm.yaml" : "lm.json");
        const bytes = yaml && "json" in m ? new TextEncoder().encode(toYaml(mutateJson(f.settings, m.json))) : mutateJsonText(JSON.stringify(f.settings), m);
        await writeFile(path, bytes);
        const settings = await attempt("readConfigFile", () => readConfigFile(path));
        if (settings) {
          const read = await attempt("readSettings", () => readSettings(SETTINGS, {}, settings, path));
          if (read) {
            const config = await attempt("toConfig", () => toConfig(read.values, read.source, false));
            // What the CLI accepts, the library accepts: the same rules.
            if (config) checkTrainLmConfig(config);
          }
        }
        assert.deepEqual(new Uint8Array(await readFile(path)), bytes, "the config file changed");
        await rm(dir, { recursive: true, force: true });
      }),
  ),
  target("text corpora", 80, (f) =>
      fc.asyncProperty(fc.oneof(fc.record({ bytes: byteMutations }), fc.record({ raw: fc.uint8Array({ maxLength: 64 }) })), fc.integer({ min: 1, max: 300 }), async (m, length) => {
        const dir = await caseDir(f);
        const path = join(dir, "corpus.txt");
        const bytes = "raw" in m ? m.raw : mutateBytes(new TextEncoder().encode(`\ufeff${f.text.slice(0, length)}é中😀`), m.bytes);
        await writeFile(path, bytes);
        const text = await attempt("loadCorpus", () => loadCorpus(path));
        let expected: string | null;
        try {
          expected = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
        } catch {
          expected = null;
        }
        if (text === undefined) {
          assert.ok(expected === null || expected === "" || expected.includes("\0"), "loadCorpus refused a UTF-8 text file");
        } else {
          assert.equal(text, expected, "loadCorpus read something other than the file's UTF-8 text");
          assert.ok(!text.includes("\0") && text.length > 0, "loadCorpus accepted a binary or empty file");
          // Training on it: a model, or a DataError saying the text is too short.
          await attempt("trainLanguageModel", () => trainLanguageModel({ text, config: { ...TINY, steps: 1, data: path } }));
        }
        assert.deepEqual(new Uint8Array(await readFile(path)), bytes, "the corpus changed");
        await rm(dir, { recursive: true, force: true });
      }),
  ),
  target("sentence-pair files (train mt, eval mt)", 80, (f) =>
      fc.asyncProperty(fc.oneof(fc.record({ bytes: byteMutations }), fc.record({ raw: fc.uint8Array({ maxLength: 64 }) })), async (m) => {
        const dir = await caseDir(f);
        const path = join(dir, "pairs.tsv");
        const valid = "Eins zwei.\tOne two.\r\nDrei!\tThree!\tCC-BY\n\nVier.\tFour.\n";
        const bytes = "raw" in m ? m.raw : mutateBytes(new TextEncoder().encode(valid), m.bytes);
        await writeFile(path, bytes);
        const parsed = await attempt("readPairs", () => readPairs(path));
        if (parsed) {
          // Every pair has two non-empty sides and names a line of the file; then it trains.
          for (const p of parsed.pairs) assert.ok(p.source !== "" && p.target !== "" && p.line >= 1, `readPairs gave an empty side or no line: ${JSON.stringify(p)}`);
          await attempt("trainTranslationModel", () =>
            trainTranslationModel({ train: parsed.pairs, dev: parsed.pairs, config: { model: { embeddingSize: 4, encoderHiddenSize: 4, decoderHiddenSize: 4 }, steps: 1, batchSize: 2, minFrequency: 1 } }),
          );
        }
        assert.deepEqual(new Uint8Array(await readFile(path)), bytes, "the pair file changed");
        await rm(dir, { recursive: true, force: true });
      }),
  ),
  target("ONNX models given to run onnx", 40, (f) =>
      fc.asyncProperty(
        fc.oneof(
          { weight: 2, arbitrary: fc.record({ bytes: byteMutations }) },
          { weight: 2, arbitrary: fc.record({ key: fc.constantFrom("unroll.tokenizer", "unroll.signature", "unroll.model_config", "unroll.graph", "unroll.format_version"), json: jsonMutations }) },
          // Damaged weights in an otherwise valid file (NaN, infinities, huge values): it loads, and generation must not print garbage.
          { weight: 2, arbitrary: fc.record({ initializer: fc.nat(), weights: byteMutations }) },
        ),
        async (m) => {
          let bytes: Uint8Array;
          if ("bytes" in m) bytes = mutateBytes(f.onnx, m.bytes);
          else if ("weights" in m) {
            const model = decodeModel(f.onnx);
            const withData = model.graph.initializer.filter((t) => t.raw_data !== undefined && t.raw_data.length > 0);
            const t = withData[m.initializer % withData.length]!;
            const raw = mutateBytes(t.raw_data!, m.weights.map((w) => (w.kind === "flip" || w.kind === "set" ? w : { kind: "set" as const, at: 0, value: 0xff })));
            t.raw_data = raw.length === t.raw_data!.length ? raw : t.raw_data!;
            bytes = encodeModel(model);
          } else {
            const model = decodeModel(f.onnx);
            const entry = model.metadata_props!.find((p) => p.key === m.key)!;
            let value: unknown;
            try {
              value = JSON.parse(entry.value);
            } catch {
              value = entry.value;
            }
            const mutated = mutateJson(value, m.json);
            entry.value = typeof mutated === "string" ? mutated : JSON.stringify(mutated) ?? "";
            bytes = encodeModel(model);
          }
          const copy = bytes.slice();
          const generator = await attempt("loadOnnxGenerator", () => loadOnnxGenerator(bytes, "model.onnx"));
          if (generator) {
            await attempt("generate", async () => {
              const prime = "It was";
              checkPrime(generator.tokenizer, prime);
              return collect(generateText(generator.step, generator.tokenizer, { prime, maxTokens: 4, seed: 1 }));
            });
            await generator.session.release();
          }
          assert.deepEqual(bytes, copy, "loading changed the model's bytes");
        },
      ),
  ),
  target("metrics.jsonl (cut back on resume)", 150, (f) =>
      fc.asyncProperty(byteMutations, fc.integer({ min: 0, max: 40 }), async (m, step) => {
        const dir = await caseDir(f);
        const path = join(dir, "metrics.jsonl");
        const lines = Array.from({ length: 30 }, (_, i) => `${JSON.stringify({ step: i + 1, loss: 4 - i / 10 })}\n${(i + 1) % 5 === 0 ? `${JSON.stringify({ step: i + 1, validation: 3 })}\n` : ""}`);
        const bytes = mutateBytes(new TextEncoder().encode(lines.join("")), m);
        await writeFile(path, bytes);
        const result = await attempt("truncateMetrics", () => truncateMetrics(path, step), (e) => e instanceof RunFolderError && e.code === "METRICS_DAMAGED");
        const after = new Uint8Array(await readFile(path));
        if (result === undefined) assert.deepEqual(after, bytes, "a refused metrics.jsonl was changed");
        else {
          assert.deepEqual(after, bytes.subarray(0, after.length), "truncateMetrics kept something that is not a prefix of the file");
          assert.ok(after.length === 0 || after[after.length - 1] === 0x0a, "the kept part ends inside a line");
          for (const line of new TextDecoder().decode(after).split("\n")) {
            if (line.trim() !== "") assert.ok((JSON.parse(line) as { step: number }).step <= step, `kept a line of a later step: ${line}`);
          }
        }
        await rm(dir, { recursive: true, force: true });
      }),
  ),
];
