// The page: settings, buttons and views. Training runs in one worker and sampling, gate reading
// and ONNX in another, so this thread only draws.
import "./style.css";
import type {
  Inspection, LabEvent, LabRequest, ModelSnapshot, OnnxReport, RunSettings, TrainEvent, TrainRequest,
} from "./protocol.js";
import { defaultBlock } from "./protocol.js";
import { samples } from "./samples.js";
import { checkSettings } from "./settings.js";
import {
  addFlow, addSpectrum, addSteps, flowChart, gradChart, lossChart, MAX_PREVIOUS_RUNS, newRun, type RunRecord, runLabel, smooth,
} from "./state.js";
import { drawComplexPlane } from "./ui/complex-plane.js";
import { RUN_COLORS } from "./ui/colors.js";
import { drawGateStrips, drawNeuronText, gateNames, interestingUnits } from "./ui/gates.js";
import { FlowHeatmap } from "./ui/heatmap.js";
import { LineChart } from "./ui/line-chart.js";

// ---- elements -------------------------------------------------------------------------------

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
};
const input = (id: string): HTMLInputElement => $<HTMLInputElement>(id);
const select = (id: string): HTMLSelectElement => $<HTMLSelectElement>(id);

const textSource = select("text-source");
const textCustom = $<HTMLTextAreaElement>("text-custom");
const startButton = $<HTMLButtonElement>("start");
const pauseButton = $<HTMLButtonElement>("pause");
const resetButton = $<HTMLButtonElement>("reset");
const note = $("settings-note");

const lossView = new LineChart($("loss-chart"), { xLabel: "step", yLabel: "loss (nats)", height: 240 });
const gradView = new LineChart($("grad-chart"), { xLabel: "step", yLabel: "||g||", log: true, height: 240 });
const flowView = new LineChart($("flow-chart"), { xLabel: "steps back from the loss", yLabel: "||∂L/∂h||", log: true, height: 200 });
const heatmap = new FlowHeatmap($<HTMLCanvasElement>("heatmap"), $("heatmap-readout"));

// ---- state ----------------------------------------------------------------------------------

const runs: RunRecord[] = [];
let nextRunId = 1;
let running = false;
/** Settings of the current run, to tell whether Start must build a new one. */
let builtFrom: { settings: RunSettings; text: string } | null = null;
const texts = new Map<string, string>();
const errors: string[] = [];

let sampleText = "";
let sampleDone = false;
let samplePrime = "";
let sampleSnapshot: ModelSnapshot | null = null;
let sampleSeq = 0;
let lastAutoSample = 0;
let inspection: Inspection | null = null;
/** Whether the user picked a unit for the neuron view (else the most varied one is shown). */
let unitChosen = false;
let onnxReport: OnnxReport | null = null;
let onnxSeq = 0;
let onnxPending = false;
let onnxUrl: string | null = null;

const current = (): RunRecord | undefined => runs[runs.length - 1];
/** Earlier runs that trained at least one step, latest first. */
const previous = (): RunRecord[] => runs.slice(0, -1).filter((r) => r.steps.length > 0).slice(-MAX_PREVIOUS_RUNS).reverse();

// ---- workers --------------------------------------------------------------------------------

const trainWorker = new Worker(new URL("./worker/train.worker.ts", import.meta.url), { type: "module", name: "training" });
const labWorker = new Worker(new URL("./worker/lab.worker.ts", import.meta.url), { type: "module", name: "lab" });
const toTrainer = (request: TrainRequest): void => trainWorker.postMessage(request);
const toLab = (request: LabRequest): void => labWorker.postMessage(request);

for (const [name, worker] of [["training", trainWorker], ["lab", labWorker]] as const) {
  worker.addEventListener("error", (e) => reportError(`${name} worker: ${e.message || "failed to load"}`));
  worker.addEventListener("messageerror", () => reportError(`${name} worker: a message could not be read`));
}

