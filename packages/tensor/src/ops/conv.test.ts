import { describe, expect, it } from "vitest";
import {
  cast, conv2d, conv2dBackwardInput, conv2dBackwardWeight, conv2dParams, type Conv2dOptions, DTypeError, formatGraph, grad, mul, ShapeError,
  sum, type Tensor, trace, ValueRangeError, zeros,
} from "../index.js";
import { dense, type Dense, expectClose, expectError, expectGradOk, f64, randomTensor } from "../test-utils.js";

/**
 * The convolution by its definition, one output at a time:
 * y[n, o, i, j] = b[o] + Σ_{c, u, v} w[o, c, u, v] · x[n, g·Cg + c, i·sH - top + u·dH, j·sW - left + v·dW].
 */
function naiveConv2d(x: Dense, w: Dense, b: Dense | null, options: Conv2dOptions): Dense {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [Co, Cg, kH, kW] = w.shape as [number, number, number, number];
  const p = conv2dParams([kH, kW], options);
  const [sH, sW] = p.stride;
  const [dH, dW] = p.dilation;
  const [top, left, bottom, right] = p.pads;
  const Ho = Math.floor((H + top + bottom - dH * (kH - 1) - 1) / sH) + 1;
  const Wo = Math.floor((W + left + right - dW * (kW - 1) - 1) / sW) + 1;
  const Cog = Co / p.groups;
  const data: number[] = [];
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < Co; o++) {
      const g = Math.floor(o / Cog);
      for (let i = 0; i < Ho; i++) {
        for (let j = 0; j < Wo; j++) {
          let s = b ? b.data[o]! : 0;
          for (let c = 0; c < Cg; c++) {
            for (let u = 0; u < kH; u++) {
              for (let v = 0; v < kW; v++) {
                const h = i * sH - top + u * dH;
                const ww = j * sW - left + v * dW;
                if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                s += w.data[((o * Cg + c) * kH + u) * kW + v]! * x.data[((n * C + g * Cg + c) * H + h) * W + ww]!;
              }
            }
          }
          data.push(s);
        }
      }
    }
  }
  void C;
  return { shape: [N, Co, Ho, Wo], data };
}

interface Case {
  readonly name: string;
  readonly x: number[];
  readonly w: number[];
  readonly bias: boolean;
  readonly options: Conv2dOptions;
}

// Odd sizes throughout; every option alone and in combination.
const cases: Case[] = [
  { name: "3x3, no options", x: [2, 3, 5, 6], w: [4, 3, 3, 3], bias: true, options: {} },
  { name: "1x1 (a per-pixel product)", x: [2, 5, 3, 4], w: [3, 5, 1, 1], bias: false, options: {} },
  { name: "stride 2, padding 1", x: [1, 2, 7, 6], w: [3, 2, 3, 3], bias: true, options: { stride: 2, padding: 1 } },
  { name: "per-axis stride, padding and dilation", x: [2, 2, 9, 8], w: [3, 2, 3, 2], bias: true, options: { stride: [2, 1], padding: [1, 2], dilation: [1, 2] } },
  { name: "dilation 2, padding 2", x: [1, 3, 7, 7], w: [2, 3, 3, 3], bias: false, options: { dilation: 2, padding: 2 } },
  { name: "groups 2", x: [2, 4, 5, 5], w: [6, 2, 3, 3], bias: true, options: { groups: 2, padding: 1 } },
  { name: "groups 3, stride 2, dilation 2", x: [1, 6, 9, 7], w: [3, 2, 2, 3], bias: true, options: { groups: 3, stride: 2, dilation: 2, padding: [1, 0] } },
  { name: "depthwise (groups = C_in)", x: [2, 3, 6, 5], w: [3, 1, 3, 3], bias: true, options: { groups: 3, padding: 1 } },
  { name: "depthwise with channel multiplier 2, stride 2", x: [1, 3, 7, 6], w: [6, 1, 3, 3], bias: false, options: { groups: 3, stride: 2, padding: 1 } },
  { name: "'same' with an even kernel (extra pad bottom/right)", x: [1, 2, 5, 6], w: [3, 2, 2, 4], bias: true, options: { padding: "same" } },
  { name: "'same' with dilation 2", x: [1, 2, 6, 5], w: [2, 2, 3, 2], bias: false, options: { padding: "same", dilation: 2 } },
  { name: "'valid'", x: [1, 2, 4, 5], w: [2, 2, 3, 3], bias: false, options: { padding: "valid" } },
  { name: "stride larger than the kernel", x: [1, 2, 8, 7], w: [2, 2, 2, 2], bias: true, options: { stride: 3 } },
  { name: "kernel as large as the padded input", x: [1, 1, 3, 4], w: [2, 1, 5, 4], bias: false, options: { padding: [1, 0] } },
];

