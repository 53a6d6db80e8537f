import { describe, expect, it } from "vitest";
import {
  apply, batchNorm, BatchNormTraining, BatchNormTrainingGrad, DTypeError, grad, mul, relu6, ShapeError, sum, type Tensor, TensorError,
  trace, formatGraph, ValueRangeError, zeros, valueAndGrad,
} from "../index.js";
import { dense, type Dense, expectClose, expectError, expectGradOk, f64, randomTensor } from "../test-utils.js";

/** Per-channel statistics over every axis but 1, by visiting each element. */
function naiveMoments(x: Dense): { mean: number[]; variance: number[]; count: number } {
  const C = x.shape[1]!;
  const S = x.shape.slice(2).reduce((a, b) => a * b, 1);
  const N = x.shape[0]!;
  const mean = new Array<number>(C).fill(0);
  const variance = new Array<number>(C).fill(0);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let s = 0; s < S; s++) mean[c]! += x.data[(n * C + c) * S + s]! / (N * S);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) for (let s = 0; s < S; s++) variance[c]! += (x.data[(n * C + c) * S + s]! - mean[c]!) ** 2 / (N * S);
  }
  return { mean, variance, count: N * S };
}

function naiveNormalise(x: Dense, mean: number[], variance: number[], weight: number[], bias: number[], eps: number): Dense {
  const C = x.shape[1]!;
  const S = x.shape.slice(2).reduce((a, b) => a * b, 1);
  const data = x.data.map((v, i) => {
    const c = Math.floor(i / S) % C;
    return ((v - mean[c]!) / Math.sqrt(variance[c]! + eps)) * weight[c]! + bias[c]!;
  });
  return { shape: [...x.shape], data };
}

const shapes = [[4, 3, 5, 6], [5, 2], [3, 4, 7], [2, 3, 1, 1]];

describe("batchNorm forward", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`training: batch statistics, and running averages with the unbiased variance (${dtype})`, () => {
      const tol = dtype === "float32" ? 2e-6 : 1e-13;
      shapes.forEach((shape, k) => {
        const C = shape[1]!;
        const x = randomTensor(shape, k, { dtype, low: -2, high: 3 });
        const rm = randomTensor([C], 10 + k, { dtype });
        const rv = randomTensor([C], 20 + k, { dtype, low: 0.5, high: 2 });
        const w = randomTensor([C], 30 + k, { dtype });
        const b = randomTensor([C], 40 + k, { dtype });
        const r = batchNorm(x, rm, rv, w, b, { training: true, momentum: 0.3, eps: 1e-3 });
        const { mean, variance, count } = naiveMoments(dense(x));
        expectClose(r.output, naiveNormalise(dense(x), mean, variance, dense(w).data, dense(b).data, 1e-3), tol, tol);
        expectClose(r.runningMean!, { shape: [C], data: dense(rm).data.map((v, c) => 0.7 * v + 0.3 * mean[c]!) }, tol, tol);
        expectClose(r.runningVar!, { shape: [C], data: dense(rv).data.map((v, c) => 0.7 * v + (0.3 * variance[c]! * count) / (count - 1)) }, tol, tol);
        // Nothing was mutated.
        expect(Array.from(rm.data)).toEqual(Array.from(randomTensor([C], 10 + k, { dtype }).data));
      });
    });

    it(`inference: the running statistics (${dtype})`, () => {
      const tol = dtype === "float32" ? 1e-6 : 1e-14;
      shapes.forEach((shape, k) => {
        const C = shape[1]!;
        const x = randomTensor(shape, k, { dtype });
        const rm = randomTensor([C], 10 + k, { dtype });
        const rv = randomTensor([C], 20 + k, { dtype, low: 0.5, high: 2 });
        const w = randomTensor([C], 30 + k, { dtype });
        const b = randomTensor([C], 40 + k, { dtype });
        const r = batchNorm(x, rm, rv, w, b);
        expectClose(r.output, naiveNormalise(dense(x), dense(rm).data, dense(rv).data, dense(w).data, dense(b).data, 1e-5), tol, tol);
        expect(r.runningMean).toBe(rm);
        expect(r.runningVar).toBe(rv);
      });
    });
  }

  it("weight and bias default to 1 and 0; training may keep no running statistics", () => {
    const x = randomTensor([6, 2, 3], 1);
    const r = batchNorm(x, null, null, null, null, { training: true });
    expect(r.runningMean).toBeNull();
    const { mean, variance } = naiveMoments(dense(x));
    expectClose(r.output, naiveNormalise(dense(x), mean, variance, [1, 1], [0, 0], 1e-5), 1e-14, 1e-13);
  });

  it("the fused training primitive agrees with its decomposition", () => {
    const x = randomTensor([3, 4, 5, 2], 2);
    const w = randomTensor([4], 3);
    const b = randomTensor([4], 4);
    const fused = apply(BatchNormTraining, [x, w, b], { eps: 1e-5 });
    const composed = BatchNormTraining.decompose!([x, w, b], { eps: 1e-5 });
    fused.forEach((t, i) => expectClose(t, dense(composed[i]!), 1e-13, 1e-12));
  });
});

