import { describe, expect, it } from "vitest";
import {
  add, apply, definePrimitive, div, DTypeError, fromArray, gradcheck, mul, pow, scalar, ShapeError, sub, sum, type Tensor, zeros,
} from "../index.js";
import {
  dense, expectClose, expectError, expectGradOk, f64, i32, naiveElementwise, randomTensor, valuesAwayFromZero,
} from "../test-utils.js";

type BinaryFn = (a: Tensor | number, b: Tensor | number) => Tensor;

const ops: [string, BinaryFn, (a: number, b: number) => number][] = [
  ["add", add, (a, b) => a + b],
  ["sub", sub, (a, b) => a - b],
  ["mul", mul, (a, b) => a * b],
  ["div", div, (a, b) => a / b],
  ["pow", pow, (a, b) => Math.exp(b * Math.log(a))],
];

// Pairs of shapes covering NumPy broadcasting: equal shapes, trailing vector, size-1 axes on
// both sides, rank differences, scalars on either side.
const shapePairs: [number[], number[]][] = [
  [[2, 3], [2, 3]],
  [[2, 3], [3]],
  [[3], [2, 3]],
  [[2, 1], [1, 3]],
  [[4, 1, 3], [2, 1]],
  [[2, 3, 1, 2], [3, 4, 1]],
  [[], [2, 3]],
  [[2, 3], []],
  [[], []],
  [[1], [5]],
  [[1, 1], [2, 1, 3]],
];

/** Positive values for operands of pow (base) and div (denominator), so both are smooth. */
function positive(shape: number[], seed: number, dtype: "float32" | "float64" = "float64"): Tensor {
  return randomTensor(shape, seed, { low: 0.5, high: 2, dtype });
}

describe("binary arithmetic forward", () => {
  for (const [name, fn, ref] of ops) {
    for (const dtype of ["float32", "float64"] as const) {
      it(`${name} broadcasts like NumPy (${dtype})`, () => {
        shapePairs.forEach(([sa, sb], k) => {
          const a = name === "pow" ? positive(sa, 10 + k, dtype) : randomTensor(sa, 10 + k, { dtype });
          const b = name === "div" ? positive(sb, 50 + k, dtype) : randomTensor(sb, 50 + k, { dtype });
          const out = fn(a, b);
          expect(out.dtype).toBe(dtype);
          const tol = dtype === "float32" ? 1e-6 : 1e-14;
          expectClose(out, naiveElementwise([dense(a), dense(b)], ref), tol, tol);
        });
      });
    }
  }

  it("numbers take the tensor's dtype, on either side", () => {
    const x = f64([1, 2, 3], [3]);
    const r1 = sub(x, 0.5);
    const r2 = sub(10, x);
    expect(r1.dtype).toBe("float64");
    expect(r2.dtype).toBe("float64");
    expect(Array.from(r1.data)).toEqual([0.5, 1.5, 2.5]);
    expect(Array.from(r2.data)).toEqual([9, 8, 7]);
    expect(Array.from(div(1, fromArray([2, 4])).data)).toEqual([0.5, 0.25]);
    expect(Array.from(pow(fromArray([2, 3]), 2).data)).toEqual([4, 9]);
    expect(Array.from(pow(2, fromArray([3, -1])).data)).toEqual([8, 0.5]);
  });

  it("adds, subtracts and multiplies int32 tensors exactly", () => {
    const a = i32([1, -2, 3, 2147483600], [2, 2]);
    const b = i32([10, 20], [2]);
    expect(add(a, b).dtype).toBe("int32");
    expect(Array.from(add(a, b).data)).toEqual([11, 18, 13, 2147483620]);
    expect(Array.from(sub(a, b).data)).toEqual([-9, -22, -7, 2147483580]);
    expect(Array.from(mul(a, 3).data)).toEqual([3, -6, 9, (2147483600 * 3) | 0]);
  });

  it("handles empty tensors", () => {
    const e = zeros([0, 3]);
    const r = add(e, fromArray([1, 2, 3]));
    expect(r.shape).toEqual([0, 3]);
    expect(r.size).toBe(0);
    expect(mul(e, zeros([1, 3])).shape).toEqual([0, 3]);
    expect(add(zeros([2, 0]), scalar(1)).shape).toEqual([2, 0]);
    expect(sub(zeros([0]), zeros([1])).shape).toEqual([0]);
  });

  it("follows IEEE semantics for division by zero and non-finite powers", () => {
    const q = div(fromArray([1, -1, 0]), fromArray([0, 0, 0]));
    expect(q.data[0]).toBe(Infinity);
    expect(q.data[1]).toBe(-Infinity);
    expect(q.data[2]).toBeNaN();
    expect(pow(fromArray([-8]), 1 / 3).data[0]).toBeNaN();
  });
});

