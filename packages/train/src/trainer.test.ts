import { describe, expect, it } from "vitest";
import {
  add,
  detach,
  dropout,
  fromArray,
  matmul,
  mean,
  mul,
  reshape,
  Rng,
  sub,
  tanh,
  type Tensor,
  zeros,
} from "@unroll/tensor";
import type { DataSource } from "./data.js";
import { arraySource } from "./data.js";
import { adam, sgd } from "./optim/index.js";
import { cosineWithWarmup, reduceOnPlateau } from "./schedules/index.js";
import { type LossFunction, Trainer, type TrainerState } from "./trainer.js";

// An "echo" task on a stream: the target at step t is the input at step t-2, so the carried
// state matters across windows. Windows are read in a shuffled order drawn from the source's own
// generator, whose state is part of the data position.
const H = 8;
const B = 4;
const T = 5;

interface Batch {
  x: Tensor; // (T, B, 1)
  y: Tensor; // (T, B, 1)
}

function echoSource(seed: number, windows = 12): DataSource<Batch> {
  const stream = new Rng(99).normal([windows * T + 2, B]).data;
  const make = (w: number): Batch => {
    const x = new Float32Array(T * B);
    const y = new Float32Array(T * B);
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        x[t * B + b] = stream[(w * T + t + 2) * B + b]!;
        y[t * B + b] = stream[(w * T + t) * B + b]!;
      }
    }
    return { x: fromArray(x, { shape: [T, B, 1] }), y: fromArray(y, { shape: [T, B, 1] }) };
  };
  let rng = new Rng(seed);
  let order: number[] = [];
  let index = 0;
  const reshuffle = (): void => {
    const keys = Array.from(rng.uniform([windows], 0, 1, "float64").data);
    order = keys.map((k, i) => [k, i] as const).sort((a, b) => a[0] - b[0]).map(([, i]) => i);
    index = 0;
  };
  reshuffle();
  return {
    next() {
      if (index >= order.length) reshuffle();
      return make(order[index++]!);
    },
    position: () => ({ rng: rng.state(), order: [...order], index }),
    seek(p) {
      const pos = p as { rng: Parameters<typeof Rng.fromState>[0]; order: number[]; index: number };
      rng = Rng.fromState(pos.rng);
      order = [...pos.order];
      index = pos.index;
    },
  };
}

function model(seed: number) {
  const rng = new Rng(seed);
  return {
    wx: rng.normal([H, 1], 0, 0.5),
    wh: rng.normal([H, H], 0, 0.3),
    b: zeros([H]),
    out: rng.normal([1, H], 0, 0.3),
  };
}
type Params = ReturnType<typeof model>;

const loss: LossFunction<Params, Batch, Tensor> = (p, batch, carry, ctx) => {
  let h = carry ?? zeros([B, H]);
  let total: Tensor | null = null;
  for (let t = 0; t < T; t++) {
    const xt = reshape(sliceStep(batch.x, t), [B, 1]);
    h = tanh(add(add(matmul(xt, p.wx, { transB: true }), matmul(h, p.wh, { transB: true })), p.b));
    const pred = matmul(dropout(h, 0.2, ctx.rng), p.out, { transB: true }); // (B, 1)
    const err = mean(mul(sub(pred, reshape(sliceStep(batch.y, t), [B, 1])), sub(pred, reshape(sliceStep(batch.y, t), [B, 1]))));
    total = total ? add(total, err) : err;
  }
  return { loss: mul(total!, 1 / T), carry: h, tokens: T * B };
};

function sliceStep(x: Tensor, t: number): Tensor {
  return fromArray(x.data.slice(t * B, (t + 1) * B), { shape: [1, B, 1] });
}

function makeTrainer(paramSeed: number) {
  const params = model(paramSeed);
  return new Trainer({
    params,
    loss,
    data: echoSource(7),
    optimizer: adam({ lr: 0.02 }),
    schedule: cosineWithWarmup({ lr: 0.02, warmupSteps: 3, totalSteps: 40 }),
    clip: { maxNorm: 1 },
    seed: 5,
  });
}

