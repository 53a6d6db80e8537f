// The lab worker: samples, gate activations and the ONNX comparison, over snapshots of the weights
// that the training worker sends, so that none of it slows training or the page.
import type { OrtModule } from "@unroll/onnx";
import { errorMessage, type LabEvent, type LabRequest, type WorkerScope } from "../protocol.js";
import { compareWithOnnx, inspect, restore, sample } from "./lab.js";
import { describeAdapter, loadOrt } from "./ort.js";

const scope = self as unknown as WorkerScope<LabRequest, LabEvent>;

const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));
let currentSample = -1;

async function streamSample(request: Extract<LabRequest, { type: "sample" }>): Promise<void> {
  currentSample = request.id;
  const model = restore(request.snapshot);
  scope.postMessage({ type: "sample-start", id: request.id, step: model.step, prime: request.prime });
  const t0 = performance.now();
  let chars = 0;
  let lastTick = t0;
  for await (const piece of sample(model, request)) {
    if (currentSample !== request.id) return; // a newer request replaced this one
    chars += piece.length;
    scope.postMessage({ type: "sample-chunk", id: request.id, text: piece });
    if (performance.now() - lastTick > 16) {
      await tick(); // let a newer request in, and let the page paint the text as it streams
      lastTick = performance.now();
    }
  }
  scope.postMessage({ type: "sample-done", id: request.id, charsPerSecond: chars / Math.max(1e-3, (performance.now() - t0) / 1000) });
}

scope.onmessage = ({ data }) => {
  void (async () => {
    try {
      switch (data.type) {
        case "sample":
          await streamSample(data);
          break;
        case "inspect":
          scope.postMessage({ type: "inspection", id: data.id, inspection: inspect(restore(data.snapshot), data.text) });
          break;
        case "onnx": {
          const ort: OrtModule = await loadOrt(data.engine);
          const report = await compareWithOnnx(restore(data.snapshot), { ...data, ort, adapter: describeAdapter });
          scope.postMessage({ type: "onnx", id: data.id, report }, [report.bytes.buffer]);
          break;
        }
      }
    } catch (e) {
      scope.postMessage({ type: "error", id: data.id, message: errorMessage(e) });
    }
  })();
};
