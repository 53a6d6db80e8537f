// The WebAssembly kernels module: its exports are the host's API (see
// src/backend/wasm/kernels.wasm.generated.ts). The host copies operands into the user region
// returned by `reserve`, calls a kernel with byte addresses, and copies results out.

export { reserve, useScratch } from "./scratch";
export { gemm, readyWorkers, setWorkers, workerJobs, workerLoop } from "./parallel";
export { recurrentForward, recurrentBackward } from "./recurrent";
export { attentionDecoderForward, attentionDecoderBackward } from "./attention";
export {
  binaryF32,
  clampF32,
  reduceAllF32,
  reduceColumnsF32,
  reduceOuterInnerF32,
  reduceRowsF32,
  softmaxCrossEntropyBackwardF32,
  softmaxCrossEntropyF32,
  softmaxRowsF32,
  unaryF32,
} from "./elementwise";
export { adamF32 } from "./optim";
export { transposeF32 } from "./transpose";
export { conv2dBackwardInputF32, conv2dBackwardWeightF32, conv2dForwardF32 } from "./conv";
