import { describeReadmeExamples } from "@unroll/testing";
import { expect } from "vitest";

describeReadmeExamples({
  readme: new URL("../README.md", import.meta.url),
  sources: { "@unroll/nlp": new URL("./index.ts", import.meta.url) },
  minExamples: 3,
  expectations: [
    {
      when: "BpeTokenizer.train",
      check: (printed) => {
        expect(printed[0]).toBe("21 true");
        expect(printed.slice(3)).toEqual(["true", "true"]);
      },
    },
    { when: "resume: true", check: (printed) => expect(printed[0]).toMatch(/^10 20 \d/) },
  ],
});
