// The settings rules shared by flags and config files, and the size check: unit tests, no process.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkTrainLmConfig } from "@unroll/nlp";
import { SETTINGS, toConfig } from "../src/commands/train-lm.js";
import { readConfigFile } from "../src/config.js";
import { checkTrainingSize, formatBytes } from "../src/settings/size.js";
import { convert, kinds, parseSetting, readSettings, type SettingsTable } from "../src/settings/validate.js";
import { describeError } from "../src/ui/errors.js";

const table = {
  hidden: { kind: kinds.positiveInteger, help: "" },
  lr: { kind: kinds.positive, help: "" },
  seed: { kind: kinds.integer, help: "" },
  warmup: { kind: kinds.nonNegativeInteger, help: "" },
  momentum: { kind: kinds.nonNegative, help: "" },
  dropout: { kind: kinds.fraction, help: "" },
  tieWeights: { kind: kinds.boolean, help: "" },
  cell: { kind: kinds.choice("lstm", "gru"), help: "" },
  embedding: { kind: { type: "size-or", words: ["one-hot"] }, help: "" },
  evalEvery: { kind: kinds.positiveInteger, help: "" },
  data: { kind: kinds.string, help: "" },
} as const satisfies SettingsTable;

describe("one set of rules for flags and config keys", () => {
  it("takes a number as a JS number or a string that is exactly a decimal number, nothing else", () => {
    for (const raw of [256, "256", "+256", "2.56e2", "256.0"]) expect(convert(kinds.positiveInteger, raw)).toBe(256);
    expect(convert(kinds.positive, "2e-3")).toBe(0.002);
    expect(convert(kinds.positive, ".5")).toBe(0.5);
    for (const raw of [true, false, null, [16], { n: 16 }, "", " 16", "16 ", "0x10", "1e", "Infinity", "NaN", Infinity, NaN, "16px", undefined]) {
      expect(convert(kinds.positiveInteger, raw), String(raw)).toBeUndefined();
      expect(convert(kinds.number, raw), String(raw)).toBeUndefined();
    }
    expect(convert(kinds.positiveInteger, 1.5)).toBeUndefined();
    expect(convert(kinds.positiveInteger, 0)).toBeUndefined();
    expect(convert(kinds.integer, 2 ** 60)).toBeUndefined(); // not a safe integer
    expect(convert(kinds.nonNegativeInteger, "-5")).toBeUndefined();
    expect(convert(kinds.nonNegative, "-1")).toBeUndefined();
    expect(convert(kinds.nonNegative, 0)).toBe(0);
    expect(convert(kinds.fraction, 1)).toBeUndefined();
    expect(convert(kinds.fraction, "0.2")).toBe(0.2);
  });

  it("takes booleans as true/false (or their strings), choices as their strings, sizes or words", () => {
    expect(convert(kinds.boolean, true)).toBe(true);
    expect(convert(kinds.boolean, "false")).toBe(false);
    for (const raw of [1, 0, "yes", "", null, [true]]) expect(convert(kinds.boolean, raw)).toBeUndefined();
    expect(convert(kinds.choice("lstm", "gru"), "gru")).toBe("gru");
    expect(convert(kinds.choice("lstm", "gru"), "GRU")).toBeUndefined();
    expect(convert(kinds.choice("lstm", "toString"), "constructor")).toBeUndefined();
    expect(convert({ type: "size-or", words: ["one-hot"] }, "one-hot")).toBe("one-hot");
    expect(convert({ type: "size-or", words: ["one-hot"] }, "64")).toBe(64);
    expect(convert({ type: "size-or", words: ["one-hot"] }, "two-hot")).toBeUndefined();
    expect(convert(kinds.string, "")).toBeUndefined();
    expect(convert(kinds.string, 5)).toBeUndefined();
  });

  it("names the flag or the config key, what it must be and what it got", () => {
    expect(() => parseSetting("--seed", "", kinds.integer)).toThrow('--seed must be an integer, got ""');
    expect(() => parseSetting("--warmup", "-5", kinds.nonNegativeInteger)).toThrow('--warmup must be a non-negative integer, got "-5"');
    expect(() => parseSetting("--momentum", "-1", kinds.nonNegative)).toThrow('--momentum must be a number >= 0, got "-1"');
    expect(() => parseSetting("hidden in lm.yaml", true, kinds.positiveInteger)).toThrow("hidden in lm.yaml must be a positive integer, got true");
    expect(() => parseSetting("hidden in lm.json", [16], kinds.positiveInteger)).toThrow("hidden in lm.json must be a positive integer, got a list ([16])");
    expect(() => parseSetting("--dropout", "1", kinds.fraction)).toThrow('--dropout must be a number in [0, 1), got "1"');
    expect(() => parseSetting("--opset", "1", { type: "integer", min: 13, max: 21 })).toThrow('--opset must be an integer from 13 to 21, got "1"');
    let error: unknown;
    try {
      parseSetting("--seed", "", kinds.integer, "any integer");
    } catch (e) {
      error = e;
    }
    expect(describeError(error, false)).toEqual(['error: --seed must be an integer, got ""', "hint: any integer"]);
  });

  it("reads a config file's keys as own properties only, written as flags or in camelCase, flags winning", () => {
    const s = readSettings(table, { hidden: "32", lr: undefined }, { hidden: 16, "eval-every": 5, lr: 0.01, "tie-weights": true, data: "x.txt" }, "lm.yaml");
    expect(Object.fromEntries(s.values)).toEqual({ hidden: 32, evalEvery: 5, lr: 0.01, tieWeights: true, data: "x.txt" });
    expect(s.source.get("hidden")).toBe("--hidden");
    expect(s.source.get("evalEvery")).toBe("eval-every in lm.yaml");
    expect(Object.fromEntries(readSettings(table, {}, { evalEvery: 7 }, "lm.json").values)).toEqual({ evalEvery: 7 });
    for (const key of ["__proto__", "toString", "constructor", "hasOwnProperty", "hiddenSize", "eval_every", "Hidden"]) {
      const file = JSON.parse(`{${JSON.stringify(key)}: 3}`) as Record<string, unknown>;
      expect(() => readSettings(table, {}, file, "bad.json"), key).toThrow(`unknown setting ${JSON.stringify(key)} in bad.json`);
    }
    expect(() => readSettings(table, {}, { evalEvery: 1, "eval-every": 2 }, "twice.yaml")).toThrow('twice.yaml gives the setting eval-every twice (as "evalEvery" and "eval-every")');
    expect(() => readSettings(table, {}, { seed: "" }, "s.json")).toThrow('seed in s.json must be an integer, got ""');
    // Flags are looked up as own properties too: a prototype's member is never a flag's value.
    expect(Object.fromEntries(readSettings(table, Object.create({ hidden: "99" }) as Record<string, unknown>, {}).values)).toEqual({});
  });
});

