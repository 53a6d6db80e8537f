// onnxruntime-web for the page and its workers, served from this site (Vite emits the .wasm files
// as assets; the runtime never reaches a CDN). Two builds: "onnxruntime-web/wasm" (WebAssembly
// only, 14 MB) and "onnxruntime-web/webgpu" (onnxruntime's native WebGPU provider beside
// WebAssembly, 26 MB), each loaded when first asked for.
import type { OrtModule } from "@unroll/onnx";
import ortWasmUrl from "onnxruntime-web/ort-wasm-simd-threaded.wasm?url";
import ortWebGpuWasmUrl from "onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url";
import type { OnnxEngine } from "../protocol.js";

interface OrtWebModule {
  readonly env: {
    wasm: { wasmPaths?: unknown; numThreads?: number; proxy?: boolean };
    logLevel?: string;
  };
}

const loaded = new Map<OnnxEngine, Promise<OrtModule>>();

function configure(m: OrtWebModule, wasmUrl: string): OrtModule {
  m.env.wasm.wasmPaths = { wasm: new URL(wasmUrl, self.location.href).href };
  m.env.wasm.numThreads = 1; // threads need a cross-origin-isolated page; one is plenty for these models
  m.env.wasm.proxy = false;
  m.env.logLevel = "error";
  return m as unknown as OrtModule;
}

/** The onnxruntime-web build for an engine, configured to fetch its .wasm from this site. */
export function loadOrt(engine: OnnxEngine): Promise<OrtModule> {
  let ort = loaded.get(engine);
  if (!ort) {
    ort =
      engine === "webgpu"
        ? import("onnxruntime-web/webgpu").then((m) => configure(m as unknown as OrtWebModule, ortWebGpuWasmUrl))
        : import("onnxruntime-web/wasm").then((m) => configure(m as unknown as OrtWebModule, ortWasmUrl));
    loaded.set(engine, ort);
  }
  return ort;
}

interface GpuLike {
  requestAdapter(): Promise<{ readonly info?: { readonly vendor?: string; readonly architecture?: string; readonly description?: string } } | null>;
}

/** "vendor / architecture" of the WebGPU adapter this context gets ("google / swiftshader" on the software GPU), or null. */
export async function describeAdapter(): Promise<string | null> {
  const gpu = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator?.gpu;
  if (!gpu) return null;
  const adapter = await gpu.requestAdapter();
  if (!adapter) return null;
  const info = adapter.info ?? {};
  return [info.vendor, info.architecture].filter((s) => s !== undefined && s !== "").join(" / ") || (info.description ?? "unknown adapter");
}