function cloneState(s: TrainerState): TrainerState {
  // What a checkpoint does to it: tensors copied, JSON through text.
  const tensors = (r: Readonly<Record<string, Tensor>> | null) => (r ? Object.fromEntries(Object.entries(r).map(([k, t]) => [k, detach(t)])) : null);
  return {
    ...(JSON.parse(JSON.stringify({ ...s, params: null, carry: null, optimizer: { ...s.optimizer, buffers: null } })) as TrainerState),
    params: tensors(s.params)!,
    carry: tensors(s.carry),
    optimizer: { ...(JSON.parse(JSON.stringify({ ...s.optimizer, buffers: null })) as TrainerState["optimizer"]), buffers: tensors(s.optimizer.buffers)! },
  };
}

describe("Trainer", () => {
  it("trains: the loss falls, and every step reports loss, gradient norm, learning rate and throughput", async () => {
    const trainer = makeTrainer(1);
    const events: { loss: number; gradNorm: number; lr: number; tokensPerSecond: number; etaMs: number | null }[] = [];
    trainer.events.on("step", (e) => events.push(e));
    const reason = await trainer.run({ steps: 40 });
    expect(reason).toBe("steps");
    expect(events.length).toBe(40);
    const first = events.slice(0, 5).reduce((s, e) => s + e.loss, 0);
    const last = events.slice(-5).reduce((s, e) => s + e.loss, 0);
    expect(last).toBeLessThan(first * 0.7);
    expect(events[0]!.lr).toBe(0); // warm-up starts at 0
    expect(events.every((e) => e.gradNorm > 0 && e.tokensPerSecond > 0 && e.etaMs !== null)).toBe(true);
    expect(trainer.clipFraction).toBeGreaterThanOrEqual(0);
  });

  it("reports a loss function's reportedLoss in step events, and trains on its loss", async () => {
    // The minimised loss adds 10 (a stand-in regulariser with no gradient); events show the data term.
    const regularised: LossFunction<Params, Batch, Tensor> = (p, batch, carry, ctx) => {
      const out = loss(p, batch, carry, ctx);
      return { ...out, loss: add(out.loss, 10), reportedLoss: out.loss.item() };
    };
    const plain: number[] = [];
    const a = makeTrainer(1);
    a.events.on("step", (e) => plain.push(e.loss));
    await a.run({ steps: 5 });
    const reported: number[] = [];
    const b = new Trainer({ params: model(1), loss: regularised, data: echoSource(7), optimizer: adam({ lr: 0.02 }), schedule: cosineWithWarmup({ lr: 0.02, warmupSteps: 3, totalSteps: 40 }), clip: { maxNorm: 1 }, seed: 5 });
    b.events.on("step", (e) => reported.push(e.loss));
    await b.run({ steps: 5 });
    expect(reported).toEqual(plain);
  });

  it("a run stopped at step N and resumed in a fresh process follows the uninterrupted run bit for bit", async () => {
    const straight: number[] = [];
    const a = makeTrainer(1);
    a.events.on("step", (e) => straight.push(e.loss));
    await a.run({ steps: 16 });

    const resumed: number[] = [];
    const b = makeTrainer(1);
    b.events.on("step", (e) => resumed.push(e.loss));
    await b.run({ steps: 7 });
    const saved = cloneState(b.state());
    // A fresh trainer with other initial weights, a fresh optimiser and a fresh data source.
    const c = makeTrainer(2);
    c.events.on("step", (e) => resumed.push(e.loss));
    c.restore(saved);
    await c.run({ steps: 16 });
    expect(resumed).toEqual(straight);
    expect(c.state().params.wh!.data).toEqual(a.state().params.wh!.data);
  });

  it("the non-finite guard rolls back, lowers the learning rate, says so, and continues", async () => {
    const params = { w: fromArray([1]) };
    let poisoned = 2; // the first two attempts at step 3 give NaN
    const trainer = new Trainer({
      params,
      loss: (p, batch: number, _c, ctx) => {
        const l = mul(mul(sub(p.w, batch), sub(p.w, batch)), 1);
        if (ctx.step === 3 && poisoned-- > 0) return { loss: mul(l, NaN) };
        return { loss: l };
      },
      data: arraySource([1, 2, 3, 4, 5, 6], { loop: true }),
      optimizer: sgd({ lr: 0.1 }),
    });
    const guards: { message: string; lr: number }[] = [];
    const steps: { step: number; lr: number }[] = [];
    trainer.events.on("guard", (e) => guards.push(e));
    trainer.events.on("step", (e) => steps.push(e));
    await trainer.run({ steps: 6 });
    expect(guards.length).toBe(2);
    expect(guards[0]!.message).toMatch(/loss is NaN at step 4: rolled back to step 3 and lowered the learning rate by 0.5 \(retry 1 of 5\)/);
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(steps[3]!.lr).toBeCloseTo(0.025, 12); // two halvings
    expect(Number.isFinite(params.w.data[0]!)).toBe(true);
  });

  it("gives up with a clear message when the loss stays non-finite", async () => {
    const trainer = new Trainer({
      params: { w: fromArray([1]) },
      loss: (p) => ({ loss: mul(p.w, Infinity) }),
      data: arraySource([0], { loop: true }),
      optimizer: sgd({ lr: 0.1 }),
      guard: { maxRetries: 3 },
    });
    await expect(trainer.run({ steps: 5 })).rejects.toThrow(/loss is -?Infinity at step 1 again after 3 rollbacks .* lower the learning rate, clip gradients or check the data/);
  });

  it("nonFinite 'skip' drops the update and 'error' stops", async () => {
    const make = (mode: "skip" | "error") =>
      new Trainer({
        params: { w: fromArray([1]) },
        loss: (p, batch: number) => ({ loss: batch === 2 ? mul(p.w, NaN) : mul(p.w, p.w) }),
        data: arraySource([1, 2, 3]),
        optimizer: sgd({ lr: 0.1 }),
        nonFinite: mode,
      });
    const skipping = make("skip");
    const skipped: string[] = [];
    skipping.events.on("skip", (e) => skipped.push(e.reason));
    expect(await skipping.run()).toBe("data");
    expect(skipped).toEqual(["loss is NaN"]);
    expect(skipping.step).toBe(2);
    await expect(make("error").run()).rejects.toThrow(/loss is NaN at step 2; lower the learning rate/);
  });

  it("evaluates every N steps, feeds plateau schedules and stops early", async () => {
    const schedule = reduceOnPlateau({ lr: 0.1, patience: 1, factor: 0.5 });
    const trainer = new Trainer({
      params: { w: fromArray([0]) },
      loss: (p) => ({ loss: mul(p.w, p.w) }),
      data: arraySource([0], { loop: true }),
      optimizer: sgd({ lr: 0.1 }),
      schedule,
      evaluate: { every: 2, run: () => ({ loss: 1, accuracy: 0.5 }) },
      earlyStopping: { patience: 3 },
    });
    const evals: { step: number; improved: boolean }[] = [];
    trainer.events.on("eval", (e) => evals.push(e));
    expect(await trainer.run({ steps: 100 })).toBe("early-stopping");
    expect(evals.map((e) => [e.step, e.improved])).toEqual([[2, true], [4, false], [6, false], [8, false]]);
    expect(schedule.lr(8)).toBeLessThan(0.1);
  });

  it("stops on request, on an abort signal and on a time budget", async () => {
    const make = () =>
      new Trainer({
        params: { w: fromArray([0]) },
        loss: (p) => ({ loss: mul(p.w, p.w) }),
        data: arraySource([0], { loop: true }),
        optimizer: sgd({ lr: 0.1 }),
      });
    const t1 = make();
    t1.events.on("step", (e) => e.step === 3 && t1.stop());
    expect(await t1.run()).toBe("stopped");
    expect(t1.step).toBe(3);
    const controller = new AbortController();
    controller.abort();
    expect(await make().run({ signal: controller.signal })).toBe("stopped");
    expect(await make().run({ timeBudgetMs: 30 })).toBe("time");
  });

  it("estimates the time left from the step target, the time budget, or the earlier of the two", async () => {
    const etas = async (limits: { steps?: number; timeBudgetMs?: number }): Promise<(number | null)[]> => {
      const trainer = makeTrainer(1);
      const seen: (number | null)[] = [];
      trainer.events.on("step", (e) => {
        seen.push(e.etaMs);
        if (e.step === 5) trainer.stop();
      });
      await trainer.run(limits);
      return seen;
    };
    const budget = 600_000;
    const byBudget = await etas({ timeBudgetMs: budget });
    expect(byBudget.every((e) => e !== null && e > budget - 60_000 && e <= budget)).toBe(true);
    expect(byBudget[4]!).toBeLessThan(byBudget[0]!);
    const bySteps = await etas({ steps: 1_000 });
    expect(bySteps.every((e) => e !== null && e > 0 && e < budget)).toBe(true);
    // A step target that takes far less than the budget: its estimate wins.
    const both = await etas({ steps: 6, timeBudgetMs: budget });
    expect(both.every((e) => e !== null && e < budget / 10)).toBe(true);
    expect(await etas({})).toEqual([null, null, null, null, null]);
  });

  it("restore refuses parameters of another model and changes nothing", async () => {
    const a = makeTrainer(1);
    await a.run({ steps: 2 });
    const state = a.state();
    const other = new Trainer({
      params: { w: zeros([3]) },
      loss: (p) => ({ loss: mean(p.w) }),
      data: arraySource([0]),
      optimizer: sgd({ lr: 0.1 }),
    });
    expect(() => other.restore(state)).toThrow(/do not fit this model: missing w; unexpected wx/);
    expect(other.step).toBe(0);
  });
});

