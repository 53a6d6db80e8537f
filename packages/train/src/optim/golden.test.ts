import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { fromArray, type Tensor, treeEntries } from "@unroll/tensor";
import { adagrad, adam, adamw, type Optimizer, rmsprop, sgd } from "./index.js";

// Reference trajectories from PyTorch 1.13 (scripts/generate_fixtures.py): each case records the
// initial parameters and, per step, the lr set, the gradients fed and the parameters after the
// step, plus the state buffers after the last step. We feed the same gradients, so every step is
// compared on its own footing.
interface TensorJSON {
  shape: number[];
  data: number[];
}
interface OptimCase {
  name: string;
  optimizer: "sgd" | "adam" | "adamw" | "rmsprop" | "adagrad";
  options: Record<string, unknown>;
  dtype: "float32" | "float64";
  lrs: number[];
  params0: Record<string, TensorJSON>;
  steps: { grads: Record<string, TensorJSON>; params: Record<string, TensorJSON> }[];
  buffers: Record<string, TensorJSON>;
}

const fixtures = JSON.parse(readFileSync(new URL("../../fixtures/torch-optim.json", import.meta.url), "utf8")) as {
  format: string;
  version: number;
  optimizers: OptimCase[];
};

// |ours - torch| <= rel * |torch| + abs. float32 updates emulate PyTorch's float32 kernels, so
// they agree to a few ulps; float64 ones differ only where PyTorch fuses a multiply-add.
const TOL = { float32: { rel: 1e-6, abs: 1e-7 }, float64: { rel: 1e-12, abs: 1e-14 } };

function make(c: OptimCase): Optimizer {
  const o = c.options as never;
  switch (c.optimizer) {
    case "sgd":
      return sgd(o);
    case "adam":
      return adam(o);
    case "adamw":
      return adamw(o);
    case "rmsprop":
      return rmsprop(o);
    case "adagrad":
      return adagrad(o);
  }
}

/** Dotted paths to nested objects, so that the optimiser sees a tree as a model would hold it. */
function nest(flat: Record<string, TensorJSON>, dtype: "float32" | "float64"): Record<string, Record<string, Tensor>> {
  const out: Record<string, Record<string, Tensor>> = {};
  for (const [path, j] of Object.entries(flat)) {
    const [a, b] = path.split(".") as [string, string];
    (out[a] ??= {})[b] = fromArray(j.data, { shape: j.shape, dtype });
  }
  return out;
}

const worst = { float32: 0, float64: 0 };
const bitExact = { float32: 0, float64: 0 };
const compared = { float32: 0, float64: 0 };

function expectClose(what: string, ours: Tensor, ref: TensorJSON, dtype: "float32" | "float64"): void {
  expect(ours.shape, `${what} shape`).toEqual(ref.shape);
  const { rel, abs } = TOL[dtype];
  let bad = "";
  ref.data.forEach((written, i) => {
    // float32 values are written as their shortest decimal; read them back as float32.
    const r = dtype === "float32" ? Math.fround(written) : written;
    const x = ours.data[i]!;
    const err = Math.abs(x - r);
    compared[dtype]++;
    if (x === r) bitExact[dtype]++;
    worst[dtype] = Math.max(worst[dtype], err / Math.max(Math.abs(r), 1e-30));
    if (!(err <= rel * Math.abs(r) + abs) && bad === "") bad = `${what}[${i}]: ours ${x}, torch ${r}`;
  });
  expect(bad, bad).toBe("");
}

describe("optimisers against PyTorch 1.13", () => {
  it("reads a fixture file of the expected format and version", () => {
    expect(fixtures.format).toBe("unroll-torch-optim");
    expect(fixtures.version).toBe(1);
    expect(fixtures.optimizers.length).toBeGreaterThanOrEqual(20);
  });

  for (const c of fixtures.optimizers) {
    it(`${c.name} (${c.dtype}): parameters after every step and final buffers`, () => {
      const opt = make(c);
      const params = nest(c.params0, c.dtype);
      c.steps.forEach((s, k) => {
        opt.lr = c.lrs[k]!;
        opt.step(params, nest(s.grads, c.dtype));
        for (const [path, t] of treeEntries(params)) expectClose(`step ${k + 1} ${path}`, t, s.params[path]!, c.dtype);
      });
      const state = opt.stateDict();
      expect(state.step).toBe(c.steps.length);
      expect(Object.keys(state.buffers).sort()).toEqual(Object.keys(c.buffers).sort());
      for (const [key, ref] of Object.entries(c.buffers)) expectClose(`buffer ${key}`, state.buffers[key]!, ref, c.dtype);
    });
  }

  it("covers every option of every optimiser", () => {
    const seen = new Set(fixtures.optimizers.flatMap((c) => Object.entries(c.options).map(([k, v]) => `${c.optimizer}.${k}=${String(v !== 0 && v !== false)}`)));
    const needed = {
      sgd: ["lr", "momentum", "dampening", "nesterov", "weightDecay", "maximize"],
      adam: ["lr", "betas", "eps", "weightDecay", "amsgrad", "maximize"],
      adamw: ["lr", "betas", "weightDecay", "amsgrad"],
      rmsprop: ["lr", "alpha", "eps", "weightDecay", "momentum", "centered", "maximize"],
      adagrad: ["lr", "lrDecay", "weightDecay", "initialAccumulatorValue", "eps", "maximize"],
    };
    const missing = Object.entries(needed).flatMap(([o, keys]) => keys.filter((k) => !seen.has(`${o}.${k}=true`)).map((k) => `${o}.${k}`));
    expect(missing).toEqual([]);
    expect(new Set(fixtures.optimizers.filter((c) => new Set(c.lrs).size > 1).map((c) => c.optimizer)).size).toBeGreaterThanOrEqual(4);
  });

  it("summary: worst relative error", () => {
    // Runs after the cases above (vitest keeps declaration order within a file).
    expect(compared.float32).toBeGreaterThan(5_000);
    expect(compared.float64).toBeGreaterThan(500);
    for (const d of ["float32", "float64"] as const) {
      console.info(
        `optimiser goldens, ${d}: ${compared[d]} values, ${bitExact[d]} bit-identical, worst relative error ${worst[d].toExponential(2)}`,
      );
    }
    expect(worst.float32).toBeLessThan(1e-5);
  });
});