let snapshotSeq = 0;
const snapshotWaiters = new Map<number, (s: ModelSnapshot) => void>();
/** The current weights, copied by the training worker (it answers between steps). */
function requestSnapshot(): Promise<ModelSnapshot> {
  const id = ++snapshotSeq;
  return new Promise((resolve) => {
    snapshotWaiters.set(id, resolve);
    toTrainer({ type: "snapshot", id });
  });
}

function reportError(message: string): void {
  errors.push(message);
  console.error(message);
  log(message, true);
}

function log(message: string, error = false): void {
  const li = document.createElement("li");
  li.textContent = message;
  if (error) li.className = "error";
  const list = $("log");
  list.prepend(li);
  while (list.children.length > 50) list.lastElementChild!.remove();
}

trainWorker.onmessage = ({ data }: MessageEvent<TrainEvent>) => {
  const run = current();
  switch (data.type) {
    case "ready":
      if (run) run.info = data.info;
      fillSpectrumChoices(data.info.numLayers, data.info.blocks);
      fillGateLayers(data.info.numLayers);
      dirty.status = dirty.runs = true;
      break;
    case "state":
      running = data.running;
      document.body.dataset.state = running ? "training" : run && run.steps.length > 0 ? "paused" : "ready";
      startButton.disabled = running;
      pauseButton.disabled = !running;
      dirty.status = true;
      break;
    case "steps":
      if (!run) break;
      addSteps(run, data.points, data.clipFraction);
      dirty.charts = dirty.status = true;
      break;
    case "eval":
      run?.evals.push({ step: data.step, loss: data.loss });
      dirty.charts = dirty.status = true;
      break;
    case "flow":
      if (!run) break;
      addFlow(run, { step: data.step, norms: data.gradNorms });
      dirty.flow = true;
      break;
    case "spectrum":
      if (!run) break;
      addSpectrum(run, data.spectrum);
      dirty.eigen = true;
      break;
    case "guard":
      log(`step ${data.step}: ${data.message}`);
      break;
    case "snapshot":
      snapshotWaiters.get(data.id)?.(data.snapshot);
      snapshotWaiters.delete(data.id);
      break;
    case "error":
      reportError(data.message);
      break;
  }
  scheduleRender();
};

labWorker.onmessage = ({ data }: MessageEvent<LabEvent>) => {
  switch (data.type) {
    case "sample-start":
      if (data.id !== sampleSeq) break;
      sampleText = "";
      sampleDone = false;
      samplePrime = data.prime;
      $("sample-meta").textContent = `Sampling with the weights of step ${data.step}...`;
      renderSample();
      break;
    case "sample-chunk":
      if (data.id !== sampleSeq) break;
      sampleText += data.text;
      renderSample();
      break;
    case "sample-done":
      if (data.id !== sampleSeq) break;
      sampleDone = true;
      $("sample-meta").textContent = `Weights of step ${sampleSnapshot?.step ?? 0}, temperature ${input("temperature").valueAsNumber.toFixed(2)}, ${Math.round(data.charsPerSecond)} characters/s.`;
      renderSample();
      if (select("inspect-source").value === "sample") requestInspection(sampleSnapshot);
      break;
    case "inspection":
      inspection = data.inspection;
      renderGates();
      break;
    case "onnx":
      if (data.id !== onnxSeq) break;
      onnxReport = data.report;
      onnxPending = false;
      renderOnnx();
      break;
    case "error":
      if (data.id === onnxSeq) onnxPending = false;
      reportError(data.message);
      break;
  }
};

// ---- settings -------------------------------------------------------------------------------

function readSettings(): RunSettings {
  const clipOn = input("clip-on").checked;
  return {
    cell: select("cell").value as RunSettings["cell"],
    init: select("init").value as RunSettings["init"],
    hiddenSize: Number(select("hidden").value),
    numLayers: Number(select("layers").value),
    embeddingSize: Number(select("embedding").value),
    optimizer: select("optimizer").value as RunSettings["optimizer"],
    lr: input("lr").valueAsNumber,
    clip: clipOn ? input("clip").valueAsNumber : null,
    window: input("window").valueAsNumber,
    batchSize: input("batch").valueAsNumber,
    seed: input("seed").valueAsNumber,
  };
}

