import { describeReadmeExamples } from "@unroll/testing";
import { expect } from "vitest";

describeReadmeExamples({
  readme: new URL("../README.md", import.meta.url),
  sources: { "@unroll/vision": new URL("./index.ts", import.meta.url) },
  minExamples: 1,
  expectations: [{ when: "shapesDataset", check: (printed) => expect(printed).toEqual(["a small yellow triangle", "[ 1, 3, 64, 64 ]"]) }],
});
