import { describe, expect, it } from "vitest";
import { Buffer } from "node:buffer";
import { fromArray, loadWasmKernels, Tensor, treeEntries, treeMap, withKernels } from "@unroll/tensor";
import { adagrad, adam, adamw, type Optimizer, OptimizerError, type OptimizerState, rmsprop, sgd } from "./index.js";

interface Params {
  rnn: { weight_ih_l0: Tensor; bias: Tensor };
  head: Tensor[];
}

function makeParams(dtype: "float32" | "float64" = "float32"): Params {
  const vals = (n: number, seed: number): number[] => Array.from({ length: n }, (_, i) => Math.sin(seed + 1.7 * i) * 0.5);
  return {
    rnn: {
      weight_ih_l0: fromArray(vals(12, 1), { shape: [3, 4], dtype }),
      bias: fromArray(vals(4, 2), { shape: [4], dtype }),
    },
    head: [fromArray(vals(12, 3), { shape: [2, 2, 3], dtype })],
  };
}

const copyTree = <T>(tree: T): T => treeMap(tree, (t) => new Tensor(t.data.slice(), t.shape));

/** Gradients that depend on the parameters and the step, so a diverged trajectory shows. */
function gradsAt<T>(params: T, k: number): T {
  return treeMap(params, (p, j) => {
    const g = new Tensor(p.data.slice(), p.shape);
    for (let i = 0; i < g.size; i++) g.data[i] = Math.sin(3 * p.data[i]! + 0.7 * k + j) * 0.1;
    return g;
  });
}

const bits = (t: Tensor): number[] => Array.from(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));

function expectTreesBitEqual(a: unknown, b: unknown): void {
  const ea = treeEntries(a);
  const eb = treeEntries(b);
  expect(ea.map(([p]) => p)).toEqual(eb.map(([p]) => p));
  ea.forEach(([path, t], i) => {
    const u = eb[i]![1];
    expect(u.dtype, path).toBe(t.dtype);
    expect(u.shape, path).toEqual(t.shape);
    expect(bits(u), path).toEqual(bits(t));
  });
}

function expectStatesBitEqual(a: OptimizerState, b: OptimizerState): void {
  expect({ ...a, buffers: Object.keys(a.buffers) }).toEqual({ ...b, buffers: Object.keys(b.buffers) });
  expectTreesBitEqual(a.buffers, b.buffers);
}

/** A state as a checkpoint would hold it: JSON text, tensors as dtype, shape and plain numbers. */
function toJSON(s: OptimizerState): string {
  const buffers = Object.fromEntries(
    Object.entries(s.buffers).map(([k, t]) => [k, { dtype: t.dtype, shape: t.shape, data: Array.from(t.data) }]),
  );
  return JSON.stringify({ ...s, buffers });
}

function fromJSON(text: string): OptimizerState {
  const raw = JSON.parse(text) as Omit<OptimizerState, "buffers"> & {
    buffers: Record<string, { dtype: "float32" | "float64"; shape: number[]; data: number[] }>;
  };
  const buffers = Object.fromEntries(
    Object.entries(raw.buffers).map(([k, b]) => [k, fromArray(b.data, { shape: b.shape, dtype: b.dtype })]),
  );
  return { ...raw, buffers };
}

// One configuration per optimiser with every buffer it can keep.
const configs: [string, () => Optimizer, string[]][] = [
  ["sgd", () => sgd({ lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 }), ["momentum_buffer"]],
  ["adam", () => adam({ lr: 0.01, amsgrad: true, weightDecay: 0.1 }), ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]],
  ["adamw", () => adamw({ lr: 0.01, betas: [0.8, 0.9] }), ["exp_avg", "exp_avg_sq"]],
  ["rmsprop", () => rmsprop({ lr: 0.01, momentum: 0.5, centered: true }), ["square_avg", "momentum_buffer", "grad_avg"]],
  ["adagrad", () => adagrad({ lr: 0.1, lrDecay: 0.01, initialAccumulatorValue: 0.1 }), ["sum"]],
];

