import { describeReadmeExamples } from "@unroll/testing";
import { expect } from "vitest";

describeReadmeExamples({
  readme: new URL("../README.md", import.meta.url),
  sources: { "@unroll/train": new URL("./index.ts", import.meta.url) },
  minExamples: 4,
  expectations: [
    {
      when: "cosineWithWarmup",
      check: (printed) => {
        const losses = printed.map((l) => Number(/loss ([\d.]+)/.exec(l)?.[1]));
        expect(losses.at(-1)!).toBeLessThan(losses[0]!);
      },
    },
    { when: "resumeTrainer", check: (printed) => expect(printed[0]).toMatch(/^10 .*toy.* 10$/) },
    {
      when: "RunFolder.open",
      check: (printed) =>
        expect(printed).toEqual([
          "already holds a run: its latest checkpoint is step-00000004 (1 checkpoint, metrics.jsonl)",
          "moved [ 'latest.json', 'metrics.jsonl', 'step-00000004' ]",
        ]),
    },
  ],
});