/** Settings that need a new run when they change (learning rate and clipping apply live). */
function structural(s: RunSettings): string {
  const { lr: _lr, clip: _clip, ...rest } = s;
  return JSON.stringify(rest);
}

async function currentText(): Promise<string> {
  const id = textSource.value;
  if (id === "custom") return textCustom.value;
  const cached = texts.get(id);
  if (cached !== undefined) return cached;
  const sample = samples.find((s) => s.id === id)!;
  $("text-info").textContent = `Loading ${sample.name}...`;
  const text = await sample.load();
  texts.set(id, text);
  return text;
}

async function showTextInfo(): Promise<void> {
  const text = await currentText();
  const chars = [...text].length;
  $("text-info").textContent = `${chars.toLocaleString("en")} characters, ${new Set(text).size} distinct; 90% trains, 10% validates.`;
}

/** Keeps the initialiser consistent with the cell: IRNN and np-RNN are for ReLU RNNs. */
function syncInitChoices(): void {
  const relu = select("cell").value === "rnn_relu";
  for (const option of Array.from(select("init").options)) {
    const reluOnly = option.value === "irnn" || option.value === "np-rnn";
    option.disabled = reluOnly && !relu;
    option.title = reluOnly && !relu ? "for a ReLU RNN" : "";
  }
  if (select("init").selectedOptions[0]?.disabled) select("init").value = "pytorch";
}

async function configure(): Promise<boolean> {
  const settings = readSettings();
  const text = await currentText();
  const problem = checkSettings(settings, text);
  note.textContent = problem ?? "";
  if (problem) return false;
  // A run that never trained is replaced rather than kept (and gives up its number).
  const replaced = current()?.steps.length === 0 ? runs.pop() : undefined;
  const run = newRun(replaced?.id ?? nextRunId++, settings);
  runs.push(run);
  builtFrom = { settings, text };
  sampleSeq++; // a sample of the old run still streaming is dropped
  sampleText = "";
  sampleDone = false;
  samplePrime = "";
  $("sample-meta").textContent = "";
  inspection = null;
  toTrainer({ type: "configure", settings, text });
  dirty.charts = dirty.flow = dirty.eigen = dirty.runs = dirty.status = true;
  renderSample();
  renderGates();
  scheduleRender();
  return true;
}

async function start(): Promise<void> {
  const settings = readSettings();
  const text = await currentText();
  if (!builtFrom || structural(builtFrom.settings) !== structural(settings) || builtFrom.text !== text) {
    if (!(await configure())) return;
  } else {
    applyLive();
  }
  lastAutoSample = performance.now();
  toTrainer({ type: "start" });
}

/** Sends the learning rate and clipping threshold to the running model and notes the change. */
function applyLive(): void {
  const run = current();
  if (!run || !builtFrom) return;
  const s = readSettings();
  const problem = checkSettings(s, builtFrom.text);
  note.textContent = problem ?? "";
  if (problem) return;
  const was = builtFrom.settings;
  if (s.lr === was.lr && s.clip === was.clip) return;
  const at = run.steps[run.steps.length - 1] ?? 0;
  if (at > 0 && s.lr !== was.lr) run.changes.push(`lr ${was.lr} → ${s.lr} at step ${at}`);
  if (at > 0 && s.clip !== was.clip) run.changes.push(`${s.clip === null ? "clipping off" : `clip ${s.clip}`} at step ${at}`);
  builtFrom = { settings: { ...was, lr: s.lr, clip: s.clip }, text: builtFrom.text };
  if (at === 0) run.settings = builtFrom.settings; // not trained yet: the run simply has the new settings
  toTrainer({ type: "live", settings: { lr: s.lr, clip: s.clip } });
  dirty.runs = true;
  scheduleRender();
}

// ---- sampling, gates, ONNX ------------------------------------------------------------------

async function requestSample(): Promise<void> {
  if (!current()) return;
  const id = ++sampleSeq;
  lastAutoSample = performance.now();
  const snapshot = await requestSnapshot();
  if (id !== sampleSeq) return;
  sampleSnapshot = snapshot;
  toLab({
    type: "sample", id, snapshot, prime: input("prime").value, length: clampInt(input("sample-length").valueAsNumber, 10, 2000, 300),
    temperature: input("temperature").valueAsNumber, seed: snapshot.step,
  });
}

