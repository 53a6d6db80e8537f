// Run folders: the lock, refusing and replacing an old run, resuming, metrics.jsonl. Every test works
// in its own fresh temporary directory.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { fromArray, type Tensor } from "@unroll/tensor";
import { afterAll, describe, expect, it } from "vitest";
import { CheckpointError, saveCheckpoint } from "../checkpoint/index.js";
import { sgd } from "../optim/index.js";
import { arraySource } from "../data.js";
import { Trainer } from "../trainer.js";
import { loadCheckpoint } from "../checkpoint/index.js";
import { BestCheckpoint, DivergenceMonitor, LOCK_FILE, MetricsLog, metricsToCsv, RunFolder, RunFolderError, truncateMetrics } from "./index.js";
import { snapshotDir } from "@unroll/testing/files";

const made: string[] = [];
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "unroll-run-test-"));
  made.push(dir);
  return dir;
}
afterAll(async () => {
  for (const dir of made) await rm(dir, { recursive: true, force: true });
});


async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
}

/** A run folder as a training leaves it: two checkpoints, latest.json, metrics.jsonl. */
async function oldRun(dir: string): Promise<void> {
  for (const step of [300, 360]) await saveCheckpoint(dir, { step, config: { run: "old" }, params: { w: fromArray([step]) } });
  await writeFile(join(dir, "metrics.jsonl"), '{"step":1,"loss":4}\n{"step":2,"loss":3.5}\n');
}

/** A child process that stays alive until killed: a stand-in for another training. */
async function otherProcess(): Promise<{ pid: number; kill: () => Promise<void> }> {
  const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 120000)"], { stdio: "ignore" });
  await new Promise((resolve) => child.once("spawn", resolve));
  return {
    pid: child.pid!,
    kill: () =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGKILL");
      }),
  };
}

function lockText(pid: number, processStart: string | null): string {
  return JSON.stringify({ format: "unroll-run-lock", version: 1, pid, hostname: hostname(), started: "2030-01-01T00:00:00.000Z", processStart, command: "unroll train lm" });
}

