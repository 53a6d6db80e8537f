import { ValueRangeError } from "@unroll/tensor";

/** Classification scores of predictions against gold labels (class ids). */
export interface ClassificationReport {
  readonly examples: number;
  readonly accuracy: number;
  /** The unweighted mean of the per-class F1 scores (scikit-learn's `average="macro"`). */
  readonly macroF1: number;
  readonly perClass: readonly { readonly name: string; readonly precision: number; readonly recall: number; readonly f1: number; readonly support: number }[];
  /** `confusion[gold][predicted]`: counts. */
  readonly confusion: readonly (readonly number[])[];
  readonly classes: readonly string[];
}

/**
 * Accuracy, per-class precision/recall/F1, macro-F1 and the confusion matrix. A class with no
 * prediction has precision 0 and one with no gold example recall 0 (scikit-learn's
 * `zero_division=0`); classes absent from both gold and predictions still count in the macro mean.
 */
export function classificationReport(gold: ArrayLike<number>, predicted: ArrayLike<number>, classes: readonly string[]): ClassificationReport {
  if (gold.length !== predicted.length) throw new ValueRangeError("classificationReport", `${gold.length} gold labels but ${predicted.length} predictions`);
  if (gold.length === 0) throw new ValueRangeError("classificationReport", "there is nothing to score (no example)");
  const C = classes.length;
  const confusion = Array.from({ length: C }, () => new Array<number>(C).fill(0));
  let right = 0;
  for (let i = 0; i < gold.length; i++) {
    const g = gold[i]!;
    const p = predicted[i]!;
    if (!(g >= 0 && g < C && p >= 0 && p < C)) throw new ValueRangeError("classificationReport", `example ${i}: class ids must be in 0..${C - 1}, got gold ${g} and predicted ${p}`);
    confusion[g]![p]!++;
    if (g === p) right++;
  }
  const perClass = classes.map((name, c) => {
    const tp = confusion[c]![c]!;
    const support = confusion[c]!.reduce((a, b) => a + b, 0);
    const predictedC = confusion.reduce((a, row) => a + row[c]!, 0);
    const precision = predictedC === 0 ? 0 : tp / predictedC;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    return { name, precision, recall, f1, support };
  });
  return { examples: gold.length, accuracy: right / gold.length, macroF1: perClass.reduce((a, c) => a + c.f1, 0) / C, perClass, confusion, classes: [...classes] };
}

/** The report as a plain-text table: per-class scores, then the confusion matrix (rows gold, columns predicted). */
export function formatClassificationReport(r: ClassificationReport): string {
  const width = Math.max(5, ...r.classes.map((c) => c.length));
  const pct = (x: number): string => (100 * x).toFixed(1).padStart(6);
  const lines = [`accuracy ${(100 * r.accuracy).toFixed(2)}%   macro-F1 ${(100 * r.macroF1).toFixed(2)}%   (${r.examples} examples)`, ""];
  lines.push(`${"class".padEnd(width)}  precision  recall     F1  support`);
  for (const c of r.perClass) lines.push(`${c.name.padEnd(width)}     ${pct(c.precision)}  ${pct(c.recall)} ${pct(c.f1)}  ${String(c.support).padStart(7)}`);
  lines.push("", `confusion (rows: gold, columns: predicted)`);
  const cell = Math.max(6, ...r.confusion.flat().map((n) => String(n).length + 1));
  const head = width + 4;
  lines.push(`${"".padEnd(head)}${r.classes.map((_, j) => String(j).padStart(cell)).join("")}`);
  r.confusion.forEach((row, i) => lines.push(`${`${i} ${r.classes[i]}`.slice(0, head).padEnd(head)}${row.map((n) => String(n).padStart(cell)).join("")}`));
  return lines.join("\n");
}

/** The confusion matrix as an SVG image (rows gold, columns predicted; darker = more of the row). */
export function confusionMatrixSvg(r: ClassificationReport, title = "confusion matrix"): string {
  const C = r.classes.length;
  const cell = 44;
  const label = Math.min(180, 12 + 7 * Math.max(...r.classes.map((c) => c.length)));
  const left = label + 10;
  const top = 40 + label;
  const w = left + C * cell + 20;
  const h = top + C * cell + 40;
  const esc = (s: string): string => s.replace(/[&<>"]/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[ch]!);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="sans-serif" font-size="12">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${w / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`,
    `<text x="${left + (C * cell) / 2}" y="${h - 12}" text-anchor="middle">predicted</text>`,
  ];
  r.confusion.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    parts.push(`<text x="${left - 6}" y="${top + i * cell + cell / 2 + 4}" text-anchor="end">${esc(r.classes[i]!)}</text>`);
    row.forEach((n, j) => {
      const share = n / total;
      const shade = Math.round(255 - 200 * share);
      parts.push(`<rect x="${left + j * cell}" y="${top + i * cell}" width="${cell}" height="${cell}" fill="rgb(${shade},${shade},255)" stroke="#999"/>`);
      parts.push(`<text x="${left + j * cell + cell / 2}" y="${top + i * cell + cell / 2 + 4}" text-anchor="middle" fill="${share > 0.6 ? "white" : "black"}">${n}</text>`);
    });
  });
  r.classes.forEach((c, j) => {
    const x = left + j * cell + cell / 2 + 4;
    parts.push(`<text x="${x}" y="${top - 6}" transform="rotate(-60 ${x} ${top - 6})">${esc(c)}</text>`);
  });
  parts.push("</svg>");
  return parts.join("\n");
}
