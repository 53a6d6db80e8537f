import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type EvaluationBatch, evaluationWindows, IGNORE_INDEX, type LmBatch, shuffledWindows, streamBatches } from "./index.js";

/** ids[i] = offset + i, so a target's value says where it came from. */
function range(n: number, offset = 0): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => offset + i);
}

/** `[T, B]` int32 data as rows of time steps. */
function rows(batch: LmBatch, which: "inputs" | "targets"): number[][] {
  const x = batch[which];
  if (x.dtype !== "int32" || x.rank !== 2) throw new Error(`${which} must be int32 [T, B], got ${x.dtype} [${x.shape.join(", ")}]`);
  const [T, B] = x.shape as [number, number];
  return Array.from({ length: T }, (_, t) => Array.from(x.data.subarray(t * B, (t + 1) * B)));
}

function take<B>(source: { next(): B | null }, k: number): B[] {
  const out: B[] = [];
  for (let i = 0; i < k; i++) {
    const b = source.next();
    if (b === null) break;
    out.push(b);
  }
  return out;
}

/** A batch as plain JSON, to compare sources. */
function plain(b: LmBatch) {
  return { inputs: rows(b, "inputs"), targets: rows(b, "targets"), reset: b.reset, epoch: b.epoch, index: b.index };
}

describe("batch tensors", () => {
  it("are int32 [T, B] for inputs and targets in every source", () => {
    const ids = range(1000);
    const batches: LmBatch[] = [
      streamBatches(ids, { batchSize: 4, window: 16 }).next()!,
      shuffledWindows(ids, { batchSize: 4, window: 16, seed: 0 }).next()!,
      ...evaluationWindows(ids, { batchSize: 4, window: 16 }),
    ];
    for (const b of batches) {
      for (const x of [b.inputs, b.targets]) {
        expect(x.dtype).toBe("int32");
        expect(x.data).toBeInstanceOf(Int32Array);
        expect(x.rank).toBe(2);
        expect(x.shape[1]).toBe(4);
      }
      expect(b.targets.shape).toEqual(b.inputs.shape);
    }
    expect(batches[0]!.inputs.shape).toEqual([16, 4]);
    expect(batches[1]!.inputs.shape).toEqual([16, 4]);
    // Evaluation: 999 targets over 4 streams of 250 steps (3 of 250, 1 of 249): 15 windows of 16, then 10.
    expect(batches.at(-1)!.inputs.shape).toEqual([10, 4]);
  });
});

describe("streamBatches", () => {
  it("cuts the ids into B contiguous streams read T steps at a time (worked example)", () => {
    // n = 11, B = 2: L = floor(10 / 2) = 5; stream 0 reads 10..14, stream 1 reads 15..19.
    const source = streamBatches(range(11, 10), { batchSize: 2, window: 2, epochs: 1 });
    const batches = take(source, 10);
    expect(batches.map(plain)).toEqual([
      { inputs: [[10, 15], [11, 16]], targets: [[11, 16], [12, 17]], reset: true, epoch: 0, index: 0 },
      { inputs: [[12, 17], [13, 18]], targets: [[13, 18], [14, 19]], reset: false, epoch: 0, index: 1 },
      { inputs: [[14, 19]], targets: [[15, 20]], reset: false, epoch: 0, index: 2 }, // the short last window
    ]);
    expect(source.batchesPerEpoch).toBe(3);
    expect(source.targetsPerEpoch).toBe(10);
  });

  it('drops the partial last window with remainder "drop"', () => {
    const source = streamBatches(range(11, 10), { batchSize: 2, window: 2, epochs: 2, remainder: "drop" });
    const batches = take(source, 10);
    expect(batches.map((b) => [b.epoch, b.index, b.reset, b.inputs.shape])).toEqual([
      [0, 0, true, [2, 2]],
      [0, 1, false, [2, 2]],
      [1, 0, true, [2, 2]],
      [1, 1, false, [2, 2]],
    ]);
    expect(rows(batches[1]!, "targets")).toEqual([[13, 18], [14, 19]]);
    expect(source.targetsPerEpoch).toBe(8);
  });

  it("predicts every id of ids[1 .. B*L] exactly once per epoch, in order within each stream", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 300 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 12 }), (n, B, T) => {
        fc.pre(n >= B + 1);
        const L = Math.floor((n - 1) / B);
        const source = streamBatches(range(n), { batchSize: B, window: T, epochs: 2 });
        const batches = take(source, 10_000);
        expect(source.next()).toBeNull();
        expect(batches).toHaveLength(2 * Math.ceil(L / T));
        for (const epoch of [0, 1]) {
          const streams: number[][] = Array.from({ length: B }, () => []);
          const notNext: number[][] = [];
          for (const batch of batches.filter((b) => b.epoch === epoch)) {
            expect(batch.reset).toBe(batch.index === 0);
            const inputs = rows(batch, "inputs");
            rows(batch, "targets").forEach((row, t) =>
              row.forEach((target, b) => {
                if (target !== inputs[t]![b]! + 1) notNext.push([batch.index, t, b]); // must be the next token
                streams[b]!.push(target);
              }),
            );
          }
          expect(notNext).toEqual([]);
          // Stream b predicts b*L + 1 ..= (b+1)*L, consecutively: the carried state is always right.
          streams.forEach((s, b) => expect(s).toEqual(Array.from({ length: L }, (_, i) => b * L + i + 1)));
          expect(n - 1 - B * L).toBeLessThan(B); // the ids never predicted
        }
      }),
      { numRuns: 150 },
    );
  });

  it("resumes exactly from any saved position, through JSON", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 200 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 8 }), fc.nat(40), (n, B, T, k) => {
        fc.pre(n >= B + 1);
        const ids = Int32Array.from({ length: n }, (_, i) => (i * 7919) % 97);
        const a = streamBatches(ids, { batchSize: B, window: T });
        take(a, k);
        const saved = JSON.parse(JSON.stringify(a.position())) as unknown;
        const expected = take(a, 12).map(plain);
        const b = streamBatches(ids, { batchSize: B, window: T });
        b.seek(saved);
        expect(take(b, 12).map(plain)).toEqual(expected);
      }),
      { numRuns: 100 },
    );
  });

  it("positions count epochs and windows, and seek rejects positions of another source", () => {
    const source = streamBatches(range(21), { batchSize: 2, window: 3 }); // L = 10: 4 windows
    expect(source.position()).toEqual({ epoch: 0, window: 0 });
    take(source, 5);
    expect(source.position()).toEqual({ epoch: 1, window: 1 });
    expect(() => source.seek({ epoch: 0, window: 4 })).toThrow(TypeError);
    expect(() => source.seek({ index: 3 })).toThrow(/not a position of this source/);
    expect(() => source.seek(null)).toThrow(TypeError);
  });

  it("rejects too little data and bad options", () => {
    expect(() => streamBatches(range(3), { batchSize: 3, window: 2 })).toThrow(/need at least batchSize \+ 1 = 4 ids, got 3/);
    expect(() => streamBatches(range(10), { batchSize: 3, window: 4, remainder: "drop" })).toThrow(/shorter than one window/);
    expect(() => streamBatches(range(10), { batchSize: 0, window: 2 })).toThrow(/batchSize must be a positive integer/);
    expect(() => streamBatches(Int32Array.of(1, -100, 2), { batchSize: 1, window: 2 })).toThrow(/ids\[1\] = -100 is negative/);
  });
});

