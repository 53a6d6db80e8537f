import { describe, expect, it } from "vitest";
import {
  apply, cast, DTypeError, fromArray, grad, mul, ShapeError, SoftmaxCrossEntropy, softmaxCrossEntropy, SoftmaxCrossEntropyGrad, sum, type Tensor,
  ValueRangeError, valueAndGrad,
} from "../index.js";
import { expectClose, expectError, expectGradOk, f64, i32, randomTensor } from "../test-utils.js";

/** Per-row `logsumexp(x) - x[t]`, 0 where t is ignored; written from the definition. */
function naiveLosses(logits: Tensor, targets: readonly number[], ignoreIndex: number): number[] {
  const C = logits.shape[logits.rank - 1]!;
  return targets.map((t, i) => {
    if (t === ignoreIndex) return 0;
    const row = Array.from(logits.data.subarray(i * C, (i + 1) * C));
    const m = Math.max(...row);
    return m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0)) - row[t]!;
  });
}

describe("softmaxCrossEntropy forward", () => {
  const logits = randomTensor([5, 4], 1, { low: -3, high: 3 });
  const targetValues = [3, -100, 0, 2, 0];
  const targets = i32(targetValues);
  const losses = naiveLosses(logits, targetValues, -100);

  it("reduction 'none', 'sum' and 'mean' over non-ignored targets", () => {
    expectClose(softmaxCrossEntropy(logits, targets, { reduction: "none" }), { shape: [5], data: losses }, 1e-14, 1e-14);
    const total = losses.reduce((a, b) => a + b, 0);
    expectClose(softmaxCrossEntropy(logits, targets, { reduction: "sum" }), { shape: [], data: [total] }, 1e-14, 1e-14);
    expectClose(softmaxCrossEntropy(logits, targets), { shape: [], data: [total / 4] }, 1e-14, 1e-14);
  });

  it("a custom ignoreIndex that is also a valid class", () => {
    const expected = naiveLosses(logits, targetValues.map((t) => (t === -100 ? 1 : t)), 0);
    const out = softmaxCrossEntropy(logits, i32(targetValues.map((t) => (t === -100 ? 1 : t))), { ignoreIndex: 0, reduction: "none" });
    expectClose(out, { shape: [5], data: expected }, 1e-14, 1e-14);
    expect(out.data[2]).toBe(0);
    expect(out.data[4]).toBe(0);
    const mean = softmaxCrossEntropy(logits, i32([3, 1, 0, 2, 0]), { ignoreIndex: 0 });
    expectClose(mean, { shape: [], data: [expected.reduce((a, b) => a + b, 0) / 3] }, 1e-14, 1e-14);
  });

  it("leading dims [B,T,C] with targets [B,T]", () => {
    const x = randomTensor([2, 3, 4], 2, { low: -2, high: 2 });
    const t = [0, 3, -100, 1, 1, 2];
    const out = softmaxCrossEntropy(x, i32(t, [2, 3]), { reduction: "none" });
    expectClose(out, { shape: [2, 3], data: naiveLosses(x, t, -100) }, 1e-14, 1e-14);
    expect(softmaxCrossEntropy(randomTensor([4], 3), i32([2], [])).shape).toEqual([]);
  });

  it("is stable for large logits, and float32 stays float32", () => {
    const x = f64([1000, 0, -1000, 500, 501, 502], [2, 3]);
    const out = softmaxCrossEntropy(x, i32([1, 2]), { reduction: "none" });
    expectClose(out, { shape: [2], data: [1000 + Math.log1p(Math.exp(-1000) + Math.exp(-2000)), Math.log(1 + Math.exp(-1) + Math.exp(-2))] }, 1e-12, 1e-14);
    const x32 = randomTensor([3, 5], 4, { dtype: "float32" });
    const l32 = softmaxCrossEntropy(x32, i32([0, 4, 2]), { reduction: "none" });
    expect(l32.dtype).toBe("float32");
    expectClose(l32, { shape: [3], data: naiveLosses(x32, [0, 4, 2], -100) }, 1e-6, 1e-6);
  });

  it("'mean' with every target ignored is NaN, as documented (PyTorch)", () => {
    expect(softmaxCrossEntropy(randomTensor([2, 3], 5), i32([-100, -100])).item()).toBeNaN();
    expect(softmaxCrossEntropy(randomTensor([2, 3], 5), i32([-100, -100]), { reduction: "sum" }).item()).toBe(0);
  });
});

describe("softmaxCrossEntropy gradients", () => {
  for (const reduction of ["none", "sum", "mean"] as const) {
    it(`gradcheck with ignored targets, reduction '${reduction}'`, () => {
      const x = randomTensor([4, 3], 10, { low: -2, high: 2 });
      expectGradOk((a, t) => softmaxCrossEntropy(a, t!, { reduction }), [x, i32([2, -100, 0, 1])]);
      expectGradOk((a) => softmaxCrossEntropy(a, i32([2, 1, 0, 1]), { reduction, ignoreIndex: 1 }), [x]);
    });
  }

  it("gradcheck with leading dims [B,T,C]", () => {
    const x = randomTensor([2, 3, 4], 11, { low: -2, high: 2 });
    const t = i32([0, 3, -100, 1, 1, 2], [2, 3]);
    expectGradOk((a) => softmaxCrossEntropy(a, t), [x]);
    expectGradOk((a) => softmaxCrossEntropy(a, t, { reduction: "none" }), [x]);
  });

  it("the mean gradient is (softmax - onehot) / count, zero on ignored rows", () => {
    const x = f64([0, 0, Math.log(2), 1, 1, 1], [2, 3]);
    const g = grad((p: Tensor) => softmaxCrossEntropy(p, i32([2, -100])))(x);
    expectClose(g, { shape: [2, 3], data: [0.25, 0.25, 0.5 - 1, 0, 0, 0] }, 1e-15, 1e-15);
  });
});

