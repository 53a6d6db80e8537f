// Checkpoints: safetensors files and atomic, verified checkpoint directories.
export { CheckpointError } from "./errors.js";
export { encodeSafetensors, decodeSafetensors } from "./safetensors.js";
export { saveCheckpoint, loadCheckpoint, latestCheckpoint, checkpointDirName } from "./checkpoint.js";
export type { Checkpoint, OptimizerCheckpoint, SaveCheckpointOptions } from "./checkpoint.js";