describe("size checks before allocating", () => {
  const fix = "use a smaller --hidden";
  it("refuses a tensor longer than an array can be, with the memory it would need", () => {
    const shapes = { "rnn.weight_hh_l0": [4_000_000, 1_000_000], "rnn.weight_ih_l0": [4_000_000, 64] };
    expect(() => checkTrainingSize({ shapes, optimizerBuffers: 2, activationsPerToken: 0, tokensPerBatch: 1 }, 128e9, fix)).toThrow(
      "the model is too large: rnn.weight_hh_l0 alone would have 4.0 trillion numbers (16.0 TB), more than one array can hold (4.3 billion); training it would need about 112.0 TB of memory (this machine has 128.0 GB)",
    );
  });

  it("refuses a model whose training would not fit in memory, and passes one that does", () => {
    // 100M parameters: 4 bytes x (weights, gradients, 2 Adam buffers, snapshot, checkpoint x 2) = 2.8 GB, plus activations.
    const shapes = { w: [10_000, 10_000] };
    expect(() => checkTrainingSize({ shapes, optimizerBuffers: 2, activationsPerToken: 1000, tokensPerBatch: 100 }, 2e9, fix)).toThrow(
      /too large for this machine: 100,000,000 parameters, and training would need about 2\.8 GB of memory \(this machine has 2\.0 GB\)/,
    );
    expect(() => checkTrainingSize({ shapes, optimizerBuffers: 2, activationsPerToken: 1000, tokensPerBatch: 100 }, 4e9, fix)).not.toThrow();
    expect(formatBytes(999)).toBe("999 bytes");
    expect(formatBytes(1500)).toBe("1.5 kB");
  });
});

