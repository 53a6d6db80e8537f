// Run folders (Node only): the lock, refusing or replacing an old run, metrics.jsonl line by line
// and cut back on resume; and the divergence monitor. Shared by every training command.
export { RunFolderError } from "./errors.js";
export type { RunFolderErrorCode } from "./errors.js";
export { RunLock, LOCK_FILE, parseLock } from "./lock.js";
export type { LockOwner } from "./lock.js";
export { MetricsLog, METRICS_FILE, truncateMetrics } from "./metrics.js";
export type { MetricsRecord, TruncateResult } from "./metrics.js";
export { RunFolder, inspectRunFolder, describeRunContents } from "./folder.js";
export type { OpenRunFolderOptions, ReplacedRun, RunContents } from "./folder.js";
export { DivergenceMonitor } from "./divergence.js";
export type { DivergenceOptions, DivergenceWarning } from "./divergence.js";
