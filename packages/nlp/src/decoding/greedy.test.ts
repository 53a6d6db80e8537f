import { describe, expect, it } from "vitest";
import { ValueRangeError } from "@unroll/tensor";
import { greedySearch, type Hypothesis } from "./index.js";
import { encodePrefix, logSoftmax, markov, randomMarkov, repeatsLastNgram, tableDecoder, type Table } from "./test-utils.js";

// Vocabulary of the hand-made tables: 0 EOS, 1 a, 2 b, 3 c, 4 BOS.
const EOS = 0;
const BOS = 4;
const base = { bos: BOS, eos: EOS, exclude: [BOS] } as const;

/** After BOS: a; after a: b; after b: c; after c: EOS. Rows: next-token probabilities after each token. */
const chain = markov(
  [
    [0.25, 0.25, 0.25, 0.25, 0],
    [0.1, 0.1, 0.7, 0.1, 0],
    [0.1, 0.1, 0.1, 0.7, 0],
    [0.6, 0.2, 0.1, 0.1, 0],
    [0.1, 0.5, 0.2, 0.2, 0],
  ],
  BOS,
);

/** The log-probability of `tokens` then EOS under a table, summed in order (the searches' order). */
function sequenceLogProb(table: Table, example: number, tokens: readonly number[], withEos: boolean): number {
  let total = 0;
  const steps = withEos ? [...tokens, EOS] : tokens;
  steps.forEach((t, i) => {
    total += logSoftmax(table(example, tokens.slice(0, i)))[t]!;
  });
  return total;
}

