// Golden tests against PyTorch: fixtures/torch-golden.json holds, for a few composite functions,
// the inputs, the outputs and the gradient of a scalar loss with respect to every float input, as
// torch 1.13 computed them in float32 (scripts/generate_fixtures.py). Each function is rebuilt
// here with the public API and every output and gradient must agree element by element.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  abs, add, clamp, concat, div, exp, fromArray, gather, log, logSoftmax, matmul, max, mean, mul, pad, pow, relu,
  reshape, sigmoid, slice, softmax, softmaxCrossEntropy, split, sqrt, squeeze, stack, sub, sum, tanh, transpose,
  valueAndGrad, where,
} from "./index.js";
import type { Tensor } from "./index.js";

const FORMAT = "unroll-torch-golden";
const VERSION = 1;
const ATOL = 1e-5;
const RTOL = 1e-5;

interface FixtureTensor {
  readonly shape: number[];
  readonly dtype: "float32" | "int32";
  readonly values: number[];
}

interface GoldenCase {
  readonly name: string;
  readonly description: string;
  readonly inputs: Record<string, FixtureTensor>;
  /** `loss` and the case's named intermediate outputs. */
  readonly outputs: Record<string, FixtureTensor>;
  /** d loss / d input, for every float input. */
  readonly grads: Record<string, FixtureTensor>;
}

interface GoldenFile {
  readonly format: string;
  readonly version: number;
  readonly generator: string;
  readonly cases: GoldenCase[];
}

function loadGolden(): GoldenFile {
  const url = new URL("../fixtures/torch-golden.json", import.meta.url);
  const doc = JSON.parse(readFileSync(url, "utf8")) as Partial<GoldenFile>;
  if (doc.format !== FORMAT || doc.version !== VERSION) {
    throw new Error(
      `${url.pathname}: expected format "${FORMAT}" version ${VERSION}, found "${String(doc.format)}" version ${String(doc.version)}; ` +
        "regenerate it with `pnpm --filter @unroll/tensor fixtures`",
    );
  }
  return doc as GoldenFile;
}

function toTensor(t: FixtureTensor): Tensor {
  return fromArray(t.values, { shape: t.shape, dtype: t.dtype });
}

/** A case's inputs by name; a name the fixture lacks is an error, not `undefined`. */
type Inputs = (name: string) => Tensor;

interface Built {
  readonly loss: Tensor;
  readonly outputs: Record<string, Tensor>;
}

// Each builder mirrors the function of the same name in scripts/generate_fixtures.py.
function mlp(reduction: "mean" | "sum") {
  return (x: Inputs): Built => {
    const h = tanh(add(matmul(x("x"), x("W1")), x("b1"))); // (8, 7)
    const logits = add(matmul(h, x("W2")), x("b2")); // (8, 4)
    const loss = softmaxCrossEntropy(logits, x("targets"), { ignoreIndex: -100, reduction });
    return { loss, outputs: { logits } };
  };
}

