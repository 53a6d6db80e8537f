// Checkpoint directories: layout, round trips, verification on load, atomic saves under simulated
// crashes and failures, pruning. Every test works in its own fresh temporary directory.
import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromArray, Rng, type Tensor } from "@unroll/tensor";
import { afterAll, describe, expect, it } from "vitest";
import { type SaveStage, saveCheckpointWithHooks } from "./checkpoint.js";
import { type Checkpoint, CheckpointError, decodeSafetensors, latestCheckpoint, loadCheckpoint, saveCheckpoint } from "./index.js";

const made: string[] = [];
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "unroll-checkpoint-test-"));
  made.push(dir);
  return dir;
}
afterAll(async () => {
  for (const dir of made) await rm(dir, { recursive: true, force: true });
});

function bits(t: Tensor): string {
  return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString("hex");
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A full checkpoint whose every value depends on `step`, so checkpoints of different steps differ. */
function makeCheckpoint(step: number): Checkpoint {
  const rng = new Rng(7);
  rng.uniform([5]);
  return {
    step,
    config: { model: { cell: "lstm", hidden: 3, layers: [1, 2] }, training: { batch: 4, clip: 1.5, shuffle: true, note: null } },
    params: {
      "rnn.weight_ih_l0": fromArray(Array.from({ length: 12 }, (_, i) => step + i / 8), { shape: [4, 3] }),
      "rnn.bias_ih_l0": fromArray([NaN, -0, Infinity, step], { dtype: "float32" }),
      "head.weight": fromArray([[0.1 * step], [0.2]], { dtype: "float64" }),
      "embed.index": fromArray([step, -2147483648], { dtype: "int32" }),
    },
    optimizer: {
      name: "adam",
      version: 1,
      hyper: { beta1: 0.9, beta2: 0.999, eps: 1e-8, amsgrad: false },
      step: step * 10,
      lr: 0.001 / step,
      buffers: {
        "exp_avg/rnn.weight_ih_l0": fromArray(Array.from({ length: 12 }, (_, i) => -i * step), { shape: [4, 3] }),
        "exp_avg_sq/rnn.weight_ih_l0": fromArray(Array.from({ length: 12 }, (_, i) => i * i), { shape: [4, 3] }),
      },
    },
    schedule: { name: "cosine", lastStep: step },
    rng: rng.state(),
    data: { epoch: 1, offset: 16 * step },
    metrics: { loss: 1 / step, history: [2.5, 1.25] },
    extra: { hidden: fromArray([[[step, 2, 3]]]), carriedTokens: fromArray([1, 2, 3], { dtype: "int32" }) },
  };
}

function expectTensorsEqual(actual: Readonly<Record<string, Tensor>> | undefined, expected: Readonly<Record<string, Tensor>> | undefined): void {
  const a = actual ?? {};
  const e = expected ?? {};
  expect(Object.keys(a).sort()).toEqual(Object.keys(e).sort());
  for (const [name, t] of Object.entries(e)) {
    expect(a[name]!.dtype, name).toBe(t.dtype);
    expect(a[name]!.shape, name).toEqual(t.shape);
    expect(bits(a[name]!), name).toBe(bits(t));
  }
}

function expectCheckpointEqual(actual: Checkpoint, expected: Checkpoint): void {
  expect(actual.step).toBe(expected.step);
  expect(actual.config).toEqual(expected.config);
  expect(actual.schedule).toEqual(expected.schedule ?? null);
  expect(actual.rng).toEqual(expected.rng ?? null);
  expect(actual.data).toEqual(expected.data ?? null);
  expect(actual.metrics).toEqual(expected.metrics ?? null);
  expectTensorsEqual(actual.params, expected.params);
  expectTensorsEqual(actual.extra, expected.extra);
  if (expected.optimizer) {
    const { buffers, ...settings } = expected.optimizer;
    const { buffers: gotBuffers, ...gotSettings } = actual.optimizer!;
    expect(gotSettings).toEqual(settings);
    expectTensorsEqual(gotBuffers, buffers);
  } else {
    expect(actual.optimizer).toBeNull();
  }
}

/** Every path under `root` with its contents' sha256 ("dir" for directories). */
async function snapshot(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const key = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        out[key] = "dir";
        await walk(path, key);
      } else {
        out[key] = sha256(await readFile(path));
      }
    }
  };
  await walk(root, "");
  return out;
}

