import { describe, expect, it } from "vitest";
import { withTape } from "./recording.js";
import {
  accumulateGrads,
  add,
  backward,
  cast,
  detach,
  DTypeError,
  fromArray,
  grad,
  isRecording,
  type Kernels,
  matmul,
  mul,
  noGrad,
  referenceKernels,
  ShapeError,
  sum,
  Tape,
  tanh,
  type Tensor,
  trace,
  valueAndGrad,
  withKernels,
} from "../index.js";

const f64 = (values: Parameters<typeof fromArray>[0]): Tensor => fromArray(values, { dtype: "float64" });

function expectClose(actual: Tensor, expected: readonly number[], digits = 12): void {
  expect(actual.size).toBe(expected.length);
  expected.forEach((e, i) => expect(actual.data[i], `element ${i}`).toBeCloseTo(e, digits));
}

/** A kernel table that counts how often `matmul` runs, delegating to the reference kernels. */
function countingMatmul(): { kernels: Kernels; calls: () => number } {
  let calls = 0;
  const kernels: Kernels = {
    ...referenceKernels,
    name: "counting",
    matmul: (a, b, out, transA, transB) => {
      calls++;
      referenceKernels.matmul(a, b, out, transA, transB);
    },
  };
  return { kernels, calls: () => calls };
}

describe("valueAndGrad", () => {
  // loss = s * sum((x W) * v) + b, with x [1,2] data, W [2,3], v [3], s and b scalars:
  //   dW[i][j] = s x[i] v[j],  dv[j] = s h[j] (h = x W),  ds = sum(h * v),  db = 1.
  const x = [0.5, -2];
  const W = [
    [1, 2, 3],
    [-1, 0.5, 4],
  ];
  const v = [0.25, -1, 2];
  const s = 1.5;
  const h = [0, 1, 2].map((j) => x[0]! * W[0]![j]! + x[1]! * W[1]![j]!);
  const hv = h.reduce((acc, hj, j) => acc + hj * v[j]!, 0);

  // A type alias, not an interface: interfaces lack the index signature TensorTree needs.
  type Params = {
    layers: { w: Tensor; bias: Tensor | null }[];
    head: { scale: Tensor; nothing: undefined; frozen: { unused: Tensor } };
  };
  const params = (): Params => ({
    layers: [
      { w: f64(W), bias: null },
      { w: f64(v), bias: f64(0.75) },
    ],
    head: { scale: f64(s), nothing: undefined, frozen: { unused: fromArray([[1, 2]]) } },
  });
  const loss = (p: Params, input: Tensor): Tensor => {
    const hidden = matmul(input, p.layers[0]!.w);
    return add(mul(sum(mul(hidden, p.layers[1]!.w)), p.head.scale), p.layers[1]!.bias!);
  };

  it("returns the value and a gradient tree of the same structure", () => {
    const p = params();
    const { value, grads } = valueAndGrad(loss)(p, f64([x]));
    expect(value.shape).toEqual([]);
    expect(value.item()).toBeCloseTo(s * hv + 0.75, 12);

    expect(Object.keys(grads)).toEqual(["layers", "head"]);
    expect(grads.layers).toHaveLength(2);
    expect(grads.layers[0]!.bias).toBeNull();
    expect("nothing" in grads.head).toBe(true);
    expect(grads.head.nothing).toBeUndefined();

    const dW = grads.layers[0]!.w;
    expect(dW.shape).toEqual([2, 3]);
    expect(dW.dtype).toBe("float64");
    expectClose(dW, [0, 1].flatMap((i) => [0, 1, 2].map((j) => s * x[i]! * v[j]!)));
    expectClose(grads.layers[1]!.w, h.map((hj) => s * hj));
    expectClose(grads.head.scale, [hv]);
    expectClose(grads.layers[1]!.bias!, [1]);
  });

  it("gives zeros of the right shape and dtype for parameters the loss does not use", () => {
    const { grads } = valueAndGrad(loss)(params(), f64([x]));
    const unused = grads.head.frozen.unused;
    expect(unused.shape).toEqual([1, 2]);
    expect(unused.dtype).toBe("float32");
    expect([...unused.data]).toEqual([0, 0]);
  });

  it("does not differentiate the extra arguments or change the parameters", () => {
    const p = params();
    const before = p.layers[0]!.w.toArray();
    const data = f64([x]);
    valueAndGrad(loss)(p, data);
    expect(p.layers[0]!.w.toArray()).toEqual(before);
    expect(data.toArray()).toEqual([x]);
  });

  it("accumulates the gradient of a tensor used several times", () => {
    const xs = [0.5, -1.5, 2];
    // x used three times in one product: d/dx sum(x^3) = 3x^2.
    const cube = grad((p: Tensor) => sum(mul(mul(p, p), p)))(f64(xs));
    expectClose(cube, xs.map((a) => 3 * a * a));
    // x used in three separate terms: d/dx [sum(x) + sum(2x) + sum(x*x)] = 3 + 2x.
    const terms = grad((p: Tensor) => add(add(sum(p), sum(mul(p, 2))), sum(mul(p, p))))(f64(xs));
    expectClose(terms, xs.map((a) => 3 + 2 * a));
  });

  it("gives each parameter its own gradient buffer, even where a vjp passes its cotangent through", () => {
    const a = f64([1, 2]);
    const b = f64([3, 4]);
    const { grads } = valueAndGrad((p: { a: Tensor; b: Tensor }) => sum(add(p.a, p.b)))({ a, b });
    expectClose(grads.a, [1, 1]);
    expectClose(grads.b, [1, 1]);
    expect(grads.a.data).not.toBe(grads.b.data);
    grads.a.data[0] = 100; // an optimiser clipping in place
    expect(grads.b.data[0]).toBe(1);
    // The same tensor at two leaves gets the full gradient at both, in separate buffers.
    const twice = grad((p: Tensor[]) => sum(mul(p[0]!, 3)))([a, a]);
    expectClose(twice[0]!, [3, 3]);
    expectClose(twice[1]!, [3, 3]);
    expect(twice[0]!.data).not.toBe(twice[1]!.data);
  });

  it("passes aux through with hasAux", () => {
    const aux = { state: f64([1, 2]), note: "kept" };
    const f = (p: Tensor): readonly [Tensor, typeof aux] => [sum(mul(p, p)), aux];
    const result = valueAndGrad(f, { hasAux: true })(f64([3, -1]));
    expect(result.aux).toBe(aux);
    expect(result.value.item()).toBe(10);
    expectClose(result.grads, [6, -2]);
  });

  it("refuses a non-scalar loss with a ShapeError that says how to fix it", () => {
    const f = valueAndGrad((p: Tensor) => mul(p, 2));
    expect(() => f(f64([1, 2]))).toThrow(ShapeError);
    expect(() => f(f64([1, 2]))).toThrow(/valueAndGrad: .*scalar loss.*\[2\].*sum\(\) or mean\(\)/);
    const g = valueAndGrad((_p: Tensor) => 3 as unknown as Tensor);
    expect(() => g(f64([1]))).toThrow(ShapeError);
    // One element in any shape is a scalar loss.
    expect(valueAndGrad((p: Tensor) => mul(p, 2))(f64([[4]])).value.item()).toBe(8);
  });

  it("refuses int32 parameters", () => {
    const f = valueAndGrad((p: { w: Tensor; idx: Tensor }) => sum(p.w));
    expect(() => f({ w: f64([1]), idx: fromArray([1, 2], { dtype: "int32" }) })).toThrow(DTypeError);
    expect(() => f({ w: f64([1]), idx: fromArray([1, 2], { dtype: "int32" }) })).toThrow(/int32/);
  });

  it("differentiates through a dtype cast", () => {
    const g = grad((p: Tensor) => sum(mul(cast(p, "float64"), f64([2, 3]))))(fromArray([1, 1]));
    expect(g.dtype).toBe("float32");
    expect([...g.data]).toEqual([2, 3]);
  });
});

