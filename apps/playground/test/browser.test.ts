// End to end in a real browser: the built site served from 127.0.0.1, driven in Debian's Chromium
// (headless) through playwright-core. It trains a small model for a few seconds and checks what a
// student would look at: the loss falls, a sample streams in, the gradient heatmap fills, the
// gates are read, ONNX in onnxruntime-web agrees with the library, nothing is logged as an error
// and no request leaves the page's origin. A screenshot is saved in test-artifacts/.
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import type { Server } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { haveTool, missingMessage, probeTool, toolPath } from "@unroll/testing/optional-tools";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve } from "@unroll/testing/serve";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = join(root, "dist");
const artifacts = join(root, "test-artifacts");
const CHROMIUM = toolPath("chromium");
const haveBrowser = probeTool("chromium").found;
const SKIP_MESSAGE = `browser test skipped: ${missingMessage("chromium", probeTool("chromium"))}`;

interface PageState {
  running: boolean;
  step: number;
  losses: number[];
  evals: { step: number; loss: number }[];
  flowColumns: number;
  flowRows: number;
  flowFinite: boolean;
  spectrumPoints: number;
  spectralRadius: number | null;
  initialSpectralRadius: number | null;
  runs: { id: number; label: string; steps: number }[];
  compared: number[];
  sample: string;
  sampleDone: boolean;
  gates: string[];
  onnx: { maxAbsDiff: number; same: boolean; bytes: number } | null;
  kernels: string | null;
  errors: string[];
}

