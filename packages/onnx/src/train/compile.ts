import {
  Rng,
  Tensor,
  TensorError,
  trace,
  traceInput,
  treeEntries,
  treeMap,
  valueAndGrad,
  withDecomposition,
} from "@unroll/tensor";
import { OnnxExportError } from "../export/builder.js";
import { graphToOnnx } from "../export/graph-to-onnx.js";
import type { LoweringTable } from "../export/lowering.js";
import { defaultLowerings } from "../export/primitives.js";
import { encodeModel } from "../proto/onnx.js";
import { OnnxSession, type OnnxSessionOptions, toTensor } from "../runtime/session.js";
import { trainingLowerings } from "./lowerings.js";
import { fastScan, lstmTrainingLowerings } from "./recurrent.js";

// A training step's loss and gradients compiled into one ONNX graph and run on onnxruntime's
// native kernels. The step is traced once per shape: the loss function runs on the batch with a
// valueAndGrad inside a trace, so the graph holds the forward pass and the backward pass as
// primitives; fused primitives without a training lowering are traced as their decompositions. The
// parameters, the batch's tensors and the carried state are the graph's inputs; the loss, every
// gradient and the new carried state its outputs.
//
// A trace records what the loss function computes from its inputs. Anything it reads out of a
// tensor in JavaScript (`item()`, `data`) becomes a constant of the graph, right for the batch it
// was traced on and wrong for the next: some batches of every shape are therefore run by the
// library too and compared (`verify`). Random tensors (dropout masks) become inputs of the graph,
// drawn before every run from the run's generator as the library would draw them.

/** Something a compiled step cannot do; the message names it and what to do instead. */
export class CompileError extends TensorError {
  constructor(message: string) {
    super("compileStep", message);
    this.name = "CompileError";
  }
}

/** What the loss function of a compiled step sees besides the parameters, batch and carry. */
export interface CompileContext {
  readonly step: number;
  /** The run's generator as the trace sees it: see `recordingRng`. */
  readonly rng: Rng;
  readonly training: true;
}

/** A loss function as the Trainer calls it (`LossFunction` of @unroll/train). */
export type StepLoss<P, B, C> = (params: P, batch: B, carry: C | undefined, context: CompileContext) => {
  readonly loss: Tensor;
  readonly carry?: C;
  readonly tokens?: number;
  readonly reportedLoss?: number;
};

export interface CompileOptions {
  /** onnxruntime session options (default: every graph optimisation, `intraOpNumThreads` 1). */
  readonly sessionOptions?: Readonly<Record<string, unknown>>;
  /** Threads of onnxruntime's kernels in each graph (`intraOpNumThreads`; default 1). */
  readonly threads?: number;
  /** The runtime (default: onnxruntime-node under Node.js, onnxruntime-web elsewhere). */
  readonly runtime?: OnnxSessionOptions["runtime"];
  /**
   * Execution providers to try in order (default: the CPU one); one that cannot start is skipped
   * with a message and the step runs on the CPU (see `OnnxSession.create`).
   */
  readonly executionProviders?: OnnxSessionOptions["executionProviders"];
  /** Receives the message when a requested provider is unavailable (default: console.warn). */
  readonly onFallback?: OnnxSessionOptions["onFallback"];
  /** Extra lowerings by primitive name. */
  readonly lowerings?: LoweringTable;
}

/**
 * The parts of a batch: its tensors in order, its other values (flags, positions) by path, and the
 * structure. A trace bakes in the values the loss function reads (a `reset` flag), so a compiled
 * step is reused for a batch whose read values are the same; values it never reads (a position)
 * do not matter.
 */
export interface BatchParts {
  readonly tensors: Tensor[];
  /** Values that are not tensors, by path (`reset`, `position.epoch`). */
  readonly values: ReadonlyMap<string, unknown>;
  /** The batch's structure and tensor shapes. */
  readonly shape: string;
  /** Rebuilds the batch around other tensors; `onRead` hears every non-tensor value the caller reads. */
  rebuild(tensors: readonly Tensor[], onRead: (path: string) => void): unknown;
}

function isPlainObject(x: object): boolean {
  const proto = Object.getPrototypeOf(x) as unknown;
  return proto === Object.prototype || proto === null;
}

type Skeleton = { tensor: number } | { value: string } | { array: Skeleton[] } | { object: [string, Skeleton][] };