describe("RunFolder: a new run", () => {
  it("creates the folder, holds run.lock with its pid while open, and releases it on close", async () => {
    const dir = join(await freshDir(), "runs", "lm");
    const run = await RunFolder.open(dir, { mode: "new", command: "unroll train lm" });
    const lock = JSON.parse(await readFile(join(dir, LOCK_FILE), "utf8")) as { pid: number; command: string };
    expect(lock.pid).toBe(process.pid);
    expect(lock.command).toBe("unroll train lm");
    expect(run.previous).toBeNull();
    await run.close();
    await expect(stat(join(dir, LOCK_FILE))).rejects.toThrow(/ENOENT/);
  });

  it("refuses a folder holding any part of a run, a damaged latest.json included, and changes nothing", async () => {
    const dir = await freshDir();
    await oldRun(dir);
    await writeFile(join(dir, "latest.json"), '{"format": "unroll-checkpoint-pointer", "vers');
    const before = await snapshotDir(dir);
    const e = await rejection(RunFolder.open(dir, { mode: "new" }));
    expect(e).toBeInstanceOf(RunFolderError);
    expect((e as RunFolderError).code).toBe("HOLDS_RUN");
    expect(e.message).toMatch(/already holds a run: its latest\.json cannot be used: .*latest\.json: is not JSON.*\(2 checkpoints, metrics\.jsonl\)$/);
    expect(await snapshotDir(dir)).toEqual(before); // no lock left, no checkpoint pruned, no metrics appended

    // Only metrics.jsonl (a run killed before its first checkpoint) is a run too.
    const early = await freshDir();
    await writeFile(join(early, "metrics.jsonl"), '{"step":1,"loss":4}\n');
    expect((await rejection(RunFolder.open(early, { mode: "new" }))).message).toMatch(/already holds a run: it has no latest\.json \(metrics\.jsonl\)$/);
    // As are the leftovers of a save that was killed.
    const crashed = await freshDir();
    await mkdir(join(crashed, ".step-00000005.tmp-abcdef"));
    expect((await rejection(RunFolder.open(crashed, { mode: "new" }))).message).toMatch(/leftovers of an interrupted save: \.step-00000005\.tmp-abcdef/);
  });

  it("replace 'move' moves exactly the old run's entries into a new sibling folder and keeps the user's files", async () => {
    const parent = await freshDir();
    const dir = join(parent, "lm");
    await mkdir(dir);
    await oldRun(dir);
    await writeFile(join(dir, "notes.txt"), "my notes");
    const before = await snapshotDir(dir);
    const now = new Date(Date.UTC(2031, 4, 6, 7, 8, 9));
    const run = await RunFolder.open(dir, { mode: "new", replace: "move", now });
    expect(run.previous).toEqual({ action: "moved", to: `${dir}.replaced-20310506-070809`, entries: ["latest.json", "metrics.jsonl", "step-00000300", "step-00000360"] });
    const { log } = await run.openMetrics();
    log.append({ step: 1, loss: 9 });
    await run.close();
    const moved = await snapshotDir(`${dir}.replaced-20310506-070809`);
    const { ["notes.txt"]: notes, ...runFiles } = before;
    expect(moved).toEqual(runFiles); // byte for byte
    const sha = (text: string): string => createHash("sha256").update(text).digest("hex");
    expect(await snapshotDir(dir)).toEqual({ "notes.txt": notes, "metrics.jsonl": sha('{"step":1,"loss":9}\n'), "metrics.csv": sha("step,loss\n1,9\n") });

    // A second replacement at the same second gets its own folder.
    await writeFile(join(dir, "latest.json"), "{}");
    const again = await RunFolder.open(dir, { mode: "new", replace: "move", now });
    expect(again.previous).toMatchObject({ action: "moved", to: `${dir}.replaced-20310506-070809-2` });
    await again.close();
  });

  it("replace 'delete' deletes exactly what it lists", async () => {
    const dir = await freshDir();
    await oldRun(dir);
    await writeFile(join(dir, "diagnosis.svg"), "<svg/>");
    const run = await RunFolder.open(dir, { mode: "new", replace: "delete" });
    expect(run.previous).toEqual({ action: "deleted", entries: ["latest.json", "metrics.jsonl", "step-00000300", "step-00000360"] });
    await run.close();
    expect(await readdir(dir)).toEqual(["diagnosis.svg"]);
  });
});

describe("RunFolder: the lock", () => {
  it("says plainly that another process (its pid) trains there, and a replacement touches nothing of that run", async () => {
    const dir = await freshDir();
    await oldRun(dir);
    const other = await otherProcess();
    try {
      await writeFile(join(dir, LOCK_FILE), lockText(other.pid, null));
      const before = await snapshotDir(dir);
      for (const options of [{ mode: "new", replace: "move" }, { mode: "new", replace: "delete" }, { mode: "resume" }] as const) {
        const e = await rejection(RunFolder.open(dir, options));
        expect((e as RunFolderError).code).toBe("LOCKED");
        expect(e.message).toContain(`another process (pid ${other.pid}, \`unroll train lm\`, since 2030-01-01T00:00:00.000Z) is training in ${dir}`);
        expect((e as RunFolderError).owner?.pid).toBe(other.pid);
      }
      expect(await snapshotDir(dir)).toEqual(before);
    } finally {
      await other.kill();
    }
    // Its owner killed, the lock is stale: the next process takes it over.
    const run = await RunFolder.open(dir, { mode: "resume" });
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE), "utf8")).pid).toBe(process.pid);
    await run.close();
  });

  it("one process cannot open a folder twice; a lock whose pid now runs another program is stale", async () => {
    const dir = await freshDir();
    const first = await RunFolder.open(dir, { mode: "new" });
    expect(((await rejection(RunFolder.open(dir, { mode: "new" }))) as RunFolderError).code).toBe("LOCKED");
    await first.close();
    // Our own pid with another start time: the process that took this lock has exited and the pid was reused.
    await writeFile(join(dir, LOCK_FILE), lockText(process.pid, "1"));
    const canReadProc = await stat("/proc/self/stat").then(() => true, () => false);
    if (canReadProc) {
      const second = await RunFolder.open(dir, { mode: "new" });
      await second.close();
    } else {
      expect(((await rejection(RunFolder.open(dir, { mode: "new" }))) as RunFolderError).code).toBe("LOCKED");
    }
  });

  it("refuses a run.lock that is not a lock file, naming it", async () => {
    const dir = await freshDir();
    await writeFile(join(dir, LOCK_FILE), "hello");
    const e = await rejection(RunFolder.open(dir, { mode: "new" }));
    expect((e as RunFolderError).code).toBe("BAD_LOCK");
    expect(e.message).toContain(`${join(dir, LOCK_FILE)} is not a lock file of this program`);
    expect(await readFile(join(dir, LOCK_FILE), "utf8")).toBe("hello");
  });
});

