// Property-based tests of every loader that reads a user's file (test/fuzz/properties.ts): a fixed
// seed and a bounded number of cases, so CI runs the same cases every time in seconds. A longer run
// with fresh seeds: `npx --yes pnpm@12.4.2 --filter @unroll/cli fuzz` (scripts/fuzz.ts).
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { disposeFixtures, type Fixtures, makeFixtures, targets } from "./fuzz/properties.js";

const SEED = 15;
let fixtures: Fixtures;
beforeAll(async () => {
  fixtures = await makeFixtures();
});
afterAll(async () => {
  await disposeFixtures(fixtures);
});

describe("every mutation of a user's file gets a clear error or a correct load: never a raw exception, a hang or a changed file", () => {
  for (const target of targets) {
    it(target.name, async () => {
      const details = await target.check(fixtures, { seed: SEED, numRuns: target.runs, endOnFailure: true });
      expect(details.failed, fc.defaultReportMessage(details)).toBe(false);
      expect(details.numRuns).toBe(target.runs);
    });
  }
});
