/// <reference types="node" />
// An exclusive lock on a run folder: the file `run.lock`, created atomically (written to a temporary
// file, then hard-linked to its name, which fails if it exists), holding the owner's pid, host, start
// time and command. A lock whose owner is gone (a killed or crashed training) is stale: the next
// process takes it over. The owner is gone when its pid no longer runs, runs another program (the
// process start time differs: the pid was reused) or is a zombie; on another host nothing can be
// checked, so such a lock is respected and the message says which file to delete.

import { errorCode, errorMessage, RunFolderError } from "./errors.js";
import { loadNode, type NodeModules } from "./node.js";

/** The lock file's name inside a run folder. */
export const LOCK_FILE = "run.lock";
const LOCK_FORMAT = "unroll-run-lock";
const LOCK_VERSION = 1;
// Temporary names of an acquisition in progress: `run.lock.<pid>.<hex>.tmp` / `.stale`.
const LOCK_TEMP = /^run\.lock\.(\d+)\.[0-9a-f]+\.(?:tmp|stale)$/;

/** Who holds a lock. */
export interface LockOwner {
  readonly pid: number;
  readonly hostname: string;
  /** When the lock was taken (ISO 8601). */
  readonly started: string;
  /** The process's start time as the kernel counts it (Linux), to tell a reused pid apart; else null. */
  readonly processStart: string | null;
  /** The command line that took the lock, for the message another process prints. */
  readonly command: string | null;
}

/** A process's state and start time from /proc (Linux); null where there is no /proc or no such process. */
function procStat(n: NodeModules, pid: number): { state: string; start: string } | null {
  try {
    const text = n.fsSync.readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses; fields resume after the last ")".
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    const state = fields[0];
    const start = fields[19]; // field 22 of proc(5), counted from field 3
    return state !== undefined && start !== undefined ? { state, start } : null;
  } catch {
    return null;
  }
}

function pidRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errorCode(e) === "EPERM"; // it exists, under another user
  }
}

/** Whether the owner of a lock still runs (always true for another host, where it cannot be checked). */
function ownerAlive(n: NodeModules, owner: LockOwner): boolean {
  if (owner.hostname !== n.os.hostname()) return true;
  if (!pidRuns(owner.pid)) return false;
  const stat = procStat(n, owner.pid);
  if (stat === null) return true;
  if (stat.state === "Z" || stat.state === "X") return false; // exited, not yet reaped
  return owner.processStart === null || stat.start === owner.processStart;
}

/** The owner recorded in a lock file's text, or null when the text is not a lock this library wrote. */
export function parseLock(text: string): LockOwner | null {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return null;
  const o = doc as Record<string, unknown>;
  const own = (k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined);
  const pid = own("pid");
  const hostname = own("hostname");
  const started = own("started");
  const processStart = own("processStart");
  const command = own("command");
  if (own("format") !== LOCK_FORMAT || own("version") !== LOCK_VERSION) return null;
  if (!Number.isSafeInteger(pid) || (pid as number) < 1 || typeof hostname !== "string" || typeof started !== "string") return null;
  if (processStart !== null && typeof processStart !== "string") return null;
  if (command !== null && typeof command !== "string") return null;
  return { pid: pid as number, hostname, started, processStart, command };
}

