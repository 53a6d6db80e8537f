// Checkpoints: safetensors files and atomic, verified checkpoint directories.
export { CheckpointError } from "./errors.js";
export { encodeSafetensors, decodeSafetensors } from "./safetensors.js";
export { saveCheckpoint, loadCheckpoint, latestCheckpoint, checkpointDirName, isCheckpointEntry } from "./checkpoint.js";
export { checkStateDict, findNonFinite } from "./state-dict.js";
export type { ExpectedTensor } from "./state-dict.js";
export type { Checkpoint, OptimizerCheckpoint, SaveCheckpointOptions } from "./checkpoint.js";