describe("Trainer: state read from files", () => {
  it("a non-finite validation loss is never an improvement, not even the first one", async () => {
    const losses = [NaN, 3, Infinity, 2];
    const trainer = new Trainer({
      params: { w: fromArray([0]) },
      loss: (p) => ({ loss: mul(p.w, p.w) }),
      data: arraySource([0], { loop: true }),
      optimizer: sgd({ lr: 0.1 }),
      evaluate: { every: 1, run: () => ({ loss: losses.shift()! }) },
    });
    const evals: { improved: boolean; best: number }[] = [];
    trainer.events.on("eval", (e) => evals.push({ improved: e.improved, best: e.best }));
    await trainer.run({ steps: 4 });
    expect(evals.map((e) => e.improved)).toEqual([false, true, false, true]);
    expect(evals.map((e) => e.best)).toEqual([NaN, 3, 3, 2]);
    expect(trainer.state().trainer.bestMetric).toBe(2);
  });

  it("restore looks names up as own properties and checks every dtype", async () => {
    const a = makeTrainer(1);
    await a.run({ steps: 1 });
    const state = a.state();
    const b = makeTrainer(1);
    for (const name of ["toString", "hasOwnProperty", "constructor"]) {
      const extra = { ...state.params };
      Object.defineProperty(extra, name, { value: fromArray([1]), enumerable: true });
      expect(() => b.restore({ ...state, params: extra })).toThrow(new RegExp(`unexpected ${name}`));
    }
    const proto = { ...state.params };
    Object.defineProperty(proto, "__proto__", { value: fromArray([1]), enumerable: true });
    expect(() => b.restore({ ...state, params: proto })).toThrow(/unexpected __proto__/);
    // A tensor of the right shape but another dtype would be read as reinterpreted numbers.
    const wx = state.params.wx!;
    const asInt = { ...state.params, wx: fromArray(Array.from(wx.data, () => 1), { shape: [...wx.shape], dtype: "int32" }) };
    expect(() => b.restore({ ...state, params: asInt })).toThrow(/wx is int32, expected float32/);
    expect(b.step).toBe(0);
  });

  it("stateFromCheckpoint checks the trainer counters a checkpoint.json holds", async () => {
    const { checkpointFromState, stateFromCheckpoint } = await import("./trainer-checkpoint.js");
    const a = makeTrainer(1);
    await a.run({ steps: 1 });
    const good = checkpointFromState(a.state());
    expect(stateFromCheckpoint(good).trainer.lrFactor).toBe(1);
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ lrFactor: "fast" }, /trainer\.lrFactor must be a positive number, got "fast"/],
      [{ lrFactor: 0 }, /trainer\.lrFactor must be a positive number, got 0/],
      [{ bestMetric: "low" }, /trainer\.bestMetric must be a finite number or null/],
      [{ clippedSteps: -1 }, /trainer\.clippedSteps must be a non-negative integer, got -1/],
      [{ skippedSteps: 1.5 }, /trainer\.skippedSteps must be a non-negative integer/],
      [{ evalsWithoutImprovement: [1] }, /trainer\.evalsWithoutImprovement must be a non-negative integer, got an array/],
      [{ hasCarry: "yes" }, /trainer\.hasCarry must be true or false/],
    ];
    for (const [change, message] of bad) {
      expect(() => stateFromCheckpoint({ ...good, trainer: { ...(good.trainer as object), ...change } })).toThrow(message);
    }
  });

  it("treeFromEntries keeps names from files as own keys: no prototype is reached", async () => {
    const { treeFromEntries } = await import("./tree.js");
    const t = fromArray([1]);
    const tree = treeFromEntries([["__proto__.polluted", t], ["constructor.polluted", t], ["h", t]]) as Record<string, unknown>;
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
    expect((Object as unknown as Record<string, unknown>)["polluted"]).toBeUndefined();
    expect(Object.keys(tree).sort()).toEqual(["__proto__", "constructor", "h"]);
    expect(Object.getPrototypeOf(tree)).toBe(Object.prototype);
  });
});