let inspectSeq = 0;
async function requestInspection(snapshot: ModelSnapshot | null): Promise<void> {
  const source = select("inspect-source").value;
  const text = source === "sample" ? samplePrime + sampleText : input("inspect-text").value;
  if (text.length === 0 || !current()) return;
  const weights = snapshot ?? (await requestSnapshot());
  toLab({ type: "inspect", id: ++inspectSeq, snapshot: weights, text });
}

async function requestOnnx(): Promise<void> {
  if (!current()) return;
  const engine = select("onnx-engine").value === "webgpu" ? "webgpu" : "wasm";
  onnxPending = true;
  $("onnx-stats").textContent = `Exporting and starting onnxruntime-web (${engine === "webgpu" ? "WebGPU" : "WebAssembly"})...`;
  const snapshot = await requestSnapshot();
  toLab({ type: "onnx", id: ++onnxSeq, snapshot, prime: input("prime").value, length: 120, temperature: input("temperature").valueAsNumber, seed: 7, engine });
}

function clampInt(v: number, lo: number, hi: number, fallback: number): number {
  return Number.isFinite(v) ? Math.min(hi, Math.max(lo, Math.round(v))) : fallback;
}

// ---- rendering ------------------------------------------------------------------------------

const dirty = { charts: false, flow: false, eigen: false, runs: false, status: false };
let frame = 0;
let lastCharts = 0;

function scheduleRender(): void {
  if (frame === 0) frame = requestAnimationFrame(render);
}

function render(): void {
  frame = 0;
  const run = current();
  const now = performance.now();
  if (dirty.status) renderStatus();
  if (dirty.runs) renderRuns();
  // Charts at most 5 times a second: enough to watch, cheap to draw.
  if (dirty.charts && run) {
    if (now - lastCharts < 200) {
      setTimeout(scheduleRender, 200 - (now - lastCharts));
    } else {
      lastCharts = now;
      dirty.charts = false;
      const loss = lossChart(run, previous());
      lossView.set(loss.series, loss.data, loss.yRange ?? null);
      $("loss-chart").dataset.points = String(run.loss.length);
      const grad = gradChart(run, previous());
      gradView.set(grad.series, grad.data);
      renderClipStats(run);
    }
  }
  if (dirty.flow && run) {
    dirty.flow = false;
    heatmap.draw(run.flows);
    const flow = flowChart(run, previous());
    flowView.set(flow.series, flow.data);
  }
  if (dirty.eigen && run) {
    dirty.eigen = false;
    const s = run.latestSpectrum;
    const initial = s ? (run.initialSpectra.get(`${s.layer}:${s.block}`) ?? null) : null;
    drawComplexPlane($<HTMLCanvasElement>("eigen"), s, initial);
    $("eigen-stats").textContent = s ? `spectral radius ${s.radius.toFixed(3)} at step ${s.step}${initial ? ` (${initial.radius.toFixed(3)} at step 0)` : ""}` : "";
  }
}

function renderStatus(): void {
  dirty.status = false;
  const run = current();
  if (!run) return;
  const parts: string[] = [];
  const step = run.steps[run.steps.length - 1] ?? 0;
  parts.push(`step ${step}`);
  if (run.loss.length > 0) parts.push(`loss ${smooth(run.loss).at(-1)!.toFixed(3)}`);
  const val = run.evals[run.evals.length - 1];
  if (val) parts.push(`validation ${val.loss.toFixed(3)}`);
  if (running) parts.push(`${Math.round(run.tokensPerSecond).toLocaleString("en")} characters/s`);
  if (run.info) parts.push(`${run.info.parameters.toLocaleString("en")} parameters`, `kernels ${run.info.kernels}`);
  parts.push(running ? "training" : step > 0 ? "paused" : "ready");
  $("status").textContent = parts.join(" · ");
}