const builders: Record<string, (x: Inputs) => Built> = {
  mlp_tanh_cross_entropy_mean: mlp("mean"),
  mlp_tanh_cross_entropy_sum_ignore_index: mlp("sum"),

  rnn_tanh_6_steps_cross_entropy: (x) => {
    const steps = x("x").shape[0]!;
    let h = x("h0"); // (B, H)
    const hs: Tensor[] = [];
    for (const xt of split(x("x"), steps, 0)) {
      // h_t = tanh(x_t W_xh^T + h_{t-1} W_hh^T + b)
      const pre = add(add(matmul(squeeze(xt, [0]), x("W_xh"), { transB: true }), matmul(h, x("W_hh"), { transB: true })), x("b"));
      h = tanh(pre);
      hs.push(h);
    }
    const states = stack(hs, 0); // (T, B, H)
    const logits = add(matmul(states, x("W_out"), { transB: true }), x("b_out")); // (T, B, C)
    return { loss: softmaxCrossEntropy(logits, x("targets")), outputs: { hs: states, logits } };
  },

  embedding_gather_sum_of_squares: (x) => {
    const embedded = gather(x("table"), x("indices"), 0); // (3, 5, 4)
    return { loss: sum(mul(embedded, embedded)), outputs: { embedded } };
  },

  batched_matmul_softmax_reductions: (x) => {
    const y1 = matmul(x("a"), x("b"), { transA: true, transB: true }); // (2,4,3)ᵀ (5,4)ᵀ -> (2,3,5)
    const s = softmax(y1, -1);
    const ls = logSoftmax(y1, 1);
    const m = max(y1, 2, true); // (2,3,1)
    const mu = mean(y1, [0, 2], true); // (1,3,1)
    const sm = sum(ls, 1, true); // (2,1,5)
    const z = add(add(mul(s, ls), mul(sub(y1, m), mu)), mul(sm, 0.1)); // (2,3,5)
    const y2 = matmul(z, x("c")); // c (1,5,2) broadcast -> (2,3,2)
    const y3 = matmul(x("c"), z, { transA: true, transB: true }); // (2,2,3)
    const out = add(y2, transpose(y3, [0, 2, 1]));
    return { loss: sum(mul(out, x("r"))), outputs: { y1, z, out } };
  },

  elementwise_unary_pow_clamp_where: (x) => {
    const u = x("u");
    const v = x("v");
    const p = sigmoid(u);
    const q = relu(v);
    const e = exp(mul(u, 0.5));
    const lg = log(add(abs(v), 0.5));
    const sq = sqrt(add(mul(u, u), 1));
    const c = clamp(mul(u, 2), { min: -1, max: 1.2 });
    const pw = pow(add(p, 0.5), x("w")); // exponent (6) broadcast over rows
    const picked = where(x("mask"), mul(p, q), sum(lg, 0)); // else-branch (6) broadcast
    const out = sub(add(add(picked, mul(pow(p, 3), c)), mul(pw, e)), sq);
    return { loss: sum(mul(out, x("r"))), outputs: { out } };
  },

  layout_concat_slice_pad_transpose_reshape: (x) => {
    const cat = concat([x("x"), x("y")], 1); // (2,5,4)
    const sl = slice(cat, [1, 0], [4, 3], [1, 2]); // (2,3,3)
    const tail = slice(cat, [-2], [5], [1]); // (2,2,4)
    const padded = pad(sl, [0, 1, 2], [1, 0, 1], 0.5); // (3,4,6)
    const rs = reshape(transpose(padded, [2, 0, 1]), [9, 8]);
    const both = concat([rs, reshape(tail, [2, 8])], 0); // (11,8)
    const out = mul(both, sigmoid(both));
    return { loss: sum(mul(out, x("r"))), outputs: { padded, out } };
  },

  masked_attention_layer_norm: (x) => {
    const scores = where(x("mask"), mul(matmul(x("q"), x("k"), { transB: true }), 0.5), -1e4); // (2,3,5)
    const weights = softmax(scores, -1);
    const att = matmul(weights, x("v")); // v (5,6) broadcast -> (2,3,6)
    const centered = sub(att, mean(att, -1, true));
    const variance = mean(pow(centered, 2), -1, true);
    const normed = div(centered, sqrt(add(variance, 1e-3)));
    return { loss: sum(mul(normed, x("r"))), outputs: { weights, normed } };
  },
};

interface Comparison {
  /** Largest |ours - torch| over the tensor. */
  readonly maxAbsError: number;
  /** Why the tensor fails, or null when every element is within `ATOL + RTOL * |torch|`. */
  readonly failure: string | null;
}

function multiIndex(flat: number, shape: readonly number[]): string {
  const idx: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(flat % shape[d]!);
    flat = Math.floor(flat / shape[d]!);
  }
  return `[${idx.join(",")}]`;
}