describe("SoftmaxCrossEntropy fused vs decomposed", () => {
  const decompose = SoftmaxCrossEntropy.decompose!;
  for (const dtype of ["float32", "float64"] as const) {
    for (const ignoreIndex of [-100, 2]) {
      it(`same values and gradients (${dtype}, ignoreIndex ${ignoreIndex})`, () => {
        const logits = randomTensor([6, 5], 20, { low: -4, high: 4, dtype });
        const targets = i32([4, 2, ignoreIndex, 0, 2, 1]);
        const attrs = { ignoreIndex };
        const fused = apply(SoftmaxCrossEntropy, [logits, targets], attrs)[0];
        const composed = decompose([logits, targets], attrs)[0];
        const tol = dtype === "float32" ? 1e-5 : 1e-13;
        expectClose(fused, { shape: [...composed.shape], data: composed.data }, tol, tol);
        expect(fused.dtype).toBe(composed.dtype);

        const w = fromArray([0.3, -1.2, 0.7, 2, 0.1, -0.5], { dtype });
        const gFused = valueAndGrad((p: Tensor) => sum(mul(apply(SoftmaxCrossEntropy, [p, targets], attrs)[0], w)))(logits);
        const gComposed = valueAndGrad((p: Tensor) => sum(mul(decompose([p, targets], attrs)[0], w)))(logits);
        expectClose(gFused.value, { shape: [], data: gComposed.value.data }, tol, tol);
        expectClose(gFused.grads, { shape: [6, 5], data: gComposed.grads.data }, tol, tol);
      });
    }
  }

  it("the decomposition is itself differentiable (gradcheck)", () => {
    expectGradOk((a, t) => decompose([a, t!], { ignoreIndex: 1 })[0], [randomTensor([3, 4], 21), i32([1, 3, 0])]);
  });
});

describe("SoftmaxCrossEntropyGrad (the fused backward)", () => {
  const targets = i32([2, -100, 0, 1]);
  const attrs = { ignoreIndex: -100 };
  const g = f64([0.5, 2, -1.5, 0.25], [4]);

  it("is what the forward's vjp records, and agrees with its decomposition", () => {
    const x = randomTensor([4, 3], 30, { low: -2, high: 2 });
    const fused = apply(SoftmaxCrossEntropyGrad, [x, targets, g], attrs)[0];
    const composed = SoftmaxCrossEntropyGrad.decompose!([x, targets, g], attrs)[0];
    expectClose(fused, { shape: [4, 3], data: composed.data }, 1e-15, 1e-14);
    expect(Array.from(fused.data.subarray(3, 6))).toEqual([0, 0, 0]); // ignored row
  });

  it("second derivatives: gradcheck of the fused backward in the logits and the cotangents", () => {
    const x = randomTensor([4, 3], 31, { low: -2, high: 2 });
    const w = randomTensor([4, 3], 32);
    // (gradcheck also runs the function in float32: the weights follow the input's dtype)
    expectGradOk((a, c) => sum(mul(apply(SoftmaxCrossEntropyGrad, [a, targets, c!], attrs)[0], cast(w, a.dtype))), [x, g]);
    // and through the public API: the gradient of a gradient
    const gradOfLoss = (a: Tensor) => sum(mul(grad((p: Tensor) => softmaxCrossEntropy(p, targets))(a), cast(w, a.dtype)));
    expectGradOk(gradOfLoss, [x]);
  });

  it("mismatched cotangents name all three shapes", () => {
    expectError(
      () => apply(SoftmaxCrossEntropyGrad, [randomTensor([4, 3], 1), targets, f64([1, 2], [2])], attrs),
      ShapeError,
      ["SoftmaxCrossEntropyGrad", "[4,3]", "[4]", "[2]"],
    );
  });
});

describe("softmaxCrossEntropy errors", () => {
  it("float targets are a DTypeError", () => {
    expectError(() => softmaxCrossEntropy(randomTensor([2, 3], 1), fromArray([0, 1])), DTypeError, ["SoftmaxCrossEntropy", "targets", "float32", "int32"]);
    expectError(() => softmaxCrossEntropy(i32([0, 1, 2], [1, 3]), i32([0])), DTypeError, ["SoftmaxCrossEntropy", "logits", "int32"]);
  });

  it("out-of-range targets name the target and the class count", () => {
    expectError(() => softmaxCrossEntropy(randomTensor([2, 3], 1), i32([0, 3])), ValueRangeError, ["SoftmaxCrossEntropy", "target 3", "position 1", "[0, 3)"]);
    expectError(() => softmaxCrossEntropy(randomTensor([2, 3], 1), i32([-1, 0])), ValueRangeError, ["SoftmaxCrossEntropy", "target -1"]);
  });

  it("targets of the wrong shape name both shapes", () => {
    expectError(() => softmaxCrossEntropy(randomTensor([2, 3], 1), i32([0, 1, 2])), ShapeError, ["SoftmaxCrossEntropy", "[2,3]", "[3]", "[2]"]);
    expectError(() => softmaxCrossEntropy(randomTensor([2, 2, 3], 1), i32([0, 1])), ShapeError, ["SoftmaxCrossEntropy", "[2,2,3]", "[2,2]"]);
    expectError(() => apply(SoftmaxCrossEntropy, [randomTensor([2, 3], 1), i32([0])], { ignoreIndex: -100 }), ShapeError, ["SoftmaxCrossEntropy", "[2,3]", "[1]"]);
  });
});