function renderClipStats(run: RunRecord): void {
  const n = run.clipped.length;
  if (n === 0) {
    $("clip-stats").textContent = "";
    return;
  }
  const recent = run.clipped.slice(-100);
  const recentClipped = recent.filter(Boolean).length;
  const g = run.gradNorm[n - 1]!;
  const threshold = run.maxNorm[n - 1];
  const scale = threshold !== null && threshold !== undefined && g > threshold ? threshold / g : 1;
  $("clip-stats").textContent =
    `clipped ${(100 * run.clipFraction).toFixed(0)}% of steps (last ${recent.length}: ${((100 * recentClipped) / recent.length).toFixed(0)}%) · ` +
    `last ||g|| ${g.toPrecision(3)}${threshold === null || threshold === undefined ? ", clipping off" : `, threshold ${threshold}, scaled by ${scale.toPrecision(3)}`}`;
}

function renderRuns(): void {
  dirty.runs = false;
  const list = $("runs");
  list.replaceChildren();
  const shown = new Set([current(), ...previous()]);
  [...runs].reverse().slice(0, 8).forEach((run) => {
    const li = document.createElement("li");
    li.value = run.id;
    const color = run === current() ? RUN_COLORS[0] : shown.has(run) ? RUN_COLORS[(previous().indexOf(run) + 1) % RUN_COLORS.length] : "transparent";
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = color ?? "transparent";
    const steps = run.steps[run.steps.length - 1] ?? 0;
    const final = run.loss.length > 0 ? `, loss ${smooth(run.loss).at(-1)!.toFixed(3)} at step ${steps}` : "";
    li.append(swatch, `${runLabel(run.settings)}${final}${run.changes.length > 0 ? `; ${run.changes.join("; ")}` : ""}`);
    list.append(li);
  });
}

function renderSample(): void {
  const pre = $("sample-text");
  pre.replaceChildren();
  if (samplePrime && sampleText) {
    const prime = document.createElement("b");
    prime.textContent = samplePrime;
    pre.append(prime);
  }
  pre.append(sampleText);
  pre.dataset.length = String(sampleText.length);
  pre.dataset.done = String(sampleDone);
}

function renderGates(): void {
  const strips = $("gate-strips");
  if (!inspection) {
    strips.replaceChildren();
    $("neuron-text").replaceChildren();
    $("gate-readout").textContent = "Shown after the first sample (or press the button).";
    return;
  }
  const layer = Math.min(Number(select("gate-layer").value) || 0, inspection.layers.length - 1);
  const relu = current()?.settings.cell === "rnn_relu";
  drawGateStrips(strips, $("gate-readout"), inspection, layer, relu);
  strips.dataset.gates = gateNames(inspection.layers[layer] ?? {}).join(",");
  // Neuron view: the signal list follows the cell's gates; default to h.
  const signals = gateNames(inspection.layers[layer] ?? {});
  const signalSelect = select("neuron-signal");
  if (Array.from(signalSelect.options).map((o) => o.value).join() !== signals.join()) {
    signalSelect.replaceChildren(...signals.map((s) => new Option(s, s, s === "h", s === "h")));
  }
  const signal = signalSelect.value || "h";
  const H = inspection.hiddenSize;
  const values = inspection.layers[layer]?.[signal];
  const suggestions = values ? interestingUnits(values, inspection.chars.length, H) : [];
  // Until a unit is chosen, show the one that varies most over this text.
  if (!unitChosen && suggestions[0] !== undefined) input("neuron-unit").value = String(suggestions[0]);
  const unit = clampInt(input("neuron-unit").valueAsNumber, 0, H - 1, 0);
  input("neuron-unit").max = String(H - 1);
  const chips = $("neuron-suggestions");
  chips.replaceChildren();
  {
    for (const u of suggestions) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = String(u);
      b.addEventListener("click", () => {
        unitChosen = true;
        input("neuron-unit").value = String(u);
        renderGates();
      });
      chips.append(b);
    }
  }
  drawNeuronText($("neuron-text"), inspection, layer, signal, unit, relu);
}

