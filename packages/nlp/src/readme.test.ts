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
    {
      when: "trainTranslationModel",
      check: (printed) => {
        expect(printed[0]).toBe("seven three zero one");
        expect(printed[1]).toBe("5 4");
        expect(printed[2]).toBe("true true nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.5.1");
      },
    },
  ],
});
