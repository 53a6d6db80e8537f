import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    // A guard against hangs, not a speed requirement: importing torch takes seconds on a busy machine.
    testTimeout: 60_000,
  },
});