function renderOnnx(): void {
  const r = onnxReport;
  if (!r) return;
  if (onnxUrl) URL.revokeObjectURL(onnxUrl);
  onnxUrl = URL.createObjectURL(new Blob([r.bytes.slice().buffer], { type: "application/octet-stream" }));
  const link = $<HTMLAnchorElement>("onnx-download");
  link.href = onnxUrl;
  link.download = `unroll-lm-step${r.step}.onnx`;
  link.hidden = false;
  link.textContent = `Download .onnx (${(r.bytes.length / 1024).toFixed(0)} KB)`;
  const same = r.textLibrary === r.textOnnx;
  const agree = same && r.maxAbsDiff < 1e-3;
  const stats = $("onnx-stats");
  stats.replaceChildren();
  const verdict = document.createElement("span");
  verdict.className = agree ? "ok" : "bad";
  verdict.textContent = agree ? "The engines agree." : "The engines differ.";
  stats.append(
    verdict,
    ` Step ${r.step} weights; max |Δ logit| = ${r.maxAbsDiff.toExponential(2)} over ${r.probeTokens} steps; sampled text ${same ? "identical" : "different"}; ` +
      `library ${Math.round((1000 * r.textLibrary.length) / Math.max(1, r.msLibrary))} chars/s, onnxruntime-web (${r.provider}) ${Math.round((1000 * r.textOnnx.length) / Math.max(1, r.msOnnx))} chars/s.`,
  );
  // Which provider ran, with what lowering, and any fallback note (no WebGPU; nodes on the CPU).
  const provider = $("onnx-provider");
  provider.dataset.provider = r.provider;
  provider.textContent =
    `Ran on ${r.provider === "webgpu" ? `WebGPU${r.adapter ? ` (adapter: ${r.adapter})` : ""}` : "WebAssembly (wasm)"}; recurrent layers exported as ${r.lowering === "unrolled" ? "unrolled MatMul steps" : "ONNX recurrent operators"}.` +
    (r.adapter?.includes("swiftshader") ? " SwiftShader is a software GPU (on the CPU): it checks correctness, not GPU speed." : "") +
    (r.notes.length > 0 ? ` ${r.notes.join(" ")}` : "");
  provider.hidden = false;
  $("onnx-runtime-title").textContent = `onnxruntime-web (${r.provider === "webgpu" ? "WebGPU" : "WebAssembly"})`;
  stats.dataset.agree = String(agree);
  stats.dataset.maxAbsDiff = String(r.maxAbsDiff);
  $("onnx-texts").hidden = false;
  for (const [id, text] of [["onnx-library", r.textLibrary], ["onnx-runtime", r.textOnnx]] as const) {
    const prime = document.createElement("b");
    prime.textContent = r.prime;
    $(id).replaceChildren(prime, text);
  }
}

function fillSpectrumChoices(layers: number, blocks: readonly string[]): void {
  const layerSelect = select("eigen-layer");
  layerSelect.replaceChildren(...Array.from({ length: layers }, (_, l) => new Option(String(l), String(l))));
  const blockSelect = select("eigen-block");
  const names: Readonly<Record<string, string>> = { h: "W_hh", i: "input (i)", f: "forget (f)", g: "candidate (g)", o: "output (o)", r: "reset (r)", z: "update (z)", n: "candidate (n)" };
  const cell = current()?.settings.cell ?? "lstm";
  blockSelect.replaceChildren(...blocks.map((b, i) => new Option(names[b] ?? b, String(i), i === defaultBlock(cell), i === defaultBlock(cell))));
  blockSelect.disabled = blocks.length === 1;
}

function fillGateLayers(layers: number): void {
  const s = select("gate-layer");
  s.replaceChildren(...Array.from({ length: layers }, (_, l) => new Option(String(l), String(l), l === layers - 1, l === layers - 1)));
}

// ---- wiring ---------------------------------------------------------------------------------

