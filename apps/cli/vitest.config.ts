import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // A guard against hangs, not a speed requirement: end-to-end tests run the real binary.
    testTimeout: 180_000,
  },
});