function describeOwner(owner: LockOwner): string {
  return `pid ${owner.pid}${owner.command ? `, \`${owner.command}\`` : ""}, since ${owner.started}`;
}

/** An exclusive lock on a run folder, held until `release`. */
export class RunLock {
  private released = false;

  private constructor(
    private readonly n: NodeModules,
    /** The lock file. */
    readonly path: string,
    readonly owner: LockOwner,
    private readonly text: string,
  ) {}

  /**
   * Takes the lock of `dir` (which must exist), or throws a RunFolderError: "LOCKED" when another
   * live process holds it (the message names its pid and command), "BAD_LOCK" when `run.lock` is
   * not a lock file. A stale lock (its owner has exited, was killed, or the pid now runs another
   * program) is taken over.
   */
  static async acquire(dir: string, options: { readonly command?: string } = {}): Promise<RunLock> {
    const n = await loadNode();
    const path = n.path.join(dir, LOCK_FILE);
    const owner: LockOwner = {
      pid: process.pid,
      hostname: n.os.hostname(),
      started: new Date().toISOString(),
      processStart: procStat(n, process.pid)?.start ?? null,
      command: options.command ?? null,
    };
    const text = `${JSON.stringify({ format: LOCK_FORMAT, version: LOCK_VERSION, ...owner }, null, 2)}\n`;
    await removeDeadTemps(n, dir);
    const temp = (kind: "tmp" | "stale"): string => n.path.join(dir, `${LOCK_FILE}.${process.pid}.${n.crypto.randomBytes(6).toString("hex")}.${kind}`);
    const io = (e: unknown): RunFolderError => new RunFolderError("IO", path, `cannot take the lock ${path}: ${errorMessage(e)}`, { cause: e });

    for (let attempt = 0; attempt < 20; attempt++) {
      const tmp = temp("tmp");
      try {
        await n.fs.writeFile(tmp, text, { flag: "wx" });
        try {
          await n.fs.link(tmp, path); // atomic: the lock appears whole, or not at all
          return new RunLock(n, path, owner, text);
        } catch (e) {
          if (errorCode(e) !== "EEXIST") throw e;
        }
      } catch (e) {
        throw io(e);
      } finally {
        await n.fs.rm(tmp, { force: true }).catch(() => undefined);
      }

      let seen: string;
      try {
        seen = await n.fs.readFile(path, "utf8");
      } catch (e) {
        if (errorCode(e) === "ENOENT") continue; // released meanwhile
        throw io(e);
      }
      const other = parseLock(seen);
      if (other === null) {
        throw new RunFolderError(
          "BAD_LOCK",
          path,
          `${path} is not a lock file of this program (expected "format": "${LOCK_FORMAT}"); if no training is running in ${dir}, delete it`,
        );
      }
      if (ownerAlive(n, other)) {
        const where = other.hostname === owner.hostname ? "" : ` on host ${other.hostname} (which this machine cannot check)`;
        throw new RunFolderError(
          "LOCKED",
          path,
          `another process (${describeOwner(other)}) is training in ${dir}${where}; one run folder takes one training at a time` +
            (where ? `; if that process has ended, delete ${path}` : ""),
          { owner: other },
        );
      }
      // Stale. Move it aside (atomic), then check that what moved is what was judged stale: another
      // process may have taken it over in between, and its fresh lock goes back.
      const aside = temp("stale");
      try {
        await n.fs.rename(path, aside);
      } catch (e) {
        if (errorCode(e) === "ENOENT") continue;
        throw io(e);
      }
      const moved = await n.fs.readFile(aside, "utf8").catch(() => "");
      if (moved !== seen) await n.fs.link(aside, path).catch(() => undefined);
      await n.fs.rm(aside, { force: true }).catch(() => undefined);
    }
    throw new RunFolderError("LOCKED", path, `cannot take the lock ${path}: other processes keep taking it`);
  }

  /** Whether this process still holds the lock (it has not been released). */
  get held(): boolean {
    return !this.released;
  }

  /** Removes the lock file, if it is still this lock's. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const current = await this.n.fs.readFile(this.path, "utf8").catch(() => null);
    if (current === this.text) await this.n.fs.rm(this.path, { force: true });
  }

  /** `release` for a process's "exit" handler, where nothing asynchronous runs. */
  releaseSync(): void {
    if (this.released) return;
    this.released = true;
    try {
      if (this.n.fsSync.readFileSync(this.path, "utf8") === this.text) this.n.fsSync.rmSync(this.path, { force: true });
    } catch {
      // Nothing to release.
    }
  }
}

/** Removes what interrupted acquisitions of processes that no longer run left behind. */
async function removeDeadTemps(n: NodeModules, dir: string): Promise<void> {
  let names: string[];
  try {
    names = await n.fs.readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = LOCK_TEMP.exec(name);
    if (m && Number(m[1]) !== process.pid && !pidRuns(Number(m[1]))) await n.fs.rm(n.path.join(dir, name), { force: true }).catch(() => undefined);
  }
}
