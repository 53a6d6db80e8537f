import { describeReadmeExamples } from "@unroll/testing";
import { expect } from "vitest";

describeReadmeExamples({
  readme: new URL("../README.md", import.meta.url),
  sources: { "@unroll/onnx": new URL("./index.ts", import.meta.url) },
  minExamples: 9,
  expectations: [
    { when: "viaOnnx === viaLibrary", check: (printed) => expect(printed[0]).toBe("true 60") },
    { when: "graph: \"sequence\"", check: (printed) => expect(printed[1]).toBe("[ 4, 3, 20 ] true") },
    { when: "readModelInfo(bytes)", check: (printed) => expect(printed[1]).toBe("low") },
    { when: "traceToOnnx(f, examples", check: (printed) => expect(printed[1]).toBe("[ 9, 4, 5 ]") },
    {
      when: "exportTranslationModel",
      check: (printed) => {
        expect(printed[0]).toBe("[ 'memory', 'keys', 'mask', 'h' ]");
        expect(printed[1]).toBe("true");
      },
    },
    {
      when: "exportCaptioningModel",
      check: (printed) => {
        expect(printed[0]).toBe("[ 'memory', 'keys', 'mask', 'h', 'c' ] [ 6, 6 ]");
        expect(printed[1]).toBe("true");
      },
    },
    {
      when: "onnxruntimeEngine({ onCompile",
      check: (printed) => {
        expect(printed.filter((l) => l.startsWith("compiled: "))).toHaveLength(2);
        expect(printed.at(-1)).toBe("true");
      },
    },
    { when: "onFallback: (message)", check: (printed) => expect(printed.at(-1)).toMatch(/^(cuda|cpu)$/) },
    // Node has no navigator.gpu: the WebGPU preference runs on wasm (a browser with WebGPU prints "webgpu 0").
    { when: 'executionProviders: ["webgpu", "wasm"] });', check: (printed) => expect(printed.at(-1)).toBe("wasm 0") },
  ],
});