async function loadError(path: string): Promise<CheckpointError> {
  try {
    await loadCheckpoint(path);
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    return e as CheckpointError;
  }
  throw new Error(`loadCheckpoint(${path}) accepted a broken checkpoint`);
}

async function saveError(promise: Promise<unknown>): Promise<CheckpointError> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    return e as CheckpointError;
  }
  throw new Error("the save succeeded");
}

const PNG = Buffer.from("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000a49444154789c6300010000050001", "hex");

describe("saveCheckpoint", () => {
  it("writes step-<8 digits>/ with the four files and points latest.json at it", async () => {
    const root = await freshDir();
    const c = makeCheckpoint(1200);
    const dir = await saveCheckpoint(root, c);
    expect(dir).toBe(join(root, "step-00001200"));
    expect((await readdir(root)).sort()).toEqual(["latest.json", "step-00001200"]);
    expect((await readdir(dir)).sort()).toEqual(["checkpoint.json", "model.safetensors", "optimizer.safetensors", "state.safetensors"]);
    expect(JSON.parse(await readFile(join(root, "latest.json"), "utf8"))).toEqual({
      format: "unroll-checkpoint-pointer",
      version: 1,
      step: 1200,
      dir: "step-00001200",
    });

    const manifest = JSON.parse(await readFile(join(dir, "checkpoint.json"), "utf8"));
    expect(Object.keys(manifest)).toEqual(["format", "version", "step", "config", "optimizer", "schedule", "rng", "data", "metrics", "trainer", "files"]);
    expect(manifest).toMatchObject({
      format: "unroll-checkpoint",
      version: 1,
      step: 1200,
      config: c.config,
      optimizer: { name: "adam", version: 1, hyper: { beta1: 0.9, beta2: 0.999, eps: 1e-8, amsgrad: false }, step: 12000, lr: 0.001 / 1200 },
      schedule: { name: "cosine", lastStep: 1200 },
      rng: c.rng,
      data: { epoch: 1, offset: 19200 },
      metrics: { loss: 1 / 1200, history: [2.5, 1.25] },
    });
    expect(manifest.optimizer).not.toHaveProperty("buffers");
    for (const name of ["model.safetensors", "optimizer.safetensors", "state.safetensors"]) {
      const bytes = await readFile(join(dir, name));
      expect(manifest.files[name]).toEqual({ bytes: bytes.length, sha256: sha256(bytes) });
    }
  });

  it("stores weights, optimiser buffers and extra tensors in their own safetensors files", async () => {
    const root = await freshDir();
    const c = makeCheckpoint(3);
    const dir = await saveCheckpoint(root, c);
    const model = decodeSafetensors(await readFile(join(dir, "model.safetensors")));
    expect(model.metadata).toEqual({ format: "pt" });
    expectTensorsEqual(model.tensors, c.params);
    expectTensorsEqual(decodeSafetensors(await readFile(join(dir, "optimizer.safetensors"))).tensors, c.optimizer!.buffers);
    expectTensorsEqual(decodeSafetensors(await readFile(join(dir, "state.safetensors"))).tensors, c.extra);
  });

  it("checks everything before touching the disk", async () => {
    const base = makeCheckpoint(1);
    const cases: [Checkpoint, RegExp][] = [
      [{ ...base, step: -1 }, /step must be a non-negative integer/],
      [{ ...base, step: 1.5 }, /step must be a non-negative integer/],
      [{ ...base, config: { lr: NaN } }, /config.lr is NaN, which JSON cannot hold/],
      [{ ...base, config: { w: fromArray([1]) } }, /config.w is a Tensor, not plain JSON data/],
      [{ ...base, metrics: { at: new Date(0) } }, /metrics.at is a Date/],
      [{ ...base, data: [1, undefined] }, /data\[1\] is undefined/],
      [{ ...base, schedule: () => 1 }, /schedule is a function/],
      [{ ...base, rng: { algorithm: "mt19937", key: [1, 2], counter: 0 } as never }, /rng is not a valid RNG state/],
      [{ ...base, optimizer: { ...base.optimizer!, hyper: { eps: Infinity } } }, /optimizer.hyper.eps must be a finite number/],
      [{ ...base, optimizer: { ...base.optimizer!, version: 2 as 1 } }, /optimiser state version 1/],
      [{ ...base, params: { w: [1, 2] as unknown as Tensor } }, /params cannot be written to model.safetensors: .*"w" is not a Tensor/],
      [{ ...base, extra: { __metadata__: fromArray([1]) } }, /extra cannot be written to state.safetensors: .*reserved/],
    ];
    const cyclic: Record<string, unknown> = {};
    cyclic["self"] = cyclic;
    cases.push([{ ...base, config: cyclic }, /config.self refers back to one of its containers/]);
    const parent = await freshDir();
    const root = join(parent, "never-created");
    for (const [c, message] of cases) {
      const e = await saveError(saveCheckpoint(root, c));
      expect(e.message).toMatch(/^saveCheckpoint: /);
      expect(e.message).toMatch(message);
    }
    for (const keep of [0, 1.5, -1]) expect((await saveError(saveCheckpoint(root, base, { keep }))).message).toMatch(/keep must be a positive integer/);
    expect(await readdir(parent)).toEqual([]);
  });

  it("refuses to replace the checkpoint latest.json names, and leaves it as it was", async () => {
    const root = await freshDir();
    await saveCheckpoint(root, makeCheckpoint(5));
    const before = await snapshot(root);
    const e = await saveError(saveCheckpoint(root, makeCheckpoint(5)));
    expect(e.message).toMatch(/step-00000005 already exists and is the latest checkpoint/);
    expect(await snapshot(root)).toEqual(before);
  });
});

