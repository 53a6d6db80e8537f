import { Rng, type Tensor, treeEntries, valueAndGrad } from "@unroll/tensor";
import { batchParts, type CompileContext as Context, type CompiledStep, CompileError, type CompileOptions, compileStep, shapeKey, type StepLoss } from "./compile.js";

// The compiled step as an engine of @unroll/train's Trainer (`engine: onnxruntimeEngine()`): the
// same interface as the library's autodiff (loss, gradients, the loss function's outputs), one
// onnxruntime session per shape. The Trainer keeps clipping, the guard, the optimiser and
// checkpoints, so a run on this engine resumes on the library's and the other way round.

export interface OnnxEngineOptions extends CompileOptions {
  /**
   * Tokens of a batch for throughput (the loss function's `tokens` is read while tracing, so it
   * would be the traced batch's count). Default: the traced batch's count.
   */
  readonly tokens?: (batch: never) => number;
  /**
   * Run some batches of every compiled shape through the library too and compare loss and
   * gradients (default true): the first graph's 2nd, 3rd and 10th run, then every 500th, and the
   * 2nd run of every later graph. A loss
   * function that reads a tensor's values in JavaScript (or library code that branches on them)
   * makes a graph that is right only for batches like the traced one, and this catches it.
   */
  readonly verify?: boolean;
  /** Relative tolerance of that check (default 1e-3 of the loss and of the largest gradient). */
  readonly verifyTolerance?: number;
  /**
   * Padded lengths of variable-length batches are rounded up to this multiple (default 4; see
   * @unroll/train's `EngineFactory.lengthMultiple`). On the German-English pairs, 169 batch shapes
   * over three epochs become 34 at 4 (11% more positions) and 18 at 8 (22% more).
   */
  readonly lengthMultiple?: number;
  /** Told of each compilation: its key, node count and time. */
  readonly onCompile?: (info: { readonly key: string; readonly nodes: number; readonly ms: number }) => void;
  /**
   * When given, a model that does not compile (a primitive with no lowering, a padded plain-RNN
   * scan) trains on the library's autodiff instead, from that step on, and this is told why;
   * without it the `CompileError` is thrown. For a default engine that always trains.
   */
  readonly onUncompilable?: (error: CompileError) => void;
}


interface LossOutputLike<C> {
  readonly loss: Tensor;
  readonly carry?: C;
  readonly tokens?: number;
  readonly reportedLoss?: number;
}

function maxAbs(t: Tensor): number {
  let m = 0;
  for (let i = 0; i < t.size; i++) m = Math.max(m, Math.abs(t.data[i]!));
  return m;
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  let m = 0;
  for (let i = 0; i < a.size; i++) m = Math.max(m, Math.abs(a.data[i]! - b.data[i]!));
  return m;
}

/**
 * Which runs of a compiled graph are checked against the library (see `verify`): the first graph's
 * 2nd, 3rd and 10th run, then every 500th; each later graph's 2nd run. A loss function that bakes a
 * batch's values into its trace does so in every graph, so the first graph's checks catch it, and a
 * corpus of many shapes (translation) does not pay three library steps per graph.
 */
function verifiedRun(run: number, graph: number): boolean {
  if (graph > 0) return run === 2;
  return run === 2 || run === 3 || run === 10 || run % 500 === 0;
}