/** Splits a batch (tensors, arrays and plain objects of them, numbers, strings, booleans) into its parts. */
export function batchParts(batch: unknown): BatchParts {
  const tensors: Tensor[] = [];
  const values = new Map<string, unknown>();
  const walk = (node: unknown, at: string): Skeleton => {
    if (node instanceof Tensor) {
      tensors.push(node);
      return { tensor: tensors.length - 1 };
    }
    if (node === null || node === undefined || typeof node === "number" || typeof node === "string" || typeof node === "boolean") {
      values.set(at, node);
      return { value: at };
    }
    if (Array.isArray(node)) return { array: node.map((x, i) => walk(x, `${at}.${i}`)) };
    if (typeof node === "object" && isPlainObject(node)) return { object: Object.entries(node).map(([k, v]) => [k, walk(v, `${at}.${k}`)]) };
    throw new CompileError(
      `the batch holds at ${at} a ${typeof node === "object" ? ((node as object).constructor?.name ?? "object") : typeof node}; ` +
        "a compiled step takes batches of tensors, arrays, plain objects, numbers, strings and booleans",
    );
  };
  const skeleton = walk(batch, "batch");
  const shape = JSON.stringify(skeleton, (_k, v: unknown) => (typeof v === "object" && v !== null && "tensor" in v ? `${tensors[(v as { tensor: number }).tensor]!.dtype}[${tensors[(v as { tensor: number }).tensor]!.shape.join(",")}]` : v));
  const rebuild = (ts: readonly Tensor[], onRead: (path: string) => void): unknown => {
    const build = (n: Skeleton): unknown => {
      if ("tensor" in n) return ts[n.tensor];
      if ("value" in n) {
        onRead(n.value);
        return values.get(n.value);
      }
      if ("array" in n) return n.array.map(build);
      const out: Record<string, unknown> = {};
      for (const [k, child] of n.object) {
        if ("value" in child) Object.defineProperty(out, k, { enumerable: true, get: () => build(child) });
        else out[k] = build(child);
      }
      return out;
    };
    return build(skeleton);
  };
  return { tensors, values, shape, rebuild };
}

/** Shapes and dtypes of tensors as a cache key. */
function signature(tensors: readonly Tensor[]): string {
  return tensors.map((t) => `${t.dtype}[${t.shape.join(",")}]`).join(" ");
}

