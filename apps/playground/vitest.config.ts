import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // A guard against hangs, not a speed requirement: the end-to-end test builds the site if needed
    // and drives a real browser on a shared machine.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