describe("RunFolder: resume", () => {
  it("finds the latest checkpoint, and reports the real reason when there is none or it cannot be read", async () => {
    const dir = await freshDir();
    await oldRun(dir);
    const run = await RunFolder.open(dir, { mode: "resume" });
    expect(run.checkpoint).toBe(join(dir, "step-00000360"));
    await run.close();

    const missing = join(dir, "nope");
    expect((await rejection(RunFolder.open(missing, { mode: "resume" }))).message).toBe(`there is no run to resume: ${missing} does not exist`);
    const empty = await freshDir();
    expect((await rejection(RunFolder.open(empty, { mode: "resume" }))).message).toBe(`there is no run to resume in ${empty}: it holds no checkpoint`);
    const early = await freshDir();
    await writeFile(join(early, "metrics.jsonl"), '{"step":1}\n');
    expect((await rejection(RunFolder.open(early, { mode: "resume" }))).message).toMatch(/there is no checkpoint to resume in .*: it has no latest\.json \(metrics\.jsonl\)/);

    await writeFile(join(dir, "latest.json"), "garbage");
    const damaged = await rejection(RunFolder.open(dir, { mode: "resume" }));
    expect(damaged).toBeInstanceOf(CheckpointError);
    expect(damaged.message).toMatch(/latest\.json: is not JSON/);
    await rm(join(dir, "step-00000360"), { recursive: true });
    await writeFile(join(dir, "latest.json"), JSON.stringify({ format: "unroll-checkpoint-pointer", version: 1, step: 360, dir: "step-00000360" }));
    expect((await rejection(RunFolder.open(dir, { mode: "resume" }))).message).toMatch(/points to step-00000360, which holds no checkpoint\.json/);
    await expect(stat(join(dir, LOCK_FILE))).rejects.toThrow(/ENOENT/); // released on failure
  });

  it("cuts metrics.jsonl back to the resumed step before appending", async () => {
    const dir = await freshDir();
    await oldRun(dir);
    const lines = Array.from({ length: 400 }, (_, i) => `{"step":${i + 1},"loss":${(5 - i / 100).toFixed(2)}}\n`);
    lines.splice(360, 0, '{"step":360,"validation":1.5}\n');
    await writeFile(join(dir, "metrics.jsonl"), `${lines.join("")}{"step":401,"lo`); // killed mid-line
    const run = await RunFolder.open(dir, { mode: "resume" });
    const { log, truncated } = await run.openMetrics(360);
    expect(truncated).toEqual({ kept: 361, dropped: 41, bytes: lines.slice(0, 361).join("").length });
    log.append({ step: 361, loss: 1 });
    // Written at once, not at close.
    expect((await readFile(join(dir, "metrics.jsonl"), "utf8")).split("\n").slice(-3)).toEqual(['{"step":360,"validation":1.5}', '{"step":361,"loss":1}', ""]);
    await run.close();
  });
});

