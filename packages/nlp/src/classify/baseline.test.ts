import { describe, expect, it } from "vitest";
import { Rng } from "@unroll/tensor";
import { classificationReport, majorityClass, trainBagOfWords } from "../index.js";

function shuffled<T>(rng: Rng, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rng.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

describe("the bag-of-words baseline", () => {
  const filler = ["the", "film", "was", "a", "plot", "and", "music", "long"];

  it("learns which words mark a class", () => {
    const rng = new Rng(1);
    const make = (n: number) =>
      Array.from({ length: n }, () => {
        const label = rng.random() < 0.5 ? "pos" : "neg";
        const words = shuffled(rng, [...filler.slice(0, 4), label === "pos" ? "great" : "awful"]);
        return { label, text: words.join(" ") };
      });
    const model = trainBagOfWords(make(300), { epochs: 5 });
    const test = make(100);
    const r = classificationReport(test.map((e) => model.labels.id(e.label)), model.predict(test.map((e) => e.text)), model.labels.names);
    expect(r.accuracy).toBe(1);
  });

  it("cannot tell texts apart that differ only in word order: the reason for a sequence model", () => {
    // "x ... y" against "y ... x": the same words, in another order.
    const rng = new Rng(2);
    const make = (n: number) =>
      Array.from({ length: n }, () => {
        const label = rng.random() < 0.5 ? "xy" : "yx";
        const middle = shuffled(rng, [...filler]).slice(0, 3);
        const [a, b] = label === "xy" ? ["x", "y"] : ["y", "x"];
        return { label, text: [a, ...middle, b].join(" ") };
      });
    const model = trainBagOfWords(make(400), { epochs: 10 });
    const test = make(400);
    const r = classificationReport(test.map((e) => model.labels.id(e.label)), model.predict(test.map((e) => e.text)), model.labels.names);
    expect(r.accuracy).toBeLessThan(0.6);
  });

  it("the majority class and its share", () => {
    expect(majorityClass([{ label: "a", text: "" }, { label: "b", text: "" }, { label: "b", text: "" }])).toEqual({ label: "b", share: 2 / 3 });
  });
});
