import { describeReadmeExamples } from "@unroll/testing";
import { expect } from "vitest";

describeReadmeExamples({
  readme: new URL("../README.md", import.meta.url),
  sources: { "@unroll/vision": new URL("./index.ts", import.meta.url) },
  minExamples: 5,
  expectations: [
    { when: "encodePng", check: (printed) => expect(printed).toEqual(["a small yellow triangle", "[ 1, 3, 64, 64 ]"]) },
    { when: "videosToTensor", check: (printed) => expect(printed).toEqual(["[ 2, 4, 3, 16, 16 ]", "[ 1, 4 ]"]) },
    { when: "trainCaptionModel", check: (printed) => expect(printed).toEqual(["4 61 3", "96 true"]) },
    { when: "Trainer", check: (printed) => expect(printed).toEqual(["[ 3, 3 ] 9"]) },
    // Worked with the COCO formulas: the values the fixture-checked scorers give.
    { when: "ciderD", check: (printed) => expect(printed).toEqual(["0.679 0.670 0.656 0.628", "5.965"]) },
  ],
});
