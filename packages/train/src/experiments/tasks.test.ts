import { describe, expect, it } from "vitest";
import { fromArray, Rng, type Tensor } from "@unroll/tensor";
import { addingTask, copyBaseline, copyTask, taskSource, taskTestSet } from "./index.js";

/** Reads a (T, B, F) tensor as [t][b][f]. */
function at(x: Tensor, t: number, b: number, f: number): number {
  const [, B, F] = x.shape as [number, number, number];
  return x.data[(t * B + b) * F + f]!;
}

describe("adding problem", () => {
  it("has values in [0, 1), exactly two markers, one in each half, and the sum of the marked values as target", () => {
    for (const T of [10, 7, 150]) {
      const B = 300;
      const { x, target } = addingTask(T).batch(new Rng(T), B);
      expect(x.shape).toEqual([T, B, 2]);
      expect(target.shape).toEqual([B, 1]);
      const half = Math.floor(T / 2);
      for (let b = 0; b < B; b++) {
        const marked: number[] = [];
        for (let t = 0; t < T; t++) {
          const v = at(x, t, b, 0);
          expect(v >= 0 && v < 1).toBe(true);
          const m = at(x, t, b, 1);
          expect(m === 0 || m === 1).toBe(true);
          if (m === 1) marked.push(t);
        }
        expect(marked.length).toBe(2);
        expect(marked[0]!).toBeLessThan(half);
        expect(marked[1]!).toBeGreaterThanOrEqual(half);
        expect(target.data[b]).toBeCloseTo(at(x, marked[0]!, b, 0) + at(x, marked[1]!, b, 0), 6);
      }
    }
  });

  it("draws every marker position of each half", () => {
    const T = 10;
    const { x } = addingTask(T).batch(new Rng(3), 2000);
    const seen = new Set<number>();
    for (let b = 0; b < 2000; b++) for (let t = 0; t < T; t++) if (at(x, t, b, 1) === 1) seen.add(t);
    expect([...seen].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("gives the constant predictor 1 an MSE of about 1/6 (empirically, on 20,000 sequences)", () => {
    const task = addingTask(20);
    const batch = task.batch(new Rng(5), 20000);
    let mse = 0;
    let meanTarget = 0;
    for (const y of batch.target.data) {
      mse += (y - 1) ** 2 / 20000;
      meanTarget += y / 20000;
    }
    // Standard error of the MSE estimate: sqrt((1/15 - 1/36) / 20000) ≈ 0.0014.
    expect(Math.abs(mse - 0.1667)).toBeLessThan(0.006);
    expect(Math.abs(meanTarget - 1)).toBeLessThan(0.01);
    // The task's own loss of that predictor, and its stated baseline, agree.
    const ones = fromArray(new Float32Array(20000).fill(1), { shape: [20000, 1] });
    expect(task.loss(ones, batch).item()).toBeCloseTo(mse, 4);
    expect(task.baseline.loss).toBeCloseTo(1 / 6, 10);
  });

  it("rejects sequences too short to have two halves", () => {
    expect(() => addingTask(1)).toThrow(/T must be an integer >= 2/);
  });
});

describe("copy memory", () => {
  const T = 6;
  const L = T + 20;
  const task = copyTask(T);

  it("is 10 symbols from 1..8, T-1 blanks, the delimiter, 10 blanks; targets blank but the last 10, which repeat the symbols", () => {
    const B = 200;
    const { x, target } = task.batch(new Rng(1), B);
    expect(task.steps).toBe(L);
    expect(x.shape).toEqual([L, B, 10]);
    expect(target.shape).toEqual([L, B]);
    expect(target.dtype).toBe("int32");
    const counts = new Array<number>(10).fill(0);
    for (let b = 0; b < B; b++) {
      const symbols: number[] = [];
      for (let t = 0; t < L; t++) {
        let hot = -1;
        for (let f = 0; f < 10; f++) {
          const v = at(x, t, b, f);
          expect(v === 0 || v === 1).toBe(true);
          if (v === 1) {
            expect(hot).toBe(-1); // one-hot: a single 1
            hot = f;
          }
        }
        if (t < 10) {
          expect(hot >= 1 && hot <= 8).toBe(true);
          symbols.push(hot);
          counts[hot]!++;
        } else if (t === T + 9) {
          expect(hot).toBe(9); // the delimiter, after T - 1 blanks
        } else {
          expect(hot).toBe(0);
        }
        expect(target.data[t * B + b]).toBe(t < L - 10 ? 0 : symbols[t - (L - 10)]);
      }
    }
    // All 8 categories occur, about equally often (2000 draws, 250 expected each).
    for (let c = 1; c <= 8; c++) expect(Math.abs(counts[c]! - 250)).toBeLessThan(70);
    expect(counts[0]).toBe(0);
    expect(counts[9]).toBe(0);
  });

  it("baseline 10·ln(8)/(T+20) is the cross-entropy of blanks then uniform guesses over the 8 categories", () => {
    const B = 4;
    const batch = task.batch(new Rng(2), B);
    const logits = new Float32Array(L * B * 9); // (L, B, 9)
    for (let t = 0; t < L; t++) {
      for (let b = 0; b < B; b++) {
        for (let c = 0; c < 9; c++) {
          // Sure of a blank before the recall; after it, equal logits for 1..8 and none for the blank.
          logits[(t * B + b) * 9 + c] = t < L - 10 ? (c === 0 ? 50 : -50) : c === 0 ? -50 : 0;
        }
      }
    }
    const output = fromArray(logits, { shape: [L, B, 9] });
    const expected = (10 * Math.log(8)) / (T + 20);
    expect(copyBaseline(T)).toBeCloseTo(expected, 12);
    expect(task.metrics(output, batch).loss).toBeCloseTo(expected, 5);
  });

  it("accuracy counts the recalled symbols only", () => {
    const B = 3;
    const batch = task.batch(new Rng(4), B);
    const make = (pick: (t: number, b: number) => number): Tensor => {
      const logits = new Float32Array(L * B * 9);
      for (let t = 0; t < L; t++) for (let b = 0; b < B; b++) logits[(t * B + b) * 9 + pick(t, b)] = 10;
      return fromArray(logits, { shape: [L, B, 9] });
    };
    const truth = (t: number, b: number): number => batch.target.data[t * B + b]!;
    expect(task.metrics(make(truth), batch).accuracy).toBe(1);
    expect(task.metrics(make(() => 0), batch).accuracy).toBe(0);
    // Wrong everywhere before the recall, right on it: still 1.
    expect(task.metrics(make((t, b) => (t < L - 10 ? 5 : truth(t, b))), batch).accuracy).toBe(1);
    // Right on the first 5 recalled symbols of every sequence only: 1/2.
    expect(task.metrics(make((t, b) => (t < L - 5 ? truth(t, b) : 0)), batch).accuracy).toBe(0.5);
  });
});

describe("sources and test sets", () => {
  it("reproduce their batches from the seed, differ across seeds, and resume from a position", () => {
    const task = addingTask(12);
    const a = taskSource(task, { batchSize: 4, seed: 7 });
    const b = taskSource(task, { batchSize: 4, seed: 7 });
    const c = taskSource(task, { batchSize: 4, seed: 8 });
    const first = a.next()!;
    expect(Array.from(b.next()!.x.data)).toEqual(Array.from(first.x.data));
    expect(Array.from(c.next()!.x.data)).not.toEqual(Array.from(first.x.data));

    const saved = a.position();
    const next = [a.next()!, a.next()!];
    const resumed = taskSource(task, { batchSize: 4, seed: 0 });
    resumed.seek(JSON.parse(JSON.stringify(saved)));
    for (const n of next) {
      const r = resumed.next()!;
      expect(Array.from(r.x.data)).toEqual(Array.from(n.x.data));
      expect(Array.from(r.target.data)).toEqual(Array.from(n.target.data));
    }
    expect(() => resumed.seek({ index: 3 })).toThrow(/not a position of this source/);
  });

  it("test sets are fixed by their seed", () => {
    const task = copyTask(3);
    const s1 = taskTestSet(task, { size: 5, seed: 11 });
    const s2 = taskTestSet(task, { size: 5, seed: 11 });
    expect(s1.x.shape).toEqual([23, 5, 10]);
    expect(Array.from(s1.target.data)).toEqual(Array.from(s2.target.data));
    expect(Array.from(taskTestSet(task, { size: 5, seed: 12 }).target.data)).not.toEqual(Array.from(s1.target.data));
  });
});
