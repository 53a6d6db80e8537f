import type { DataArray } from "../../dtype.js";
import type { BinaryOp, KernelTensor, UnaryOp } from "../kernels.js";
import { planBroadcast } from "./broadcast-plan.js";

export function unary(op: UnaryOp, x: KernelTensor, out: KernelTensor): void {
  const a = x.data;
  const o = out.data;
  const n = o.length;
  switch (op) {
    case "neg":
      for (let i = 0; i < n; i++) o[i] = -a[i]!;
      break;
    case "exp":
      for (let i = 0; i < n; i++) o[i] = Math.exp(a[i]!);
      break;
    case "log":
      for (let i = 0; i < n; i++) o[i] = Math.log(a[i]!);
      break;
    case "sqrt":
      for (let i = 0; i < n; i++) o[i] = Math.sqrt(a[i]!);
      break;
    case "tanh":
      for (let i = 0; i < n; i++) o[i] = Math.tanh(a[i]!);
      break;
    case "sigmoid":
      // Written so that neither branch overflows: exp of a non-positive number only.
      for (let i = 0; i < n; i++) {
        const v = a[i]!;
        if (v >= 0) o[i] = 1 / (1 + Math.exp(-v));
        else {
          const e = Math.exp(v);
          o[i] = e / (1 + e);
        }
      }
      break;
    case "relu":
      for (let i = 0; i < n; i++) {
        const v = a[i]!;
        o[i] = v > 0 ? v : v === v ? 0 : v; // NaN propagates
      }
      break;
    case "abs":
      for (let i = 0; i < n; i++) o[i] = Math.abs(a[i]!);
      break;
    case "sign":
      for (let i = 0; i < n; i++) {
        const v = a[i]!;
        o[i] = v > 0 ? 1 : v < 0 ? -1 : v; // sign(0) = 0, sign(NaN) = NaN
      }
      break;
  }
}

/** One run of a broadcast binary op: `n` elements, input strides `sa`/`sb` (0 or 1 after planning). */
function binaryRun(
  op: BinaryOp,
  a: DataArray,
  ao: number,
  sa: number,
  b: DataArray,
  bo: number,
  sb: number,
  o: DataArray,
  oo: number,
  n: number,
): void {
  switch (op) {
    case "add":
      for (let i = 0; i < n; i++) o[oo + i] = a[ao + i * sa]! + b[bo + i * sb]!;
      break;
    case "sub":
      for (let i = 0; i < n; i++) o[oo + i] = a[ao + i * sa]! - b[bo + i * sb]!;
      break;
    case "mul":
      for (let i = 0; i < n; i++) o[oo + i] = a[ao + i * sa]! * b[bo + i * sb]!;
      break;
    case "div":
      for (let i = 0; i < n; i++) o[oo + i] = a[ao + i * sa]! / b[bo + i * sb]!;
      break;
    case "pow":
      for (let i = 0; i < n; i++) o[oo + i] = Math.pow(a[ao + i * sa]!, b[bo + i * sb]!);
      break;
    case "greater":
      for (let i = 0; i < n; i++) o[oo + i] = a[ao + i * sa]! > b[bo + i * sb]! ? 1 : 0;
      break;
    case "greaterEqual":
      for (let i = 0; i < n; i++) o[oo + i] = a[ao + i * sa]! >= b[bo + i * sb]! ? 1 : 0;
      break;
    case "less":
      for (let i = 0; i < n; i++) o[oo + i] = a[ao + i * sa]! < b[bo + i * sb]! ? 1 : 0;
      break;
    case "lessEqual":
      for (let i = 0; i < n; i++) o[oo + i] = a[ao + i * sa]! <= b[bo + i * sb]! ? 1 : 0;
      break;
    case "equal":
      for (let i = 0; i < n; i++) o[oo + i] = a[ao + i * sa]! === b[bo + i * sb]! ? 1 : 0;
      break;
    case "notEqual":
      for (let i = 0; i < n; i++) o[oo + i] = a[ao + i * sa]! !== b[bo + i * sb]! ? 1 : 0;
      break;
  }
}

export function binary(op: BinaryOp, a: KernelTensor, b: KernelTensor, out: KernelTensor): void {
  const plan = planBroadcast(out.shape, [a.shape, b.shape]);
  const [offA, offB] = plan.offsets as [Int32Array, Int32Array];
  const [sa, sb] = plan.strides as [number, number];
  for (let r = 0; r < plan.rows; r++) {
    binaryRun(op, a.data, offA[r]!, sa, b.data, offB[r]!, sb, out.data, r * plan.length, plan.length);
  }
}

export function clamp(x: KernelTensor, min: number, max: number, out: KernelTensor): void {
  const a = x.data;
  const o = out.data;
  for (let i = 0; i < o.length; i++) {
    const v = a[i]!;
    o[i] = v < min ? min : v > max ? max : v; // NaN passes through
  }
}

export function where(cond: KernelTensor, a: KernelTensor, b: KernelTensor, out: KernelTensor): void {
  const plan = planBroadcast(out.shape, [cond.shape, a.shape, b.shape]);
  const [offC, offA, offB] = plan.offsets as [Int32Array, Int32Array, Int32Array];
  const [sc, sa, sb] = plan.strides as [number, number, number];
  const c = cond.data;
  const ad = a.data;
  const bd = b.data;
  const o = out.data;
  for (let r = 0; r < plan.rows; r++) {
    const oo = r * plan.length;
    const co = offC[r]!;
    const ao = offA[r]!;
    const bo = offB[r]!;
    for (let i = 0; i < plan.length; i++) {
      o[oo + i] = c[co + i * sc]! !== 0 ? ad[ao + i * sa]! : bd[bo + i * sb]!;
    }
  }
}

export function cast(x: KernelTensor, out: KernelTensor): void {
  const o = out.data;
  if (o instanceof Int32Array) {
    for (let i = 0; i < o.length; i++) o[i] = Math.trunc(x.data[i]!);
  } else {
    o.set(x.data);
  }
}
