// Golden tests of the vision primitives against PyTorch: fixtures/torch-vision-golden.json holds,
// per case, the inputs, the outputs and the gradient of a scalar loss with respect to every float
// input that is not a constant (running statistics), as torch 1.13 computed them in float32
// (scripts/generate_vision_fixtures.py). Each case is rebuilt here with the public API; every
// output and gradient must agree element by element.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  add, avgPool2d, batchNorm, conv2d, fromArray, globalAvgPool2d, matmul, maxPool2d, maxPool2dWithIndices, mul, relu6, softmaxCrossEntropy,
  sum, type Tensor, valueAndGrad,
} from "../index.js";

const FORMAT = "unroll-torch-vision-golden";
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
  /** Float inputs that get no gradient (running statistics). */
  readonly constants: string[];
  readonly inputs: Record<string, FixtureTensor>;
  readonly outputs: Record<string, FixtureTensor>;
  readonly grads: Record<string, FixtureTensor>;
}

function loadGolden(): { cases: GoldenCase[] } {
  const url = new URL("../../fixtures/torch-vision-golden.json", import.meta.url);
  const doc = JSON.parse(readFileSync(url, "utf8")) as { format?: string; version?: number; cases: GoldenCase[] };
  if (doc.format !== FORMAT || doc.version !== VERSION) {
    throw new Error(
      `${url.pathname}: expected format "${FORMAT}" version ${VERSION}, found "${String(doc.format)}" version ${String(doc.version)}; ` +
        "regenerate it with `/usr/bin/python3 -I scripts/generate_vision_fixtures.py`",
    );
  }
  return doc;
}

type Inputs = (name: string) => Tensor;
type Built = { readonly loss: Tensor; readonly outputs: Record<string, Tensor> };

/** `sum(y * r)`, the loss most cases use, with `y` reported as an output. */
function weighted(y: Tensor, x: Inputs, extra: Record<string, Tensor> = {}): Built {
  return { loss: sum(mul(y, x("r"))), outputs: { y, ...extra } };
}

function batchNormCase(training: boolean, momentum: number, eps: number) {
  return (x: Inputs): Built => {
    const r = batchNorm(x("x"), x("running_mean"), x("running_var"), x("weight"), x("bias"), { training, momentum, eps });
    return weighted(r.output, x, training ? { running_mean: r.runningMean!, running_var: r.runningVar! } : {});
  };
}

// Each builder mirrors the case of the same name in scripts/generate_vision_fixtures.py.
const builders: Record<string, (x: Inputs) => Built> = {
  conv2d_stride_padding_dilation_bias: (x) => weighted(conv2d(x("x"), x("weight"), x("bias"), { stride: [2, 1], padding: [1, 2], dilation: [1, 2] }), x),
  conv2d_groups_2_stride_2: (x) => weighted(conv2d(x("x"), x("weight"), null, { stride: 2, padding: 1, groups: 2 }), x),
  conv2d_depthwise_multiplier_2: (x) => weighted(conv2d(x("x"), x("weight"), x("bias"), { padding: 1, groups: 3 }), x),
  conv2d_same_even_kernel_dilation: (x) => weighted(conv2d(x("x"), x("weight"), x("bias"), { padding: "same", dilation: [2, 1] }), x),
  max_pool2d_k3_s2_p1_indices: (x) => {
    const [y, indices] = maxPool2dWithIndices(x("x"), { kernel: 3, stride: 2, padding: 1 });
    return weighted(y, x, { indices });
  },
  max_pool2d_dilated_per_axis: (x) => weighted(maxPool2d(x("x"), { kernel: [2, 3], stride: [1, 2], padding: [1, 1], dilation: [2, 1] }), x),
  max_pool2d_ties_first_max: (x) => {
    const [y, indices] = maxPool2dWithIndices(x("x"), { kernel: 3, stride: 2, padding: 1 });
    return weighted(y, x, { indices });
  },
  avg_pool2d_k3_s2_p1_count_include_pad: (x) => weighted(avgPool2d(x("x"), { kernel: 3, stride: 2, padding: 1 }), x),
  avg_pool2d_per_axis_exclude_pad: (x) => weighted(avgPool2d(x("x"), { kernel: [3, 2], stride: [2, 1], padding: [1, 1], countIncludePad: false }), x),
  global_avg_pool2d: (x) => {
    const y = globalAvgPool2d(x("x")); // (3, 4, 1, 1)
    const flat = globalAvgPool2d(x("x"), { keepdims: false }); // (3, 4)
    return { loss: sum(mul(flat, x("r"))), outputs: { y, flat } };
  },
  batch_norm_training_nchw: batchNormCase(true, 0.1, 1e-5),
  batch_norm_training_nc_momentum: batchNormCase(true, 0.3, 1e-3),
  batch_norm_inference: batchNormCase(false, 0.1, 1e-5),
  relu6_with_kinks: (x) => weighted(relu6(x("x")), x),
  small_cnn_training_step: (x) => {
    let h = conv2d(x("x"), x("conv1_w"), x("conv1_b"), { stride: 2, padding: 1 }); // (4, 8, 6, 6)
    const bn = batchNorm(h, x("bn_mean"), x("bn_var"), x("bn_w"), x("bn_b"), { training: true, momentum: 0.1, eps: 1e-5 });
    h = relu6(bn.output);
    h = maxPool2d(h, { kernel: 3, stride: 2, padding: 1 }); // (4, 8, 3, 3)
    h = conv2d(h, x("dw_w"), x("dw_b"), { padding: 1, groups: 8 }); // depthwise
    h = conv2d(h, x("pw_w")); // (4, 6, 3, 3)
    h = avgPool2d(h, { kernel: 2, stride: 1, padding: 1, countIncludePad: false }); // (4, 6, 4, 4)
    const features = globalAvgPool2d(h, { keepdims: false }); // (4, 6)
    const logits = add(matmul(features, x("fc_w"), { transB: true }), x("fc_b")); // (4, 5)
    const loss = softmaxCrossEntropy(logits, x("targets"));
    return { loss, outputs: { features, logits, running_mean: bn.runningMean!, running_var: bn.runningVar! } };
  },
};