describe("shuffledWindows", () => {
  it("covers every window once per epoch, in a new order each epoch", () => {
    // n = 301, T = 3: K = 100 windows starting at 0, 3, ..., 297; B = 8: 12 full batches and one of 4.
    const source = shuffledWindows(range(301), { batchSize: 8, window: 3, seed: 7, epochs: 2 });
    expect(source.batchesPerEpoch).toBe(13);
    expect(source.targetsPerEpoch).toBe(300);
    const batches = take(source, 100);
    expect(batches).toHaveLength(26);
    expect(source.next()).toBeNull();
    const orders: number[][] = [];
    for (const epoch of [0, 1]) {
      const epochBatches = batches.filter((b) => b.epoch === epoch);
      expect(epochBatches.map((b) => b.inputs.shape)).toEqual([...Array<number[]>(12).fill([3, 8]), [3, 4]]);
      const starts: number[] = [];
      for (const batch of epochBatches) {
        expect(batch.reset).toBe(true);
        const inputs = rows(batch, "inputs");
        const targets = rows(batch, "targets");
        for (let c = 0; c < inputs[0]!.length; c++) {
          const column = inputs.map((r) => r[c]!);
          expect(column).toEqual([column[0]!, column[0]! + 1, column[0]! + 2]); // a contiguous window
          expect(targets.map((r) => r[c]!)).toEqual(column.map((x) => x + 1));
          starts.push(column[0]!);
        }
      }
      expect([...starts].sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, k) => 3 * k));
      orders.push(starts);
    }
    expect(orders[1]).not.toEqual(orders[0]);
    expect(orders[0]).not.toEqual(Array.from({ length: 100 }, (_, k) => 3 * k));
  });

  it("depends only on the seed", () => {
    const ids = range(500);
    const run = (seed: number) => take(shuffledWindows(ids, { batchSize: 4, window: 5, seed }), 30).map(plain);
    expect(run(3)).toEqual(run(3));
    expect(run(3)).not.toEqual(run(4));
  });

  it('drops the partial last batch with remainder "drop"', () => {
    const source = shuffledWindows(range(301), { batchSize: 8, window: 3, seed: 1, remainder: "drop" });
    expect(source.batchesPerEpoch).toBe(12);
    const batches = take(source, 24);
    expect(batches.every((b) => b.inputs.shape[1] === 8)).toBe(true);
    expect(batches.map((b) => b.epoch)).toEqual([...Array<number>(12).fill(0), ...Array<number>(12).fill(1)]);
  });

  it("resumes exactly from any saved position, across epoch boundaries, through JSON", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 200 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 6 }), fc.nat(40), fc.nat(1000), (n, B, T, k, seed) => {
        fc.pre(n >= T + 1);
        const ids = range(n);
        const a = shuffledWindows(ids, { batchSize: B, window: T, seed });
        take(a, k);
        const saved = JSON.parse(JSON.stringify(a.position())) as unknown;
        const expected = take(a, 15).map(plain);
        const b = shuffledWindows(ids, { batchSize: B, window: T, seed: seed + 1 }); // the position carries the generator
        b.seek(saved);
        expect(take(b, 15).map(plain)).toEqual(expected);
      }),
      { numRuns: 100 },
    );
  });

  it("rejects positions without a generator state", () => {
    const source = shuffledWindows(range(50), { batchSize: 2, window: 4, seed: 0 });
    expect(() => source.seek({ epoch: 0, batch: 1, rng: { algorithm: "mt19937" } })).toThrow(/not a philox4x32-10 state/);
    expect(() => source.seek({ epoch: 0, batch: 99, rng: source.position().rng })).toThrow(TypeError);
  });
});