describe("greedySearch", () => {
  it("takes the most likely token at each step and stops at EOS", async () => {
    const decoder = tableDecoder(chain);
    const [h] = await greedySearch(decoder, decoder.initial([0]), 1, { ...base, maxLength: 10 });
    expect(h!.tokens).toEqual([1, 2, 3]);
    expect(h!.finished).toBe(true);
    const expected = Math.log(0.5) + Math.log(0.7) + Math.log(0.7) + Math.log(0.6);
    expect(h!.logProb).toBeCloseTo(expected, 12);
    expect(h!.score).toBe(h!.logProb);
    expect(decoder.rowsPerStep).toEqual([1, 1, 1, 1]);
  });

  it("breaks ties by the lower token id", async () => {
    const tie: Table = (_e, produced) => (produced.length === 0 ? [0, 1, 2, 2, -Infinity] : [5, 0, 0, 0, -Infinity]);
    const decoder = tableDecoder(tie);
    const [h] = await greedySearch(decoder, decoder.initial([0]), 1, { ...base, maxLength: 3 });
    expect(h!.tokens).toEqual([2]);
  });

  it("runs a batch whose examples stop at different steps, as if each ran alone", async () => {
    const table = randomMarkov(11, 3, 5);
    const options = { ...base, maxLengthA: 1, maxLengthB: 1, sourceLengths: [1, 4, 2] };
    const decoder = tableDecoder(table);
    const together = await greedySearch(decoder, decoder.initial([0, 1, 2]), 3, options);
    for (let e = 0; e < 3; e++) {
      const alone = tableDecoder(table);
      const [h] = await greedySearch(alone, alone.initial([e]), 1, { ...options, sourceLengths: [options.sourceLengths[e]!] });
      expect(h).toEqual(together[e]);
    }
    // Stopped examples leave the batch.
    for (let i = 1; i < decoder.rowsPerStep.length; i++) expect(decoder.rowsPerStep[i]!).toBeLessThanOrEqual(decoder.rowsPerStep[i - 1]!);
    expect(decoder.rowsPerStep.at(-1)).toBe(1);
  });

  it("stops at maxLength unless EOS comes next, and the smaller of the absolute and relative limits applies", async () => {
    // Never wants to stop: a, b, a, b, ...
    const endless = markov(
      [
        [0.1, 0.8, 0.1, 0, 0],
        [0.01, 0.01, 0.97, 0.01, 0],
        [0.01, 0.97, 0.01, 0.01, 0],
        [0.01, 0.97, 0.01, 0.01, 0],
        [0.01, 0.97, 0.01, 0.01, 0],
      ],
      BOS,
    );
    const decoder = tableDecoder(endless);
    const sourceLengths = [0, 2, 5];
    const hs = await greedySearch(decoder, decoder.initial([0, 1, 2]), 3, { ...base, maxLength: 6, maxLengthA: 1.5, maxLengthB: 1, sourceLengths });
    expect(hs.map((h) => h.tokens.length)).toEqual([1, 4, 6]); // floor(1.5 s + 1) = 1, 4, 8 -> min with 6
    for (const h of hs) {
      expect(h.finished).toBe(false);
      expect(h.logProb).toBeCloseTo(sequenceLogProb(endless, 0, h.tokens, false), 12);
    }
    const zero = tableDecoder(endless);
    const [empty] = await greedySearch(zero, zero.initial([0]), 1, { ...base, maxLength: 0 });
    expect(empty).toMatchObject({ tokens: [], finished: false, logProb: 0 });

    // Wants EOS right after 3 tokens: maxLength 3 lets it finish.
    const three: Table = (_e, produced) => (produced.length < 3 ? [0, 3, 0, 0, -Infinity] : [3, 0, 0, 0, -Infinity]);
    const d3 = tableDecoder(three);
    const [h3] = await greedySearch(d3, d3.initial([0]), 1, { ...base, maxLength: 3 });
    expect(h3).toMatchObject({ tokens: [1, 1, 1], finished: true });
    expect(h3!.logProb).toBeCloseTo(sequenceLogProb(three, 0, [1, 1, 1], true), 12);
  });

  it("minLength forbids EOS before that many tokens (no renormalisation: the log-probabilities are the model's)", async () => {
    const eager: Table = () => [2, 1, 0, 0, -Infinity];
    const decoder = tableDecoder(eager);
    const [h] = await greedySearch(decoder, decoder.initial([0]), 1, { ...base, maxLength: 9, minLength: 3 });
    expect(h!.tokens).toEqual([1, 1, 1]);
    expect(h!.finished).toBe(true);
    expect(h!.logProb).toBeCloseTo(sequenceLogProb(eager, 0, [1, 1, 1], true), 12);
  });

  it("never produces excluded ids", async () => {
    const likesB: Table = (_e, produced) => (produced.length < 4 ? [0, 1, 3, 0, 0] : [9, 0, 0, 0, 0]);
    const decoder = tableDecoder(likesB);
    const [h] = await greedySearch(decoder, decoder.initial([0]), 1, { bos: BOS, eos: EOS, maxLength: 9, exclude: [2, BOS] });
    expect(h!.tokens).toEqual([1, 1, 1, 1]);
  });

  it("noRepeatNgram blocks every repeated n-gram", async () => {
    // a -> b -> a -> b ... with c as a second choice.
    const loop = markov(
      [
        [0.1, 0.3, 0.3, 0.3, 0],
        [0.05, 0.05, 0.8, 0.1, 0],
        [0.05, 0.8, 0.05, 0.1, 0],
        [0.05, 0.5, 0.4, 0.05, 0],
        [0.1, 0.6, 0.2, 0.1, 0],
      ],
      BOS,
    );
    const free = tableDecoder(loop);
    const [repeating] = await greedySearch(free, free.initial([0]), 1, { ...base, maxLength: 8 });
    expect(repeating!.tokens).toEqual([1, 2, 1, 2, 1, 2, 1, 2]);
    for (const n of [1, 2, 3]) {
      const decoder = tableDecoder(loop);
      const [h] = await greedySearch(decoder, decoder.initial([0]), 1, { ...base, maxLength: 8, noRepeatNgram: n });
      for (let k = 1; k <= h!.tokens.length; k++) expect(repeatsLastNgram(h!.tokens.slice(0, k), n)).toBe(false);
    }
    const d2 = tableDecoder(loop);
    const [h2] = await greedySearch(d2, d2.initial([0]), 1, { ...base, maxLength: 8, noRepeatNgram: 2 });
    // a b a (b would repeat "a b") c? After a: b 0.8 banned, c 0.1 next.
    expect(h2!.tokens.slice(0, 4)).toEqual([1, 2, 1, 3]);
  });

  it("returns one attention row per produced token, EOS included when finished", async () => {
    const decoder = tableDecoder(randomMarkov(5, 2, 5), { attentionWidth: 6 });
    const hs = await greedySearch(decoder, decoder.initial([0, 1]), 2, { ...base, maxLength: 4 });
    for (const h of hs) {
      expect(h.attention).toHaveLength(h.tokens.length + (h.finished ? 1 : 0));
      h.attention!.forEach((row, k) => expect(row).toEqual(encodePrefix(h.tokens.slice(0, k), 6)));
    }
    const plain = tableDecoder(randomMarkov(5, 2, 5));
    const [h] = await greedySearch(plain, plain.initial([0]), 1, { ...base, maxLength: 4 });
    expect(h!.attention).toBeUndefined();
  });

  it("works with async decoders, with the same results", async () => {
    const table = randomMarkov(3, 3, 6);
    const options = { bos: 5, eos: 0, exclude: [5], maxLength: 7 };
    const sync = tableDecoder(table);
    const async = tableDecoder(table, { async: true });
    const a = await greedySearch(sync, sync.initial([0, 1, 2]), 3, options);
    const b = await greedySearch(async, async.initial([0, 1, 2]), 3, options);
    expect(b).toEqual(a);
  });

  it("rejects with the signal's reason when aborted, before or during a step", async () => {
    const before = new AbortController();
    before.abort(new Error("cancelled early"));
    const d0 = tableDecoder(chain);
    await expect(greedySearch(d0, d0.initial([0]), 1, { ...base, maxLength: 5, signal: before.signal })).rejects.toThrow("cancelled early");
    expect(d0.rowsPerStep).toEqual([]);

    const during = new AbortController();
    const endless: Table = () => [-5, 1, 0, 0, -Infinity];
    const d1 = tableDecoder(endless, { async: true, onStep: (s) => s === 2 && during.abort(new Error("cancelled")) });
    await expect(greedySearch(d1, d1.initial([0]), 1, { ...base, maxLength: 50, signal: during.signal })).rejects.toThrow("cancelled");
    expect(d1.rowsPerStep).toHaveLength(3);
  });

  it("an empty batch returns no hypotheses without calling the decoder", async () => {
    const decoder = tableDecoder(chain);
    const out: Hypothesis[] = await greedySearch(decoder, decoder.initial([]), 0, { ...base, maxLength: 3 });
    expect(out).toEqual([]);
    expect(decoder.rowsPerStep).toEqual([]);
  });

  it("refuses bad options with a ValueRangeError naming the option", async () => {
    const decoder = tableDecoder(chain);
    const run = (options: Record<string, unknown>, batch = 1) => greedySearch(decoder, decoder.initial([0]), batch, { ...base, maxLength: 3, ...options } as never);
    await expect(run({ maxLength: 2.5 })).rejects.toThrow(ValueRangeError);
    await expect(run({ maxLength: 2.5 })).rejects.toThrow(/maxLength must be a non-negative integer/);
    await expect(run({ maxLength: undefined })).rejects.toThrow(/no length limit: give maxLength/);
    await expect(run({ maxLength: undefined, maxLengthA: 1 })).rejects.toThrow(/maxLengthA needs sourceLengths/);
    await expect(run({ maxLengthA: 1, sourceLengths: [1, 2] })).rejects.toThrow(/sourceLengths has 2 entries for a batch of 1/);
    await expect(run({ eos: 5 })).rejects.toThrow(/eos 5 is out of range of the vocabulary \(5 scores per row\)/);
    await expect(run({ bos: 7 })).rejects.toThrow(/bos 7 is out of range/);
    await expect(run({ bos: -1 })).rejects.toThrow(/bos must be a non-negative integer/);
    await expect(run({ exclude: [9] })).rejects.toThrow(/exclude id 9 is out of range/);
    await expect(run({ exclude: [EOS] })).rejects.toThrow(/exclude contains eos \(0\)/);
    await expect(run({ minLength: -1 })).rejects.toThrow(/minLength must be a non-negative integer/);
    await expect(run({ noRepeatNgram: 1.5 })).rejects.toThrow(/noRepeatNgram must be a non-negative integer/);
    await expect(run({}, 1.5)).rejects.toThrow(/batch must be a non-negative integer/);

    const ragged = { step: () => ({ logits: [0, 1, 2], state: null }), select: (s: null) => s };
    await expect(greedySearch(ragged, null, 2, { ...base, maxLength: 3 })).rejects.toThrow(/step 0 returned 3 logits for 2 rows/);
    const growing = { step: (tokens: Int32Array) => ({ logits: Array.from({ length: tokens[0] === BOS ? 5 : 6 }, (_, i) => (i === 1 ? 1 : 0)), state: null }), select: (s: null) => s };
    await expect(greedySearch(growing, null, 1, { ...base, maxLength: 3 })).rejects.toThrow(/step 1 returned 6 scores per row, step 0 returned 5/);
    const nan = { step: () => ({ logits: [0, NaN, 0, 0, 0], state: null }), select: (s: null) => s };
    await expect(greedySearch(nan, null, 1, { ...base, maxLength: 3 })).rejects.toThrow(/NaN or \+Infinity/);
    const badAttention = { step: () => ({ logits: [0, 1, 0, 0, 0, 0, 1, 0, 0, 0], attention: [1, 2, 3], state: null }), select: (s: null) => s };
    await expect(greedySearch(badAttention, null, 2, { ...base, maxLength: 3 })).rejects.toThrow(/3 attention weights for 2 rows/);
  });
});
