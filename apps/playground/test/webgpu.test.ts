// WebGPU end to end: the built site in Debian's Chromium with WebGPU on SwiftShader, Chromium's
// software GPU (`--enable-unsafe-webgpu --enable-features=Vulkan,WebGPUService
// --use-vulkan=swiftshader`: no GPU needed). Every exported model family the pages build runs on
// onnxruntime-web's WebGPU provider and must give the WebAssembly provider's and the library's
// numbers, and the same text and beams for the same seed; the playground's ONNX panel runs on
// WebGPU and says so. SwiftShader checks correctness only: its speed says nothing about a GPU.
//
// Tolerances (float32): WebGPU against wasm at most 1e-5 (measured: about 3e-7), against the
// library at most 1e-4 (the bound the other ONNX tests use; measured: about 1e-6), over every step
// of a sequence with the state fed back, so a wrong state output fails even where the first
// logits are right.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import type { Server } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { haveTool, missingMessage, probeTool, toolPath } from "@unroll/testing/optional-tools";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CaptioningCheck, LanguageModelCheck, TranslationCheck } from "../src/bench/bench.js";
import { serve } from "@unroll/testing/serve";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = join(root, "dist");
const artifacts = join(root, "test-artifacts");
const CHROMIUM = toolPath("chromium");
const haveBrowser = probeTool("chromium").found;
const SKIP_MESSAGE = `WebGPU browser test skipped: ${missingMessage("chromium", probeTool("chromium"))}`;

/** Headless Chromium with WebGPU on SwiftShader (Vulkan in software). */
const WEBGPU_FLAGS = ["--enable-unsafe-webgpu", "--enable-features=Vulkan,WebGPUService", "--use-vulkan=swiftshader"] as const;

const TO_WASM = 1e-5;
const TO_LIBRARY = 1e-4;

/**
 * A captioning model exported in Node with @unroll/vision (which the page does not bundle), and the
 * library's own first-step logits and beams for the same images. It runs in packages/onnx, whose
 * dev dependencies include vision; turbo builds vision before this test (apps/playground/turbo.json).
 */
function exportCaptioner(): { encoder: string; decoder: string; images: number[]; count: number; firstLogits: number[]; beams: number[][] } {
  const script = `
    import { beamSearch, Vocabulary } from "@unroll/nlp";
    import { Rng } from "@unroll/tensor";
    import { Captioner, captionDecoder } from "@unroll/vision";
    import { exportCaptioningModel } from "@unroll/onnx";
    const model = new Captioner({ vocabSize: 20, decoder: "attention", cell: "lstm", encoder: { channels: [4, 8], blocks: 1 }, embeddingSize: 8, hiddenSize: 16 });
    const params = model.init(new Rng(0));
    const { encoder, decoder } = exportCaptioningModel(model, params, { imageSize: [16, 16] });
    const count = 2;
    const images = new Rng(4).normal([count, 3, 16, 16], 0, 1);
    const encoded = model.encode(params, images);
    const rows = { memory: encoded.memory, state: model.initialDecoderState(encoded) };
    const library = captionDecoder(model, params);
    const first = await library.step(new Int32Array(count).fill(Vocabulary.BOS), rows);
    const beams = (await beamSearch(library, rows, count, { bos: Vocabulary.BOS, eos: Vocabulary.EOS, maxLength: 6, beamSize: 3 })).map((h) => h[0].tokens);
    const b64 = (u) => Buffer.from(u).toString("base64");
    process.stdout.write(JSON.stringify({ encoder: b64(encoder), decoder: b64(decoder), images: Array.from(images.data), count, firstLogits: Array.from(first.logits), beams }));`;
  const cwd = fileURLToPath(new URL("../../../packages/onnx/", import.meta.url));
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd, encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    throw new Error(`exporting the captioning model in ${cwd} failed (build the libraries first: pnpm build, or pnpm --filter @unroll/vision --filter @unroll/onnx build): ${r.stderr.trim().split("\n").slice(0, 5).join(" ")}`);
  }
  return JSON.parse(r.stdout) as ReturnType<typeof exportCaptioner>;
}

interface OnnxState {
  maxAbsDiff: number;
  same: boolean;
  engine: string;
  provider: string;
  lowering: string;
  adapter: string | null;
  notes: string[];
  textOnnx: string;
}

