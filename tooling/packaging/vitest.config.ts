import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    // Packing seven packages and two npm installs (one from the registry): about a minute on a
    // quiet 2-core machine; the limit is a guard against hangs.
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
