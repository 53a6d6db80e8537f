import { describeReadmeExamples } from "@unroll/testing";
import { expect } from "vitest";

describeReadmeExamples({
  readme: new URL("../README.md", import.meta.url),
  sources: { "@unroll/nlp": new URL("./index.ts", import.meta.url) },
  minExamples: 4,
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
      when: "saveModel",
      check: (printed) => {
        expect(printed.filter((l) => l.startsWith("step "))).toHaveLength(1); // a sample at step 100
        expect(printed.at(-2)).toBe("early-stopping 120 80");
        expect(printed.at(-1)).toBe("true 17");
      },
    },
    {
      when: "trainTranslationModel",
      check: (printed) => {
        expect(printed[0]).toBe("seven three zero one");
        expect(printed[1]).toBe("5 4");
        expect(printed[2]).toBe("true true nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.5.1");
      },
    },
    {
      when: "trainForecaster",
      check: (printed) => {
        expect(printed[0]).toBe("true true");
        expect(printed[1]).toBe("3 true");
      },
    },
    {
      when: "trainTagger",
      check: (printed) => {
        expect(printed[0]).toBe("A B O 1");
        expect(printed[1]).toBe("B A O");
        expect(printed[2]).toBe("1");
      },
    },
    {
      when: "trainClassifier",
      check: (printed) => {
        expect(printed[0]).toBe("neg pos 1");
        expect(printed[1]).toBe("neg 4");
        expect(printed[2]).toBe("1");
      },
    },
  ],
});
