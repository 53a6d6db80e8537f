import { readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import type { Command } from "commander";
import { renderSvg } from "../charts/render.js";
import { type CurvePoint, lossCurvesSpec } from "../charts/plots.js";
import { numberFlag } from "../config.js";
import { UserError } from "../ui/errors.js";
import { writeFileAtomic } from "../ui/files.js";
import type { Output } from "../ui/output.js";

/** `plot loss RUN...` (the default: `plot RUN...`); returns the `plot` group, where `plot attention` joins it. */
export function registerPlot(program: Command, out: () => Output): Command {
  const group = program.command("plot").description("pictures: loss (default) the loss curves of runs, attention the attention weights of a translation");
  group
    .command("loss", { isDefault: true })
    .description("loss curves of one or several runs as an SVG picture (from their metrics.jsonl)")
    .argument("<runs...>", "run directories")
    .option("--out <file>", "the picture to write", "loss.svg")
    .option("--smooth <s>", "exponential smoothing of the training loss, in [0, 1)", "0.9")
    .option("--title <text>", "title of the picture", "training and validation loss")
    .action(async (runs: string[], flags: { out: string; smooth: string; title: string }) => {
      const o = out();
      const smooth = numberFlag("smooth", flags.smooth, "fraction");
      const points: CurvePoint[] = [];
      for (const dir of runs) {
        const path = join(dir, "metrics.jsonl");
        let text: string;
        try {
          text = await readFile(path, "utf8");
        } catch {
          throw new UserError(`${dir} has no metrics.jsonl`, "point at run directories written by `unroll train lm` (their --out)");
        }
        const name = basename(dir);
        let avg: number | null = null;
        text.split("\n").forEach((line, i) => {
          if (!line.trim()) return;
          let r: { step?: number; loss?: number; validation?: number };
          try {
            r = JSON.parse(line) as typeof r;
          } catch {
            throw new UserError(`${path} line ${i + 1} is not JSON`, "the file is damaged; remove the line or rerun the training");
          }
          if (typeof r.step !== "number") return;
          if (typeof r.loss === "number") {
            avg = avg === null ? r.loss : smooth * avg + (1 - smooth) * r.loss;
            points.push({ run: name, step: r.step, value: avg, series: "train (smoothed)" });
          }
          if (typeof r.validation === "number") points.push({ run: name, step: r.step, value: r.validation, series: "validation" });
        });
      }
      if (points.length === 0) throw new UserError("the runs hold no metrics yet", "train for a few steps first");
      await writeFileAtomic(flags.out, await renderSvg(lossCurvesSpec(points, flags.title)));
      o.result({ svg: flags.out, runs, points: points.length }, () => `wrote ${flags.out} (${runs.length} run${runs.length === 1 ? "" : "s"})`);
    });
  return group;
}
