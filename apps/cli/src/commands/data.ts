import type { Command } from "commander";
import { corpora, defaultCacheDir, downloadCorpus, findCorpus } from "@unroll/nlp";
import { UserError } from "../ui/errors.js";
import type { Output } from "../ui/output.js";

export function registerData(program: Command, out: () => Output): void {
  const data = program.command("data").description("built-in corpora: list them, download the public ones");
  data
    .command("list", { isDefault: true })
    .description("list the built-in corpora and where they come from")
    .action(() => {
      const o = out();
      for (const c of corpora) {
        o.result(
          { name: c.name, embedded: c.embedded, source: c.source, license: c.license, description: c.description, sizeBytes: c.sizeBytes ?? null },
          () => `${c.name.padEnd(18)} ${c.embedded ? "embedded  " : "download  "} ${c.description}\n${" ".repeat(30)}source: ${c.source} (${c.license})`,
        );
      }
    });
  data
    .command("download")
    .description("download a public corpus into the cache (checked against its sha256)")
    .argument("<name>", "corpus name (see `unroll data list`)")
    .option("--cache <dir>", "cache directory (default: ~/.cache/unroll/corpora or $XDG_CACHE_HOME/unroll/corpora)")
    .action(async (name: string, flags: { cache?: string }) => {
      const o = out();
      const info = findCorpus(name);
      if (!info) throw new UserError(`there is no built-in corpus "${name}"`, `known corpora: ${corpora.map((c) => c.name).join(", ")}`);
      if (info.embedded) {
        o.result({ name, path: null, embedded: true }, () => `${name} is embedded in the package: nothing to download`);
        return;
      }
      let shown = 0;
      const path = await downloadCorpus(info, {
        cacheDir: flags.cache ?? (await defaultCacheDir()),
        onProgress: (p) => {
          if (p.receivedBytes - shown < 256 * 1024 && p.receivedBytes !== p.totalBytes) return;
          shown = p.receivedBytes;
          o.info(`  ${Math.round(p.receivedBytes / 1024)} KiB${p.totalBytes ? ` of ${Math.round(p.totalBytes / 1024)} KiB` : ""}`);
        },
      });
      o.result({ name, path }, () => `${name}: ${path}`);
    });
}
