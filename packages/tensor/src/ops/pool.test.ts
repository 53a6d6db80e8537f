import { describe, expect, it } from "vitest";
import {
  apply, AvgPool2dGrad, avgPool2d, type AvgPool2dOptions, DTypeError, fromArray, globalAvgPool2d, grad, MaxPool2dGrad, maxPool2d,
  type MaxPool2dOptions, maxPool2dWithIndices, mul, ShapeError, sum, type Tensor, ValueRangeError, zeros,
} from "../index.js";
import { dense, type Dense, expectClose, expectError, expectGradOk, f64, randomTensor } from "../test-utils.js";

type Pair = [number, number];
const pairOf = (v: number | readonly [number, number] | undefined, d: number): Pair => (v === undefined ? [d, d] : typeof v === "number" ? [v, v] : [v[0], v[1]]);

/**
 * Pooling by its definition: every output's window listed in row-major order with its positions
 * inside the image (`null` for padding), reduced by `reduce`.
 */
function naivePool(
  x: Dense,
  kernel: Pair,
  stride: Pair,
  padding: Pair,
  dilation: Pair,
  reduce: (values: (number | null)[], positions: (number | null)[]) => [number, number],
): { y: Dense; picked: number[] } {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const Ho = Math.floor((H + 2 * padding[0] - dilation[0] * (kernel[0] - 1) - 1) / stride[0]) + 1;
  const Wo = Math.floor((W + 2 * padding[1] - dilation[1] * (kernel[1] - 1) - 1) / stride[1]) + 1;
  const data: number[] = [];
  const picked: number[] = [];
  for (let nc = 0; nc < N * C; nc++) {
    for (let i = 0; i < Ho; i++) {
      for (let j = 0; j < Wo; j++) {
        const values: (number | null)[] = [];
        const positions: (number | null)[] = [];
        for (let u = 0; u < kernel[0]; u++) {
          for (let v = 0; v < kernel[1]; v++) {
            const h = i * stride[0] - padding[0] + u * dilation[0];
            const w = j * stride[1] - padding[1] + v * dilation[1];
            const inside = h >= 0 && h < H && w >= 0 && w < W;
            values.push(inside ? x.data[nc * H * W + h * W + w]! : null);
            positions.push(inside ? h * W + w : null);
          }
        }
        const [value, at] = reduce(values, positions);
        data.push(value);
        picked.push(at);
      }
    }
  }
  return { y: { shape: [N, C, Ho, Wo], data }, picked };
}

function naiveMaxPool(x: Dense, o: MaxPool2dOptions): { y: Dense; picked: number[] } {
  const k = pairOf(o.kernel, 1);
  return naivePool(x, k, pairOf(o.stride, 0)[0] === 0 ? k : pairOf(o.stride, 0), pairOf(o.padding, 0), pairOf(o.dilation, 1), (values, positions) => {
    let best = -Infinity;
    let at = -1;
    values.forEach((v, i) => {
      if (v !== null && (at < 0 || v > best)) [best, at] = [v, positions[i]!]; // the first maximum
    });
    return [best, at];
  });
}

function naiveAvgPool(x: Dense, o: AvgPool2dOptions): Dense {
  const k = pairOf(o.kernel, 1);
  const include = o.countIncludePad ?? true;
  const padding = pairOf(o.padding, 0);
  // With count_include_pad, PyTorch divides by the window clipped to the padded image, which in
  // floor mode is the whole kernel; otherwise by the number of real elements.
  return naivePool(x, k, pairOf(o.stride, 0)[0] === 0 ? k : pairOf(o.stride, 0), padding, [1, 1], (values) => {
    const real = values.filter((v): v is number => v !== null);
    return [real.reduce((a, b) => a + b, 0) / (include ? values.length : real.length), 0];
  }).y;
}

const maxCases: MaxPool2dOptions[] = [
  { kernel: 2 },
  { kernel: 3, stride: 2, padding: 1 },
  { kernel: [2, 3], stride: [1, 2], padding: [1, 1] },
  { kernel: 3, stride: 1, padding: 1, dilation: 2 },
  { kernel: [3, 2], stride: [2, 3], padding: [1, 0], dilation: [2, 1] },
  { kernel: 1, stride: 2 },
];