describe("Trainer checkpoints on disk", () => {
  it("saves every N steps atomically and resumes from the directory bit for bit", async () => {
    const { mkdtemp } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { checkpointEvery, resumeTrainer } = await import("./trainer-checkpoint.js");
    const { loadCheckpoint } = await import("./checkpoint/index.js");
    const root = await mkdtemp(join(tmpdir(), "unroll-trainer-"));

    const straight: number[] = [];
    const a = makeTrainer(1);
    a.events.on("step", (e) => straight.push(e.loss));
    await a.run({ steps: 12 });

    const resumed: number[] = [];
    const saved: number[] = [];
    const params = model(1);
    const b = new Trainer({
      params,
      loss,
      data: echoSource(7),
      optimizer: adam({ lr: 0.02 }),
      schedule: cosineWithWarmup({ lr: 0.02, warmupSteps: 3, totalSteps: 40 }),
      clip: { maxNorm: 1 },
      seed: 5,
      afterStep: checkpointEvery(root, 3, { keep: 2, config: { task: "echo" }, onSaved: (_, s) => saved.push(s) }),
    });
    b.events.on("step", (e) => resumed.push(e.loss));
    await b.run({ steps: 7 }); // checkpoints at 3 and 6
    expect(saved).toEqual([3, 6]);
    resumed.length = 6; // a crash after step 7: the last checkpoint is step 6

    const c = makeTrainer(3);
    c.events.on("step", (e) => resumed.push(e.loss));
    const checkpoint = await resumeTrainer(c, root);
    expect(checkpoint.step).toBe(6);
    expect(checkpoint.config).toEqual({ task: "echo" });
    expect(c.step).toBe(6);
    await c.run({ steps: 12 });
    expect(resumed).toEqual(straight);
    // The weights file is a plain state dict.
    expect(Object.keys((await loadCheckpoint(root)).params).sort()).toEqual(["b", "out", "wh", "wx"]);
  });
});

describe("Trainer skip policy", () => {
  it("gives up after too many non-finite batches in a row instead of looping forever", async () => {
    const trainer = new Trainer({
      params: { w: fromArray([1]) },
      loss: (p) => ({ loss: mul(p.w, NaN) }),
      data: arraySource([0], { loop: true }),
      optimizer: sgd({ lr: 0.1 }),
      nonFinite: "skip",
      guard: { maxRetries: 3 },
    });
    let skips = 0;
    trainer.events.on("skip", () => skips++);
    await expect(trainer.run({ steps: 10 })).rejects.toThrow(/4 batches in a row had non-finite values at step 1/);
    expect(skips).toBe(4);
  });
});
