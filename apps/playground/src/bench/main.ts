// The bench page: tokens per second per provider, and the WebGPU checks (bench.ts). It runs on the
// page's thread: a benchmark wants nothing else running. window.bench is what the browser test reads.
import type { OrtModule } from "@unroll/onnx";
import { loadWasmKernels, setKernels, wasmSupported } from "@unroll/tensor";
import "../style.css";
import { describeAdapter, loadOrt } from "../worker/ort.js";
import { benchmark, type CaptioningFiles, type Cell, checkCaptioning, checkLanguageModel, checkTranslation, type Runtimes, type Timing } from "./bench.js";

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

// The library's engine on its WebAssembly SIMD kernels, as the training worker uses them.
let kernels = "reference";
const kernelsReady = (async () => {
  try {
    if (wasmSupported()) {
      const table = await loadWasmKernels();
      setKernels(table);
      kernels = table.name;
    }
  } catch (e) {
    kernels = `reference (WebAssembly kernels failed: ${e instanceof Error ? e.message : String(e)})`;
  }
})();

let runtimes: Promise<Runtimes> | null = null;
function loadRuntimes(): Promise<Runtimes> {
  runtimes ??= Promise.all([loadOrt("wasm"), loadOrt("webgpu")]).then(([wasm, webgpu]: OrtModule[]) => ({ wasm: wasm!, webgpu: webgpu! }));
  return runtimes;
}

const SWIFTSHADER_NOTE =
  "This adapter is SwiftShader, Chromium's software GPU: WebGPU's shaders run on the CPU, so its figures measure correctness, not GPU speed " +
  "(they are slower than WebAssembly). Run this page in a browser with a real GPU for speed.";

async function adapter(): Promise<string | null> {
  const a = await describeAdapter();
  $("adapter").textContent = a ? `WebGPU adapter: ${a}.` : "No WebGPU here (navigator.gpu is missing or gives no adapter): the WebGPU rows fall back to WebAssembly and say so.";
  $("adapter-note").textContent = a?.includes("swiftshader") ? SWIFTSHADER_NOTE : "";
  return a;
}

async function check(): Promise<{ adapter: string | null; languageModels: Awaited<ReturnType<typeof checkLanguageModel>>[]; translation: Awaited<ReturnType<typeof checkTranslation>> }> {
  await kernelsReady;
  const r = await loadRuntimes();
  const languageModels = [];
  for (const cell of ["lstm", "gru", "rnn_tanh"] as const) languageModels.push(await checkLanguageModel(r, cell));
  // The plain RNN with its ONNX operator: WebGPU has no RNN kernel, onnxruntime runs it on the CPU, and the session says so.
  languageModels.push(await checkLanguageModel(r, "rnn_tanh", { lowering: "operators" }));
  const translation = await checkTranslation(r);
  const result = { adapter: await describeAdapter(), languageModels, translation };
  $("check-result").textContent = [
    ...languageModels.map(
      (c) =>
        `${c.cell} (${c.lowering}) on ${c.providers.webgpu}: |Δ| vs wasm ${c.webgpuVsWasm.toExponential(1)}, vs library ${c.webgpuVsLibrary.toExponential(1)} over ${c.steps} steps; ` +
        `text ${c.texts.webgpu === c.texts.library && c.texts.wasm === c.texts.library ? "identical" : "DIFFERENT"}${c.cpuNodes.length > 0 ? `; on the CPU: ${c.cpuNodes.join(", ")}` : ""}`,
    ),
    `translation on ${translation.providers.webgpu}: encoder |Δ| vs wasm ${translation.encoderWebgpuVsWasm.toExponential(1)}, steps vs wasm ${translation.stepWebgpuVsWasm.toExponential(1)}, vs library ${translation.stepWebgpuVsLibrary.toExponential(1)}; ` +
      `beam search ${JSON.stringify(translation.beams.webgpu) === JSON.stringify(translation.beams.library) ? "identical" : "DIFFERENT"}`,
  ].join("\n");
  return result;
}

async function run(options: { cell: Cell; hiddenSize: number; numLayers: number; tokens: number }): Promise<Timing[]> {
  const body = $("bench-table").querySelector("tbody")!;
  body.replaceChildren();
  let reference = "";
  await kernelsReady;
  return benchmark(await loadRuntimes(), {
    ...options,
    kernels,
    onTiming: (t) => {
      if (t.provider === "library") reference = t.text;
      const row = document.createElement("tr");
      for (const cell of [t.engine, t.provider, t.tokensPerSecond.toFixed(1), t.seconds.toFixed(2), t.text === reference ? "yes" : "no"]) {
        const td = document.createElement("td");
        td.textContent = cell;
        row.append(td);
      }
      body.append(row);
    },
  });
}

const busy = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
  $("status").textContent = what;
  document.body.dataset.state = "busy";
  try {
    return await f();
  } catch (e) {
    $("status").textContent = `Error: ${e instanceof Error ? e.message : String(e)}`;
    throw e;
  } finally {
    document.body.dataset.state = "ready";
    if ($("status").textContent === what) $("status").textContent = "Ready.";
  }
};

$("bench-run").addEventListener("click", () => {
  const n = (id: string): number => $<HTMLInputElement>(id).valueAsNumber;
  void busy("Running the benchmark...", () => run({ cell: $<HTMLSelectElement>("bench-cell").value as Cell, hiddenSize: n("bench-hidden"), numLayers: n("bench-layers"), tokens: n("bench-tokens") }));
});
$("check-run").addEventListener("click", () => void busy("Checking...", check));

(window as unknown as { bench: unknown }).bench = {
  adapter,
  check: () => busy("Checking...", check),
  /** A captioning model exported elsewhere (base64 files, images as numbers): its graphs on WebGPU and wasm. */
  checkCaptioning: (files: { encoder: string; decoder: string; images: number[]; count: number }) => {
    const bytes = (b64: string): Uint8Array => Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
    const decoded: CaptioningFiles = { encoder: bytes(files.encoder), decoder: bytes(files.decoder), images: Float32Array.from(files.images), count: files.count };
    return busy("Checking the captioning model...", async () => checkCaptioning(await loadRuntimes(), decoded));
  },
  run: (options: Parameters<typeof run>[0]) => busy("Running the benchmark...", () => run(options)),
};
void Promise.all([adapter(), kernelsReady]).then(() => {
  $("status").textContent = "Ready.";
  document.body.dataset.state = "ready";
});
