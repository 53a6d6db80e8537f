import { describeReadmeExamples } from "@unroll/testing";
import { expect } from "vitest";

describeReadmeExamples({
  readme: new URL("../README.md", import.meta.url),
  sources: { "@unroll/cells": new URL("./index.ts", import.meta.url) },
  minExamples: 5,
  expectations: [
    { when: "npRnnScheme", check: (printed) => expect(Math.abs(Number(printed[5]) - 1)).toBeLessThan(1e-5) },
    { when: "fromStateDictJSON", check: (printed) => expect(printed[1]).toMatch(/does not fit this model: .*unexpected weight_ih_l1/) },
  ],
});