/** An engine factory for @unroll/train's `TrainerOptions.engine`. */
export function onnxruntimeEngine(options: OnnxEngineOptions = {}) {
  const lengthMultiple = options.lengthMultiple ?? 4;
  // Without onnxruntime's memory arena and memory patterns: each session would otherwise keep its
  // peak memory (about 0.6 GiB per graph of a 7M-parameter translation model, 8.8 GiB after 14
  // graphs; 2.4 GiB without, and the 40 steps ran in 54 s instead of 74).
  const compileOptions: CompileOptions = { ...options, sessionOptions: { enableCpuMemArena: false, enableMemPattern: false, ...options.sessionOptions } };
  if (!Number.isSafeInteger(lengthMultiple) || lengthMultiple < 1) throw new RangeError(`onnxruntimeEngine: lengthMultiple must be a positive integer, got ${lengthMultiple}`);
  return {
    name: "onnxruntime",
    lengthMultiple,
    create<P, B, C>(loss: (params: P, batch: B, carry: C | undefined, context: Context) => LossOutputLike<C>) {
      // Per shape, the graphs compiled so far (one per combination of the batch values they read).
      const cache = new Map<string, CompiledStep<P, C>[]>();
      const order = new Map<CompiledStep<P, C>, number>(); // each graph's place in compile order
      const verify = options.verify ?? true;
      const tol = options.verifyTolerance ?? 1e-3;
      const library = valueAndGrad(
        (p: P, b: B, c: C | undefined, ctx: Context) => {
          const out = loss(p, b, c, ctx);
          return [out.loss, out] as const;
        },
        { hasAux: true },
      );
      const check = (key: string, compiled: { loss: number; grads: P }, params: P, batch: B, carry: C | undefined, ctx: Context): void => {
        const ref = library(params, batch, carry, ctx);
        const refLoss = ref.value.item();
        const problems: string[] = [];
        if (!(Math.abs(compiled.loss - refLoss) <= tol * Math.max(1, Math.abs(refLoss)))) problems.push(`loss ${compiled.loss} against ${refLoss}`);
        const mine = new Map(treeEntries(compiled.grads, "grads"));
        for (const [path, g] of treeEntries(ref.grads, "grads")) {
          const h = mine.get(path)!;
          const scale = Math.max(maxAbs(g), 1e-6);
          const d = maxAbsDiff(g, h);
          if (!(d <= tol * scale)) problems.push(`gradient of '${path}' off by ${d.toPrecision(3)} (largest ${scale.toPrecision(3)})`);
        }
        if (problems.length > 0) {
          throw new CompileError(
            `the compiled step disagrees with the library on another batch of its shape (${problems.slice(0, 3).join("; ")}). ` +
              "The loss function probably reads a tensor's values in JavaScript (item(), data), which a traced graph keeps from the first batch; " +
              `compute with tensor operations, or use the library's engine. Shape: ${key}`,
          );
        }
      };
      let uncompilable = false;
      const onLibrary = (params: P, batch: B, carry: C | undefined, ctx: Context) => {
        const { value, grads, aux } = library(params, batch, carry, ctx);
        return { loss: value.item(), grads, aux };
      };
      return {
        name: "onnxruntime",
        async gradients(params: P, batch: B, carry: C | undefined, ctx: Context) {
          if (uncompilable) return onLibrary(params, batch, carry, ctx);
          const parts = batchParts(batch);
          const key = shapeKey(params, parts, carry);
          const graphs = cache.get(key) ?? [];
          let compiled = graphs.find((g) => g.serves(parts));
          if (compiled === undefined) {
            try {
              compiled = await compileStep(loss as StepLoss<P, B, C>, { params, batch, carry, step: ctx.step, rng: ctx.rng }, compileOptions);
            } catch (e) {
              // The trace draws from a copy of the generator, so the library's step draws what it would have.
              if (!(e instanceof CompileError) || options.onUncompilable === undefined) throw e;
              uncompilable = true;
              options.onUncompilable(e);
              return onLibrary(params, batch, carry, ctx);
            }
            options.onCompile?.({ key, nodes: compiled.nodeCount, ms: compiled.compileMs });
            graphs.push(compiled);
            cache.set(key, graphs);
            order.set(compiled, order.size);
          }
          // The check redraws what the step drew (dropout masks) from the generator as it was before.
          const before = compiled.draws.length > 0 ? ctx.rng.state() : null;
          const out = await compiled.run(params, parts.tensors, carry, ctx.rng);
          if (verify && verifiedRun(compiled.runs, order.get(compiled)!)) check(key, out, params, batch, carry, { ...ctx, rng: before ? Rng.fromState(before) : ctx.rng, training: true });
          const tokens = options.tokens ? options.tokens(batch as never) : compiled.tracedTokens;
          return {
            loss: out.loss,
            grads: out.grads,
            aux: {
              ...(out.carry !== undefined ? { carry: out.carry } : {}),
              ...(tokens !== undefined ? { tokens } : {}),
            },
          };
        },
        async release() {
          for (const graphs of cache.values()) for (const g of graphs) await g.release();
          cache.clear();
          order.clear();
        },
      };
    },
  };
}