describe("loadCheckpoint", () => {
  it("round-trips every field and every tensor bit for bit", async () => {
    const root = await freshDir();
    const c = makeCheckpoint(42);
    const dir = await saveCheckpoint(root, c);
    expectCheckpointEqual(await loadCheckpoint(dir), c);
  });

  it("round-trips a minimal checkpoint: no optimiser, no extra tensors, no JSON extras", async () => {
    const root = await freshDir();
    const c: Checkpoint = { step: 0, config: "tiny", params: { w: fromArray([1, 2, 3]) } };
    const loaded = await loadCheckpoint(await saveCheckpoint(root, c));
    expect(loaded.step).toBe(0);
    expect(loaded.config).toBe("tiny");
    expect(loaded.optimizer).toBeNull();
    expect(loaded.schedule).toBeNull();
    expect(loaded.rng).toBeNull();
    expect(loaded.data).toBeNull();
    expect(loaded.metrics).toBeNull();
    expect(loaded.extra).toEqual({});
    expectTensorsEqual(loaded.params, c.params);
  });

  it("loads the latest checkpoint through the root, and latestCheckpoint names it", async () => {
    const root = await freshDir();
    expect(await latestCheckpoint(root)).toBeNull();
    expect(await latestCheckpoint(join(root, "absent"))).toBeNull();
    await saveCheckpoint(root, makeCheckpoint(1));
    const second = await saveCheckpoint(root, makeCheckpoint(2));
    expect(await latestCheckpoint(root)).toBe(second);
    expectCheckpointEqual(await loadCheckpoint(root), makeCheckpoint(2));
    // The older directory stays loadable by its path.
    expectCheckpointEqual(await loadCheckpoint(join(root, "step-00000001")), makeCheckpoint(1));
    // The pointer follows the most recent save, even to a lower step (training resumed from an older one).
    const third = await saveCheckpoint(root, { ...makeCheckpoint(1), step: 0 });
    expect(await latestCheckpoint(root)).toBe(third);
    expect((await loadCheckpoint(root)).step).toBe(0);
  });

  it("returns tensors that are independent copies", async () => {
    const root = await freshDir();
    const c = makeCheckpoint(9);
    const dir = await saveCheckpoint(root, c);
    const first = await loadCheckpoint(dir);
    const second = await loadCheckpoint(dir);
    const all = [
      ...Object.values(first.params), ...Object.values(first.extra!), ...Object.values(first.optimizer!.buffers),
      ...Object.values(second.params),
    ];
    expect(new Set(all.map((t) => t.data.buffer)).size).toBe(all.length);
    for (const t of Object.values(c.params)) expect(all.some((u) => u.data.buffer === t.data.buffer)).toBe(false);

    first.params["rnn.weight_ih_l0"]!.data[0] = 999;
    first.optimizer!.buffers["exp_avg/rnn.weight_ih_l0"]!.data.fill(5);
    c.extra!["hidden"]!.data[0] = -7;
    expect(second.params["rnn.weight_ih_l0"]!.data[0]).toBe(9);
    expectCheckpointEqual(await loadCheckpoint(dir), makeCheckpoint(9));
  });

  it("names a missing checkpoint.json when given the directory itself", async () => {
    const root = await freshDir();
    const dir = await saveCheckpoint(root, makeCheckpoint(1));
    await rm(join(dir, "checkpoint.json"));
    const e = await loadError(dir);
    expect(e.file).toBe(join(dir, "checkpoint.json"));
    expect(e.message).toMatch(/checkpoint.json: missing \(the directory holds model.safetensors but no checkpoint.json\)/);
  });

  it("accepts a path that is neither a checkpoint nor a root only with a clear error", async () => {
    const root = await freshDir();
    expect((await loadError(join(root, "absent"))).message).toMatch(/absent: no such directory/);
    await writeFile(join(root, "file.txt"), "x");
    expect((await loadError(join(root, "file.txt"))).message).toMatch(/file.txt: is not a directory/);
    expect((await loadError(root)).message).toMatch(/holds neither checkpoint.json \(a checkpoint directory\) nor latest.json/);
  });
});

