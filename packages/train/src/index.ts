// @unroll/train: everything public is exported here.

// The training loop, its events and its state.
export { Trainer, TrainingError } from "./trainer.js";
export type {
  TrainerOptions, TrainerEvents, TrainerState, StepEvent, StepContext, LossFunction, LossOutput,
  EvalResult, ScheduleLike, StopReason,
} from "./trainer.js";
export { libraryEngine } from "./engine.js";
export type { EngineFactory, GradientEngine, Gradients } from "./engine.js";
export { Emitter } from "./events.js";
export { arraySource } from "./data.js";
export { reportProgress, formatStep, formatDuration } from "./progress.js";
export type { ProgressOptions, ProgressStream, TrainerEventSource } from "./progress.js";
export { modelSummary, formatModelSummary } from "./summary.js";
export type { ModelSummary, SummaryModule, SummaryTensor } from "./summary.js";
export type { DataSource } from "./data.js";

// Truncated backpropagation through time and gradient clipping.
export { bpttWindows } from "./bptt.js";
export type { BpttWindow } from "./bptt.js";
export { clipGradNorm, clipGradValue, globalNorm } from "./clip.js";
export type { NormClipResult } from "./clip.js";

// Optimisers (PyTorch 1.13 update rules) and learning-rate schedules.
export type { Optimizer, OptimizerState, SgdOptions, AdamOptions, RmspropOptions, AdagradOptions } from "./optim/index.js";
export { OptimizerError, sgd, adam, adamw, rmsprop, adagrad } from "./optim/index.js";
export type {
  Schedule, StepDecayOptions, ExponentialOptions, CosineWithWarmupOptions,
  ReduceOnPlateau, ReduceOnPlateauOptions, ReduceOnPlateauState,
} from "./schedules/index.js";
export { constant, stepDecay, exponential, cosineWithWarmup, reduceOnPlateau } from "./schedules/index.js";

// Checkpoints: safetensors weights, atomic step directories, exact resume (Node only for files).
export * from "./checkpoint/index.js";
export { saveTrainerCheckpoint, resumeTrainer, checkpointEvery, checkpointFromState, stateFromCheckpoint } from "./trainer-checkpoint.js";

// Run folders (Node only): an exclusive lock, no old run overwritten or mixed in, metrics.jsonl
// written line by line and cut back on resume; a monitor of finite divergence.
export * from "./run/index.js";

// Diagnostics from the source material: gradient flow through time, saturation, spectra.
export { gradientFlow, jacobianNorms, saturation, recurrentSpectralRadii, toCSV, seriesRows } from "./diagnostics/index.js";
export type { GradientFlowReport, JacobianNormOptions, ProbeOptions, SaturationReport, Row } from "./diagnostics/index.js";

// Long-range experiments: the adding problem and copy memory, the compared RNNs, the runner and the clipping demo.
export * from "./experiments/index.js";
