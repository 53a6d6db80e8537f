import type { Kernels } from "./backend/kernels.js";
import type { Tape } from "./autodiff/recording.js";
import { VERSION } from "./version.js";

/**
 * A process can load two copies of this package (an application's own and one a dependency brought,
 * a patch release apart). The state that must be one per process — the active kernel table and the
 * recording tapes — lives on `globalThis` under a `Symbol.for` key, so every copy of one release
 * line reads and writes the same object: `setKernels` reaches all of them and a gradient flows
 * through operations of either. Copies of incompatible lines (0.1.x and 0.2.x) keep separate state,
 * and a tensor of one that reaches the other is an error naming both versions (`Tensor`'s
 * `instanceof` check), never a silent wrong answer.
 */
export interface SharedState {
  /** The first copy that created this state. */
  readonly version: string;
  /** `undefined` until `setKernels`: each copy then runs on its own reference kernels. */
  kernels: Kernels | undefined;
  /** The tapes recording now, innermost last. */
  tapes: readonly Tape[];
  /**
   * While set (`withDecomposition`), fused primitives it accepts run as their `decompose`: a trace
   * then holds simpler primitives only. Optional: a state made by an older copy lacks it.
   */
  decompose?: ((primitive: { readonly name: string }, attrs: unknown) => boolean) | undefined;
}

/**
 * The versions whose copies share state and tensors: semver's compatible ones (the same major, and
 * for 0.x the same minor: "0.1" for 0.1.x, "1" for 1.x).
 */
export function releaseLine(version: string): string {
  const [major = "", minor = ""] = version.split(".");
  return major === "0" ? `0.${minor}` : major;
}

export const RELEASE_LINE = releaseLine(VERSION);

const STATE_KEY = Symbol.for(`@unroll/tensor.state@${RELEASE_LINE}`);

/** Own-property brand every Tensor's prototype carries: the version of the copy that made it. */
export const TENSOR_BRAND = Symbol.for("@unroll/tensor.Tensor");

const holder = globalThis as unknown as Record<symbol, SharedState | undefined>;

export const shared: SharedState = (holder[STATE_KEY] ??= { version: VERSION, kernels: undefined, tapes: [] });