describe("loadCheckpoint rejects damaged checkpoints, naming the file, and changes nothing on disk", () => {
  type Damage = (dir: string, root: string) => Promise<void>;
  const rewriteManifest = async (dir: string, edit: (m: Record<string, unknown>) => void): Promise<void> => {
    const m = JSON.parse(await readFile(join(dir, "checkpoint.json"), "utf8"));
    edit(m);
    await writeFile(join(dir, "checkpoint.json"), JSON.stringify(m));
  };
  const cases: [string, Damage, string, RegExp][] = [
    ["a truncated model file", async (dir) => {
      const bytes = await readFile(join(dir, "model.safetensors"));
      await writeFile(join(dir, "model.safetensors"), bytes.subarray(0, bytes.length - 3));
    }, "model.safetensors", /has \d+ bytes, but checkpoint.json records \d+: the file is truncated or was replaced/],
    ["a flipped byte in the optimiser file", async (dir) => {
      const bytes = await readFile(join(dir, "optimizer.safetensors"));
      bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 0x10;
      await writeFile(join(dir, "optimizer.safetensors"), bytes);
    }, "optimizer.safetensors", /sha256 is [0-9a-f]{64}, but checkpoint.json records [0-9a-f]{64}: the file is corrupted or was modified/],
    ["a missing state file", async (dir) => {
      await rm(join(dir, "state.safetensors"));
    }, "state.safetensors", /: missing/],
    ["a missing checkpoint.json", async (dir) => {
      await rm(join(dir, "checkpoint.json"));
    }, "checkpoint.json", /checkpoint.json: missing$/],
    ["a PNG renamed to model.safetensors", async (dir) => {
      await writeFile(join(dir, "model.safetensors"), PNG);
    }, "model.safetensors", /has 51 bytes, but checkpoint.json records/],
    ["a PNG renamed to model.safetensors, with a manifest updated to match", async (dir) => {
      await writeFile(join(dir, "model.safetensors"), PNG);
      await rewriteManifest(dir, (m) => {
        (m["files"] as Record<string, unknown>)["model.safetensors"] = { bytes: PNG.length, sha256: sha256(PNG) };
      });
    }, "model.safetensors", /is not a valid safetensors file: decodeSafetensors: header length \d+ is over the 100 MB limit/],
    ["a PNG renamed to checkpoint.json", async (dir) => {
      await writeFile(join(dir, "checkpoint.json"), PNG);
    }, "checkpoint.json", /is not JSON \(.*\); expected an unroll checkpoint manifest/],
    ["a package.json renamed to checkpoint.json", async (dir) => {
      await writeFile(join(dir, "checkpoint.json"), JSON.stringify({ name: "some-app", version: "1.0.0" }));
    }, "checkpoint.json", /is not an unroll checkpoint \(expected "format": "unroll-checkpoint", found undefined\)/],
    ["a checkpoint from a newer version", async (dir) => {
      await rewriteManifest(dir, (m) => {
        m["version"] = 2;
      });
    }, "checkpoint.json", /has version number 2; this library reads checkpoint version 1/],
    ["a manifest without the rng field", async (dir) => {
      await rewriteManifest(dir, (m) => {
        delete m["rng"];
      });
    }, "checkpoint.json", /has no "rng" field/],
    ["a manifest with a broken rng state", async (dir) => {
      await rewriteManifest(dir, (m) => {
        m["rng"] = { algorithm: "philox4x32-10", key: [1], counter: 0 };
      });
    }, "checkpoint.json", /rng is not a valid RNG state/],
    ["a manifest with a file entry missing", async (dir) => {
      await rewriteManifest(dir, (m) => {
        delete (m["files"] as Record<string, unknown>)["state.safetensors"];
      });
    }, "checkpoint.json", /"files" has no valid entry for state.safetensors/],
    ["a manifest listing an unknown file", async (dir) => {
      await rewriteManifest(dir, (m) => {
        (m["files"] as Record<string, unknown>)["evil.bin"] = { bytes: 0, sha256: "0".repeat(64) };
      });
    }, "checkpoint.json", /"files" lists an unknown file "evil.bin"/],
    ["a pointer from another program", async (_dir, root) => {
      await writeFile(join(root, "latest.json"), JSON.stringify({ latest: "step-1" }));
    }, "latest.json", /is not a checkpoint pointer \(expected "format": "unroll-checkpoint-pointer", found undefined\)/],
    ["a pointer that is not JSON", async (_dir, root) => {
      await writeFile(join(root, "latest.json"), PNG);
    }, "latest.json", /is not JSON/],
    ["a pointer to a directory that is gone", async (dir) => {
      await rm(dir, { recursive: true });
    }, "latest.json", /points to step-00000004, which does not exist/],
    ["a pointer whose step disagrees with its directory", async (_dir, root) => {
      await writeFile(join(root, "latest.json"), JSON.stringify({ format: "unroll-checkpoint-pointer", version: 1, step: 5, dir: "step-00000004" }));
    }, "latest.json", /names directory the string "step-00000004", expected "step-00000005"/],
    ["a pointer that escapes the root", async (_dir, root) => {
      await writeFile(join(root, "latest.json"), JSON.stringify({ format: "unroll-checkpoint-pointer", version: 1, step: 4, dir: "../step-00000004" }));
    }, "latest.json", /names directory/],
    ["a directory renamed to another step", async (dir, root) => {
      await rm(join(root, "step-00000004"), { recursive: true });
      await cp(join(root, "step-00000003"), dir, { recursive: true });
    }, "checkpoint.json", /is for step 3, but latest.json says step 4/],
  ];

  for (const [what, damage, file, message] of cases) {
    it(what, async () => {
      const root = await freshDir();
      await saveCheckpoint(root, makeCheckpoint(3));
      const dir = await saveCheckpoint(root, makeCheckpoint(4));
      await damage(dir, root);
      const before = await snapshot(root);
      const viaRoot = await loadError(root);
      expect(viaRoot.message).toMatch(/^loadCheckpoint: /);
      expect(viaRoot.file?.endsWith(file), `${viaRoot.file} should be ${file}`).toBe(true);
      expect(viaRoot.message).toContain(file);
      expect(viaRoot.message).toMatch(message);
      expect(await snapshot(root)).toEqual(before);
    });
  }
});