describe("metrics.jsonl", () => {
  it("truncateMetrics refuses a line that is not a record, naming it, and changes nothing", async () => {
    const dir = await freshDir();
    const path = join(dir, "metrics.jsonl");
    const text = '{"step":1}\n{"step":2}\nnot json\n{"step":3}\n';
    await writeFile(path, text);
    const e = await rejection(truncateMetrics(path, 2));
    expect((e as RunFolderError).code).toBe("METRICS_DAMAGED");
    expect(e.message).toBe(`${path} line 3 is not a metrics record (a JSON object with a "step"): the file was edited or damaged; fix or remove that line`);
    expect(await readFile(path, "utf8")).toBe(text);
    await writeFile(path, '{"step":1}\n{"step":"2"}\n');
    expect((await rejection(truncateMetrics(path, 5))).message).toMatch(/line 2 is not a metrics record/);
    expect(await truncateMetrics(join(dir, "none.jsonl"), 3)).toEqual({ kept: 0, dropped: 0, bytes: 0 });
  });

  it("a fresh log refuses to append to an existing file", async () => {
    const dir = await freshDir();
    const path = join(dir, "metrics.jsonl");
    await writeFile(path, '{"step":1}\n');
    expect(((await rejection(MetricsLog.open(path, { fresh: true }))) as RunFolderError).code).toBe("HOLDS_RUN");
    const log = await MetricsLog.open(path, { fresh: false });
    log.append({ step: 2, loss: NaN });
    log.close();
    expect(await readFile(path, "utf8")).toBe('{"step":1}\n{"step":2,"loss":null}\n');
  });
});