textSource.replaceChildren(...samples.map((s) => new Option(s.name, s.id)), new Option("My own text (paste below)", "custom"));
textSource.addEventListener("change", () => {
  void (async () => {
    textCustom.hidden = textSource.value !== "custom";
    // An example to edit: the start of the Shakespeare excerpt.
    if (textSource.value === "custom" && textCustom.value === "") textCustom.value = (await samples.find((s) => s.id === "shakespeare")!.load()).slice(0, 2000);
    await showTextInfo();
  })();
});
textCustom.addEventListener("input", () => void showTextInfo());
select("cell").addEventListener("change", syncInitChoices);
for (const id of ["lr", "clip"]) input(id).addEventListener("change", applyLive);
input("clip-on").addEventListener("change", applyLive);
startButton.addEventListener("click", () => void start());
pauseButton.addEventListener("click", () => toTrainer({ type: "pause" }));
resetButton.addEventListener("click", () => void configure());
$("sample").addEventListener("click", () => void requestSample());
input("temperature").addEventListener("input", () => ($("temperature-value").textContent = input("temperature").valueAsNumber.toFixed(2)));
input("temperature").addEventListener("change", () => {
  if (!running) void requestSample();
});
$("inspect").addEventListener("click", () => void requestInspection(null));
select("inspect-source").addEventListener("change", () => {
  input("inspect-text").hidden = select("inspect-source").value !== "custom";
});
select("gate-layer").addEventListener("change", renderGates);
select("neuron-signal").addEventListener("change", renderGates);
input("neuron-unit").addEventListener("change", () => {
  unitChosen = true;
  renderGates();
});
$("onnx").addEventListener("click", () => void requestOnnx());
const pickSpectrum = (): void => toTrainer({ type: "spectrum", layer: Number(select("eigen-layer").value), block: Number(select("eigen-block").value) });
select("eigen-layer").addEventListener("change", pickSpectrum);
select("eigen-block").addEventListener("change", pickSpectrum);
window.addEventListener("resize", () => {
  dirty.charts = dirty.flow = dirty.eigen = true;
  scheduleRender();
  renderGates();
});

// Samples every few seconds while training (one at a time).
setInterval(() => {
  if (running && input("auto-sample").checked && (sampleDone || sampleText === "") && performance.now() - lastAutoSample > 4000) void requestSample();
}, 500);

// A read-only view of the page's state for end-to-end tests and the curious (devtools).
const playground = {
  state: () => {
    const run = current();
    return {
      running,
      step: run?.steps[run.steps.length - 1] ?? 0,
      losses: run ? [...run.loss] : [],
      evals: run ? run.evals.map((e) => ({ ...e })) : [],
      flowColumns: run?.flows.length ?? 0,
      flowRows: run?.flows[0]?.norms.length ?? 0,
      flowFinite: run ? run.flows.every((c) => Array.from(c.norms).every((v) => Number.isFinite(v) && v >= 0)) : false,
      spectrumPoints: run?.latestSpectrum?.real.length ?? 0,
      spectralRadius: run?.latestSpectrum?.radius ?? null,
      initialSpectralRadius: run?.initialSpectra.get(`${run.latestSpectrum?.layer ?? 0}:${run.latestSpectrum?.block ?? 0}`)?.radius ?? null,
      runs: runs.map((r) => ({ id: r.id, label: runLabel(r.settings), steps: r.steps.length })),
      compared: previous().map((r) => r.id),
      sample: sampleText,
      sampleDone,
      gates: inspection ? gateNames(inspection.layers[0] ?? {}) : [],
      onnx: onnxReport
        ? {
            maxAbsDiff: onnxReport.maxAbsDiff, same: onnxReport.textLibrary === onnxReport.textOnnx, bytes: onnxReport.bytes.length,
            engine: onnxReport.engine, provider: onnxReport.provider, lowering: onnxReport.lowering, adapter: onnxReport.adapter,
            notes: [...onnxReport.notes], textOnnx: onnxReport.textOnnx, prime: onnxReport.prime,
          }
        : null,
      onnxPending,
      kernels: run?.info?.kernels ?? null,
      errors: [...errors],
    };
  },
};
(window as unknown as { playground: typeof playground }).playground = playground;

// Start from a model at step 0: its gradient flow and spectrum are on screen before any training.
syncInitChoices();
void (async () => {
  await showTextInfo();
  await configure();
})();