describe("atomic saves", () => {
  const STAGES: SaveStage[] = [
    "tmp-created",
    "wrote model.safetensors",
    "wrote optimizer.safetensors",
    "wrote state.safetensors",
    "wrote checkpoint.json",
    "renamed",
    "pointer-written",
    "pointer-renamed",
  ];

  it("a crash at any moment leaves a loadable checkpoint: the previous one until the pointer moves", async () => {
    const root = await freshDir();
    await saveCheckpoint(root, makeCheckpoint(1));
    const pointerBefore = await readFile(join(root, "latest.json"), "utf8");
    // The disk as a crash at each stage would leave it (files are fsynced before each stage).
    const crashes: [SaveStage, string][] = [];
    const parent = await freshDir();
    await saveCheckpointWithHooks(root, makeCheckpoint(2), {}, {
      onStage: async (stage) => {
        const copy = join(parent, `crash-${crashes.length}`);
        await cp(root, copy, { recursive: true });
        crashes.push([stage, copy]);
      },
    });
    expect(crashes.map(([s]) => s)).toEqual(STAGES);

    for (const [stage, copy] of crashes) {
      const moved = stage === "pointer-renamed";
      const loaded = await loadCheckpoint(copy);
      expectCheckpointEqual(loaded, makeCheckpoint(moved ? 2 : 1));
      if (!moved) expect(await readFile(join(copy, "latest.json"), "utf8")).toBe(pointerBefore);
      // The previous checkpoint is intact whatever happened.
      expectCheckpointEqual(await loadCheckpoint(join(copy, "step-00000001")), makeCheckpoint(1));
      const entries = await readdir(copy);
      const hidden = entries.filter((n) => n.startsWith(".") || n.includes(".tmp-"));
      expect(hidden.length > 0, `${stage}: ${entries.join(", ")}`).toBe(["tmp-created", "wrote model.safetensors", "wrote optimizer.safetensors", "wrote state.safetensors", "wrote checkpoint.json", "pointer-written"].includes(stage));

      // Training resumes: the next save succeeds and removes what the crash left behind.
      await saveCheckpoint(copy, makeCheckpoint(3));
      expect((await readdir(copy)).sort()).toEqual(stage === "renamed" || stage === "pointer-written" || moved
        ? ["latest.json", "step-00000001", "step-00000002", "step-00000003"]
        : ["latest.json", "step-00000001", "step-00000003"]);
      expectCheckpointEqual(await loadCheckpoint(copy), makeCheckpoint(3));
    }
  });

  it("a failure after writing half the files leaves the previous checkpoint and pointer, and no debris", async () => {
    const root = await freshDir();
    await saveCheckpoint(root, makeCheckpoint(1));
    const before = await snapshot(root);
    const boom = new Error("disk full (injected)");
    const e = await saveError(saveCheckpointWithHooks(root, makeCheckpoint(2), {}, {
      onStage: (stage) => {
        if (stage === "wrote optimizer.safetensors") throw boom;
      },
    }));
    expect(e.message).toMatch(/saving step 2 into .* failed: disk full \(injected\)/);
    expect(e.cause).toBe(boom);
    expect(await snapshot(root)).toEqual(before);
    expectCheckpointEqual(await loadCheckpoint(root), makeCheckpoint(1));
  });

  it("a failure before the pointer moves keeps the old pointer; saving the step again replaces the orphan", async () => {
    const root = await freshDir();
    await saveCheckpoint(root, makeCheckpoint(1));
    const pointer = await readFile(join(root, "latest.json"), "utf8");
    await saveError(saveCheckpointWithHooks(root, makeCheckpoint(2), {}, {
      onStage: (stage) => {
        if (stage === "pointer-written") throw new Error("killed (injected)");
      },
    }));
    expect(await readFile(join(root, "latest.json"), "utf8")).toBe(pointer);
    expect((await readdir(root)).sort()).toEqual(["latest.json", "step-00000001", "step-00000002"]);
    expectCheckpointEqual(await loadCheckpoint(root), makeCheckpoint(1));

    const changed = { ...makeCheckpoint(2), metrics: { loss: 0.5 } };
    await saveCheckpoint(root, changed);
    expect((await readdir(root)).sort()).toEqual(["latest.json", "step-00000001", "step-00000002"]);
    expectCheckpointEqual(await loadCheckpoint(root), changed);
  });

  it("loads ignore leftovers of crashed saves without touching them; the next save removes them", async () => {
    const root = await freshDir();
    await saveCheckpoint(root, makeCheckpoint(1));
    const tmp = join(root, ".step-00000002.tmp-0123abcd");
    await mkdir(tmp);
    await writeFile(join(tmp, "model.safetensors"), PNG.subarray(0, 10));
    await writeFile(join(root, "latest.json.tmp-beef"), '{"format": "unroll-checkpoint-pointer", "ver');
    const before = await snapshot(root);
    expectCheckpointEqual(await loadCheckpoint(root), makeCheckpoint(1));
    expect(await latestCheckpoint(root)).toBe(join(root, "step-00000001"));
    expect(await snapshot(root)).toEqual(before);

    await saveCheckpoint(root, makeCheckpoint(2));
    expect((await readdir(root)).sort()).toEqual(["latest.json", "step-00000001", "step-00000002"]);
    await expect(stat(tmp)).rejects.toThrow(/ENOENT/);
  });
});

