// Inside the cell: each gate's activations over the characters of a text (units x time), and the
// text coloured by one hidden unit, as in Karpathy, Johnson & Fei-Fei, "Visualizing and
// Understanding Recurrent Networks" (2015).
import type { Inspection } from "../protocol.js";
import { availableWidth, paintCells, prepareCanvas } from "./canvas.js";
import { diverging, rgb, sequential } from "./colors.js";

interface GateInfo {
  readonly title: string;
  /** "unit": a sigmoid in [0, 1]; "signed": tanh in [-1, 1]; "scaled": unbounded, shown against its largest |value|. */
  readonly range: "unit" | "signed" | "scaled";
}

export const GATES: Readonly<Record<string, GateInfo>> = {
  i: { title: "input gate i", range: "unit" },
  f: { title: "forget gate f", range: "unit" },
  o: { title: "output gate o", range: "unit" },
  g: { title: "candidate g", range: "signed" },
  c: { title: "cell state c", range: "scaled" },
  r: { title: "reset gate r", range: "unit" },
  z: { title: "update gate z", range: "unit" },
  n: { title: "candidate n", range: "signed" },
  h: { title: "hidden state h", range: "signed" },
};

const ORDER = ["i", "f", "o", "g", "c", "r", "z", "n", "h"];
const LABEL_WIDTH = 118;
/** Units shown in the gate strips (all of them in the neuron view). */
export const MAX_STRIP_UNITS = 64;

/** Gate names of a layer's record in display order. */
export function gateNames(record: Readonly<Record<string, Float32Array>>): string[] {
  return ORDER.filter((name) => record[name] !== undefined);
}

/** Maps an activation to [-1, 1] (signed) or [0, 1] (unit) for colouring. */
function normaliser(name: string, values: Float32Array, relu: boolean): (v: number) => number {
  const info = GATES[name] ?? { range: "scaled" };
  if (info.range === "unit") return (v) => v;
  if (info.range === "signed" && !(relu && name === "h")) return (v) => v;
  let max = 1e-6;
  for (const v of values) max = Math.max(max, Math.abs(v));
  return (v) => v / max;
}

function colorOf(name: string): (v: number) => [number, number, number] {
  return (GATES[name]?.range ?? "scaled") === "unit" ? sequential : diverging;
}

/** Draws one strip per gate: rows are units, columns are characters. */
export function drawGateStrips(container: HTMLElement, readout: HTMLElement, inspection: Inspection, layer: number, relu: boolean): void {
  container.replaceChildren();
  const record = inspection.layers[layer];
  if (!record) return;
  const T = inspection.chars.length;
  const H = inspection.hiddenSize;
  const units = Math.min(H, MAX_STRIP_UNITS);
  const width = availableWidth(container, 900);
  const plotWidth = Math.max(100, width - LABEL_WIDTH);
  const rowHeight = Math.min(3, Math.max(1, 60 / units));
  for (const name of gateNames(record)) {
    const values = record[name]!;
    const norm = normaliser(name, values, relu);
    const color = colorOf(name);
    const row = document.createElement("div");
    row.className = "gate-row";
    const label = document.createElement("div");
    label.className = "gate-label";
    label.textContent = GATES[name]?.title ?? name;
    const canvas = document.createElement("canvas");
    row.append(label, canvas);
    container.append(row);
    const height = Math.round(units * rowHeight);
    const ctx = prepareCanvas(canvas, plotWidth, height);
    paintCells(ctx, 0, 0, plotWidth, height, T, units, (t, u) => color(norm(values[t * H + u]!)));
    canvas.addEventListener("mousemove", (e) => {
      const rect = canvas.getBoundingClientRect();
      const t = Math.min(T - 1, Math.floor(((e.clientX - rect.left) / rect.width) * T));
      const u = Math.min(units - 1, Math.floor(((e.clientY - rect.top) / rect.height) * units));
      readout.textContent = `${GATES[name]?.title ?? name}, unit ${u}, character ${t} ${JSON.stringify(inspection.chars[t])}: ${values[t * H + u]!.toFixed(3)}`;
    });
  }
  // The characters under the strips, where they fit.
  const cellWidth = plotWidth / T;
  if (cellWidth >= 7) {
    const row = document.createElement("div");
    row.className = "gate-row";
    const label = document.createElement("div");
    label.className = "gate-label";
    label.textContent = "character";
    const canvas = document.createElement("canvas");
    row.append(label, canvas);
    container.append(row);
    const ctx = prepareCanvas(canvas, plotWidth, 18);
    ctx.textAlign = "center";
    ctx.fillStyle = "#333";
    inspection.chars.forEach((ch, t) => ctx.fillText(ch === "\n" ? "↵" : ch === " " ? "·" : ch, (t + 0.5) * cellWidth, 9));
  }
  readout.textContent = `${units < H ? `units 0-${units - 1} of ${H}; ` : ""}${T} characters. Hover for values.`;
}

/** Units whose activation varies most over the text: the ones worth looking at first. */
export function interestingUnits(values: Float32Array, T: number, H: number, count = 6): number[] {
  const score = new Float64Array(H);
  for (let u = 0; u < H; u++) {
    let mean = 0;
    for (let t = 0; t < T; t++) mean += values[t * H + u]!;
    mean /= Math.max(1, T);
    let v = 0;
    for (let t = 0; t < T; t++) v += (values[t * H + u]! - mean) ** 2;
    score[u] = v;
  }
  return Array.from({ length: H }, (_, u) => u)
    .sort((a, b) => score[b]! - score[a]!)
    .slice(0, count);
}

/** The text, each character's background coloured by one unit's activation on reading it. */
export function drawNeuronText(container: HTMLElement, inspection: Inspection, layer: number, signal: string, unit: number, relu: boolean): void {
  container.replaceChildren();
  const values = inspection.layers[layer]?.[signal];
  if (!values) return;
  const H = inspection.hiddenSize;
  const column = new Float32Array(inspection.chars.length);
  inspection.chars.forEach((_, t) => (column[t] = values[t * H + unit]!));
  const norm = normaliser(signal, column, relu);
  const color = colorOf(signal);
  inspection.chars.forEach((ch, t) => {
    const span = document.createElement("span");
    span.textContent = ch;
    span.style.background = rgb(color(norm(column[t]!)));
    span.title = `${JSON.stringify(ch)}: ${column[t]!.toFixed(3)}`;
    container.append(span);
  });
  container.dataset.unit = String(unit);
}
