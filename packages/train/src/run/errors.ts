/** What is wrong with a run folder, for programs that react to the kind (the CLI adds its own hints). */
export type RunFolderErrorCode =
  | "HOLDS_RUN" // a new run was asked for, but the folder holds (part of) an earlier run
  | "LOCKED" // another live process holds the folder's lock
  | "BAD_LOCK" // the lock file is not one this library wrote
  | "NO_CHECKPOINT" // a resume was asked for, but the folder holds no checkpoint to resume
  | "NOT_A_FOLDER" // the path exists and is not a directory
  | "METRICS_DAMAGED" // metrics.jsonl holds a line that is not a metrics record
  | "IO"; // the file system refused (permissions, a full disk, another file system for the move)

/**
 * A run folder that cannot be used as asked. The message names the folder (or file) and the
 * problem; `code` gives the kind, `path` the file or folder, `owner` the pid holding a lock.
 */
export class RunFolderError extends Error {
  readonly code: RunFolderErrorCode;
  readonly path: string;
  readonly owner: { readonly pid: number; readonly hostname: string; readonly started: string; readonly command: string | null } | undefined;

  constructor(
    code: RunFolderErrorCode,
    path: string,
    message: string,
    details: { readonly cause?: unknown; readonly owner?: RunFolderError["owner"] } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "RunFolderError";
    this.code = code;
    this.path = path;
    this.owner = details.owner;
  }
}

export function errorCode(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : undefined;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
