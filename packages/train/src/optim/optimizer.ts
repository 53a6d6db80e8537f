import { type DType, type FloatArray, noGrad, Tensor, treeEntries } from "@unroll/tensor";

/**
 * An optimiser's state as checkpoints store it: JSON values plus tensors. `buffers` are keyed
 * `"<buffer>/<param path>"` with PyTorch's state names for the buffer (`exp_avg/rnn.weight_ih_l0`,
 * `momentum_buffer/head.bias`) and `treeEntries` paths for the parameter.
 */
export interface OptimizerState {
  readonly name: string;
  readonly version: 1;
  /** The settings, compared on load so that a state never silently continues under other settings. */
  readonly hyper: Readonly<Record<string, number | boolean>>;
  /** Updates applied so far. */
  readonly step: number;
  /** The learning rate in use. */
  readonly lr: number;
  readonly buffers: Readonly<Record<string, Tensor>>;
}

export interface Optimizer {
  readonly name: string;
  /** The learning rate of the next step; schedules set this before each step. */
  lr: number;
  /**
   * Updates every tensor of `params` in place (its `data`), from `grads` of the same tree shape.
   * Runs under noGrad. The set of parameters (paths and shapes) is fixed by the first step: all
   * of them share one step count, which Adam's bias correction and Adagrad's decay depend on.
   */
  step(params: unknown, grads: unknown): void;
  /** A snapshot: buffers are copies, so later steps do not change a saved state. */
  stateDict(): OptimizerState;
  /**
   * Restores a `stateDict()`. Validates name, version, settings and buffer names and shapes
   * (against the parameters already stepped, if any); a mismatch throws and changes nothing. The
   * buffers are copied, so `state` stays usable.
   */
  loadStateDict(state: OptimizerState): void;
}

/** A params/grads mismatch, or a state that does not fit this optimiser. Messages name the path. */
export class OptimizerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OptimizerError";
  }
}

/**
 * Rounds a computed value to the parameter's precision. Updates are written as one scalar loop
 * per tensor; wrapping each float32 operation in `Math.fround` gives IEEE single-precision results
 * (a double product or quotient of two float32 values, rounded once more, is the correctly rounded
 * float32 one), which is what lets the updates agree with PyTorch's float32 kernels to the last
 * bit or two. float64 needs no rounding.
 */
export type Round = (x: number) => number;

const identity: Round = (x) => x;

export function rounding(dtype: DType): Round {
  return dtype === "float32" ? Math.fround : identity;
}

/** What an update rule sees besides the tensors. */
export interface StepContext {
  /** Updates applied including this one: 1 on the first step. */
  readonly step: number;
  readonly lr: number;
  /** The buffers were created for this step (PyTorch's "state is empty" branch). */
  readonly fresh: boolean;
  readonly round: Round;
}

/**
 * What distinguishes one optimiser from another: its settings, the per-parameter buffers it keeps
 * and the update of one tensor. The bookkeeping (pairing params with grads by path, lazy buffers,
 * state dicts and their validation) is shared by `RuleOptimizer`.
 */
export interface UpdateRule {
  readonly name: string;
  readonly hyper: Readonly<Record<string, number | boolean>>;
  /** Buffers per parameter, in the order `update` receives them, with the value they start from. */
  readonly buffers: readonly { readonly name: string; readonly init: number }[];
  /** Updates `param` in place from `grad` (read only) and the buffers of the same parameter. */
  update(param: FloatArray, grad: FloatArray, buffers: readonly FloatArray[], ctx: StepContext): void;
}

/**
 * The direction every rule starts from, as PyTorch writes it at the top of each single-tensor
 * update: `grad = -grad if maximize`, then L2 weight decay `grad = grad.add(param, alpha=wd)`.
 * PyTorch's add with alpha runs as a fused multiply-add (`vec::fmadd`), so the product is not
 * rounded on its own.
 */
export function effectiveGrad(g: number, p: number, maximize: boolean, weightDecay: number, round: Round): number {
  const d = maximize ? -g : g;
  return weightDecay === 0 ? d : round(d + round(weightDecay) * p);
}

interface Shaped {
  readonly shape: readonly number[];
  readonly dtype: DType;
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i]);

const fmt = (shape: readonly number[]): string => `[${shape.join(", ")}]`;

function describePath(path: string): string {
  return path === "" ? "the root tensor" : `'${path}'`;
}

/** An optimiser made of an update rule and the shared bookkeeping. */
export class RuleOptimizer implements Optimizer {
  readonly name: string;
  lr: number;
  private readonly rule: UpdateRule;
  private stepCount = 0;
  /** Buffers per parameter path, in `rule.buffers` order. */
  private buffers = new Map<string, Tensor[]>();
  /** The parameters' paths, shapes and dtypes, once known (first step, or loaded buffers). */
  private params: Map<string, Shaped> | null = null;

