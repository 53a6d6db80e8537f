// The root README's command blocks, run as a user runs them after the two set-up commands: the
// same lines, in a fresh directory that holds the repository's apps/ (so `node apps/cli/bin/unroll.js`
// resolves as it does at the root). The one change: every `train lm` line gets a step budget
// appended (commander takes the last --steps), so that the run takes seconds, not an hour.
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const readme = readFileSync(join(root, "README.md"), "utf8");
const SETUP = "npx --yes pnpm@12.4.2 install";
// ../shared/data beside the repository (development machines and CI); a user's clone has none.
const sharedShakespeare = join(root, "../shared/data/tinyshakespeare/input.txt");

/** The command lines of every ```sh block but the set-up commands (they are what runs this test). */
function commandLines(markdown: string): string[] {
  const blocks = [...markdown.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  return blocks
    .flatMap((b) => b.split("\n"))
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#") && !l.startsWith(SETUP));
}

/** What `npx --yes pnpm@12.4.2 start` runs after building: the main job. */
function mainJob(): string {
  const start = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: { start: string } }).scripts.start;
  return start.split("&&").at(-1)!.trim();
}

const work = mkdtempSync(join(tmpdir(), "unroll-readme-"));
symlinkSync(join(root, "apps"), join(work, "apps"));
const cache = join(work, "cache");
mkdirSync(join(cache, "unroll/corpora"), { recursive: true });
const haveShakespeare = existsSync(sharedShakespeare);
if (haveShakespeare) copyFileSync(sharedShakespeare, join(cache, "unroll/corpora/tiny-shakespeare.txt"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let trainedSteps = 0;
/** The line as written, plus a small step budget for training lines. */
function budgeted(line: string): string {
  if (!/ train lm\b/.test(line)) return line;
  const [command, comment] = line.split(/\s+#\s/);
  const resume = line.includes("--resume");
  trainedSteps = resume ? trainedSteps + 2 : 3;
  // A resumed run keeps its own settings: only the step budget (and the sample) may change.
  return `${command!.trim()} --steps ${trainedSteps}${resume ? "" : " --eval-tokens 400"} --sample 40${comment === undefined ? "" : ` # ${comment}`}`;
}

function sh(line: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn("sh", ["-c", line], { cwd: work, env: { ...process.env, XDG_CACHE_HOME: cache }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

describe("the root README's commands", () => {
  const lines = commandLines(readme);

  it("are the CLI, called as it is after the set-up commands (no bare `pnpm`, which npx does not install)", () => {
    expect(lines.length).toBeGreaterThanOrEqual(4);
    for (const line of lines) expect(line.startsWith("node apps/cli/bin/unroll.js "), line).toBe(true);
  });

  it("run as written after the main job", async () => {
    const start = await sh(budgeted(mainJob()));
    expect(start.code, start.stderr).toBe(0);
    expect(start.stdout).toContain("finished at step 3");
    for (const line of lines) {
      if (line.includes("tiny-shakespeare") && !haveShakespeare) {
        // Offline without ../shared/data there is nothing to train on: the download needs GitHub.
        console.warn(`README command not run (tiny-shakespeare is neither cached nor reachable offline): ${line}`);
        continue;
      }
      const r = await sh(budgeted(line));
      expect(r.code, `${line}\n${r.stderr}`).toBe(0);
      if (line.includes(" sample ")) expect(r.stdout.startsWith("Call me")).toBe(true);
      if (line.includes(" eval ")) expect(r.stdout).toMatch(/perplexity/);
      if (line.includes(" train lm ")) expect(r.stdout).toMatch(/finished at step \d+; checkpoint saved in/);
    }
  });
});
