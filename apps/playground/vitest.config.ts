import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // A guard against hangs, not a speed requirement: the end-to-end tests build the site if needed
    // and drive a real browser on a shared machine.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // One file at a time: the two browser tests (test/browser.test.ts, test/webgpu.test.ts) each
    // start Chromium, and two at once on a small CI machine would slow both towards their timeouts.
    fileParallelism: false,
  },
});
