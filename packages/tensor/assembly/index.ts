// Entry point of the WebAssembly kernels (AssemblyScript, built by `pnpm run wasm` into
// src/backend/wasm/kernels.wasm.generated.ts). The host copies operands into the user region
// returned by `reserve`, calls a kernel with byte addresses, and copies results out.

export { reserve } from "./scratch";
export { gemm } from "./gemm";
export { recurrentForward, recurrentBackward } from "./recurrent";
