import type { LoweringContext } from "../export/lowering.js";
import { type ScanInput, scanInput, splitSteps, stepMask, writeHiddenStates } from "./scan.js";

// The fused GRU scan and its backpropagation through time for a compiled training step, in the
// layout of recurrent.ts's LSTM lowering (one Gemm for the input projection of all steps, the
// per-step factors of the backward pass for all steps at once, weight gradients as single
// products). PyTorch's GRU, gates r, z, n:
//   r = σ(x_r + h_r), z = σ(x_z + h_z), n = tanh(x_n + r ⊙ h_n), h' = n + z ⊙ (h - n)
// with x_· = x W_i·ᵀ + b_i· and h_· = h W_h·ᵀ + b_h· (the reset gate applied after the product).
// Backward, with dh the gradient reaching h':
//   dn̂ = dh (1 - z)(1 - n²)     (n's pre-activation)     dẑ = dh (h - n) z (1 - z)
//   dr̂ = dn̂ h_n r (1 - r)                                  dh_n = dn̂ r
//   input side [dr̂, dẑ, dn̂], hidden side [dr̂, dẑ, dh_n], dh_prev = [dr̂, dẑ, dh_n] W_hh + dh z.

interface GruStep {
  readonly r: string;
  readonly z: string;
  readonly n: string;
  readonly hn: string;
  readonly hPrev: string;
  readonly inside: string | null;
  readonly outside: string | null;
}

export interface GruSaved extends ScanInput {
  readonly steps: readonly GruStep[];
}

/** Forward inputs: x, W_ih, b_ih, W_hh, b_hh, h0, [lengths]; outputs hs, hT (the saved ones are read through the return value). */
export function gruForward(ctx: LoweringContext, reverse: boolean, hasLengths: boolean): GruSaved {
  const lengths = hasLengths ? ctx.input(6) : null;
  const scan = scanInput(ctx, reverse, lengths);
  const { T, B, H } = scan;
  const [xp] = ctx.emit("Gemm", [scan.x2, ctx.input(1), ctx.input(2)], 1, { transB: 1 }); // x W_ihᵀ + b_ih, all steps
  const projections = splitSteps(ctx, xp!, T, B);
  const thirds = ctx.int64s([H, H, H]);
  const zero = lengths !== null ? ctx.scalar(0, ctx.node.outputs[0]!.dtype) : null;
  let h = ctx.input(5);
  const outs: string[] = new Array<string>(T);
  const steps: GruStep[] = new Array<GruStep>(T);
  for (const p of scan.order) {
    const [hp] = ctx.emit("Gemm", [h, ctx.input(3), ctx.input(4)], 1, { transB: 1 }); // h W_hhᵀ + b_hh
    const [xr, xz, xn] = ctx.emit("Split", [projections[p]!, thirds], 3, { axis: 1 });
    const [hr, hz, hn] = ctx.emit("Split", [hp!, thirds], 3, { axis: 1 });
    const [r] = ctx.emit("Sigmoid", ctx.emit("Add", [xr!, hr!], 1), 1);
    const [z] = ctx.emit("Sigmoid", ctx.emit("Add", [xz!, hz!], 1), 1);
    const [n] = ctx.emit("Tanh", ctx.emit("Add", [xn!, ctx.emit("Mul", [r!, hn!], 1)[0]!], 1), 1);
    const [hNew] = ctx.emit("Add", [n!, ctx.emit("Mul", [z!, ctx.emit("Sub", [h, n!], 1)[0]!], 1)[0]!], 1);
    if (lengths !== null) {
      const { mask, inside, outside } = stepMask(ctx, p, lengths);
      steps[p] = { r: r!, z: z!, n: n!, hn: hn!, hPrev: h, inside, outside };
      outs[p] = ctx.emit("Where", [mask, hNew!, zero!], 1)[0]!;
      h = ctx.emit("Where", [mask, hNew!, h], 1)[0]!;
    } else {
      steps[p] = { r: r!, z: z!, n: n!, hn: hn!, hPrev: h, inside: null, outside: null };
      outs[p] = hNew!;
      h = hNew!;
    }
  }
  writeHiddenStates(ctx, scan, outs);
  if (ctx.used(1)) ctx.emit("Identity", [h], [ctx.output(1)]);
  ctx.output(2);
  ctx.output(3);
  return { ...scan, steps };
}