  constructor(rule: UpdateRule, lr: number) {
    checkLr(rule.name, lr);
    this.rule = rule;
    this.name = rule.name;
    this.lr = lr;
  }

  step(params: unknown, grads: unknown): void {
    noGrad(() => {
      checkLr(this.name, this.lr);
      const pairs = this.pair(params, grads);
      const step = this.stepCount + 1;
      const created = new Set<string>();
      for (const [path, p] of pairs) {
        if (this.buffers.has(path)) continue;
        this.buffers.set(
          path,
          this.rule.buffers.map((b) => {
            const t = new Tensor(p.dtype === "float32" ? new Float32Array(p.size) : new Float64Array(p.size), p.shape);
            if (b.init !== 0) t.data.fill(b.init);
            return t;
          }),
        );
        created.add(path);
      }
      if (this.params === null) this.params = new Map(pairs.map(([path, p]) => [path, { shape: p.shape, dtype: p.dtype }]));
      for (const [path, p, g] of pairs) {
        const bufs = this.buffers.get(path)!.map((b) => b.data as FloatArray);
        const ctx: StepContext = { step, lr: this.lr, fresh: created.has(path), round: rounding(p.dtype) };
        this.rule.update(p.data as FloatArray, g.data as FloatArray, bufs, ctx);
      }
      this.stepCount = step;
    });
  }

  /** Pairs parameters with gradients by path, checking everything before anything is changed. */
  private pair(params: unknown, grads: unknown): [string, Tensor, Tensor][] {
    const ps = treeEntries(params, "params");
    const gs = new Map(treeEntries(grads, "grads"));
    const where = `${this.name}.step`;
    if (ps.length === 0) throw new OptimizerError(`${where}: params holds no tensors`);
    const seen = new Map<Tensor, string>();
    const out: [string, Tensor, Tensor][] = [];
    for (const [path, p] of ps) {
      const g = gs.get(path);
      if (g === undefined) throw new OptimizerError(`${where}: grads has no tensor at ${describePath(path)}, which params has`);
      gs.delete(path);
      if (p.dtype === "int32") throw new OptimizerError(`${where}: parameter ${describePath(path)} is int32; parameters must be float32 or float64`);
      if (!sameShape(p.shape, g.shape)) {
        throw new OptimizerError(`${where}: at ${describePath(path)} the parameter has shape ${fmt(p.shape)} but its gradient ${fmt(g.shape)}`);
      }
      if (g.dtype !== p.dtype) {
        throw new OptimizerError(`${where}: at ${describePath(path)} the parameter is ${p.dtype} but its gradient ${g.dtype}`);
      }
      const other = seen.get(p);
      if (other !== undefined) {
        throw new OptimizerError(`${where}: the same tensor appears at ${describePath(other)} and ${describePath(path)}; it would be updated twice`);
      }
      seen.set(p, path);
      const known = this.params?.get(path);
      if (this.params !== null && known === undefined) {
        throw new OptimizerError(`${where}: parameter ${describePath(path)} was not among the parameters this optimiser has state for`);
      }
      if (known !== undefined && (!sameShape(known.shape, p.shape) || known.dtype !== p.dtype)) {
        throw new OptimizerError(
          `${where}: parameter ${describePath(path)} is ${p.dtype} ${fmt(p.shape)}, but this optimiser's state is for ${known.dtype} ${fmt(known.shape)}`,
        );
      }
      out.push([path, p, g]);
    }
    const extra = gs.keys().next();
    if (!extra.done) throw new OptimizerError(`${where}: grads has a tensor at ${describePath(extra.value)}, which params has not`);
    if (this.params !== null && this.params.size !== out.length) {
      const missing = [...this.params.keys()].find((path) => !out.some(([q]) => q === path))!;
      throw new OptimizerError(`${where}: params has no tensor at ${describePath(missing)}, which this optimiser has state for`);
    }
    return out;
  }

  stateDict(): OptimizerState {
    const buffers: Record<string, Tensor> = {};
    for (const [path, bufs] of this.buffers) {
      this.rule.buffers.forEach((b, i) => {
        const t = bufs[i]!;
        buffers[`${b.name}/${path}`] = new Tensor(t.data.slice(), t.shape);
      });
    }
    return { name: this.name, version: 1, hyper: { ...this.rule.hyper }, step: this.stepCount, lr: this.lr, buffers };
  }