describe("train lm's settings", () => {
  const config = (flags: Record<string, unknown>, file: Record<string, unknown> = {}) => {
    const read = readSettings(SETTINGS, flags, file, "lm.yaml");
    return toConfig(read.values, read.source, false);
  };

  it("refuses what used to pass or crash: --seed \"\", negative warm-up, momentum and weight decay, settings that do not apply", () => {
    expect(() => config({ seed: "" })).toThrow('--seed must be an integer, got ""');
    expect(() => config({ schedule: "cosine", warmup: "-5" })).toThrow('--warmup must be a non-negative integer, got "-5"');
    expect(() => config({ optimizer: "sgd", momentum: "-1" })).toThrow('--momentum must be a number >= 0, got "-1"');
    expect(() => config({ weightDecay: "-1" })).toThrow('--weight-decay must be a number >= 0, got "-1"');
    expect(() => config({ momentum: "0.9" })).toThrow("--momentum applies to the sgd and rmsprop optimisers, not adam");
    expect(() => config({ warmup: "10" })).toThrow("--warmup applies to the cosine schedule, not constant");
    expect(() => config({}, { momentum: 0.9, optimizer: "adamw" })).toThrow("momentum in lm.yaml applies to the sgd and rmsprop optimisers, not adamw");
    expect(() => config({ threads: "9" })).toThrow('--threads must be an integer from 1 to 8, got "9"');
    expect(() => config({ bpeVocab: "100" })).toThrow('--bpe-vocab must be an integer from 256 to 16777216, got "100"');
  });

  it("builds a config the library accepts, from flags and file alike", () => {
    const fromFlags = config({ hidden: "32", embedding: "one-hot", tieWeights: true, lr: "2e-3", optimizer: "sgd", momentum: "0.9", seed: "-3", steps: "10" });
    const fromFile = config({}, { hidden: 32, embedding: "one-hot", "tie-weights": true, lr: 0.002, optimizer: "sgd", momentum: 0.9, seed: -3, steps: 10 });
    expect(fromFlags).toEqual(fromFile);
    expect(fromFlags).toMatchObject({ model: { hiddenSize: 32, embeddingSize: "one-hot", tieWeights: true }, optimizer: { name: "sgd", lr: 0.002, momentum: 0.9 }, seed: -3, steps: 10 });
    expect(() => checkTrainLmConfig(fromFlags)).not.toThrow();
    // A resume without --steps or --time keeps the run's own target; a new run gets the default.
    const read = readSettings(SETTINGS, {}, {});
    expect(toConfig(read.values, read.source, true).steps).toBeUndefined();
    expect(toConfig(read.values, read.source, false).steps).toBe(300);
  });

  it("config files: no true or list for a number, no __proto__ key, no YAML aliases, no duplicate keys", async () => {
    const dir = await mkdtemp(join(tmpdir(), "unroll-config-"));
    const cases: [string, string, RegExp][] = [
      ["list.json", '{"hidden": [16]}', /hidden in .*list\.json must be a positive integer, got a list \(\[16\]\)/],
      ["proto.json", '{"__proto__": {"hidden": 3}}', /unknown setting "__proto__" in .*proto\.json/],
      ["proto.yaml", "__proto__:\n  hidden: 3\n", /unknown setting "__proto__" in .*proto\.yaml/],
      ["seed.yaml", 'seed: ""\n', /seed in .*seed\.yaml must be an integer, got ""/],
      ["inf.yaml", "lr: .inf\n", /lr in .*inf\.yaml must be a positive number, got Infinity/],
      ["alias.yaml", "a: &x 1\nhidden: *x\n", /the config file .*alias\.yaml is not valid YAML: Alias resolution is disabled/],
      ["twice.yaml", "hidden: 1\nhidden: 2\n", /the config file .*twice\.yaml is not valid YAML: Map keys must be unique/],
      ["list.yaml", "- hidden: 3\n", /must hold an object of settings \(e\.g\. "hidden: 256"\), found a list/],
      ["bad.json", "{hidden: 3}", /the config file .*bad\.json is not valid JSON/],
    ];
    for (const [name, text, message] of cases) {
      const path = join(dir, name);
      await writeFile(path, text);
      await expect(readConfigFile(path).then((file) => readSettings(SETTINGS, {}, file, path)), name).rejects.toThrow(message);
    }
  });
});

describe("mistyped settings", () => {
  it("suggests the nearest known setting, and nothing when none is close", () => {
    const table = { hidden: { kind: kinds.positiveInteger, help: "" }, evalEvery: { kind: kinds.positiveInteger, help: "" } };
    expect(() => readSettings(table, {}, { hiden: 3 }, "lm.yaml")).toThrow('unknown setting "hiden" in lm.yaml (did you mean "hidden"?)');
    expect(() => readSettings(table, {}, { "eval-evry": 3 }, "lm.yaml")).toThrow('(did you mean "eval-every"?)');
    expect(() => readSettings(table, {}, { colour: 3 }, "lm.yaml")).toThrow(/^unknown setting "colour" in lm\.yaml$/);
  });
});