/**
 * Backward inputs: x, W_ih, W_hh, h0, [lengths], states, gates, dhs, dhT; outputs dW_ih, db_ih,
 * dW_hh, db_hh, dh0, [dx].
 */
export function gruBackward(ctx: LoweringContext, s: GruSaved, a: { hasLengths: boolean; withDx: boolean }): void {
  const at = a.hasLengths ? 1 : 0;
  const { T, B, H, steps } = s;
  const dtype = ctx.node.inputs[1]!.dtype;
  const one = ctx.scalar(1, dtype);
  const cat = (names: readonly string[], axis = 0): string => (names.length === 1 ? names[0]! : ctx.emit("Concat", names, 1, { axis })[0]!);
  const split = (value: string): string[] => splitSteps(ctx, value, T, B);
  const mul = (x: string, y: string): string => ctx.emit("Mul", [x, y], 1)[0]!;
  const add = (x: string, y: string): string => ctx.emit("Add", [x, y], 1)[0]!;
  const sub = (x: string, y: string): string => ctx.emit("Sub", [x, y], 1)[0]!;
  const all = (k: "r" | "z" | "n" | "hn" | "hPrev"): string => cat(steps.map((st) => st[k]));
  const [R, Z, N, HN, HP] = [all("r"), all("z"), all("n"), all("hn"), all("hPrev")];
  // Per-step factors for all steps at once, split into steps.
  const Fn = split(mul(sub(one, Z), sub(one, mul(N, N)))); // dn̂ = dh (1 - z)(1 - n²)
  const Fz = split(mul(sub(HP, N), mul(Z, sub(one, Z)))); // dẑ = dh (h - n) z (1 - z)
  const Fr = split(mul(HN, mul(R, sub(one, R)))); // dr̂ = dn̂ h_n r (1 - r)
  const Rs = split(R);
  const Zs = split(Z);
  const dhsIn = s.permute ? s.permute(ctx.input(6 + at)) : ctx.input(6 + at);
  const [dhs2] = ctx.emit("Reshape", [dhsIn, ctx.int64s([T * B, H])], 1);
  const dhsT = split(dhs2!);
  let dhNext = ctx.input(7 + at);
  const dX: string[] = new Array<string>(T);
  const dHid: string[] = new Array<string>(T);
  for (const p of [...s.order].reverse()) {
    const st = steps[p]!;
    let dh = add(dhsT[p]!, dhNext);
    let keep: string | null = null;
    if (st.inside !== null) {
      keep = mul(dhNext, st.outside!);
      dh = mul(dh, st.inside);
    }
    const dn = mul(dh, Fn[p]!);
    const dz = mul(dh, Fz[p]!);
    const dr = mul(dn, Fr[p]!);
    const dhn = mul(dn, Rs[p]!);
    dX[p] = cat([dr, dz, dn], 1);
    dHid[p] = cat([dr, dz, dhn], 1);
    dhNext = add(ctx.emit("MatMul", [dHid[p]!, ctx.input(2)], 1)[0]!, mul(dh, Zs[p]!));
    if (keep !== null) dhNext = add(dhNext, keep);
  }
  const dXall = cat(dX);
  const dHall = cat(dHid);
  ctx.emit("Gemm", [dXall, s.x2], [ctx.output(0)], { transA: 1 }); // dW_ih
  ctx.emit("ReduceSum", [dXall, ctx.int64s([0])], [ctx.output(1)], { keepdims: 0 });
  ctx.emit("Gemm", [dHall, HP], [ctx.output(2)], { transA: 1 }); // dW_hh = dHᵀ H_prev
  ctx.emit("ReduceSum", [dHall, ctx.int64s([0])], [ctx.output(3)], { keepdims: 0 });
  ctx.emit("Identity", [dhNext], [ctx.output(4)]);
  if (a.withDx) {
    const I = ctx.node.inputs[0]!.shape[2]!;
    const [dx2] = ctx.emit("MatMul", [dXall, ctx.input(1)], 1);
    const [dx3] = ctx.emit("Reshape", [dx2!, ctx.int64s([T, B, I])], 1);
    ctx.emit("Identity", [s.permute ? s.permute(dx3!) : dx3!], [ctx.output(5)]);
  }
}