/** A tree's leaves by path, whatever order its keys came in (a checkpoint's carry arrives sorted: c before h). */
function byPath(tree: unknown, prefix: string): [string, Tensor][] {
  return treeEntries(tree, prefix).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A graph input's or output's name for a tree path. */
function sanitize(s: string): string {
  return s.replace(/[^A-Za-z0-9_.]/g, "_");
}

/** One draw of the generator while tracing, replayed on the run's generator before every run. */
export interface RandomDraw {
  readonly method: "uniform" | "normal" | "bernoulli" | "randint";
  readonly args: readonly unknown[];
}

const TENSOR_DRAWS = new Set(["uniform", "normal", "bernoulli", "randint"]);

/**
 * The generator a traced loss function sees. Its tensor draws (dropout's `bernoulli`, `uniform`,
 * `normal`, `randint`) come from a copy of the run's generator and become inputs of the graph
 * (`traceInput`): before every run the same draws are made on the run's own generator, in the same
 * order, so the masks are the ones the library's engine would draw and the generator's state
 * (checkpointed) moves as it would. A draw of plain numbers (`random()`, `uint32`) would steer
 * JavaScript, so it is refused.
 */
function recordingRng(source: Rng, draws: RandomDraw[]): Rng {
  const copy = Rng.fromState(source.state());
  return new Proxy(copy, {
    get: (target, key) => {
      if (typeof key === "string" && TENSOR_DRAWS.has(key)) {
        return (...args: unknown[]) => {
          const t = (target[key as RandomDraw["method"]] as (...a: unknown[]) => Tensor)(...args);
          draws.push({ method: key as RandomDraw["method"], args });
          traceInput(t);
          return t;
        };
      }
      if (key === "state") return () => target.state();
      if (typeof key === "symbol") return undefined;
      return () => {
        throw new CompileError(
          `the loss function draws numbers in JavaScript (rng.${String(key)}) while the step is traced; a compiled graph could not follow them. ` +
            "Draw tensors (rng.bernoulli, uniform, normal, randint), or use the library's engine",
        );
      };
    },
  }) as Rng;
}

/** The primitives a compiled step traces as their decompositions: the fused ones with no lowering. */
function decomposes(lowerings: LoweringTable): (primitive: { readonly name: string }, attrs: unknown) => boolean {
  return (primitive, attrs) => {
    // The scan's decomposition reads the lengths' values while tracing (each step's mask): a
    // padded batch's graph would keep the first batch's lengths, so that scan stays fused and
    // fails below, naming its backward pass.
    if (primitive.name === "RecurrentSequence") {
      const a = attrs as Parameters<typeof fastScan>[0];
      return !fastScan(a) && !a.hasLengths;
    }
    return lowerings[primitive.name] === undefined || lowerings[`${primitive.name}Grad`] === undefined;
  };
}

/** One compiled shape: a session and how its inputs and outputs map onto the trees. */
export class CompiledStep<P, C> {
  /** The provider the graph runs on ("cpu", "wasm", "cuda"...). */
  get executionProvider(): string {
    return this.session.executionProvider;
  }

  /** Runs of this shape so far (the second is verified against the library). */
  runs = 0;

  constructor(
    readonly session: OnnxSession,
    /** Nodes in the ONNX graph after clean-up. */
    readonly nodeCount: number,
    /** Milliseconds from trace to a ready session. */
    readonly compileMs: number,
    /** Graph input of each parameter, output of its gradient, and input of each carried tensor, by tree path. */
    private readonly paramNames: ReadonlyMap<string, string>,
    private readonly batchNames: readonly string[],
    private readonly carryNames: ReadonlyMap<string, string>,
    private readonly gradNames: ReadonlyMap<string, string>,
    private readonly carryOutNames: readonly string[],
    /** Rebuilds the carry tree from its leaves (null when the loss function carries nothing). */
    private readonly carryTree: ((leaves: readonly Tensor[]) => C) | null,
    /** The loss function's `tokens` on the traced batch. */
    readonly tracedTokens: number | undefined,
    /** The batch's non-tensor values the loss function read while tracing: baked into the graph. */
    readonly reads: ReadonlyMap<string, unknown>,
    /** The generator's tensor draws of one step (dropout masks), graph inputs `random.<k>`. */
    readonly draws: readonly RandomDraw[],
  ) {}

  /** Whether this graph computes the step of a batch of its shape: the values it baked in are the batch's. */
  serves(parts: BatchParts): boolean {
    for (const [path, v] of this.reads) if (!Object.is(parts.values.get(path), v)) return false;
    return true;
  }

  /**
   * One step: the loss, the gradients and the next carried state. A graph with random draws needs
   * the run's generator, which they advance as the library's engine would.
   */
  async run(params: P, batch: readonly Tensor[], carry: C | undefined, rng?: Rng): Promise<{ loss: number; grads: P; carry: C | undefined }> {
    const feeds: Record<string, Tensor> = {};
    if (this.draws.length > 0) {
      if (rng === undefined) throw new CompileError("this step draws random numbers (dropout): pass the run's generator to run()");
      this.draws.forEach((d, k) => (feeds[`random.${k}`] = (rng[d.method] as (...a: unknown[]) => Tensor)(...d.args)));
    }
    // By path, not position: the same tree may come with its keys in another order (a resumed carry).
    const named = (names: ReadonlyMap<string, string>, path: string, tree: string): string => {
      const name = names.get(path);
      if (name === undefined) throw new CompileError(`${tree} has a tensor at '${path}', which the traced step's ${tree} did not have`);
      return name;
    };
    const paramPaths = treeEntries(params).map(([path, t]) => ((feeds[named(this.paramNames, path, "params")] = t), path));
    batch.forEach((t, i) => (feeds[this.batchNames[i]!] = t));
    if (carry !== undefined) for (const [path, t] of treeEntries(carry, "carry")) feeds[named(this.carryNames, path, "carry")] = t;
    const out = await this.session.run(feeds);
    const value = (name: string): Tensor => toTensor(name, out[name]!);
    const loss = Number((out.loss!.data as ArrayLike<number>)[0]);
    const grads = treeMap(params, (_, k) => value(this.gradNames.get(paramPaths[k]!)!));
    const next = this.carryTree ? this.carryTree(this.carryOutNames.map(value)) : undefined;
    this.runs++;
    return { loss, grads, carry: next };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * Traces one step of `loss` at the shapes of `params`, `batch` and `carry` and opens it in
 * onnxruntime. Throws CompileError when the step cannot be compiled faithfully: a primitive with no
 * lowering (named), random numbers while tracing, a parameter without a gradient path.
 */
export async function compileStep<P, B, C>(
  loss: StepLoss<P, B, C>,
  example: { readonly params: P; readonly batch: B; readonly carry: C | undefined; readonly step?: number; readonly rng?: Rng },
  options: CompileOptions = {},
): Promise<CompiledStep<P, C>> {
  const start = performance.now();
  const lowerings: LoweringTable = { ...defaultLowerings, ...trainingLowerings, ...lstmTrainingLowerings(), ...options.lowerings };
  const paramEntries = treeEntries(example.params);
  if (paramEntries.length === 0) throw new CompileError("params has no tensors to train");
  if (options.threads !== undefined && !(Number.isSafeInteger(options.threads) && options.threads >= 1)) throw new CompileError(`threads must be a positive integer, got ${options.threads}`);
  const parts = batchParts(example.batch);
  const carryEntries = example.carry === undefined ? [] : treeEntries(example.carry, "carry");
  const P = paramEntries.length;
  const Bn = parts.tensors.length;
  const inputs = [...paramEntries.map(([, t]) => t), ...parts.tensors, ...carryEntries.map(([, t]) => t)];
  const grad = valueAndGrad(
    (p: P, b: B, c: C | undefined, ctx: CompileContext) => {
      const out = loss(p, b, c, ctx);
      return [out.loss, out] as const;
    },
    { hasAux: true },
  );
  let carryOut: [string, Tensor][] = [];
  let carryShape: C | undefined;
  let tracedTokens: number | undefined;
  let gradEntries: [string, Tensor][] = [];
  const reads = new Map<string, unknown>();
  const draws: RandomDraw[] = [];
  const traced = withDecomposition(
    () =>
      trace((...xs: Tensor[]) => {
        let i = 0;
        const p = treeMap(example.params, () => xs[i++]!);
        const b = parts.rebuild(xs.slice(P, P + Bn), (path) => reads.set(path, parts.values.get(path))) as B;
        let j = P + Bn;
        const c = example.carry === undefined ? undefined : treeMap(example.carry, () => xs[j++]!);
        const ctx: CompileContext = { step: example.step ?? 0, rng: recordingRng(example.rng ?? new Rng(0), draws), training: true };
        const { value, grads, aux } = grad(p, b, c, ctx);
        if (aux.reportedLoss !== undefined) {
          throw new CompileError("the loss function reports a separate loss (reportedLoss, a number read while tracing); the compiled engine cannot report it yet: use the library's engine");
        }
        tracedTokens = aux.tokens;
        gradEntries = treeEntries(grads, "grads");
        carryShape = aux.carry;
        carryOut = aux.carry === undefined ? [] : treeEntries(aux.carry, "carry");
        return [value, ...gradEntries.map(([, g]) => g), ...carryOut.map(([, t]) => t)];
      }, inputs),
    decomposes(lowerings),
  );
  const graph = traced.graph;
  const paths = new Set(gradEntries.map(([path]) => path));
  for (const [path] of paramEntries) {
    if (!paths.has(path)) throw new CompileError(`the gradients have no tensor at '${path}', which params has`);
  }
  const paramNames = paramEntries.map(([path]) => `param.${sanitize(path)}`);
  const batchNames = parts.tensors.map((_, i) => `batch.${i}`);
  const carryNames = carryEntries.map(([path]) => `carry.${sanitize(path) || "0"}`);
  const gradNames = gradEntries.map(([path]) => `grad.${sanitize(path)}`);
  const carryOutNames = carryOut.map(([path]) => `next_carry.${sanitize(path) || "0"}`);
  let model;
  try {
    model = graphToOnnx(graph, {
      inputNames: [...paramNames, ...batchNames, ...carryNames, ...draws.map((_, k) => `random.${k}`)],
      outputNames: ["loss", ...gradNames, ...carryOutNames],
      lowerings,
      lowering: "unrolled",
      graphName: "training_step",
    });
  } catch (e) {
    if (e instanceof OnnxExportError) {
      throw new CompileError(`the step cannot be compiled: ${e.message.replace(/; export an inference graph, or pass lowerings.*$/, "")}. Use the library's engine for this model`);
    }
    throw e;
  }
  const session = await OnnxSession.create(encodeModel(model), {
    ...(options.runtime !== undefined ? { runtime: options.runtime } : {}),
    ...(options.executionProviders !== undefined ? { executionProviders: options.executionProviders } : {}),
    ...(options.onFallback !== undefined ? { onFallback: options.onFallback } : {}),
    sessionOptions: { graphOptimizationLevel: "all", intraOpNumThreads: options.threads ?? 1, interOpNumThreads: 1, executionMode: "sequential", ...options.sessionOptions },
  });
  const carryTree =
    carryShape === undefined
      ? null
      : (leaves: readonly Tensor[]): C => {
          let k = 0;
          return treeMap(carryShape as C, () => leaves[k++]!);
        };
  return new CompiledStep<P, C>(
    session,
    model.graph.node.length,
    performance.now() - start,
    new Map(paramEntries.map(([path], i) => [path, paramNames[i]!])),
    batchNames,
    new Map(carryEntries.map(([path], i) => [path, carryNames[i]!])),
    new Map(gradEntries.map(([path], i) => [path, gradNames[i]!])),
    carryOutNames,
    carryTree,
    tracedTokens,
    reads,
    draws,
  );
}

/** The cache key of a step's shapes: parameters, batch structure and tensors, carried state. */
export function shapeKey(params: unknown, parts: BatchParts, carry: unknown): string {
  const named = (entries: [string, Tensor][]): string => entries.map(([path, t]) => `${path}:${signature([t])}`).join(" ");
  return `${named(byPath(params, "params"))} | ${parts.shape} | ${carry === undefined ? "no carry" : named(byPath(carry, "carry"))}`;
}