describe("the playground in Chromium", () => {
  let browser: Browser | null = null;
  let server: Server | null = null;
  let origin = "";

  beforeAll(async () => {
    if (!haveBrowser) return;
    if (!existsSync(join(dist, "index.html"))) {
      // Not built yet (turbo builds before testing; a bare `vitest run` may not have): build now.
      const { build } = await import("vite");
      await build({ root, logLevel: "warn" });
    }
    ({ server, origin } = await serve(dist));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  });

  it("trains in a worker: the loss falls, samples stream, gradients and gates are drawn, ONNX agrees", async (ctx) => {
    if (!haveTool("chromium")) {
      console.warn(SKIP_MESSAGE);
      ctx.skip(SKIP_MESSAGE);
    }
    const context = await browser!.newContext({ viewport: { width: 1440, height: 900 } });
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
    const state = (): Promise<PageState> => page.evaluate(() => (window as unknown as { playground: { state(): PageState } }).playground.state());
    const waitFor = async (what: string, ok: (s: PageState) => boolean, timeoutMs: number): Promise<PageState> => {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const s = await state();
        if (ok(s)) return s;
        if (Date.now() > until) throw new Error(`timed out waiting for ${what}; state: ${JSON.stringify({ ...s, losses: s.losses.length, sample: s.sample.slice(0, 80) })}; problems: ${problems.join(" | ")}`);
        await page.waitForTimeout(200);
      }
    };

    const t0 = Date.now();
    await page.goto(`${origin}/index.html`);
    // The page builds the default model at once: step 0's gradient flow and spectrum are drawn.
    const initial = await waitFor("the model at step 0", (s) => s.flowColumns >= 1 && s.spectrumPoints > 0, 90_000);
    expect(initial.step).toBe(0);

    // A small model that learns within seconds.
    await page.selectOption("#text-source", "shakespeare");
    await page.selectOption("#cell", "lstm");
    await page.selectOption("#hidden", "32");
    await page.fill("#window", "16");
    await page.fill("#batch", "8");
    await page.fill("#lr", "0.01");
    await page.fill("#sample-length", "120");
    await page.click("#start");
    const trained = await waitFor(
      "training, a sample and the heatmap",
      (s) => s.running && s.step >= 60 && s.sampleDone && s.sample.length > 0 && s.flowColumns >= 3 && s.gates.length > 0,
      180_000,
    );
    const trainSeconds = (Date.now() - t0) / 1000;

    // The loss falls: the last steps are well below the first (ln(vocabulary) ≈ 4 at the start).
    const first = trained.losses.slice(0, 5);
    const last = trained.losses.slice(-5);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(first.length).toBe(5);
    expect(mean(last)).toBeLessThan(mean(first) - 0.5);
    expect(trained.kernels).toBe("wasm-simd");

    // The heatmap has one row per step of the probe window and several columns over training.
    expect(trained.flowRows).toBe(16);
    expect(trained.flowFinite).toBe(true);
    const heatmap = page.locator("#heatmap");
    expect(Number(await heatmap.getAttribute("data-columns"))).toBeGreaterThanOrEqual(3);
    expect(Number(await heatmap.getAttribute("data-rows"))).toBe(16);
    expect(Number(await page.locator("#loss-chart").getAttribute("data-points"))).toBeGreaterThan(0);
    expect(trained.spectrumPoints).toBe(32);
    // The LSTM's gates over the sample's characters.
    expect(trained.gates).toEqual(["i", "f", "o", "g", "c", "h"]);
    expect(await page.locator("#neuron-text span").count()).toBeGreaterThan(10);

    // Pause stops training.
    await page.click("#pause");
    const paused = await waitFor("pause", (s) => !s.running, 30_000);
    await page.waitForTimeout(500);
    expect((await state()).step).toBe(paused.step);

    // ONNX: exported, run in onnxruntime-web in the page, the same numbers as the library.
    await page.click("#onnx");
    const exported = await waitFor("the ONNX comparison", (s) => s.onnx !== null, 180_000);
    expect(exported.onnx!.bytes).toBeGreaterThan(10_000);
    expect(exported.onnx!.maxAbsDiff).toBeLessThan(1e-4);
    expect(exported.onnx!.same).toBe(true);
    expect(await page.locator("#onnx-download").getAttribute("download")).toMatch(/\.onnx$/);

    // Switching the initialiser and starting again compares two runs from the same seed and data:
    // orthogonal gate blocks start with every eigenvalue on the unit circle, and the first run
    // stays on the charts.
    await page.selectOption("#init", "orthogonal");
    await page.click("#reset");
    const fresh = await waitFor("the orthogonal run at step 0", (s) => s.runs.length === 2 && s.step === 0 && s.initialSpectralRadius !== null, 60_000);
    expect(fresh.initialSpectralRadius!).toBeCloseTo(1, 3);
    expect(fresh.runs[1]!.label).toContain("orthogonal");
    expect(fresh.compared).toEqual([1]);
    await page.click("#start");
    await waitFor("the second run", (s) => s.step >= 30 && s.flowColumns >= 2, 90_000);
    await page.click("#pause");
    await waitFor("pause", (s) => !s.running, 30_000);
    await page.click("#sample"); // by hand this time
    await waitFor("a sample of the second run", (s) => s.sampleDone && s.sample.length === 120 && s.gates.length > 0, 60_000);
    await expect.poll(() => page.locator("#loss-chart .u-legend").innerText()).toContain("#1 smoothed");
    await expect.poll(() => page.locator("#flow-chart .u-legend").innerText()).toContain("#1 at step");

    await mkdir(artifacts, { recursive: true });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(artifacts, "playground.png"), fullPage: true });
    await page.screenshot({ path: join(artifacts, "playground-viewport.png") });

    // Nothing went wrong, and nothing left the page's origin (the workers' requests included:
    // onnxruntime-web's .wasm is fetched by the lab worker).
    expect(problems).toEqual([]);
    expect(exported.errors).toEqual([]);
    expect(requests.some((u) => /ort-wasm-simd-threaded.*\.wasm$/.test(u))).toBe(true);
    const foreign = requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith("data:") && !u.startsWith("blob:"));
    expect(foreign).toEqual([]);
    console.log(`browser test: ${trained.step} steps and a sample after ${trainSeconds.toFixed(1)} s, loss ${mean(first).toFixed(2)} -> ${mean(last).toFixed(2)}; ${requests.length} requests, all to ${origin}`);
    await context.close();
  });
});