function inputsOf(c: Case, seed: number, dtype: "float32" | "float64" = "float64"): Tensor[] {
  const xs = [randomTensor(c.x, seed, { dtype }), randomTensor(c.w, seed + 1, { dtype })];
  if (c.bias) xs.push(randomTensor([c.w[0]!], seed + 2, { dtype }));
  return xs;
}

describe("conv2d forward", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`matches the definition for every option (${dtype})`, () => {
      cases.forEach((c, k) => {
        const [x, w, b] = inputsOf(c, 10 * k, dtype);
        const y = conv2d(x!, w!, b, c.options);
        expect(y.dtype).toBe(dtype);
        const tol = dtype === "float32" ? 1e-5 : 1e-13;
        expectClose(y, naiveConv2d(dense(x!), dense(w!), b ? dense(b) : null, c.options), tol, tol);
      });
    });
  }

  it("a small convolution by hand (a vertical edge detector)", () => {
    const x = f64([0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1], [1, 1, 3, 4]);
    const w = f64([-1, 1, -1, 1], [1, 1, 2, 2]);
    expect(Array.from(conv2d(x, w).data)).toEqual([0, 2, 0, 0, 2, 0]);
    expect(Array.from(conv2d(x, w, f64([0.5], [1]), { stride: [1, 2] }).data)).toEqual([0.5, 0.5, 0.5, 0.5]);
  });

  it("an empty batch gives an empty output", () => {
    expect(conv2d(zeros([0, 2, 5, 5]), zeros([3, 2, 3, 3])).shape).toEqual([0, 3, 3, 3]);
  });
});

describe("conv2d gradients", () => {
  cases.forEach((c, k) => {
    it(`gradcheck of x, weight${c.bias ? " and bias" : ""}: ${c.name}`, () => {
      expectGradOk((...xs) => conv2d(xs[0]!, xs[1]!, xs[2], c.options), inputsOf(c, 100 + 10 * k));
    });
  });

  it("the backward primitives' own vjps (second derivatives): gradcheck", () => {
    for (const c of [cases[3]!, cases[6]!, cases[9]!]) {
      const x = randomTensor(c.x, 7);
      const w = randomTensor(c.w, 8);
      const p = conv2dParams([c.w[2]!, c.w[3]!], c.options);
      const y = conv2d(x, w, null, c.options);
      const dy = randomTensor([...y.shape], 9);
      expectGradOk((g, ww) => conv2dBackwardInput(g!, ww!, [c.x[2]!, c.x[3]!], p), [dy, w]);
      expectGradOk((xx, g) => conv2dBackwardWeight(xx!, g!, [c.w[2]!, c.w[3]!], p), [x, dy]);
    }
  });

  it("a second derivative through the convolution: d/dw of |dL/dx|²", () => {
    const c = cases[6]!;
    const x = randomTensor(c.x, 11);
    const w = randomTensor(c.w, 12);
    const r = randomTensor(naiveConv2d(dense(x), dense(w), null, c.options).shape, 13);
    // gradcheck also runs this in float32: the closed-over tensors follow the weight's dtype.
    const inputGradNorm = (ww: Tensor): Tensor => {
      const dx = grad((xx: Tensor) => sum(mul(conv2d(xx, ww, null, c.options), cast(r, ww.dtype))))(cast(x, ww.dtype));
      return sum(mul(dx, dx));
    };
    expectGradOk(inputGradNorm, [w]);
  });

  it("records the backward as named primitives (exportable graphs)", () => {
    const c = cases[5]!;
    const [x, w, b] = inputsOf(c, 1);
    // A loss whose cotangent depends on the traced input, so the whole backward is recorded.
    const f = (xx: Tensor): Tensor[] =>
      grad((p: Tensor[]) => {
        const y = conv2d(p[0]!, p[1]!, p[2]!, c.options);
        return sum(mul(y, y));
      })([xx, w!, b!]);
    const text = formatGraph(trace(f, [x!]).graph);
    for (const name of ["Conv2d", "Conv2dBackwardInput", "Conv2dBackwardWeight", "Sum"]) expect(text).toContain(name);
  });
});