/** Element-wise check of `ours` against the torch value; reports the worst element relative to its tolerance. */
function compare(what: string, ours: Tensor, torch: FixtureTensor): Comparison {
  const shape = `[${ours.shape.join(",")}]`;
  const expected = `[${torch.shape.join(",")}]`;
  if (shape !== expected || ours.dtype !== torch.dtype) {
    return { maxAbsError: Infinity, failure: `${what}: ours is ${ours.dtype} ${shape}, torch is ${torch.dtype} ${expected}` };
  }
  let maxAbsError = 0;
  let worst = -1;
  let worstRatio = 0;
  for (let i = 0; i < torch.values.length; i++) {
    const t = torch.values[i]!;
    const err = Math.abs(ours.data[i]! - t);
    const ratio = Number.isNaN(err) ? Infinity : err / (ATOL + RTOL * Math.abs(t));
    if (err > maxAbsError || Number.isNaN(err)) maxAbsError = Number.isNaN(err) ? Infinity : err;
    if (worst < 0 || ratio > worstRatio) {
      worst = i;
      worstRatio = ratio;
    }
  }
  if (worstRatio <= 1) return { maxAbsError, failure: null };
  const t = torch.values[worst]!;
  const o = ours.data[worst]!;
  return {
    maxAbsError,
    failure:
      `${what}${multiIndex(worst, torch.shape)}: ours ${o}, torch ${t}, |diff| ${Math.abs(o - t).toExponential(3)} ` +
      `> tolerance ${(ATOL + RTOL * Math.abs(t)).toExponential(3)} (worst of ${torch.values.length} elements)`,
  };
}

/** Rebuilds a case with our API and compares every output and gradient; returns the failures. */
function checkCase(c: GoldenCase): { failures: string[]; maxAbsError: number } {
  const build = builders[c.name];
  if (!build) return { failures: [`no builder for fixture case "${c.name}"`], maxAbsError: Infinity };
  const params: Record<string, Tensor> = {};
  const consts: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(c.inputs)) (t.dtype === "float32" ? params : consts)[name] = toTensor(t);

  const f = (p: Record<string, Tensor>, k: Record<string, Tensor>): readonly [Tensor, Record<string, Tensor>] => {
    const lookup: Inputs = (name) => {
      const t = p[name] ?? k[name];
      if (!t) throw new Error(`case "${c.name}" has no input "${name}"`);
      return t;
    };
    const { loss, outputs } = build(lookup);
    return [loss, { loss, ...outputs }];
  };
  const { aux: outputs, grads } = valueAndGrad(f, { hasAux: true })(params, consts);

  const failures: string[] = [];
  let maxAbsError = 0;
  const check = (what: string, ours: Tensor | undefined, torch: FixtureTensor): void => {
    if (!ours) {
      failures.push(`${what}: the fixture has it, our rebuild does not produce it`);
      return;
    }
    const r = compare(what, ours, torch);
    maxAbsError = Math.max(maxAbsError, r.maxAbsError);
    if (r.failure) failures.push(r.failure);
  };
  for (const [name, torch] of Object.entries(c.outputs)) check(`output ${name}`, outputs[name], torch);
  for (const [name, torch] of Object.entries(c.grads)) check(`d loss / d ${name}`, grads[name], torch);
  // Nothing goes unchecked: every float input has a torch gradient, every output a torch value.
  for (const name of Object.keys(params)) if (!(name in c.grads)) failures.push(`the fixture lacks the gradient of ${name}`);
  for (const name of Object.keys(outputs)) if (!(name in c.outputs)) failures.push(`the fixture lacks output ${name}`);
  return { failures, maxAbsError };
}

const golden = loadGolden();

describe("PyTorch golden fixtures", () => {
  it("has one fixture case per builder and one builder per case", () => {
    expect(golden.cases.map((c) => c.name).sort()).toEqual(Object.keys(builders).sort());
  });

  for (const c of golden.cases) {
    it(`${c.name}: outputs and every gradient match torch to ${ATOL} + ${RTOL}·|torch|`, () => {
      const { failures } = checkCase(c);
      expect(failures, `${c.description}\n${failures.join("\n")}`).toEqual([]);
    });
  }

  it("the comparison rejects a gradient off by twice the tolerance and names the element", () => {
    const c = golden.cases[0]!;
    const [name, torch] = Object.entries(c.grads)[0]!;
    const values = [...torch.values];
    values[3] = values[3]! + 2 * (ATOL + RTOL * Math.abs(values[3]!));
    const r = compare(name, toTensor(torch), { ...torch, values });
    expect(r.failure).toContain(`${name}${multiIndex(3, torch.shape)}`);
  });
});
