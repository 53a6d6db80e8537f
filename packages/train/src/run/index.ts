// Run folders (Node only): the lock, refusing or replacing an old run, metrics.jsonl line by line
// (and metrics.csv) cut back on resume, the best checkpoint, TensorBoard event files; and the
// divergence monitor. Shared by every training command.
export { RunFolderError } from "./errors.js";
export type { RunFolderErrorCode } from "./errors.js";
export { RunLock, LOCK_FILE, parseLock } from "./lock.js";
export type { LockOwner } from "./lock.js";
export { MetricsLog, METRICS_FILE, METRICS_CSV_FILE, metricsToCsv, truncateMetrics } from "./metrics.js";
export type { MetricsRecord, TruncateResult } from "./metrics.js";
export { RunFolder, inspectRunFolder, describeRunContents, BEST_CHECKPOINT_DIR } from "./folder.js";
export type { OpenRunFolderOptions, ReplacedRun, RunContents } from "./folder.js";
export { DivergenceMonitor } from "./divergence.js";
export type { DivergenceOptions, DivergenceWarning } from "./divergence.js";
export { BestCheckpoint } from "./best.js";
export type { BestRecord } from "./best.js";
export { TensorBoardWriter, tensorBoardEventFiles, encodeEvent, tfRecord, crc32c, maskedCrc32c } from "./tensorboard.js";
export type { TensorBoardEvent, TensorBoardWriterOptions } from "./tensorboard.js";
