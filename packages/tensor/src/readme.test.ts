import { describeReadmeExamples } from "@unroll/testing";
import { expect } from "vitest";

describeReadmeExamples({
  readme: new URL("../README.md", import.meta.url),
  sources: { "@unroll/tensor": new URL("./index.ts", import.meta.url) },
  minExamples: 4,
  expectations: [
    // Where an example prints a check's outcome, the README shows `true`: hold it to that.
    { when: "gradcheck(", check: (printed) => expect(printed[0]).toMatch(/^true gradcheck:/) },
    { when: "Rng.fromState", check: (printed) => expect(printed[0]).toMatch(/ true$/) },
    { when: "defaultWasmThreads()", check: (printed) => expect(printed[0]).toMatch(/^wasm-simd.* true$/) },
  ],
});