describe("keep", () => {
  it("keeps only the newest checkpoints after each save", async () => {
    const root = await freshDir();
    for (let step = 1; step <= 5; step++) await saveCheckpoint(root, makeCheckpoint(step), { keep: 2 });
    expect((await readdir(root)).sort()).toEqual(["latest.json", "step-00000004", "step-00000005"]);
    expectCheckpointEqual(await loadCheckpoint(root), makeCheckpoint(5));
    await saveCheckpoint(root, makeCheckpoint(6), { keep: 1 });
    expect((await readdir(root)).sort()).toEqual(["latest.json", "step-00000006"]);
  });

  it("never removes the checkpoint just saved, even when its step is the lowest", async () => {
    const root = await freshDir();
    for (const step of [10, 20, 30]) await saveCheckpoint(root, makeCheckpoint(step));
    await saveCheckpoint(root, makeCheckpoint(5), { keep: 2 });
    expect((await readdir(root)).sort()).toEqual(["latest.json", "step-00000005", "step-00000030"]);
    expectCheckpointEqual(await loadCheckpoint(root), makeCheckpoint(5));
  });

  it("leaves other files and directories in the root alone", async () => {
    const root = await freshDir();
    await mkdir(join(root, "logs"));
    await writeFile(join(root, "notes.txt"), "mine");
    for (let step = 1; step <= 3; step++) await saveCheckpoint(root, makeCheckpoint(step), { keep: 1 });
    expect((await readdir(root)).sort()).toEqual(["latest.json", "logs", "notes.txt", "step-00000003"]);
  });
});
