import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// A static site: `vite build` writes dist/ (relative URLs, so it can be served from any path): the
// playground (index.html) and the WebGPU/WebAssembly benchmark page (bench.html). Both workers are
// ES modules. onnxruntime-web's .wasm files are imported with `?url` (src/worker/ort.ts), so Vite
// copies them into dist/assets and the runtime never reaches a CDN.
export default defineConfig({
  base: "./",
  worker: { format: "es" },
  build: {
    target: "es2022",
    // The Moby-Dick text (1.2 MB) is its own chunk, loaded when chosen; the rest is small.
    chunkSizeWarningLimit: 1600,
    rollupOptions: {
      input: {
        index: fileURLToPath(new URL("index.html", import.meta.url)),
        bench: fileURLToPath(new URL("bench.html", import.meta.url)),
      },
    },
  },
  // onnxruntime-web finds its files relative to its own module: keep it out of dependency pre-bundling.
  optimizeDeps: { exclude: ["onnxruntime-web"] },
});
