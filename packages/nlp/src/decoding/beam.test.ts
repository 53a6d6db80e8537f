import { describe, expect, it } from "vitest";
import { ValueRangeError } from "@unroll/tensor";
import { applyLengthPenalty, beamSearch, greedySearch, type Hypothesis, type LengthPenalty, scoreUpperBound } from "./index.js";
import { encodePrefix, enumerateFinished, markov, naiveBeam, randomMarkov, randomTree, repeatsLastNgram, tableDecoder, type Table } from "./test-utils.js";

// Vocabulary of the hand-made tables: 0 EOS, 1 a, 2 b, 3 c, 4 BOS.
const EOS = 0;
const BOS = 4;
const base = { bos: BOS, eos: EOS, exclude: [BOS] } as const;

const penalties: LengthPenalty[] = [{ kind: "none" }, { kind: "gnmt", alpha: 0.8 }, { kind: "gnmt", alpha: -0.5 }, { kind: "average" }];

function summary(h: Hypothesis) {
  return { tokens: h.tokens, logProb: h.logProb, finished: h.finished };
}

describe("beamSearch", () => {
  it("with a beam at least as wide as the candidates, returns every finished sequence in the brute-force order", async () => {
    // Vocabulary: 0 EOS, 1, 2, 3 BOS (excluded): 3 candidates per beam.
    for (const [maxLength, beamSize] of [
      [3, 24],
      [4, 48],
    ] as const) {
      for (let seed = 0; seed < 6; seed++) {
        const table = randomTree(seed, 4);
        for (const lengthPenalty of penalties) {
          for (const [minLength, noRepeatNgram] of [
            [0, 0],
            [2, 0],
            [0, 2],
          ] as const) {
            const oracle = enumerateFinished(table, 0, { eos: 0, maxLength, minLength, exclude: [3], noRepeatNgram, penalty: lengthPenalty });
            for (const earlyStop of [true, false]) {
              const decoder = tableDecoder(table);
              const [hs] = await beamSearch(decoder, decoder.initial([0]), 1, {
                bos: 3,
                eos: 0,
                exclude: [3],
                maxLength,
                minLength,
                noRepeatNgram,
                beamSize,
                lengthPenalty,
                earlyStop,
                returnCount: oracle.length,
              });
              expect(hs!.map((h) => h.tokens)).toEqual(oracle.map((o) => o.tokens));
              hs!.forEach((h, i) => {
                expect(h.finished).toBe(true);
                expect(h.logProb).toBeCloseTo(oracle[i]!.logProb, 10);
                expect(h.score).toBeCloseTo(oracle[i]!.score, 10);
              });
            }
          }
        }
      }
    }
  });

  it("agrees with a plain one-example-at-a-time implementation when the beam is narrower than the candidates", async () => {
    const sourceLengths = [2, 5, 3];
    const variants = [{}, { minLength: 3 }, { noRepeatNgram: 2 }, { noRepeatNgram: 1, exclude: [6, 2] }];
    let compared = 0;
    for (let seed = 0; seed < 8; seed++) {
      const table = randomTree(50 + seed, 7, 2.5);
      for (const beamSize of [2, 3, 5]) {
        for (const lengthPenalty of penalties) {
          for (const earlyStop of [true, false]) {
            for (const variant of variants) {
              const options = { bos: 6, eos: 0, exclude: [6], maxLength: 6, maxLengthA: 1, maxLengthB: 1, beamSize, lengthPenalty, earlyStop, returnCount: beamSize, ...variant };
              const decoder = tableDecoder(table);
              const all = await beamSearch(decoder, decoder.initial([0, 1, 2]), 3, { ...options, sourceLengths });
              all.forEach((hs, e) => {
                const maxLength = Math.min(6, sourceLengths[e]! + 1);
                const expected = naiveBeam(table, e, { ...options, penalty: lengthPenalty, maxLength });
                expect(hs.map(summary)).toEqual(expected.map((x) => ({ tokens: x.tokens, logProb: x.logProb, finished: x.finished })));
                hs.forEach((h, i) => expect(h.score).toBe(expected[i]!.score));
                compared += hs.length;
              });
            }
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(1000);
  });

  it("finds a more probable sequence than greedy when greedy is myopic", async () => {
    // a is likelier first (0.6 vs 0.4), but after a nothing is likely; after b EOS is (0.9).
    const myopic = markov(
      [
        [0.25, 0.25, 0.25, 0.25, 0],
        [0.25, 0.25, 0.25, 0.25, 0],
        [0.9, 0.05, 0.05, 0, 0],
        [0.25, 0.25, 0.25, 0.25, 0],
        [0, 0.6, 0.4, 0, 0],
      ],
      BOS,
    );
    const g = tableDecoder(myopic);
    const [greedy] = await greedySearch(g, g.initial([0]), 1, { ...base, maxLength: 4 });
    expect(greedy!.tokens).toEqual([1]);
    expect(greedy!.logProb).toBeCloseTo(Math.log(0.6 * 0.25), 12);
    const b = tableDecoder(myopic);
    const [[best]] = (await beamSearch(b, b.initial([0]), 1, { ...base, maxLength: 4, beamSize: 2 })) as [[Hypothesis]];
    expect(best.tokens).toEqual([2]);
    expect(best.logProb).toBeCloseTo(Math.log(0.4 * 0.9), 12);
    expect(best.logProb).toBeGreaterThan(greedy!.logProb);
    expect(enumerateFinished(myopic, 0, { eos: EOS, maxLength: 4, exclude: [BOS] })[0]!.tokens).toEqual([2]);
  });

  it("beam size 1 is greedy: same tokens, logProb and attention, for every length penalty and mixed source lengths", async () => {
    const variants = [{}, { minLength: 2 }, { exclude: [5, 1] }, { noRepeatNgram: 2 }];
    for (let seed = 0; seed < 12; seed++) {
      const table = randomMarkov(100 + seed, 3, 6, 2);
      for (const variant of variants) {
        const options = { bos: 5, eos: 0, exclude: [5], maxLength: 6, maxLengthA: 1, maxLengthB: 2, sourceLengths: [1, 3, 5], ...variant };
        const g = tableDecoder(table, { attentionWidth: 4 });
        const greedy = await greedySearch(g, g.initial([0, 1, 2]), 3, options);
        for (const lengthPenalty of penalties) {
          const b = tableDecoder(table, { attentionWidth: 4 });
          const beams = await beamSearch(b, b.initial([0, 1, 2]), 3, { ...options, beamSize: 1, lengthPenalty });
          expect(beams.map((hs) => hs.length)).toEqual([1, 1, 1]);
          beams.forEach(([h], e) => {
            expect(summary(h!)).toEqual(summary(greedy[e]!));
            expect(h!.attention).toEqual(greedy[e]!.attention);
            expect(h!.score).toBe(applyLengthPenalty(h!.logProb, h!.tokens.length + (h!.finished ? 1 : 0), lengthPenalty));
          });
          // The same steps on the same rows.
          expect(b.rowsPerStep).toEqual(g.rowsPerStep);
        }
      }
    }
  });

  it("does not depend on the other examples of the batch", async () => {
    const table = randomTree(7, 6, 2);
    const sourceLengths = [2, 6, 3];
    for (const earlyStop of [true, false]) {
      const options = { bos: 5, eos: 0, exclude: [5], maxLengthA: 1, maxLengthB: 1, beamSize: 3, returnCount: 3, lengthPenalty: { kind: "gnmt", alpha: 1 }, earlyStop } as const;
      const decoder = tableDecoder(table);
      const together = await beamSearch(decoder, decoder.initial([0, 1, 2]), 3, { ...options, sourceLengths });
      for (let e = 0; e < 3; e++) {
        const alone = tableDecoder(table);
        const [hs] = await beamSearch(alone, alone.initial([e]), 1, { ...options, sourceLengths: [sourceLengths[e]!] });
        expect(hs).toEqual(together[e]);
      }
    }
  });

  it("drops examples that are done from the batch", async () => {
    // Example 0 wants EOS at once; examples 1 and 2 never do.
    const stops = markov([[0.9, 0.05, 0.05, 0, 0], [0.9, 0.05, 0.05, 0, 0], [0.9, 0.05, 0.05, 0, 0], [0, 0, 0, 0, 0], [0.9, 0.05, 0.05, 0, 0]], BOS);
    const goesOn = markov([[0.001, 0.5, 0.499, 0, 0], [0.001, 0.5, 0.499, 0, 0], [0.001, 0.5, 0.499, 0, 0], [0, 0, 0, 0, 0], [0.001, 0.5, 0.499, 0, 0]], BOS);
    const table: Table = (e, produced) => (e === 0 ? stops : goesOn)(e, produced);
    const decoder = tableDecoder(table);
    const hs = await beamSearch(decoder, decoder.initial([0, 1, 2]), 3, { ...base, maxLength: 5, beamSize: 2, returnCount: 2 });
    // Step 0 on the initial rows, then two beams each; example 0 has two finished after step 1.
    expect(decoder.rowsPerStep).toEqual([3, 6, 4, 4, 4, 4]);
    expect(hs[0]!.map((h) => h.tokens)).toEqual([[], [1]]);
    for (const h of [...hs[1]!, ...hs[2]!]) expect(h).toMatchObject({ finished: false });
    expect(hs[1]!.map((h) => h.tokens.length)).toEqual([5, 5]);
  });

  it("breaks ties by the lower token id, then the lower beam index", async () => {
    const tied: Table = (_e, produced) => (produced.length < 2 ? [-Infinity, 1, 1, 1, -Infinity] : [0, -Infinity, -Infinity, -Infinity, -Infinity]);
    for (let run = 0; run < 2; run++) {
      const decoder = tableDecoder(tied);
      const [hs] = await beamSearch(decoder, decoder.initial([0]), 1, { ...base, maxLength: 5, beamSize: 2, returnCount: 2 });
      // Step 1's candidates all tie: (token 1, beam [1]), (token 1, beam [2]) come before any token 2.
      expect(hs!.map((h) => h.tokens)).toEqual([
        [1, 1],
        [2, 1],
      ]);
    }
  });

  it("respects maxLength, absolute and relative (the smaller applies), and may finish right at it", async () => {
    const endless = markov(
      [
        [0.1, 0.8, 0.1, 0, 0],
        [0.001, 0.3, 0.679, 0.02, 0],
        [0.001, 0.679, 0.3, 0.02, 0],
        [0.001, 0.5, 0.479, 0.02, 0],
        [0.001, 0.6, 0.379, 0.02, 0],
      ],
      BOS,
    );
    const sourceLengths = [0, 2, 5];
    const decoder = tableDecoder(endless, { attentionWidth: 8 });
    const hs = await beamSearch(decoder, decoder.initial([0, 1, 2]), 3, {
      ...base,
      maxLength: 6,
      maxLengthA: 1.5,
      maxLengthB: 1,
      sourceLengths,
      beamSize: 3,
      returnCount: 3,
    });
    // floor(1.5 s + 1) = 1, 4, 8, and 6 caps the last. Nothing wants EOS (0.001): all stop unfinished.
    hs.forEach((list, e) => {
      expect(list).toHaveLength(3);
      for (const h of list) {
        expect(h.tokens).toHaveLength([1, 4, 6][e]!);
        expect(h.finished).toBe(false);
        expect(h.attention).toHaveLength(h.tokens.length);
      }
    });
    // Best first.
    for (const list of hs) for (let i = 1; i < list.length; i++) expect(list[i]!.score).toBeLessThanOrEqual(list[i - 1]!.score);

    const three: Table = (_e, produced) => (produced.length < 3 ? [0, 3, 2, 0, -Infinity] : [3, 0, 0, 0, -Infinity]);
    const d3 = tableDecoder(three);
    const [[h3]] = (await beamSearch(d3, d3.initial([0]), 1, { ...base, maxLength: 3, beamSize: 2 })) as [[Hypothesis]];
    expect(h3).toMatchObject({ tokens: [1, 1, 1], finished: true });

    // maxLength 0: EOS (ranked 4th of the first step's candidates) finishes only if it ranks among the
    // first beamSize; else the beam stops empty.
    const d0 = tableDecoder(endless);
    const [zero2] = await beamSearch(d0, d0.initial([0]), 1, { ...base, maxLength: 0, beamSize: 3, returnCount: 3 });
    expect(zero2!.map(summary)).toEqual([{ tokens: [], logProb: 0, finished: false }]);
    const [zero4] = await beamSearch(d0, d0.initial([0]), 1, { ...base, maxLength: 0, beamSize: 4, returnCount: 4 });
    expect(zero4!.map(summary)).toEqual([{ tokens: [], logProb: Math.log(0.001), finished: true }]);
  });

  it("minLength keeps EOS out until that many tokens", async () => {
    const eager: Table = () => [2, 1, 0.5, 0, -Infinity];
    const decoder = tableDecoder(eager);
    const [hs] = await beamSearch(decoder, decoder.initial([0]), 1, { ...base, maxLength: 9, minLength: 3, beamSize: 3, returnCount: 3 });
    for (const h of hs!) {
      expect(h.finished).toBe(true);
      expect(h.tokens).toHaveLength(3);
    }
  });

  it("never produces excluded ids", async () => {
    const likesB: Table = (_e, produced) => (produced.length < 4 ? [0, 1, 3, 0.5, 0] : [5, 0, 2, 0, 0]);
    const decoder = tableDecoder(likesB);
    const [hs] = await beamSearch(decoder, decoder.initial([0]), 1, { bos: BOS, eos: EOS, maxLength: 9, exclude: [2, BOS], beamSize: 4, returnCount: 4 });
    expect(hs).toHaveLength(4);
    for (const h of hs!) expect(h.tokens.filter((t) => t === 2 || t === BOS)).toEqual([]);
  });

  it("noRepeatNgram blocks repeated n-grams in every hypothesis", async () => {
    // a <-> b loop, c a weak alternative.
    const loop = markov(
      [
        [0.1, 0.3, 0.3, 0.3, 0],
        [0.02, 0.03, 0.85, 0.1, 0],
        [0.02, 0.85, 0.03, 0.1, 0],
        [0.05, 0.5, 0.4, 0.05, 0],
        [0.1, 0.6, 0.2, 0.1, 0],
      ],
      BOS,
    );
    const free = tableDecoder(loop);
    const [repeating] = await beamSearch(free, free.initial([0]), 1, { ...base, maxLength: 8, beamSize: 3, returnCount: 3 });
    expect(repeating!.some((h) => h.tokens.some((_, k) => repeatsLastNgram(h.tokens.slice(0, k + 1), 2)))).toBe(true);
    for (const n of [1, 2, 3]) {
      const decoder = tableDecoder(loop);
      const [hs] = await beamSearch(decoder, decoder.initial([0]), 1, { ...base, maxLength: 8, beamSize: 3, returnCount: 3, noRepeatNgram: n });
      expect(hs!.length).toBeGreaterThan(0);
      for (const h of hs!) for (let k = 1; k <= h.tokens.length; k++) expect(repeatsLastNgram(h.tokens.slice(0, k), n)).toBe(false);
    }
  });

  describe("early stop", () => {
    // After BOS: EOS 0.5, a 0.3, b 0.2. After a: c 0.9. After b: EOS 0.9. After c: EOS 0.95.
    const table = markov(
      [
        [1, 0, 0, 0, 0],
        [0.1, 0, 0, 0.9, 0],
        [0.9, 0, 0, 0.1, 0],
        [0.95, 0, 0, 0.05, 0],
        [0.5, 0.3, 0.2, 0, 0],
      ],
      BOS,
    );
    const options = { ...base, maxLength: 10, beamSize: 2, returnCount: 2 };

    it("true (default): an example is done once beamSize hypotheses have finished", async () => {
      const decoder = tableDecoder(table);
      const [hs] = await beamSearch(decoder, decoder.initial([0]), 1, options);
      // [] (0.5) at step 0, [b] (0.18) at step 1: two finished, done, though [a c] (0.2565) was alive.
      expect(hs!.map((h) => h.tokens)).toEqual([[], [2]]);
      expect(decoder.rowsPerStep).toHaveLength(2);
    });

    it("false: goes on while a live beam could beat the worst kept hypothesis, then stops before maxLength", async () => {
      const decoder = tableDecoder(table);
      const [hs] = await beamSearch(decoder, decoder.initial([0]), 1, { ...options, earlyStop: false });
      expect(hs!.map((h) => h.tokens)).toEqual([[], [1, 3]]);
      expect(hs![1]!.logProb).toBeCloseTo(Math.log(0.3 * 0.9 * 0.95), 12);
      // Step 2 leaves live beams of 0.0135 and 0.001 < 0.2565: no descendant can do better.
      expect(decoder.rowsPerStep).toHaveLength(3);
      const oracle = enumerateFinished(table, 0, { eos: EOS, maxLength: 10, exclude: [BOS] });
      expect(hs!.map((h) => h.tokens)).toEqual(oracle.slice(0, 2).map((o) => o.tokens));
    });

    it("the bound of earlyStop false holds for every penalty", () => {
      for (const penalty of penalties) {
        for (const logProb of [0, -0.1, -1, -7.5]) {
          for (const maxLength of [0, 1, 3, 10]) {
            for (let tokens = 0; tokens <= maxLength; tokens++) {
              const bound = scoreUpperBound(logProb, tokens, maxLength, penalty);
              for (let len = tokens; len <= maxLength + 1; len++) {
                for (const later of [logProb, logProb - 0.5, logProb * 3 - 2]) expect(applyLengthPenalty(later, len, penalty)).toBeLessThanOrEqual(bound + 1e-12);
              }
            }
          }
        }
      }
    });
  });

  it("carries attention through beam reordering: row k is the one that produced token k", async () => {
    for (let seed = 0; seed < 5; seed++) {
      const decoder = tableDecoder(randomTree(seed, 6, 2), { attentionWidth: 7 });
      const all = await beamSearch(decoder, decoder.initial([0, 1]), 2, { bos: 5, eos: 0, exclude: [5], maxLength: 5, beamSize: 4, returnCount: 4, earlyStop: false });
      for (const hs of all) {
        for (const h of hs) {
          expect(h.attention).toHaveLength(h.tokens.length + (h.finished ? 1 : 0));
          h.attention!.forEach((row, k) => expect(row).toEqual(encodePrefix(h.tokens.slice(0, k), 7)));
        }
      }
    }
    const plain = tableDecoder(randomTree(0, 6));
    const [[h]] = (await beamSearch(plain, plain.initial([0]), 1, { bos: 5, eos: 0, maxLength: 3, beamSize: 2 })) as [[Hypothesis]];
    expect(h.attention).toBeUndefined();
  });

  it("works with async decoders, with the same results", async () => {
    const table = randomTree(21, 6, 2);
    const options = { bos: 5, eos: 0, exclude: [5], maxLength: 6, beamSize: 3, returnCount: 2, lengthPenalty: { kind: "average" } } as const;
    const sync = tableDecoder(table, { attentionWidth: 3 });
    const async = tableDecoder(table, { async: true, attentionWidth: 3 });
    const a = await beamSearch(sync, sync.initial([0, 1, 2]), 3, options);
    const b = await beamSearch(async, async.initial([0, 1, 2]), 3, options);
    expect(b).toEqual(a);
    expect(async.rowsPerStep).toEqual(sync.rowsPerStep);
  });

  it("rejects with the signal's reason when aborted, before or during a step", async () => {
    const endless: Table = () => [-5, 1, 0.5, 0, -Infinity];
    const before = new AbortController();
    before.abort(new Error("cancelled early"));
    const d0 = tableDecoder(endless);
    await expect(beamSearch(d0, d0.initial([0]), 1, { ...base, maxLength: 5, beamSize: 2, signal: before.signal })).rejects.toThrow("cancelled early");
    expect(d0.rowsPerStep).toEqual([]);

    const during = new AbortController();
    const d1 = tableDecoder(endless, { async: true, onStep: (s) => s === 2 && during.abort(new Error("cancelled")) });
    await expect(beamSearch(d1, d1.initial([0, 1]), 2, { ...base, maxLength: 50, beamSize: 2, signal: during.signal })).rejects.toThrow("cancelled");
    expect(d1.rowsPerStep).toHaveLength(3);
  });

  it("refuses bad options with a ValueRangeError naming the option", async () => {
    const decoder = tableDecoder(randomTree(0, 5));
    const run = (options: Record<string, unknown>) => beamSearch(decoder, decoder.initial([0]), 1, { ...base, maxLength: 3, beamSize: 3, ...options } as never);
    await expect(run({ beamSize: 0 })).rejects.toThrow(ValueRangeError);
    await expect(run({ beamSize: 0 })).rejects.toThrow(/beamSize must be a positive integer/);
    await expect(run({ beamSize: 1.5 })).rejects.toThrow(/beamSize must be a positive integer/);
    await expect(run({ returnCount: 4 })).rejects.toThrow(/returnCount must be an integer in \[1, beamSize = 3\]/);
    await expect(run({ lengthPenalty: { kind: "wu" } })).rejects.toThrow(/lengthPenalty.kind must be "none", "gnmt" or "average", got "wu"/);
    await expect(run({ lengthPenalty: { kind: "gnmt", alpha: NaN } })).rejects.toThrow(/gnmt needs a finite alpha/);
    await expect(run({ earlyStop: "yes" })).rejects.toThrow(/earlyStop must be true or false/);
    await expect(run({ eos: 5 })).rejects.toThrow(/eos 5 is out of range of the vocabulary/);
    await expect(run({ maxLength: -1 })).rejects.toThrow(/maxLength must be a non-negative integer/);
    await expect(run({ maxLengthA: -1, sourceLengths: [3] })).rejects.toThrow(/maxLengthA must be a finite number >= 0/);
    await expect(run({ maxLengthB: 0.5 })).rejects.toThrow(/maxLengthB must be a non-negative integer/);
    await expect(run({ maxLengthA: 1, sourceLengths: [1.5] })).rejects.toThrow(/sourceLengths must be non-negative integers/);
    const ragged = { step: (tokens: Int32Array) => ({ logits: new Array(tokens.length * 5 + 1).fill(0), state: null }), select: (s: null) => s };
    await expect(beamSearch(ragged, null, 2, { ...base, maxLength: 3, beamSize: 2 })).rejects.toThrow(/step 0 returned 11 logits for 2 rows/);
  });
});