describe("binary arithmetic gradients", () => {
  const gradShapes: [number[], number[]][] = [
    [[2, 3], [2, 3]],
    [[2, 3], [3]],
    [[2, 1], [1, 3]],
    [[3, 1, 2], [2, 1]],
    [[], [2, 3]],
    [[2, 3], []],
    [[2, 1, 2], [1, 1, 1]],
  ];
  for (const [name, fn] of ops) {
    it(`${name}: gradcheck with broadcasting, size-1 axes and scalars`, () => {
      gradShapes.forEach(([sa, sb], k) => {
        const a = name === "pow" ? positive(sa, 100 + k) : randomTensor(sa, 100 + k);
        const b =
          name === "div"
            ? f64(valuesAwayFromZero(sb.reduce((p, d) => p * d, 1), 200 + k, 0.5, 2), sb)
            : name === "pow"
              ? randomTensor(sb, 200 + k, { low: -1.5, high: 1.5 })
              : randomTensor(sb, 200 + k);
        expectGradOk((x, y) => fn(x, y), [a, b]);
      });
    });
  }

  it("pow: gradcheck with a tensor exponent, both operands differentiated", () => {
    const base = positive([2, 3], 7);
    const exponent = randomTensor([2, 3], 8, { low: -2, high: 3 });
    expectGradOk((b, e) => pow(b, e), [base, exponent]);
    // x^x: the same tensor as base and exponent.
    expectGradOk((b) => pow(b, b), [base]);
  });

  it("the same tensor used as both operands accumulates both cotangents", () => {
    const x = randomTensor([3, 2], 9);
    expectGradOk((a) => mul(a, a), [x]);
    expectGradOk((a) => sub(a, mul(a, 3)), [x]);
    expectGradOk((a) => div(add(a, 3), add(mul(a, a), 1)), [x]);
  });

  it("numbers as operands are constants", () => {
    const x = positive([4], 11);
    expectGradOk((a) => add(mul(2.5, a), 1), [x]);
    expectGradOk((a) => div(1, a), [x]);
    expectGradOk((a) => pow(a, 3), [x]);
    expectGradOk((a) => pow(2, a), [x]);
  });
});

describe("binary arithmetic errors", () => {
  it("a shape mismatch names the op and both shapes", () => {
    const e = expectError(() => add(zeros([2, 3]), zeros([4])), ShapeError, ["Add", "[2,3]", "[4]"]);
    expect(e.op).toBe("Add");
    expectError(() => mul(zeros([2, 3, 4]), zeros([5, 1])), ShapeError, ["Mul", "[2,3,4]", "[5,1]"]);
    expectError(() => sub(zeros([3]), zeros([2])), ShapeError, ["Sub", "[3]", "[2]"]);
  });

  it("mixed precisions are refused", () => {
    expectError(() => add(zeros([2], "float32"), zeros([2], "float64")), DTypeError, ["Add", "float32", "float64"]);
    expectError(() => mul(zeros([2], "int32"), zeros([2], "float32")), DTypeError, ["Mul", "int32", "float32"]);
  });

  it("div and pow refuse int32", () => {
    expectError(() => div(i32([4, 6]), 2), DTypeError, ["Div", "int32"]);
    expectError(() => pow(i32([4, 6]), 2), DTypeError, ["Pow", "int32"]);
  });
});

describe("gradcheck itself", () => {
  // Guards against a gradcheck that passes everything (which would make every gradient test vacuous).
  const WrongSquare = definePrimitive<readonly [Tensor], readonly [Tensor]>({
    name: "WrongSquare",
    infer: ([x]) => [{ shape: x.shape, dtype: x.dtype }],
    kernel: (k, [x], [out]) => k.binary("mul", x, x, out),
    vjp: ({ inputs: [x] }, [g]) => [mul(g!, x)], // should be 2 g x
  });

  it("rejects a wrong vector-Jacobian product", () => {
    const report = gradcheck((x) => apply(WrongSquare, [x], {})[0], [randomTensor([3], 1)]);
    expect(report.ok).toBe(false);
    expect(report.mismatches.length).toBeGreaterThan(0);
  });

  it("rejects a vjp that only gets the column sums right", () => {
    // d/dx of sum(y) is right (all ones), but the Jacobian is wrong: a random projection catches it.
    const Swap = definePrimitive<readonly [Tensor], readonly [Tensor]>({
      name: "SwapGrad",
      infer: ([x]) => [{ shape: x.shape, dtype: x.dtype }],
      kernel: (_k, [x], [out]) => out.data.set(x.data),
      // Identity's true vjp is g; this returns mean(g) everywhere, right only for g = ones.
      vjp: (_app, [g]) => [add(mul(g!, 0), mul(sum(g!), 1 / g!.size))],
    });
    const report = gradcheck((x) => apply(Swap, [x], {})[0], [randomTensor([4], 2)]);
    expect(report.ok).toBe(false);
  });
});
