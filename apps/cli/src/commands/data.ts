import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import type { Command } from "commander";
import { corpora, defaultCacheDir, downloadCorpus, findCorpus, formatTaggedTsv, loadCorpus, punctuationDataset } from "@unroll/nlp";
import { encodePng, movingShapesDataset, shapesDataset } from "@unroll/vision";
import { numberFlag } from "../config.js";
import { UserError } from "../ui/errors.js";
import type { Output } from "../ui/output.js";

export function registerData(program: Command, out: () => Output): void {
  const data = program.command("data").description("built-in corpora: list them, download the public ones; write the procedural captioning set and the punctuation tagging set");
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
  data
    .command("punctuation")
    .description("write a punctuation-restoration tagging set from a corpus: its words lowercased without punctuation, each tagged COMMA, PERIOD, QUESTION or O by the mark that followed it, in sequences of --words words, as train.tsv, dev.tsv and test.tsv (the text's first 80%, next 10% and last 10%) for `unroll train tag`")
    .requiredOption("--out <dir>", "the folder to create (it must not exist yet)")
    .option("--corpus <name>", "a built-in corpus (moby-dick, tiny-shakespeare, sotu, sotu:obama...) or a UTF-8 text file", "moby-dick")
    .option("--words <n>", "words per sequence", "40")
    .action(async (flags: Record<string, unknown>) => {
      const o = out();
      const words = numberFlag("words", flags.words, "positive-integer");
      if (words < 2) throw new UserError(`--words ${words} leaves no next word to read`, "use --words 2 or more (40 is the default)");
      const dir = resolve(String(flags.out));
      if (await stat(dir).then(() => true, () => false)) throw new UserError(`${dir} already exists`, "choose a new --out folder (nothing is overwritten)");
      const corpus = String(flags.corpus);
      const text = await loadCorpus(corpus).catch((e: Error) => {
        throw new UserError(e.message, `name a built-in corpus (${corpora.map((c) => c.name).join(", ")}) or a text file`);
      });
      let splits;
      try {
        splits = punctuationDataset(text, { words });
      } catch (e) {
        throw new UserError(`${corpus}: ${(e as Error).message.replace(/^\w+: /, "")}`, "give a longer text with words and punctuation, or a smaller --words");
      }
      const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${randomBytes(6).toString("hex")}`);
      try {
        await mkdir(tmp);
        for (const [name, part] of Object.entries(splits)) await writeFile(join(tmp, `${name}.tsv`), `${formatTaggedTsv(part)}`);
        await rename(tmp, dir);
      } catch (e) {
        await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
        throw new UserError(`cannot write ${dir}: ${(e as Error).message}`, "check that its parent folder exists and can be written");
      }
      const counts = Object.fromEntries(Object.entries(splits).map(([k, v]) => [k, v.length]));
      o.result(
        { out: dir, corpus, words, sequences: counts, train: join(dir, "train.tsv"), dev: join(dir, "dev.tsv"), test: join(dir, "test.tsv") },
        () =>
          `wrote ${counts.train} training, ${counts.dev} dev and ${counts.test} test sequences of ${words} words from ${corpus} to ${dir}\n` +
          `train with: unroll train tag --data ${join(dir, "train.tsv")} --dev ${join(dir, "dev.tsv")}; score with: unroll eval tag <run>/best --data ${join(dir, "test.tsv")}`,
      );
    });
  data
    .command("shapes")
    .description("write the procedural captioning set: images of coloured shapes (\"a small red circle above a blue square\") or, with --video, videos of a moving shape (\"a green triangle moves left\"), as PNG files with train.tsv and dev.tsv")
    .requiredOption("--out <dir>", "the folder to create (it must not exist yet)")
    .option("--count <n>", "training images (or videos)", "2000")
    .option("--dev <n>", "held-out images (or videos), drawn independently", "200")
    .option("--side <pixels>", "image side", "32")
    .option("--video", "videos of a moving shape, each a folder of frames")
    .option("--frames <n>", "frames per video", "8")
    .option("--seed <n>", "random seed", "0")
    .action(async (flags: Record<string, unknown>) => {
      const o = out();
      const count = numberFlag("count", flags.count, "positive-integer");
      const dev = numberFlag("dev", flags.dev, "positive-integer");
      const side = numberFlag("side", flags.side, "positive-integer");
      const frames = numberFlag("frames", flags.frames, "positive-integer");
      const seed = numberFlag("seed", flags.seed, "integer");
      if (side < 8 || side > 512) throw new UserError(`--side ${side} is outside 8 to 512 pixels`, "the shapes are drawn for small images: try --side 32");
      if (flags.video && frames < 2) throw new UserError(`--frames ${frames} cannot show motion`, "use --frames 2 or more (8 is the default)");
      if (count + dev > 100_000) throw new UserError(`--count ${count} and --dev ${dev} make more than 100,000 files' worth of examples`, "use fewer: a few thousand learn well");
      const dir = resolve(String(flags.out));
      if (await stat(dir).then(() => true, () => false)) throw new UserError(`${dir} already exists`, "choose a new --out folder (nothing is overwritten)");
      // Everything goes to a hidden folder beside --out that is renamed at the end: an interrupted
      // run leaves no half-written set.
      const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${randomBytes(6).toString("hex")}`);
      try {
        for (const [split, n, splitSeed] of [["train", count, seed * 2 + 1], ["dev", dev, seed * 2 + 2]] as const) {
          const lines: string[] = [];
          if (flags.video) {
            const videos = movingShapesDataset({ count: n, side, frames, seed: splitSeed });
            for (const [i, v] of videos.entries()) {
              const folder = join(split, String(i).padStart(5, "0"));
              await mkdir(join(tmp, folder), { recursive: true });
              for (const [k, f] of v.frames.entries()) await writeFile(join(tmp, folder, `${k}.png`), encodePng(f));
              lines.push(`${folder}\t${v.caption}`);
            }
          } else {
            await mkdir(join(tmp, split), { recursive: true });
            for (const [i, d] of shapesDataset({ count: n, side, seed: splitSeed }).entries()) {
              const file = join(split, `${String(i).padStart(5, "0")}.png`);
              await writeFile(join(tmp, file), encodePng(d.image));
              lines.push(`${file}\t${d.caption}`);
            }
          }
          await writeFile(join(tmp, `${split}.tsv`), `${lines.join("\n")}\n`);
        }
        await rename(tmp, dir);
      } catch (e) {
        await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
        throw new UserError(`cannot write ${dir}: ${(e as Error).message}`, "check that its parent folder exists and can be written");
      }
      o.result(
        { out: dir, train: join(dir, "train.tsv"), dev: join(dir, "dev.tsv"), count, devCount: dev, video: Boolean(flags.video) },
        () => `wrote ${count} training and ${dev} dev ${flags.video ? "videos" : "images"} to ${dir}\ntrain with: unroll train ${flags.video ? "video" : "caption"} --data ${join(dir, "train.tsv")} --dev ${join(dir, "dev.tsv")}`,
      );
    });
}