  loadStateDict(state: OptimizerState): void {
    const where = `${this.name}.loadStateDict`;
    const fail = (message: string): never => {
      throw new OptimizerError(`${where}: ${message}`);
    };
    if (typeof state !== "object" || state === null) fail("expected an optimiser state object");
    if (state.name !== this.name) fail(`the state is for a '${String(state.name)}' optimiser, not '${this.name}'`);
    if (state.version !== 1) fail(`unsupported state version ${String(state.version)}; this build reads version 1`);
    const hyper = state.hyper ?? {};
    // Settings' names may come from a file: own properties only.
    const own = (o: Readonly<Record<string, unknown>>, k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined);
    const keys = new Set([...Object.keys(this.rule.hyper), ...Object.keys(hyper)]);
    const diffs = [...keys]
      .filter((k) => own(this.rule.hyper, k) !== own(hyper, k))
      .map((k) => `${k}: saved ${String(own(hyper, k))}, here ${String(own(this.rule.hyper, k))}`);
    if (diffs.length > 0) fail(`the settings differ (${diffs.join("; ")})`);
    if (!Number.isInteger(state.step) || state.step < 0) fail(`step must be a non-negative integer, got ${String(state.step)}`);
    if (typeof state.lr !== "number" || !Number.isFinite(state.lr) || state.lr < 0) fail(`lr must be a finite number >= 0, got ${String(state.lr)}`);

    const names = this.rule.buffers.map((b) => b.name);
    const byPath = new Map<string, (Tensor | undefined)[]>();
    for (const [key, t] of Object.entries(state.buffers ?? {})) {
      const slash = key.indexOf("/");
      const name = slash < 0 ? key : key.slice(0, slash);
      const index = names.indexOf(name);
      if (slash < 0 || index < 0) {
        fail(`unexpected buffer '${key}'; a ${this.name} state holds ${names.length ? names.map((n) => `'${n}/<path>'`).join(", ") : "no buffers"}`);
      }
      if (!(t instanceof Tensor) || t.dtype === "int32") fail(`buffer '${key}' must be a float32 or float64 tensor`);
      const path = key.slice(slash + 1);
      const slots = byPath.get(path) ?? names.map(() => undefined);
      slots[index] = t;
      byPath.set(path, slots);
    }
    const loaded = new Map<string, Tensor[]>();
    for (const [path, slots] of byPath) {
      const missing = names.filter((_, i) => slots[i] === undefined);
      if (missing.length > 0) fail(`parameter ${describePath(path)} lacks buffer(s) ${missing.map((n) => `'${n}/${path}'`).join(", ")}`);
      const ts = slots as Tensor[];
      const first = ts[0]!;
      ts.forEach((t, i) => {
        if (!sameShape(t.shape, first.shape) || t.dtype !== first.dtype) {
          fail(`buffers '${names[0]}/${path}' (${first.dtype} ${fmt(first.shape)}) and '${names[i]}/${path}' (${t.dtype} ${fmt(t.shape)}) disagree`);
        }
      });
      const known = this.params?.get(path);
      if (this.params !== null && known === undefined) fail(`buffers for ${describePath(path)}, which is not among this optimiser's parameters`);
      if (known !== undefined && (!sameShape(known.shape, first.shape) || known.dtype !== first.dtype)) {
        fail(`buffer '${names[0]}/${path}' is ${first.dtype} ${fmt(first.shape)}, but the parameter is ${known.dtype} ${fmt(known.shape)}`);
      }
      loaded.set(path, ts.map((t) => new Tensor(t.data.slice(), t.shape)));
    }
    if (names.length > 0) {
      if (state.step === 0 && loaded.size > 0) fail("a state at step 0 cannot hold buffers");
      if (state.step > 0 && loaded.size === 0) fail(`a state at step ${state.step} must hold buffers (${names.join(", ")})`);
      if (this.params !== null && state.step > 0 && loaded.size !== this.params.size) {
        const missing = [...this.params.keys()].find((p) => !loaded.has(p))!;
        fail(`no buffers for parameter ${describePath(missing)}`);
      }
    }

    // Everything checked: commit.
    this.buffers = loaded;
    this.stepCount = state.step;
    this.lr = state.lr;
    if (loaded.size > 0) this.params = new Map([...loaded].map(([path, ts]) => [path, { shape: ts[0]!.shape, dtype: ts[0]!.dtype }]));
  }
}

function checkLr(name: string, lr: number): void {
  if (typeof lr !== "number" || !Number.isFinite(lr) || lr < 0) throw new RangeError(`${name}: lr must be a finite number >= 0, got ${lr}`);
}

/** Throws a RangeError naming the optimiser unless `ok`. */
export function checkSetting(name: string, ok: boolean, message: string): void {
  if (!ok) throw new RangeError(`${name}: ${message}`);
}
