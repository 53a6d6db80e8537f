import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { add, noGrad, reshape, Rng, slice, softmaxCrossEntropy, Tensor } from "@unroll/tensor";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataError } from "../data/errors.js";
import { taggingBatch } from "./batches.js";
import { SequenceTagger, taggerGradientFlow } from "./tagger.js";
import { evaluateTagger, loadTagger, parseTaggedTsv, type TaggedSentence, tagSentences, TokenVocabulary, trainTagger } from "./tagging.js";

// A rule that needs both sides of a token: "A" for the token a, "B" for a token just before an a
// (only the right context tells), "O" otherwise.
function sentences(n: number, seed: number): TaggedSentence[] {
  const rng = new Rng(seed);
  const words = ["a", "b", "c", "d", "e"];
  return Array.from({ length: n }, () => {
    const length = 3 + Math.floor(rng.random() * 6);
    const tokens = Array.from({ length }, () => words[Math.floor(rng.random() * words.length)]!);
    const tags = tokens.map((t, k) => (t === "a" ? "A" : tokens[k + 1] === "a" ? "B" : "O"));
    return { tokens, tags };
  });
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "unroll-tagging-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("parseTaggedTsv", () => {
  it("reads token<TAB>tag lines, blank lines between sentences, the tag from the last column (CoNLL-2003)", () => {
    const parsed = parseTaggedTsv("-DOCSTART-\tO\n\nEU\tNNP\tB-ORG\nrejects\tVBZ\tO\n\n\nGerman\tJJ\tB-MISC\r\n");
    expect(parsed).toEqual([
      { tokens: ["EU", "rejects"], tags: ["B-ORG", "O"] },
      { tokens: ["German"], tags: ["B-MISC"] },
    ]);
  });

  it("names the file and line of a line without a tab, an empty tag, and a file with no token", () => {
    expect(() => parseTaggedTsv("the\tDT\ncat NN\n", "pos.tsv")).toThrow(/pos\.tsv line 2 has no tab: each line must be "token<TAB>tag"/);
    expect(() => parseTaggedTsv("the\t\n", "pos.tsv")).toThrow(/pos\.tsv line 1 \(token "the"\) has an empty tag/);
    expect(() => parseTaggedTsv("\n\n", "pos.tsv")).toThrow(DataError);
  });
});

describe("TokenVocabulary", () => {
  it("keeps whole tokens by frequency, 0 for padding and 1 for unknown ones, and round-trips through JSON", () => {
    const v = TokenVocabulary.fit([["the", "cat", "The"], ["the", "dog"]], { minFrequency: 2, lowercase: true });
    expect(v.tokens).toEqual(["the"]);
    expect(Array.from(v.encode(["THE", "cat"]))).toEqual([2, TokenVocabulary.UNK]);
    expect(TokenVocabulary.fromJSON(JSON.parse(JSON.stringify(v))).encode(["The"])).toEqual(v.encode(["The"]));
    expect(() => TokenVocabulary.fromJSON({ tokens: [1] })).toThrow(/not a token vocabulary/);
  });
});

describe("trainTagger", () => {
  it("learns a tag that needs the next token (bidirectional): every dev token right; tags and scores what it saved", { timeout: 120_000 }, async () => {
    const dir = join(work, "rule");
    const config = { model: { hiddenSize: 16, embeddingSize: 8 }, optimizer: { name: "adam" as const, lr: 0.02 }, steps: 300, evalEvery: 100, batchSize: 16 };
    const result = await trainTagger({ train: sentences(300, 1), dev: sentences(40, 2), config, checkpointDir: dir, checkpointEvery: 100, keepBest: true });
    expect(result.tags.names).toEqual(["A", "B", "O"]);
    expect(result.model.config.bidirectional).toBe(true);
    expect(result.evaluation!.accuracy).toBe(1);
    const loaded = await loadTagger(dir);
    const tagged = tagSentences(loaded, [["b", "a", "c", "d", "a"]]);
    expect(tagged[0]!.map((t) => t.tag)).toEqual(["B", "A", "O", "B", "A"]);
    expect(tagged[0]!.every((t) => t.probability > 0.5 && t.probability <= 1)).toBe(true);
    const scored = evaluateTagger(loaded, sentences(40, 3));
    expect(scored.report.accuracy).toBe(1);
    expect(scored.report.classes).toEqual(["A", "B", "O"]);
    // A tag the model never saw is an error naming the sentence and the token.
    expect(() => evaluateTagger(loaded, [{ tokens: ["a", "b"], tags: ["A", "X"] }])).toThrow(/sentence 1, token 2 \("b"\)/);
  });

  it("resumes exactly: 20 + 20 steps end with the weights of 40 straight", { timeout: 120_000 }, async () => {
    const train = sentences(80, 4);
    const config = { model: { hiddenSize: 8, embeddingSize: 4 }, evalEvery: 10, batchSize: 8 };
    const straight = await trainTagger({ train, config: { ...config, steps: 40 } });
    const dir = join(work, "resume");
    await trainTagger({ train, config: { ...config, steps: 20 }, checkpointDir: dir, checkpointEvery: 10 });
    const resumed = await trainTagger({ train, config: { steps: 40 }, checkpointDir: dir, resume: true });
    expect(resumed.steps).toBe(40);
    expect(Array.from(resumed.params.head.weight.data)).toEqual(Array.from(straight.params.head.weight.data));
    await expect(trainTagger({ train: sentences(80, 5), config: { steps: 41 }, checkpointDir: dir, resume: true })).rejects.toThrow(/not the ones the run .* was trained on/);
  });
});

describe("taggerGradientFlow", () => {
  it("gives ‖dL/dh_t‖ of the last step's tag loss at every step: finite differences agree, and a plain tanh RNN's fades backwards", () => {
    const model = new SequenceTagger({ vocabSize: 7, numTags: 3, cell: "rnn_tanh", hiddenSize: 4, embeddingSize: 3, bidirectional: false });
    const params = model.init(new Rng(5));
    const batch = taggingBatch([
      { ids: Int32Array.from([1, 2, 3, 4, 5, 6]), tags: Int32Array.from([0, 1, 2, 0, 1, 2]) },
      { ids: Int32Array.from([6, 5, 4, 3, 2, 1]), tags: Int32Array.from([2, 2, 1, 1, 0, 0]) },
    ]);
    const norms = taggerGradientFlow(model, params, batch);
    expect(norms).toHaveLength(6);
    expect(norms[0]!).toBeLessThan(norms[5]!);
    // Central differences of the last step's loss with respect to each element of h_2.
    const lossWith = (k: number, eps: number): number =>
      noGrad(() => {
        const logits = model.forward(params, batch.inputs, batch.lengths, {
          onHidden: (h, at) => {
            if (at.t !== 2) return h;
            const d = new Float32Array(h.size);
            d[k] = eps;
            return add(h, new Tensor(d, h.shape));
          },
        });
        const last = reshape(slice(logits, [5, 0, 0], [6, 2, 3]), [2, 3]);
        return softmaxCrossEntropy(last, new Tensor(Int32Array.from([2, 0]), [2])).item();
      });
    let squares = 0;
    for (let k = 0; k < 2 * 4; k++) squares += ((lossWith(k, 1e-2) - lossWith(k, -1e-2)) / 2e-2) ** 2;
    expect(Math.abs(Math.sqrt(squares) - norms[2]!) / norms[2]!).toBeLessThan(2e-2);
  });
});