describe("conv2d errors", () => {
  it("shapes: rank, channels, groups, bias, and a kernel larger than the padded input", () => {
    expectError(() => conv2d(zeros([3, 8, 8]), zeros([4, 3, 3, 3])), ShapeError, ["Conv2d", "[3,8,8]", "[N, C, H, W]", "expandDims(x, 0)"]);
    expectError(() => conv2d(zeros([1, 3, 8, 8]), zeros([4, 3, 3])), ShapeError, ["Conv2d", "weight", "[4,3,3]", "[C_out, C_in/groups, kH, kW]"]);
    expectError(() => conv2d(zeros([1, 5, 8, 8]), zeros([4, 3, 3, 3])), ShapeError, ["Conv2d", "[1,5,8,8]", "5 channels", "[4,3,3,3]", "expects 3"]);
    expectError(() => conv2d(zeros([1, 6, 8, 8]), zeros([4, 3, 3, 3]), null, { groups: 4 }), ShapeError, ["Conv2d", "6 channels", "groups 4"]);
    expectError(() => conv2d(zeros([1, 6, 8, 8]), zeros([4, 2, 3, 3]), null, { groups: 3 }), ShapeError, ["Conv2d", "4 output channels", "groups 3"]);
    expectError(() => conv2d(zeros([1, 3, 8, 8]), zeros([4, 3, 3, 3]), zeros([3])), ShapeError, ["Conv2d", "bias must be [4]", "[3]"]);
    expectError(() => conv2d(zeros([1, 3, 4, 4]), zeros([2, 3, 3, 3]), null, { dilation: 2 }), ShapeError, [
      "Conv2d", "5x5", "dilation 2x2", "[1,3,4,4]", "4x4", "smaller kernel",
    ]);
  });

  it("options: non-integers, zero strides, negative padding, 'same' with a stride", () => {
    const x = zeros([1, 3, 8, 8]);
    const w = zeros([4, 3, 3, 3]);
    expectError(() => conv2d(x, w, null, { stride: 0 }), ValueRangeError, ["Conv2d", "stride", "positive integer", "0"]);
    expectError(() => conv2d(x, w, null, { stride: [1, 1.5] as unknown as [number, number] }), ValueRangeError, ["Conv2d", "stride", "[1,1.5]"]);
    expectError(() => conv2d(x, w, null, { padding: -1 }), ValueRangeError, ["Conv2d", "padding", "non-negative"]);
    expectError(() => conv2d(x, w, null, { dilation: [1, 0] }), ValueRangeError, ["Conv2d", "dilation"]);
    expectError(() => conv2d(x, w, null, { groups: 0 }), ValueRangeError, ["Conv2d", "groups", "positive integer"]);
    expectError(() => conv2d(x, w, null, { padding: "same", stride: 2 }), ValueRangeError, ["Conv2d", "same", "stride 1"]);
  });

  it("dtypes: int32 and mixed precisions are refused", () => {
    expectError(() => conv2d(zeros([1, 3, 8, 8], "int32"), zeros([4, 3, 3, 3])), DTypeError, ["Conv2d", "int32"]);
    expectError(() => conv2d(zeros([1, 3, 8, 8]), zeros([4, 3, 3, 3], "float64")), DTypeError, ["Conv2d", "weight", "float64", "float32"]);
    expectError(() => conv2d(zeros([1, 3, 8, 8]), zeros([4, 3, 3, 3]), zeros([4], "float64")), DTypeError, ["Conv2d", "bias"]);
  });

  it("the backward primitives check their cotangent against the forward geometry", () => {
    const p = conv2dParams([3, 3], { stride: 2, padding: 1 });
    expectError(() => conv2dBackwardInput(zeros([1, 4, 5, 5]), zeros([4, 3, 3, 3]), [8, 8], p), ShapeError, [
      "Conv2dBackwardInput", "[1,4,5,5]", "[1,4,4,4]", "8x8",
    ]);
    expectError(() => conv2dBackwardWeight(zeros([1, 3, 8, 8]), zeros([1, 4, 3, 4]), [3, 3], p), ShapeError, ["Conv2dBackwardWeight", "[1,4,3,4]"]);
  });
});
