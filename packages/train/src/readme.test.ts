import { describeReadmeExamples } from "@unroll/testing";
import { expect } from "vitest";

describeReadmeExamples({
  readme: new URL("../README.md", import.meta.url),
  sources: { "@unroll/train": new URL("./index.ts", import.meta.url) },
  minExamples: 6,
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
      when: "reportProgress(trainer",
      check: (printed) => {
        expect(printed[0]).toMatch(/\nrnn \(layer 0\)\s+329,728\n[^]*\ntotal\s+350,593 \(1\.34 MiB as float32\)$/);
        expect(printed[1]).toMatch(/^step 1\/200 {2}loss \d+\.\d{4} {2}[\d,]+ tok\/s {2}\|g\| [\d.]+ {2}lr 5\.0e-2 {2}ETA \d+m\d\ds$/);
        expect(printed).toContainEqual(expect.stringMatching(/^step 50: validation loss 0\.\d{4} \(best\)$/));
        expect(printed.at(-1)).toBe("stopped at step 200: early stopping: the validation loss stopped improving");
      },
    },
    { when: "TensorBoardWriter", check: (printed) => expect(printed[0]).toMatch(/^events\.out\.tfevents\.\d{10}\..+\.\d+\.0$/) },
    {
      when: "RunFolder.open",
      check: (printed) =>
        expect(printed).toEqual([
          "already holds a run: its latest checkpoint is step-00000004 (1 checkpoint, metrics.jsonl, metrics.csv)",
          "moved [ 'latest.json', 'metrics.csv', 'metrics.jsonl', 'step-00000004' ]",
        ]),
    },
  ],
});