describe("evaluationWindows", () => {
  it("lays out streams of near-equal length and pads the shorter ones (worked example)", () => {
    // 7 targets over 3 streams: lengths 3, 2, 2 starting at ids 0, 3, 5.
    const windows = evaluationWindows(range(8), { batchSize: 3, window: 2 });
    expect(windows.batches).toBe(2);
    expect(windows.tokens).toBe(7);
    expect(windows.streams).toBe(3);
    const batches = [...windows];
    expect(batches.map((b) => ({ ...plain(b), tokens: b.tokens }))).toEqual([
      { inputs: [[0, 3, 5], [1, 4, 6]], targets: [[1, 4, 6], [2, 5, 7]], reset: true, epoch: 0, index: 0, tokens: 6 },
      { inputs: [[2, 5, 7]], targets: [[3, -100, -100]], reset: false, epoch: 0, index: 1, tokens: 1 },
    ]);
  });

  it("is narrower than batchSize only when the split has fewer targets", () => {
    const batches = [...evaluationWindows(range(4, 50), { batchSize: 16, window: 8 })];
    expect(batches.map((b) => ({ ...plain(b), tokens: b.tokens }))).toEqual([
      { inputs: [[50, 51, 52]], targets: [[51, 52, 53]], reset: true, epoch: 0, index: 0, tokens: 3 },
    ]);
  });

  it("scores every target of the split exactly once, from the text before it in its stream", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 300 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 12 }), (n, B, T) => {
        const windows = evaluationWindows(range(n), { batchSize: B, window: T });
        const batches: EvaluationBatch[] = [...windows];
        expect(batches).toHaveLength(windows.batches);
        const S = Math.min(B, n - 1);
        const streams: number[][] = Array.from({ length: S }, () => []);
        const wrong: unknown[] = [];
        let tokens = 0;
        for (const batch of batches) {
          expect(batch.reset).toBe(batch.index === 0);
          expect(batch.inputs.shape[1]).toBe(S);
          expect(batch.inputs.shape[0]).toBeLessThanOrEqual(T);
          const inputs = rows(batch, "inputs");
          let scored = 0;
          rows(batch, "targets").forEach((row, t) =>
            row.forEach((target, s) => {
              const input = inputs[t]![s]!;
              if (!(input >= 0 && input < n)) wrong.push(["input", batch.index, t, s]);
              if (target === IGNORE_INDEX) return;
              if (target !== input + 1) wrong.push(["target", batch.index, t, s]);
              streams[s]!.push(target);
              scored++;
            }),
          );
          expect(batch.tokens).toBe(scored);
          tokens += scored;
        }
        expect(wrong).toEqual([]);
        expect(tokens).toBe(n - 1);
        expect(windows.tokens).toBe(n - 1);
        // Concatenated, the streams are 1, 2, ..., n-1: each consecutive, none missing or repeated.
        expect(streams.flat()).toEqual(Array.from({ length: n - 1 }, (_, i) => i + 1));
        const lengths = streams.map((s) => s.length);
        expect(Math.max(...lengths) - Math.min(...lengths)).toBeLessThanOrEqual(1);
        // Padding only in the last time step.
        const padded: number[][] = [];
        batches.forEach((batch, w) =>
          rows(batch, "targets").forEach((row, t) => {
            if (row.includes(IGNORE_INDEX)) padded.push([w, t]);
          }),
        );
        const lastBatch = batches.at(-1)!;
        expect(padded.filter(([w, t]) => w !== batches.length - 1 || t !== lastBatch.targets.shape[0]! - 1)).toEqual([]);
        expect([...windows].map(plain)).toEqual(batches.map(plain)); // iterable again
      }),
      { numRuns: 150 },
    );
  });

  it("needs two ids", () => {
    expect(() => evaluationWindows(Int32Array.of(4), { batchSize: 2, window: 2 })).toThrow(/need at least 2 ids, got 1/);
  });
});