/** Why `ours` differs from torch's tensor beyond tolerance (the worst element), or null. */
function compare(what: string, ours: Tensor, torch: FixtureTensor): string | null {
  if (ours.shape.join() !== torch.shape.join() || ours.dtype !== torch.dtype) {
    return `${what}: ours is ${ours.dtype} [${ours.shape.join(",")}], torch is ${torch.dtype} [${torch.shape.join(",")}]`;
  }
  let worst = -1;
  let worstRatio = 0;
  for (let i = 0; i < torch.values.length; i++) {
    const t = torch.values[i]!;
    const err = Math.abs(ours.data[i]! - t);
    const ratio = Number.isNaN(err) ? Infinity : err / (ATOL + RTOL * Math.abs(t));
    if (ratio > worstRatio) [worst, worstRatio] = [i, ratio];
  }
  if (worstRatio <= 1) return null;
  return `${what}[${worst}]: ours ${ours.data[worst]}, torch ${torch.values[worst]} (worst of ${torch.values.length}, ${worstRatio.toFixed(1)}x the tolerance)`;
}

function checkCase(c: GoldenCase): string[] {
  const build = builders[c.name];
  if (!build) return [`no builder for fixture case "${c.name}"`];
  const params: Record<string, Tensor> = {};
  const consts: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(c.inputs)) {
    const tensor = fromArray(t.values, { shape: t.shape, dtype: t.dtype });
    (t.dtype === "float32" && !c.constants.includes(name) ? params : consts)[name] = tensor;
  }
  const f = (p: Record<string, Tensor>, k: Record<string, Tensor>): readonly [Tensor, Record<string, Tensor>] => {
    const { loss, outputs } = build((name) => {
      const t = p[name] ?? k[name];
      if (!t) throw new Error(`case "${c.name}" has no input "${name}"`);
      return t;
    });
    return [loss, { loss, ...outputs }];
  };
  const { aux: outputs, grads } = valueAndGrad(f, { hasAux: true })(params, consts);
  const failures: string[] = [];
  const check = (what: string, ours: Tensor | undefined, torch: FixtureTensor): void => {
    const failure = ours ? compare(what, ours, torch) : `${what}: the fixture has it, our rebuild does not produce it`;
    if (failure) failures.push(failure);
  };
  for (const [name, torch] of Object.entries(c.outputs)) check(`output ${name}`, outputs[name], torch);
  for (const [name, torch] of Object.entries(c.grads)) check(`d loss / d ${name}`, grads[name], torch);
  for (const name of Object.keys(params)) if (!(name in c.grads)) failures.push(`the fixture lacks the gradient of ${name}`);
  for (const name of Object.keys(outputs)) if (!(name in c.outputs)) failures.push(`the fixture lacks output ${name}`);
  return failures;
}

const golden = loadGolden();

describe("PyTorch golden fixtures: convolution, pooling, batch norm, relu6", () => {
  it("has one fixture case per builder and one builder per case", () => {
    expect(golden.cases.map((c) => c.name).sort()).toEqual(Object.keys(builders).sort());
  });

  for (const c of golden.cases) {
    it(`${c.name}: outputs and every gradient match torch to ${ATOL} + ${RTOL}·|torch|`, () => {
      const failures = checkCase(c);
      expect(failures, `${c.description}\n${failures.join("\n")}`).toEqual([]);
    });
  }

  it("the comparison rejects an element off by twice the tolerance", () => {
    const torch = golden.cases[0]!.outputs["y"]!;
    const values = [...torch.values];
    values[5] = values[5]! + 2 * (ATOL + RTOL * Math.abs(values[5]!));
    expect(compare("y", fromArray(torch.values, { shape: torch.shape }), { ...torch, values })).toContain("y[5]");
  });
});