describe("backward", () => {
  it("consumes the tape, letting go of every intermediate once its node is done", () => {
    const x = f64([[0.5, -1], [2, 0.25]]);
    const tape = new Tape("grad");
    tape.watch(x);
    const intermediates: Tensor[] = [];
    const loss = withTape(tape, () => {
      const h = tanh(matmul(x, x));
      const y = mul(h, h);
      intermediates.push(h, y);
      return sum(y);
    });
    expect(tape.nodes.length).toBe(4);
    expect(intermediates.every((t) => tape.tracks(t))).toBe(true);
    const [gx] = backward(tape, loss, [x]);
    // d/dx sum(tanh(x·x)²), checked against the same gradient through valueAndGrad on a fresh tape.
    const expected = grad((p: Tensor) => sum(mul(tanh(matmul(p, p)), tanh(matmul(p, p)))))(x);
    expectClose(gx!, Array.from(expected.data));
    expect(tape.nodes.length).toBe(0);
    expect(intermediates.some((t) => tape.tracks(t))).toBe(false);
    expect(tape.tracks(x)).toBe(true);
  });
});

describe("recording", () => {
  it("records only inside valueAndGrad, and noGrad turns it off", () => {
    expect(isRecording()).toBe(false);
    const seen: boolean[] = [];
    valueAndGrad((p: Tensor) => {
      seen.push(isRecording());
      noGrad(() => seen.push(isRecording()));
      seen.push(isRecording());
      return sum(p);
    })(f64([1]));
    expect(seen).toEqual([true, false, true]);
    expect(isRecording()).toBe(false);
  });

  it("noGrad records nothing on any tape, and the gradient does not flow through it", () => {
    const x = f64([0.5, -0.25]);
    const { graph } = trace((a: Tensor) => noGrad(() => tanh(mul(a, 2))), [x]);
    expect(graph.nodes).toHaveLength(0);
    // loss = sum(x * c) + sum(noGrad(x * x)): only the first term contributes.
    const g = grad((p: Tensor) => add(sum(mul(p, 3)), noGrad(() => sum(mul(p, p)))))(x);
    expectClose(g, [3, 3]);
  });

  it("noGrad restores recording after a throw and refuses async functions", () => {
    valueAndGrad((p: Tensor) => {
      expect(() =>
        noGrad(() => {
          throw new Error("boom");
        }),
      ).toThrow("boom");
      expect(isRecording()).toBe(true);
      return sum(p);
    })(f64([1]));
    expect(() => noGrad(async () => 1)).toThrow(TypeError);
    expect(isRecording()).toBe(false);
  });
});

