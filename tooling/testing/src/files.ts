// Files as tests compare them: a whole folder at once, so that "nothing changed" (a refused
// command, a failed load) is one comparison.
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

/** Every file under `dir` (recursively, `a/b.txt` for nested ones) with its sha256. */
export async function snapshotDir(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (at: string, prefix: string): Promise<void> => {
    for (const entry of await readdir(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) await walk(path, `${prefix}${entry.name}/`);
      else out[`${prefix}${entry.name}`] = createHash("sha256").update(await readFile(path)).digest("hex");
    }
  };
  await walk(dir, "");
  return out;
}
