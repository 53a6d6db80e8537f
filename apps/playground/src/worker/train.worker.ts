// The training worker: the model is trained here, so the page never waits for a step.
import { loadWasmKernelsSync, setKernels, wasmSupported } from "@unroll/tensor";
import { errorMessage, type TrainEvent, type TrainRequest, type WorkerScope } from "../protocol.js";
import { TrainingSession } from "./session.js";

const scope = self as unknown as WorkerScope<TrainRequest, TrainEvent>;

// WebAssembly SIMD kernels where the browser has them (a synchronous compile is allowed in workers).
let kernels = "reference";
try {
  if (wasmSupported()) {
    const table = loadWasmKernelsSync();
    setKernels(table);
    kernels = table.name;
  }
} catch (e) {
  kernels = `reference (WebAssembly kernels failed: ${errorMessage(e)})`;
}

const session = new TrainingSession((event, transfer) => scope.postMessage(event, transfer ?? []), { kernels });

// Requests run in order; `start` is not awaited (it trains until `pause`), so a pause that follows
// reaches the trainer at its next yield.
let queue: Promise<unknown> = Promise.resolve();
scope.onmessage = ({ data }) => {
  queue = queue.then(async () => {
    switch (data.type) {
      case "configure":
        await session.configure(data.settings, data.text);
        break;
      case "start":
        void session.start();
        break;
      case "pause":
        session.pause();
        break;
      case "live":
        session.live(data.settings);
        break;
      case "spectrum":
        session.selectSpectrum(data.layer, data.block);
        break;
      case "snapshot":
        session.postSnapshot(data.id);
        break;
    }
  }).catch((e: unknown) => scope.postMessage({ type: "error", message: errorMessage(e) }));
};