describe.each(configs)("%s", (name, make, bufferNames) => {
  it("resumes bit-identically from a JSON round trip of its state", () => {
    for (const dtype of ["float32", "float64"] as const) {
      const a = make();
      const params = makeParams(dtype);
      for (let k = 0; k < 3; k++) {
        a.lr *= 0.9; // as a schedule would
        a.step(params, gradsAt(params, k));
      }
      const saved = a.stateDict();
      const text = toJSON(saved);
      const paramsAtSave = copyTree(params);

      expect(saved.name).toBe(name);
      expect(saved.step).toBe(3);
      expect(Object.keys(saved.buffers).sort()).toEqual(
        bufferNames.flatMap((b) => ["rnn.weight_ih_l0", "rnn.bias", "head.0"].map((p) => `${b}/${p}`)).sort(),
      );
      for (const t of Object.values(saved.buffers)) expect(t.dtype).toBe(dtype);

      for (let k = 3; k < 6; k++) a.step(params, gradsAt(params, k));
      // The saved buffers are copies: later steps left them as they were.
      expectStatesBitEqual(saved, fromJSON(text));

      const loaded = fromJSON(text);
      const b = make();
      b.loadStateDict(loaded);
      expect(b.lr).toBe(saved.lr);
      const resumed = copyTree(paramsAtSave);
      for (let k = 3; k < 6; k++) b.step(resumed, gradsAt(resumed, k));
      expectTreesBitEqual(resumed, params);
      expectStatesBitEqual(b.stateDict(), a.stateDict());
      // Loading copied the buffers: stepping b did not write into the state it was given.
      expectStatesBitEqual(loaded, fromJSON(text));
      expect(treeEntries(resumed).some(([p, t]) => bits(t).join() !== bits(treeEntries(paramsAtSave).find(([q]) => q === p)![1]).join())).toBe(true);
    }
  });

  it("updates parameters in place and leaves gradients alone", () => {
    const opt = make();
    const params = makeParams();
    const tensors = treeEntries(params).map(([, t]) => t);
    const arrays = tensors.map((t) => t.data);
    const before = copyTree(params);
    const grads = gradsAt(params, 0);
    const gradsBefore = copyTree(grads);
    opt.step(params, grads);
    const after = treeEntries(params).map(([, t]) => t);
    after.forEach((t, i) => {
      expect(t).toBe(tensors[i]);
      expect(t.data).toBe(arrays[i]);
    });
    expectTreesBitEqual(grads, gradsBefore);
    // ...and the parameters did move.
    treeEntries(params).forEach(([path, t]) => expect(bits(t), path).not.toEqual(bits(treeEntries(before).find(([q]) => q === path)![1])));
  });

  it("rejects another optimiser's state, another version, other settings or buffer shapes, and changes nothing", () => {
    const opt = make();
    const params = makeParams();
    opt.step(params, gradsAt(params, 0));
    opt.lr = 0.0123;
    const twin = make();
    const twinParams = makeParams();
    twin.step(twinParams, gradsAt(twinParams, 0));
    twin.lr = 0.0123;
    const good = opt.stateDict();
    const other = (name === "sgd" ? adam() : sgd({ lr: 0.1, momentum: 0.9 }));
    other.step(makeParams(), gradsAt(makeParams(), 0));

    const firstKey = Object.keys(good.buffers)[0]!;
    const [bufferName, path] = [firstKey.slice(0, firstKey.indexOf("/")), firstKey.slice(firstKey.indexOf("/") + 1)];
    const hyperKey = Object.keys(good.hyper).find((k) => typeof good.hyper[k] === "number")!;
    const bad: [string, OptimizerState, RegExp][] = [
      ["another optimiser", other.stateDict(), new RegExp(`'${other.name}' optimiser, not '${name}'`)],
      ["another version", { ...good, version: 2 as never }, /unsupported state version 2/],
      ["other settings", { ...good, hyper: { ...good.hyper, [hyperKey]: (good.hyper[hyperKey] as number) + 0.5 } }, new RegExp(`settings differ \\(${hyperKey}: saved`)],
      ["a missing setting", { ...good, hyper: {} }, /settings differ/],
      ["a buffer of another shape", { ...good, buffers: { ...good.buffers, [firstKey]: fromArray(new Float32Array(13)) } }, new RegExp(`${path}`)],
      ["a buffer of another dtype", { ...good, buffers: { ...good.buffers, [firstKey]: new Tensor(Float64Array.from(good.buffers[firstKey]!.data), good.buffers[firstKey]!.shape) } }, new RegExp(`${path}`)],
      ["a missing buffer", { ...good, buffers: Object.fromEntries(Object.entries(good.buffers).filter(([k]) => k !== firstKey)) }, new RegExp(`'${bufferName}/${path}'|no buffers for parameter '${path}'`)],
      ["an unknown buffer", { ...good, buffers: { ...good.buffers, "velocity/rnn.bias": fromArray([0, 0, 0, 0]) } }, /unexpected buffer 'velocity\/rnn.bias'/],
      ["a buffer for an unknown parameter", { ...good, buffers: { ...good.buffers, [`${bufferName}/decoder.weight`]: fromArray([1]) } }, /decoder.weight/],
      ["a negative step", { ...good, step: -1 }, /step must be a non-negative integer/],
    ];
    for (const [what, state, message] of bad) {
      expect(() => opt.loadStateDict(state), what).toThrow(OptimizerError);
      expect(() => opt.loadStateDict(state), what).toThrow(message);
      expectStatesBitEqual(opt.stateDict(), good);
    }
    // Still the same optimiser: it steps on exactly as its twin that saw no failed loads.
    opt.step(params, gradsAt(params, 1));
    twin.step(twinParams, gradsAt(twinParams, 1));
    expectTreesBitEqual(params, twinParams);
    expectStatesBitEqual(opt.stateDict(), twin.stateDict());
  });

  it("rejects a state whose buffers fit another model, even in a fresh optimiser once it steps", () => {
    const small = { w: fromArray([1, 2, 3]) };
    const big = { w: fromArray([1, 2, 3, 4]) };
    const a = make();
    a.step(small, gradsAt(small, 0));
    const b = make();
    b.step(big, gradsAt(big, 0));
    expect(() => b.loadStateDict(a.stateDict())).toThrow(/\/w' is float32 \[3\], but the parameter is float32 \[4\]/);
    const fresh = make();
    fresh.loadStateDict(a.stateDict());
    const bigBefore = copyTree(big);
    expect(() => fresh.step(big, gradsAt(big, 1))).toThrow(/parameter 'w' is float32 \[4\], but this optimiser's state is for float32 \[3\]/);
    expectTreesBitEqual(big, bigBefore);
  });

  it("names the path of a params/grads mismatch and updates nothing", () => {
    const opt = make();
    const params = makeParams();
    const before = copyTree(params);
    const g = gradsAt(params, 0);
    const cases: [unknown, RegExp][] = [
      [{ ...g, head: [] }, /grads has no tensor at 'head.0'/],
      [{ ...g, extra: fromArray([1]) }, /grads has a tensor at 'extra'/],
      [{ ...g, head: [fromArray(new Float32Array(12), { shape: [3, 4] })] }, /at 'head.0' the parameter has shape \[2, 2, 3\] but its gradient \[3, 4\]/],
      [{ ...g, head: [fromArray(new Float64Array(12), { shape: [2, 2, 3] })] }, /at 'head.0' the parameter is float32 but its gradient float64/],
    ];
    for (const [grads, message] of cases) {
      expect(() => opt.step(params, grads)).toThrow(OptimizerError);
      expect(() => opt.step(params, grads)).toThrow(message);
    }
    expectTreesBitEqual(params, before);
    expect(opt.stateDict().step).toBe(0);
    expect(Object.keys(opt.stateDict().buffers)).toEqual([]);

    // After the first step the parameter set is fixed.
    opt.step(params, g);
    const renamed = { rnn: params.rnn, tail: params.head };
    expect(() => opt.step(renamed, gradsAt(renamed, 1))).toThrow(/parameter 'tail.0' was not among the parameters/);
    const fewer = { rnn: params.rnn };
    expect(() => opt.step(fewer, gradsAt(fewer, 1))).toThrow(/params has no tensor at 'head.0', which this optimiser has state for/);
    const tied = { a: params.rnn.bias, b: params.rnn.bias };
    expect(() => make().step(tied, gradsAt(tied, 0))).toThrow(/same tensor appears at 'a' and 'b'/);
    expect(() => make().step({ i: fromArray([1, 2], { dtype: "int32" }) }, { i: fromArray([1, 2], { dtype: "int32" }) })).toThrow(/'i' is int32/);
  });

  it("refuses a learning rate that is not a finite number >= 0", () => {
    const opt = make();
    const params = makeParams();
    for (const lr of [Number.NaN, -0.1, Infinity]) {
      opt.lr = lr;
      expect(() => opt.step(params, gradsAt(params, 0))).toThrow(RangeError);
    }
    expect(opt.stateDict().step).toBe(0);
  });
});

describe("settings", () => {
  it("are checked as PyTorch checks them", () => {
    expect(() => sgd({ lr: 0.1, nesterov: true })).toThrow(/nesterov needs momentum > 0 and dampening 0/);
    expect(() => sgd({ lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true })).toThrow(/nesterov/);
    expect(() => sgd({ lr: -1 })).toThrow(/sgd: lr must be a finite number >= 0/);
    expect(() => adam({ betas: [1, 0.999] })).toThrow(/adam: betas\[0\] must be in \[0, 1\)/);
    expect(() => adamw({ betas: [0.9, -0.1] })).toThrow(/adamw: betas\[1\]/);
    expect(() => rmsprop({ momentum: -1 })).toThrow(/rmsprop: momentum/);
    expect(() => adagrad({ initialAccumulatorValue: -1 })).toThrow(/adagrad: initialAccumulatorValue/);
  });

  it("take PyTorch's defaults and are stored in the state", () => {
    expect(adam().stateDict()).toEqual({
      name: "adam",
      version: 1,
      hyper: { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false },
      step: 0,
      lr: 1e-3,
      buffers: {},
    });
    expect(adamw().stateDict().hyper.weightDecay).toBe(1e-2);
    expect(rmsprop().stateDict()).toMatchObject({ lr: 1e-2, hyper: { alpha: 0.99, eps: 1e-8, momentum: 0, centered: false } });
    expect(adagrad().stateDict()).toMatchObject({ lr: 1e-2, hyper: { lrDecay: 0, initialAccumulatorValue: 0, eps: 1e-10 } });
    expect(sgd({ lr: 0.5 }).stateDict()).toMatchObject({ lr: 0.5, hyper: { momentum: 0, dampening: 0, nesterov: false } });
  });

  it("plain SGD keeps no buffers and its state still round-trips", () => {
    const a = sgd({ lr: 0.1 });
    const params = makeParams();
    a.step(params, gradsAt(params, 0));
    expect(a.stateDict()).toMatchObject({ step: 1, buffers: {} });
    const b = sgd({ lr: 0.1 });
    b.loadStateDict(fromJSON(toJSON(a.stateDict())));
    expect(b.stateDict()).toEqual(a.stateDict());
  });
});

describe("Adam's fused kernel (the WebAssembly table's adamUpdate)", () => {
  /** Parameters of odd sizes, one long enough to stream through the module in several chunks. */
  function bigParams(): { a: Tensor; b: Tensor; c: Tensor } {
    const vals = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed + 1.7 * i) * 0.5);
    return {
      a: new Tensor(vals(7, 1), [7]),
      b: new Tensor(vals(33 * 65, 2), [33, 65]),
      c: new Tensor(vals(700_001, 3), [700_001]),
    };
  }

  for (const [name, make] of [
    ["adam", () => adam({ lr: 2e-3 })],
    ["adamw", () => adamw({ lr: 1e-2, weightDecay: 0.1, betas: [0.8, 0.99], eps: 1e-6 })],
  ] as const) {
    it(`${name}: bitwise the update loop's parameters and moments over several steps, through the kernel`, async () => {
      const wasm = await loadWasmKernels();
      let calls = 0;
      const counting = { ...wasm, adamUpdate: (...args: Parameters<NonNullable<typeof wasm.adamUpdate>>) => (calls++, wasm.adamUpdate!(...args)) };
      const reference = bigParams();
      const fused = bigParams();
      const optRef = make();
      const optFused = make();
      for (let k = 0; k < 4; k++) {
        optRef.step(reference, gradsAt(reference, k));
        withKernels(counting, () => optFused.step(fused, gradsAt(fused, k)));
      }
      expect(calls).toBe(4 * 3);
      for (const key of ["a", "b", "c"] as const) {
        expect(Buffer.from(fused[key].data.buffer).equals(Buffer.from(reference[key].data.buffer)), `param ${key}`).toBe(true);
      }
      const [sr, sf] = [optRef.stateDict(), optFused.stateDict()];
      for (const [path, t] of treeEntries(sr.buffers, "buffers")) {
        const other = treeEntries(sf.buffers, "buffers").find(([p]) => p === path)![1];
        expect(Buffer.from(other.data.buffer).equals(Buffer.from(t.data.buffer)), `buffer ${path}`).toBe(true);
      }
    });
  }

  it("settings the kernel does not cover (amsgrad, maximize, L2 decay, float64) run the loop", async () => {
    const wasm = await loadWasmKernels();
    let calls = 0;
    const counting = { ...wasm, adamUpdate: (...args: Parameters<NonNullable<typeof wasm.adamUpdate>>) => (calls++, wasm.adamUpdate!(...args)) };
    for (const opt of [adam({ amsgrad: true }), adam({ maximize: true }), adam({ weightDecay: 0.1 })]) {
      const p = makeParams();
      withKernels(counting, () => opt.step(p, gradsAt(p, 0)));
    }
    const p64 = makeParams("float64");
    withKernels(counting, () => adam().step(p64, gradsAt(p64, 0)));
    expect(calls).toBe(0);
  });
});
