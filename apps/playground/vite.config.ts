import { defineConfig } from "vite";

// A static site: `vite build` writes dist/ (relative URLs, so it can be served from any path).
// Both workers are ES modules. onnxruntime-web's .wasm is imported with `?url` in the lab worker,
// so Vite copies it into dist/assets and the runtime never reaches a CDN.
export default defineConfig({
  base: "./",
  worker: { format: "es" },
  build: {
    target: "es2022",
    // The Moby-Dick text (1.2 MB) is its own chunk, loaded when chosen; the rest is small.
    chunkSizeWarningLimit: 1600,
  },
  // onnxruntime-web finds its files relative to its own module: keep it out of dependency pre-bundling.
  optimizeDeps: { exclude: ["onnxruntime-web"] },
});