describe("metrics.csv", () => {
  it("holds the rows of metrics.jsonl under the union of their keys, rewritten when a column appears, and anew from the jsonl on resume", async () => {
    const dir = await freshDir();
    const run = await RunFolder.open(dir, { mode: "new" });
    const { log } = await run.openMetrics();
    const csv = (): Promise<string> => readFile(join(dir, "metrics.csv"), "utf8");
    expect(await csv()).toBe("step\n"); // written at once, like metrics.jsonl
    log.append({ step: 1, loss: 4, lr: 0.1 });
    log.append({ step: 2, loss: NaN, lr: 0.1 });
    expect(await csv()).toBe("step,loss,lr\n1,4,0.1\n2,,0.1\n");
    log.append({ step: 2, validation: 3.5 }); // a new column: the file anew, with every row
    log.append({ step: 3, loss: 3, lr: 0.05, note: 'say "hi", twice' });
    expect(await csv()).toBe('step,loss,lr,validation,note\n1,4,0.1,,\n2,,0.1,,\n2,,,3.5,\n3,3,0.05,,"say ""hi"", twice"\n');
    await saveCheckpoint(dir, { step: 2, config: null, params: { w: fromArray([1]) } });
    await run.close();

    // A killed run resumed from step 2: metrics.jsonl is cut back, and metrics.csv follows it.
    const resumed = await RunFolder.open(dir, { mode: "resume" });
    const { log: again } = await resumed.openMetrics(2);
    expect(await csv()).toBe("step,loss,lr,validation\n1,4,0.1,\n2,,0.1,\n2,,,3.5\n");
    again.append({ step: 3, loss: 3, lr: 0.05 });
    await resumed.close();
    const jsonl = (await readFile(join(dir, "metrics.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(await csv()).toBe(metricsToCsv(jsonl));
    expect(metricsToCsv([])).toBe("step\n");

    // Both files are a run's: a new run is refused, --force moves both aside.
    expect((await rejection(RunFolder.open(dir, { mode: "new" }))).message).toMatch(/\(1 checkpoint, metrics\.jsonl, metrics\.csv\)$/);
    const next = await RunFolder.open(dir, { mode: "new", replace: "delete" });
    expect(next.previous!.entries).toEqual(["latest.json", "metrics.csv", "metrics.jsonl", "step-00000002"]);
    await next.close();
  });
});

describe("BestCheckpoint", () => {
  const trainerAt = async (steps: number): Promise<Trainer<{ w: Tensor }, Tensor>> => {
    const t = new Trainer({
      params: { w: fromArray([0]) },
      data: arraySource([fromArray([1])], { loop: true }),
      loss: (p, target) => {
        const d = p.w.data[0]! - target.data[0]!;
        return { loss: fromArray([d * d], { shape: [] }) };
      },
      optimizer: sgd({ lr: 0.1 }),
    });
    await t.run({ steps });
    return t;
  };

  it("saves the run's checkpoint marked best and best/ beside it; a resume repairs a best/ that a kill left behind", async () => {
    const dir = await freshDir();
    const best = await BestCheckpoint.open(dir);
    expect(best.best).toBeNull();
    expect(best.improves(NaN)).toBe(false);
    expect(best.improves(3)).toBe(true);
    const t = await trainerAt(2);
    await best.save(t, { loss: 3, config: { kind: "toy" } });
    expect(best.best).toEqual({ step: 2, loss: 3 });
    expect(best.improves(3)).toBe(false);
    const saved = await loadCheckpoint(join(dir, "best"));
    expect([saved.step, saved.metrics, saved.config]).toEqual([2, { validation: 3, best: true }, { kind: "toy" }]);
    expect((await loadCheckpoint(dir)).metrics).toEqual({ validation: 3, best: true });

    // Killed after the run's checkpoint of a new best (step 4) and before best/: best/ still holds step 2.
    const t4 = await trainerAt(4);
    await saveCheckpoint(dir, { ...(await loadCheckpoint(dir)), step: 4, params: t4.state().params, metrics: { validation: 2, best: true } });
    const resumed = await BestCheckpoint.open(dir, { resumed: await loadCheckpoint(dir) });
    expect(resumed.repaired).toBe(true);
    expect(resumed.best).toEqual({ step: 4, loss: 2 });
    expect((await loadCheckpoint(join(dir, "best"))).step).toBe(4);
    expect(await readdir(join(dir, "best"))).toEqual(["latest.json", "step-00000004"]);
    const again = await BestCheckpoint.open(dir, { resumed: await loadCheckpoint(dir) });
    expect([again.repaired, again.best]).toEqual([false, { step: 4, loss: 2 }]);
  });
});

describe("DivergenceMonitor", () => {
  it("flags a finite loss far above ln V once per crossing, a non-finite loss, and a loss rising for many evaluations", () => {
    const m = new DivergenceMonitor({ baseline: Math.log(84), risingEvaluations: 3 });
    expect(m.observe(100, 4.2)).toEqual([]); // about ln 84: an untrained model
    const far = m.observe(200, 6886);
    expect(far.map((w) => w.kind)).toEqual(["far-above-baseline"]);
    expect(far[0]!.message).toBe(
      "validation loss 6886.0000 nats/token at step 200 is far above 4.4308, the loss of a uniform guess (ln of the vocabulary size): training is diverging; lower the learning rate",
    );
    expect(m.observe(300, 5000)).toEqual([]); // still above: said already
    expect(m.observe(400, 3)).toEqual([]);
    expect(m.observe(500, 9).map((w) => w.kind)).toEqual(["far-above-baseline"]); // crossed again
    expect(m.observe(600, NaN).map((w) => w.message)).toEqual(["validation loss is NaN at step 600: the model has diverged; lower the learning rate"]);

    const r = new DivergenceMonitor({ baseline: Math.log(65), risingEvaluations: 3 });
    expect([2.0, 1.5, 1.6, 1.7].flatMap((l, i) => r.observe(i + 1, l))).toEqual([]);
    const rising = r.observe(5, 1.8);
    expect(rising.map((w) => w.message)).toEqual([
      "validation loss has risen at 3 evaluations in a row, from 1.5000 at step 2 to 1.8000 at step 5: the run is diverging or overfitting; lower the learning rate, add dropout, or stop here",
    ]);
    expect(r.observe(6, 1.9)).toEqual([]); // counting starts again
  });
});

describe("RunFolder.close({ discardIfNoCheckpoint })", () => {
  it("removes a folder a new run made and left without a checkpoint; keeps one with a checkpoint, and one that existed before", async () => {
    const parent = await freshDir();
    const failed = join(parent, "failed");
    const run = await RunFolder.open(failed, { mode: "new" });
    const { log } = await run.openMetrics();
    log.append({ step: 1, loss: 2 });
    await run.close({ discardIfNoCheckpoint: true });
    await expect(stat(failed)).rejects.toThrow(/ENOENT/);

    const saved = join(parent, "saved");
    const kept = await RunFolder.open(saved, { mode: "new" });
    await saveCheckpoint(saved, { step: 1, config: null, params: { w: fromArray([1]) } });
    await kept.close({ discardIfNoCheckpoint: true });
    expect(await readdir(saved)).toContain("latest.json");

    const existing = join(parent, "existing");
    await mkdir(existing);
    const before = await RunFolder.open(existing, { mode: "new" });
    await before.close({ discardIfNoCheckpoint: true });
    expect((await stat(existing)).isDirectory()).toBe(true);
  });
});
