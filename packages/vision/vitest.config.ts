import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // A guard against hangs, not a speed requirement: CI machines are shared and noisy.
    testTimeout: 60_000,
  },
});
