import { valueAndGrad } from "@unroll/tensor";
import type { LossFunction, LossOutput, StepContext } from "./trainer.js";

// What computes a training step's loss and gradients for the Trainer. The library's own engine is
// autodiff on the active kernel table; another engine (a compiled graph on onnxruntime, in
// @unroll/onnx) computes the same numbers its own way. Everything else a step does (clipping, the
// non-finite guard, the optimiser, schedules, checkpoints, events) stays in the Trainer, so an engine
// changes the speed of a run and nothing of its meaning.

/** The loss, the gradients (a tree shaped as the parameters) and the loss function's other outputs. */
export interface Gradients<P, C> {
  readonly loss: number;
  readonly grads: P;
  readonly aux: Omit<LossOutput<C>, "loss">;
}

/** Computes gradients for one loss function. */
export interface GradientEngine<P, B, C> {
  readonly name: string;
  gradients(params: P, batch: B, carry: C | undefined, context: StepContext): Gradients<P, C> | Promise<Gradients<P, C>>;
  /** Frees what the engine holds (sessions); the Trainer does not call it. */
  release?(): void | Promise<void>;
}

/** Makes an engine for a loss function: what `TrainerOptions.engine` takes. */
export interface EngineFactory {
  readonly name: string;
  /**
   * A compiled engine builds one graph per batch shape: data sources of variable-length batches
   * (translation pairs) round their padded lengths up to this multiple, so that a few shapes serve a
   * whole corpus. The extra positions are padding, which changes no loss or gradient. Default 1.
   */
  readonly lengthMultiple?: number;
  create<P, B, C>(loss: LossFunction<P, B, C>): GradientEngine<P, B, C>;
}

/** The library's own engine: reverse-mode autodiff on the active kernels (the default). */
export const libraryEngine: EngineFactory = Object.freeze({
  name: "library",
  create<P, B, C>(loss: LossFunction<P, B, C>): GradientEngine<P, B, C> {
    const grad = valueAndGrad(
      (params: P, batch: B, carry: C | undefined, ctx: StepContext) => {
        const out = loss(params, batch, carry, ctx);
        return [out.loss, out] as const;
      },
      { hasAux: true },
    );
    return {
      name: "library",
      gradients: (params, batch, carry, ctx) => {
        const { value, grads, aux } = grad(params, batch, carry, ctx);
        return { loss: value.item(), grads, aux };
      },
    };
  },
});
