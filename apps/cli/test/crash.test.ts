// A training killed with SIGKILL again and again (between checkpoints, right at a checkpoint, in the
// middle of writing one), resumed each time, ends exactly as an uninterrupted run: the same files in
// its folder, byte for byte (the final checkpoint and metrics.jsonl included), no lock left behind.
import { spawn } from "node:child_process";
import { watch } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { snapshotDir } from "@unroll/testing/files";

const bin = fileURLToPath(new URL("../bin/unroll.js", import.meta.url));
const STEPS = 120;

let work: string;
let corpus: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "unroll-crash-"));
  corpus = join(work, "corpus.txt");
  await writeFile(corpus, "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife. ".repeat(120));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

function args(out: string, resume: boolean): string[] {
  return [
    bin, "--json", "train", "lm", "--data", corpus, "--out", out, "--steps", String(STEPS), "--sample", "0",
    "--hidden", "32", "--embedding", "8", "--batch", "8", "--window", "16", "--eval-every", "7", "--eval-tokens", "300", "--checkpoint-every", "10",
    ...(resume ? ["--resume"] : []),
  ];
}

/** When to kill: at the first step event at or after `step`, or as soon as a checkpoint save of `saving` has begun. */
type Kill = { readonly step: number } | { readonly saving: number };

/** Runs a training until it ends or is killed as `kill` says; resolves with how it ended. */
function runUntil(out: string, resume: boolean, kill: Kill | null): Promise<{ killed: boolean; code: number | null; lastStep: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args(out, resume), { stdio: ["ignore", "pipe", "pipe"] });
    let lastStep = 0;
    let stderr = "";
    let buffered = "";
    let sent = false;
    const killNow = (): void => {
      if (!sent) child.kill("SIGKILL");
      sent = true;
    };
    const watcher =
      kill !== null && "saving" in kill
        ? watch(out, (_event, name) => {
            if (typeof name === "string" && name.startsWith(`.step-${String(kill.saving).padStart(8, "0")}.tmp-`)) killNow();
          })
        : null;
    child.stdout.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const record = JSON.parse(line) as { event?: string; step?: number };
        if (record.event === "step") {
          lastStep = record.step!;
          if (kill !== null && "step" in kill && lastStep >= kill.step) killNow();
        }
      }
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("close", (code, signal) => {
      watcher?.close();
      resolve({ killed: signal === "SIGKILL", code, lastStep, stderr });
    });
  });
}


async function metricsSteps(dir: string): Promise<number[]> {
  const text = await readFile(join(dir, "metrics.jsonl"), "utf8");
  return text.split("\n").filter((l) => l.trim() !== "").map((l) => (JSON.parse(l) as { step: number }).step);
}

describe("kill -9 at any moment, resume, and the run ends as if nothing happened", () => {
  it("gives a byte-identical final checkpoint and an identical metrics.jsonl", async () => {
    const reference = join(work, "uninterrupted");
    const straight = await runUntil(reference, false, null);
    expect(straight.code, straight.stderr).toBe(0);

    const out = join(work, "killed");
    await (await import("node:fs/promises")).mkdir(out);
    const plan: { kill: Kill; what: string }[] = [
      { kill: { step: 13 }, what: "between checkpoints" },
      { kill: { saving: 30 }, what: "in the middle of saving a checkpoint" },
      { kill: { step: 47 }, what: "between checkpoints" },
      { kill: { step: 60 }, what: "right at a checkpoint" },
    ];
    let killed = 0;
    for (const [i, { kill, what }] of plan.entries()) {
      const r = await runUntil(out, i > 0, kill);
      if (!r.killed) {
        // Too late: the run ended before the signal came. What follows still has to hold.
        expect(r.code, `${what}: ${r.stderr}`).toBe(0);
        continue;
      }
      killed++;
      const pointer = JSON.parse(await readFile(join(out, "latest.json"), "utf8")) as { step: number };
      const steps = await metricsSteps(out);
      // Every step line is in the file as it happens: none is lost to a buffer.
      expect(Math.max(...steps), what).toBeGreaterThanOrEqual(r.lastStep);
      if ("step" in kill) expect(Math.max(...steps), what).toBeGreaterThan(pointer.step);
    }
    expect(killed).toBeGreaterThanOrEqual(3);
    const last = await runUntil(out, true, null);
    expect(last.code, last.stderr).toBe(0);

    const [a, b] = [await snapshotDir(reference), await snapshotDir(out)];
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort()); // no lock, no leftovers of a killed save
    expect(b).toEqual(a);
    expect(b["step-00000120/model.safetensors"]).toBeDefined();
    expect(await readFile(join(out, "metrics.jsonl"), "utf8")).toBe(await readFile(join(reference, "metrics.jsonl"), "utf8"));
  });
});
