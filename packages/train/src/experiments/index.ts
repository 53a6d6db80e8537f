// Long-range experiments of the source material: the adding problem and copy memory as seeded
// generators, the compared models (tanh RNN, IRNN, np-RNN, LSTM), the runner that trains them
// under one budget, and the clipping demonstration.
export {
  addingTask, copyTask, copyBaseline, ADDING_BASELINE_MSE, COPY_SYMBOLS, COPY_CATEGORIES, COPY_BLANK, COPY_DELIMITER,
} from "./tasks.js";
export type { Task, SequenceBatch, TaskMetrics } from "./tasks.js";
export { taskSource, taskTestSet } from "./source.js";
export { buildModel, scanSteps, isModelKind, MODEL_KINDS } from "./models.js";
export type { ModelKind, ModelParams, ModelOptions, SequenceModel } from "./models.js";
export { runLongRange, runClippingDemo, trainOnTask, makeTask, streamSeed, DEFAULT_LR } from "./runner.js";
export type {
  LongRangeOptions, LongRangeRow, ClippingOptions, ClippingRow, TrainOptions, TrainingOutcome, ProgressEvent, CurvePoint,
} from "./runner.js";
export { longRangeTable, clippingTable } from "./table.js";