describe("WebGPU in Chromium (SwiftShader)", () => {
  let browser: Browser | null = null;
  let server: Server | null = null;
  let origin = "";

  beforeAll(async () => {
    if (!haveBrowser) return;
    if (!existsSync(join(dist, "bench.html"))) {
      const { build } = await import("vite");
      await build({ root, logLevel: "warn" });
    }
    ({ server, origin } = await serve(dist));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", ...WEBGPU_FLAGS, "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  });

  /** A page that records console errors, page errors and every request. */
  async function open(path: string): Promise<{ page: Page; problems: string[]; requests: string[]; close: () => Promise<void> }> {
    const context = await browser!.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    const requests: string[] = [];
    const record = (where: string) => (msg: { type(): string; text(): string }) => {
      if (msg.type() === "error") problems.push(`${where} console.error: ${msg.text()}`);
    };
    page.on("console", record("page"));
    page.on("worker", (worker) => worker.on("console", record(`worker ${worker.url()}`)));
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    context.on("request", (r) => requests.push(r.url()));
    await page.goto(`${origin}/${path}`);
    return { page, problems, requests, close: () => context.close() };
  }

  const skipWithoutBrowser = (ctx: { skip(note?: string): void }): void => {
    if (!haveTool("chromium")) {
      console.warn(SKIP_MESSAGE);
      ctx.skip(SKIP_MESSAGE);
    }
  };

  it("every exported model family (language models, translation, captioning) gives the same numbers, text and beams on WebGPU as on wasm and in the library", async (ctx) => {
    skipWithoutBrowser(ctx);
    const t0 = Date.now();
    const { page, problems, requests, close } = await open("bench.html");
    await page.waitForFunction(() => document.body.dataset["state"] === "ready", null, { timeout: 90_000 });
    const adapter = await page.evaluate(() => (window as unknown as { bench: { adapter(): Promise<string | null> } }).bench.adapter());
    // Without an adapter, the flags did not give WebGPU: that is a failure here, not a skip.
    expect(adapter, `no WebGPU adapter in Chromium with ${WEBGPU_FLAGS.join(" ")}`).toMatch(/swiftshader/i);
    expect(await page.locator("#adapter-note").innerText()).toContain("correctness, not GPU speed");

    const tCheck = Date.now();
    const result = await page.evaluate(() =>
      (window as unknown as { bench: { check(): Promise<{ languageModels: LanguageModelCheck[]; translation: TranslationCheck }> } }).bench.check(),
    );
    const lms = result.languageModels;
    expect(lms.map((c) => `${c.cell}/${c.lowering}`)).toEqual(["lstm/operators", "gru/operators", "rnn_tanh/unrolled", "rnn_tanh/operators"]);
    for (const c of lms) {
      const what = `${c.cell} (${c.lowering})`;
      expect(c.providers, what).toEqual({ webgpu: "webgpu", wasm: "wasm" });
      expect(c.webgpuVsWasm, what).toBeLessThan(TO_WASM);
      expect(c.webgpuVsLibrary, what).toBeLessThan(TO_LIBRARY);
      expect(c.wasmVsLibrary, what).toBeLessThan(TO_LIBRARY);
      expect(c.texts.library.length, what).toBe(40);
      expect(c.texts.webgpu, what).toBe(c.texts.library);
      expect(c.texts.wasm, what).toBe(c.texts.library);
    }
    // The lowering chosen for WebGPU runs every node there; the plain RNN operator is left to the CPU, and the session says so.
    expect(lms.slice(0, 3).map((c) => c.cpuNodes)).toEqual([[], [], []]);
    expect(lms.slice(0, 3).map((c) => c.notes)).toEqual([[], [], []]);
    expect(lms[3]!.cpuNodes).toHaveLength(2);
    expect(lms[3]!.notes.join(" ")).toMatch(/no kernel for \(RNN: .*\).* lowering: "unrolled"/);

    const tr = result.translation;
    expect(tr.providers).toEqual({ webgpu: "webgpu", wasm: "wasm" });
    expect(tr.cpuNodes).toEqual([]);
    expect(tr.notes).toEqual([]);
    expect(tr.encoderWebgpuVsWasm).toBeLessThan(TO_WASM);
    expect(tr.stepWebgpuVsWasm).toBeLessThan(TO_WASM);
    expect(tr.stepWebgpuVsLibrary).toBeLessThan(TO_LIBRARY);
    expect(tr.beams.library).toHaveLength(3);
    expect(tr.beams.webgpu).toEqual(tr.beams.library);
    expect(tr.beams.wasm).toEqual(tr.beams.library);

    const checkSeconds = (Date.now() - tCheck) / 1000;
    // Captioning: convolutions in the encoder, an LSTM with attention in the decoder step.
    const tCaption = Date.now();
    const captioner = exportCaptioner();
    const cap = await page.evaluate(
      (files) => (window as unknown as { bench: { checkCaptioning(f: typeof files): Promise<CaptioningCheck> } }).bench.checkCaptioning(files),
      { encoder: captioner.encoder, decoder: captioner.decoder, images: captioner.images, count: captioner.count },
    );
    expect(cap.providers).toEqual({ webgpu: "webgpu", wasm: "wasm" });
    expect(cap.cpuNodes).toEqual([]);
    expect(cap.notes).toEqual([]);
    expect(cap.encoderWebgpuVsWasm).toBeLessThan(TO_WASM);
    expect(cap.stepWebgpuVsWasm).toBeLessThan(TO_WASM);
    expect(cap.firstLogits).toHaveLength(captioner.firstLogits.length);
    const capVsLibrary = Math.max(...cap.firstLogits.map((v, i) => Math.abs(v - captioner.firstLogits[i]!)));
    expect(capVsLibrary).toBeLessThan(TO_LIBRARY);
    expect(cap.beams.webgpu).toEqual(captioner.beams);
    expect(cap.beams.wasm).toEqual(captioner.beams);

    const captionSeconds = (Date.now() - tCaption) / 1000;
    await mkdir(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, "bench-webgpu.png"), fullPage: true });

    expect(problems).toEqual([]);
    expect(requests.some((u) => /ort-wasm-simd-threaded\.asyncify.*\.wasm$/.test(u))).toBe(true);
    expect(requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith("data:") && !u.startsWith("blob:"))).toEqual([]);
    const worst = Math.max(...lms.map((c) => c.webgpuVsWasm), tr.encoderWebgpuVsWasm, tr.stepWebgpuVsWasm, cap.encoderWebgpuVsWasm, cap.stepWebgpuVsWasm);
    console.log(`WebGPU checks (${adapter}): ${lms.length} language models, a translation model and a captioning model in ${((Date.now() - t0) / 1000).toFixed(1)} s (checks ${checkSeconds.toFixed(1)} s, captioning ${captionSeconds.toFixed(1)} s); worst |WebGPU - wasm| ${worst.toExponential(1)}`);
    await close();
  });

  it("the playground's ONNX panel generates on WebGPU, says so, and gives the library's and wasm's text", async (ctx) => {
    skipWithoutBrowser(ctx);
    const { page, problems, requests, close } = await open("index.html");
    type State = { step: number; flowColumns: number; onnx: OnnxState | null; onnxPending: boolean; errors: string[] };
    const state = (): Promise<State> => page.evaluate(() => (window as unknown as { playground: { state(): State } }).playground.state());
    const waitFor = async (what: string, ok: (s: State) => boolean, timeoutMs: number): Promise<State> => {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const s = await state();
        if (ok(s)) return s;
        if (Date.now() > until) throw new Error(`timed out waiting for ${what}; state: ${JSON.stringify(s)}; problems: ${problems.join(" | ")}`);
        await page.waitForTimeout(200);
      }
    };
    await waitFor("the model at step 0", (s) => s.flowColumns >= 1, 90_000);
    await page.selectOption("#cell", "lstm");
    await page.selectOption("#hidden", "32");
    await waitFor("the LSTM at step 0", (s) => s.flowColumns >= 1, 90_000);

    await page.selectOption("#onnx-engine", "webgpu");
    await page.click("#onnx");
    const gpu = (await waitFor("ONNX on WebGPU", (s) => s.onnx?.engine === "webgpu" && !s.onnxPending, 180_000)).onnx!;
    expect(gpu.provider).toBe("webgpu");
    expect(gpu.adapter).toMatch(/swiftshader/i);
    expect(gpu.lowering).toBe("operators"); // WebGPU has LSTM kernels
    expect(gpu.notes).toEqual([]);
    expect(gpu.maxAbsDiff).toBeLessThan(TO_LIBRARY);
    expect(gpu.same).toBe(true);
    const line = await page.locator("#onnx-provider").innerText();
    expect(line).toContain("Ran on WebGPU (adapter: ");
    expect(line).toContain("correctness, not GPU speed");
    expect(await page.locator("#onnx-runtime-title").innerText()).toBe("onnxruntime-web (WebGPU)");
    await mkdir(artifacts, { recursive: true });
    await page.locator("#panel-onnx").screenshot({ path: join(artifacts, "onnx-webgpu.png") });

    await page.selectOption("#onnx-engine", "wasm");
    await page.click("#onnx");
    const cpu = (await waitFor("ONNX on wasm", (s) => s.onnx?.engine === "wasm" && !s.onnxPending, 180_000)).onnx!;
    expect(cpu.provider).toBe("wasm");
    expect(cpu.textOnnx).toBe(gpu.textOnnx); // the same weights (step 0) and seed
    expect(await page.locator("#onnx-provider").innerText()).toContain("Ran on WebAssembly");

    expect(problems).toEqual([]);
    expect((await state()).errors).toEqual([]);
    expect(requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith("data:") && !u.startsWith("blob:"))).toEqual([]);
    await close();
  });
});