describe("detach", () => {
  it("blocks the gradient", () => {
    const xs = [1.5, -2];
    // loss = sum(x * detach(x)): the gradient is detach(x) = x, not 2x.
    const g = grad((p: Tensor) => sum(mul(p, detach(p))))(f64(xs));
    expectClose(g, xs);
    const none = grad((p: Tensor) => sum(detach(mul(p, p))))(f64(xs));
    expectClose(none, [0, 0]);
  });

  it("returns a copy, not the same buffer", () => {
    const x = f64([1, 2, 3]);
    const d = detach(x);
    expect(d).not.toBe(x);
    expect(d.data).not.toBe(x.data);
    expect(d.toArray()).toEqual([1, 2, 3]);
    expect(d.dtype).toBe("float64");
    d.data[0] = 9;
    expect(x.data[0]).toBe(1);
  });
});

describe("accumulateGrads", () => {
  const loss = (p: { w: Tensor; b: Tensor }, batch: Tensor): Tensor => sum(tanh(add(matmul(batch, p.w), p.b)));
  const params = { w: f64([[0.3, -0.2], [0.1, 0.4], [-0.5, 0.6]]), b: f64([[0.05, -0.1]]) };
  const batch1 = f64([[1, 2, 3]]);
  const batch2 = f64([[-1, 0.5, 2], [0.2, 0.2, -0.7]]);

  it("sums micro-batch gradients into the gradient of the summed loss", () => {
    const g = grad(loss);
    const g1 = g(params, batch1);
    const g1Before = g1.w.toArray();
    const total = accumulateGrads(accumulateGrads(undefined, g1), g(params, batch2));
    const whole = grad((p: typeof params) => add(loss(p, batch1), loss(p, batch2)))(params);
    expectClose(total.w, [...whole.w.data]);
    expectClose(total.b, [...whole.b.data]);
    expect(total.w.shape).toEqual([3, 2]);
    // Functional: the first micro-batch's gradients are unchanged.
    expect(g1.w.toArray()).toEqual(g1Before);
    // The result is not trivially one of the addends.
    expect(Math.abs(total.w.data[0]! - g1.w.data[0]!)).toBeGreaterThan(1e-3);
  });

  it("returns the first gradients as they are and rejects trees that differ", () => {
    const g1 = grad(loss)(params, batch1);
    expect(accumulateGrads(undefined, g1)).toBe(g1);
    expect(() => accumulateGrads([f64([1])], [f64([1]), f64([2])])).toThrow(ShapeError);
  });
});

describe("needed flags", () => {
  it("does not compute the input gradient of a matmul when only the weight needs one", () => {
    const input = f64([[1, 2, 3], [4, 5, 6]]);
    const weight = f64([[1, 0], [0, 1], [1, 1]]);
    const { kernels, calls } = countingMatmul();
    const { grads } = withKernels(kernels, () => valueAndGrad((w: Tensor, x: Tensor) => sum(matmul(x, w)))(weight, input));
    // One forward product and one for dW = xᵀ G; dx = G Wᵀ is skipped.
    expect(calls()).toBe(2);
    // dW[i][j] = sum over rows of x[r][i].
    expectClose(grads, [5, 5, 7, 7, 9, 9]);

    // With the input as a parameter too, both cotangents are computed: three products.
    const both = countingMatmul();
    withKernels(both.kernels, () => valueAndGrad((p: Tensor[]) => sum(matmul(p[0]!, p[1]!)))([input, weight]));
    expect(both.calls()).toBe(3);
  });

  it("runs on the kernels selected around it and restores the previous table", () => {
    const { kernels, calls } = countingMatmul();
    withKernels(kernels, () => matmul(f64([[1]]), f64([[2]])));
    expect(calls()).toBe(1);
    matmul(f64([[1]]), f64([[2]]));
    expect(calls()).toBe(1);
  });
});