describe("batchNorm gradients", () => {
  shapes.forEach((shape, k) => {
    const C = shape[1]!;
    it(`training: gradcheck of x, weight and bias ${JSON.stringify(shape)}`, () => {
      const f = (x: Tensor, w: Tensor, b: Tensor): Tensor => batchNorm(x, null, null, w, b, { training: true, eps: 1e-3 }).output;
      expectGradOk(f, [randomTensor(shape, 50 + k), randomTensor([C], 60 + k), randomTensor([C], 70 + k)]);
    });

    it(`inference: gradcheck of x, the statistics, weight and bias ${JSON.stringify(shape)}`, () => {
      const f = (x: Tensor, m: Tensor, v: Tensor, w: Tensor, b: Tensor): Tensor => batchNorm(x, m, v, w, b, { eps: 1e-3 }).output;
      const inputs = [randomTensor(shape, 80 + k), randomTensor([C], 81 + k), randomTensor([C], 82 + k, { low: 0.5, high: 2 }), randomTensor([C], 83 + k), randomTensor([C], 84 + k)];
      expectGradOk(f, inputs);
    });
  });

  it("training: the batch statistics' own cotangents (BatchNormTraining's mean and variance outputs)", () => {
    // Only the statistics: y gets no cotangent at all.
    const f = (x: Tensor, w: Tensor, b: Tensor): Tensor => {
      const [, m, v] = apply(BatchNormTraining, [x, w, b], { eps: 1e-3 });
      return mul(m, v);
    };
    expectGradOk(f, [randomTensor([4, 3, 2], 90), randomTensor([3], 91), randomTensor([3], 92)]);
    const g = (x: Tensor, w: Tensor, b: Tensor): Tensor => {
      const [y, m, v] = apply(BatchNormTraining, [x, w, b], { eps: 1e-3 });
      return mul(y, sum(mul(m, v)));
    };
    expectGradOk(g, [randomTensor([4, 3, 2], 93), randomTensor([3], 94), randomTensor([3], 95)]);
  });

  it("no gradient flows into the running averages", () => {
    const x = randomTensor([4, 2], 5);
    const rm = randomTensor([2], 6);
    const rv = randomTensor([2], 7, { low: 0.5, high: 1 });
    const { grads } = valueAndGrad((p: Tensor[]) => {
      const r = batchNorm(p[0]!, p[1]!, p[2]!, null, null, { training: true });
      return sum(mul(r.runningMean!, r.runningVar!));
    })([x, rm, rv]);
    for (const g of grads) expect(Array.from(g.data).every((v) => v === 0)).toBe(true);
  });

  it("a second derivative through training-mode batch norm is refused with a clear error", () => {
    const f = (x: Tensor): Tensor => sum(mul(batchNorm(x, null, null, null, null, { training: true }).output, f64([1, 2, 3, 4, 5, 6], [3, 2])));
    expectError(() => grad((x: Tensor) => sum(mul(grad(f)(x), grad(f)(x))))(randomTensor([3, 2], 8)), TensorError, [
      "BatchNormTrainingGrad", "second derivatives",
    ]);
  });

  it("the training backward records as one named primitive", () => {
    const w = randomTensor([3], 1);
    const b = randomTensor([3], 2);
    const f = (x: Tensor): Tensor => grad((xx: Tensor) => sum(mul(batchNorm(xx, null, null, w, b, { training: true }).output, xx)))(x);
    const text = formatGraph(trace(f, [randomTensor([4, 3], 3)]).graph);
    expect(text).toContain("BatchNormTraining(");
    expect(text).toContain("BatchNormTrainingGrad(");
  });
});

describe("batchNorm errors", () => {
  it("shapes and statistics", () => {
    const x = zeros([4, 3, 2, 2]);
    const c = zeros([3]);
    expectError(() => batchNorm(zeros([3]), c, c), ShapeError, ["BatchNorm", "[3]", "[N, C, ...]"]);
    expectError(() => batchNorm(x, zeros([4]), c), ShapeError, ["BatchNorm", "running mean", "[3]", "[4,3,2,2]", "[4]"]);
    expectError(() => batchNorm(x, c, c, zeros([2])), ShapeError, ["BatchNorm", "weight must be [3]", "[2]"]);
    expectError(() => batchNorm(x, null, null), TensorError, ["BatchNorm", "inference", "runningMean and runningVar", "training: true"]);
    expectError(() => batchNorm(x, c, null, null, null, { training: true }), TensorError, ["BatchNorm", "both"]);
    expectError(() => batchNorm(zeros([1, 3]), null, null, null, null, { training: true }), ValueRangeError, [
      "BatchNormTraining", "more than one value per channel", "[1,3]",
    ]);
    expectError(() => batchNorm(x, c, c, null, null, { momentum: 1.5 }), ValueRangeError, ["BatchNorm", "momentum", "1.5"]);
    expectError(() => batchNorm(x, c, c, null, null, { eps: -1 }), ValueRangeError, ["BatchNorm", "eps"]);
    expectError(() => batchNorm(x, zeros([3], "float64"), c), DTypeError, ["BatchNorm", "running mean", "float64"]);
    expectError(() => apply(BatchNormTrainingGrad, [x, c, c, c, zeros([4, 3])], { eps: 1e-5 }), ShapeError, ["BatchNormTrainingGrad", "[4,3]", "[4,3,2,2]"]);
  });
});

describe("relu6", () => {
  it("clips to [0, 6]; the gradient is 1 strictly inside and 0 at both kinks (PyTorch's hardtanh)", () => {
    const x = f64([-1, 0, 0.5, 3, 6, 7.5], [6]);
    expect(Array.from(relu6(x).data)).toEqual([0, 0, 0.5, 3, 6, 6]);
    expect(Array.from(grad((p: Tensor) => sum(relu6(p)))(x).data)).toEqual([0, 0, 1, 1, 0, 0]);
  });

  it("gradcheck away from the kinks", () => {
    expectGradOk((a) => relu6(a!), [f64([-2, -0.5, 0.3, 2, 5.5, 6.4, 9], [7])]);
  });

  it("refuses int32", () => {
    expectError(() => relu6(zeros([2], "int32")), DTypeError, ["Relu6", "int32"]);
  });
});