const avgCases: AvgPool2dOptions[] = [
  { kernel: 2 },
  { kernel: 3, stride: 2, padding: 1 },
  { kernel: 3, stride: 2, padding: 1, countIncludePad: false },
  { kernel: [3, 2], stride: [2, 1], padding: [1, 1], countIncludePad: false },
  { kernel: [2, 3], stride: [1, 2], padding: [0, 1] },
];

describe("maxPool2d", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`values and indices match the definition (${dtype})`, () => {
      maxCases.forEach((o, k) => {
        const x = randomTensor([2, 3, 7, 8], k, { dtype });
        const [y, indices] = maxPool2dWithIndices(x, o);
        const ref = naiveMaxPool(dense(x), o);
        expectClose(y, ref.y, 0, 0);
        expect(indices.dtype).toBe("int32");
        expect(Array.from(indices.data)).toEqual(ref.picked);
        expectClose(maxPool2d(x, o), ref.y, 0, 0);
      });
    });
  }

  it("ties: the first maximum in row-major window order wins, and takes the whole gradient", () => {
    const x = f64([1, 3, 3, 0, 3, 2, 1, 3, 0, 0, 5, 5, 0, 0, 5, 5], [1, 1, 4, 4]);
    const [y, indices] = maxPool2dWithIndices(x, { kernel: 2 });
    expect(Array.from(y.data)).toEqual([3, 3, 0, 5]);
    expect(Array.from(indices.data)).toEqual([1, 2, 8, 10]);
    const g = grad((p: Tensor) => sum(mul(maxPool2d(p, { kernel: 2 }), f64([1, 2, 3, 4], [1, 1, 2, 2]))))(x);
    expect(Array.from(g.data)).toEqual([0, 1, 2, 0, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0, 0]);
  });

  it("overlapping windows that share a maximum add their cotangents there", () => {
    const x = f64([0, 1, 0, 0, 9, 0, 0, 1, 0], [1, 1, 3, 3]);
    const g = grad((p: Tensor) => sum(maxPool2d(p, { kernel: 2, stride: 1 })))(x);
    expect(Array.from(g.data)).toEqual([0, 0, 0, 0, 4, 0, 0, 0, 0]);
  });

  it("padding is never the maximum (all-negative input)", () => {
    const x = f64([-5, -4, -3, -2], [1, 1, 2, 2]);
    expect(Array.from(maxPool2d(x, { kernel: 3, stride: 1, padding: 1 }).data)).toEqual([-2, -2, -2, -2]);
  });

  it("NaN propagates, as in PyTorch", () => {
    const y = maxPool2d(f64([1, NaN, 3, 4], [1, 1, 2, 2]), { kernel: 2 });
    expect(Number.isNaN(y.data[0]!)).toBe(true);
  });

  maxCases.forEach((o, k) => {
    it(`gradcheck ${JSON.stringify(o)}`, () => {
      // Distinct values far apart: the finite differences never cross a tie.
      const values = Array.from({ length: 2 * 2 * 7 * 5 }, (_, i) => ((i * 37 + k * 11) % 140) / 10);
      expectGradOk((a) => maxPool2d(a!, o), [f64(values, [2, 2, 7, 5])]);
    });
  });

  it("MaxPool2dGrad's own vjp (a gather at the indices): gradcheck", () => {
    const x = randomTensor([2, 2, 5, 6], 3);
    const [, indices] = maxPool2dWithIndices(x, { kernel: 3, stride: 2, padding: 1 });
    const g = randomTensor([...indices.shape], 4);
    expectGradOk((a) => apply(MaxPool2dGrad, [a!, indices], { inputSize: [5, 6] })[0], [g]);
  });
});

