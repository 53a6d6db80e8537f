import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // A guard against hangs, not a speed requirement: the end-to-end tests build the site if needed
    // and drive a real browser (WebGPU in software) while the other packages' tests load both cores.
    testTimeout: 420_000,
    hookTimeout: 240_000,
    // One file at a time: the two browser tests (test/browser.test.ts, test/webgpu.test.ts) each
    // start Chromium, and two at once on a small CI machine would slow both towards their timeouts.
    fileParallelism: false,
  },
});
