// The fuzz properties of test/fuzz.test.ts, run long: fresh seeds, many more cases, a count of the
// cases tried per loader. Run: npx --yes pnpm@12.4.2 --filter @unroll/cli fuzz [-- --factor 20 --seed 7]
// (build the packages first: the properties load their dist/). Exits 1 on the first failure, with
// the seed and the shrunk case that reproduce it.
import fc from "fast-check";
import { disposeFixtures, makeFixtures, targets } from "../test/fuzz/properties.js";

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const factor = Number(option("factor") ?? 20);
const seed = option("seed") === undefined ? Date.now() % 2 ** 31 : Number(option("seed"));
const only = option("only");
if (!(Number.isInteger(factor) && factor >= 1) || !Number.isInteger(seed)) {
  console.error("usage: tsx scripts/fuzz.ts [--factor N (cases = N x the CI count)] [--seed S] [--only <name part>]");
  process.exit(2);
}

const fixtures = await makeFixtures();
let total = 0;
let failed = false;
try {
  console.log(`fuzzing with seed ${seed}, ${factor} x the CI cases`);
  for (const target of targets) {
    if (only !== undefined && !target.name.includes(only)) continue;
    const started = performance.now();
    const details = await target.check(fixtures, { seed, numRuns: target.runs * factor, endOnFailure: true });
    total += details.numRuns;
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`${details.failed ? "FAIL" : "ok  "} ${target.name}: ${details.numRuns} cases tried in ${seconds} s`);
    if (details.failed) {
      failed = true;
      console.log(fc.defaultReportMessage(details));
      break;
    }
  }
  console.log(`${total} cases tried in all${failed ? "; a failure (above)" : ", no failure"}`);
} finally {
  await disposeFixtures(fixtures);
}
process.exitCode = failed ? 1 : 0;