describe("avgPool2d and globalAvgPool2d", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`avgPool2d matches the definition, padding counted or not (${dtype})`, () => {
      const tol = dtype === "float32" ? 1e-6 : 1e-14;
      avgCases.forEach((o, k) => {
        const x = randomTensor([2, 3, 7, 6], 20 + k, { dtype });
        expectClose(avgPool2d(x, o), naiveAvgPool(dense(x), o), tol, tol);
      });
    });
  }

  it("countIncludePad defaults to true, as PyTorch", () => {
    const x = f64([4, 4, 4, 4], [1, 1, 2, 2]);
    expect(Array.from(avgPool2d(x, { kernel: 2, stride: 1, padding: 1 }).data)).toEqual([1, 2, 1, 2, 4, 2, 1, 2, 1]);
    expect(Array.from(avgPool2d(x, { kernel: 2, stride: 1, padding: 1, countIncludePad: false }).data)).toEqual(new Array(9).fill(4));
  });

  avgCases.forEach((o, k) => {
    it(`avgPool2d gradcheck ${JSON.stringify(o)}`, () => {
      expectGradOk((a) => avgPool2d(a!, o), [randomTensor([2, 2, 7, 5], 30 + k)]);
    });
  });

  it("AvgPool2dGrad's own vjp (average pooling again): gradcheck", () => {
    const attrs = { kernel: [3, 2], stride: [2, 1], pads: [1, 1, 1, 1], dilation: [1, 1], countIncludePad: false, inputSize: [7, 5] } as const;
    const g = randomTensor([2, 2, 4, 6], 5);
    expectGradOk((a) => apply(AvgPool2dGrad, [a!], attrs)[0], [g]);
  });

  it("globalAvgPool2d: [N, C, 1, 1] by default, [N, C] without keepdims; gradcheck", () => {
    const x = randomTensor([2, 3, 5, 4], 40);
    const y = globalAvgPool2d(x);
    expect(y.shape).toEqual([2, 3, 1, 1]);
    const d = dense(x);
    const means = Array.from({ length: 6 }, (_, i) => d.data.slice(i * 20, i * 20 + 20).reduce((a, b) => a + b, 0) / 20);
    expectClose(y, { shape: [2, 3, 1, 1], data: means }, 1e-15, 1e-14);
    expectClose(globalAvgPool2d(x, { keepdims: false }), { shape: [2, 3], data: means }, 1e-15, 1e-14);
    expectGradOk((a) => globalAvgPool2d(a!), [x]);
    expectGradOk((a) => globalAvgPool2d(a!, { keepdims: false }), [x]);
  });
});

describe("pooling errors", () => {
  it("shapes: rank, and a window larger than the padded input", () => {
    expectError(() => maxPool2d(zeros([3, 8, 8]), { kernel: 2 }), ShapeError, ["MaxPool2d", "[3,8,8]", "[N, C, H, W]", "expandDims"]);
    expectError(() => avgPool2d(zeros([1, 1, 2, 5]), { kernel: 3 }), ShapeError, ["AvgPool2d", "3x3", "[1,1,2,5]", "2x5"]);
    expectError(() => maxPool2d(zeros([1, 1, 4, 4]), { kernel: 3, dilation: 2 }), ShapeError, ["MaxPool2d", "5x5", "dilation 2x2"]);
    expectError(() => globalAvgPool2d(zeros([2, 3, 4])), ShapeError, ["GlobalAvgPool2d", "[2,3,4]"]);
    expectError(() => globalAvgPool2d(zeros([2, 3, 0, 4])), ShapeError, ["GlobalAvgPool2d", "[2,3,0,4]", "empty"]);
  });

  it("options: padding over half the kernel, zero strides, a missing kernel", () => {
    expectError(() => maxPool2d(zeros([1, 1, 8, 8]), { kernel: 3, padding: 2 }), ValueRangeError, ["MaxPool2d", "padding", "half", "3x3", "at most 1"]);
    expectError(() => avgPool2d(zeros([1, 1, 8, 8]), { kernel: [2, 4], padding: [1, 3] }), ValueRangeError, ["AvgPool2d", "2x4", "at most 1 along H and 2 along W"]);
    expectError(() => maxPool2d(zeros([1, 1, 8, 8]), { kernel: 2, stride: 0 }), ValueRangeError, ["MaxPool2d", "stride"]);
    expectError(() => maxPool2d(zeros([1, 1, 8, 8]), {} as MaxPool2dOptions), ValueRangeError, ["MaxPool2d", "kernel", "{ kernel: 2 }"]);
  });

  it("dtypes and indices", () => {
    expectError(() => maxPool2d(zeros([1, 1, 4, 4], "int32"), { kernel: 2 }), DTypeError, ["MaxPool2d", "int32"]);
    const g = zeros([1, 1, 2, 2]);
    expectError(() => apply(MaxPool2dGrad, [g, fromArray([0, 1, 2, 16], { shape: [1, 1, 2, 2], dtype: "int32" })], { inputSize: [4, 4] }), ValueRangeError, [
      "MaxPool2dGrad", "index 16", "4x4",
    ]);
    expectError(() => apply(MaxPool2dGrad, [g, zeros([1, 1, 2, 2])], { inputSize: [4, 4] }), DTypeError, ["MaxPool2dGrad", "indices", "int32"]);
  });
});
