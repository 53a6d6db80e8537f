import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

// The `unroll` binary as a user runs it (the built dist), for the end-to-end tests.
const bin = fileURLToPath(new URL("../bin/unroll.js", import.meta.url));

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `unroll args...` with `input` on standard input (none: stdin closed at once). */
export function unroll(args: readonly string[], input?: string): Promise<Result> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => done({ code, stdout, stderr }));
    child.stdin.end(input ?? "");
  });
}

/** The JSON records of `--json` output, one per line. */
export const lines = (text: string): Record<string, unknown>[] => text.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
