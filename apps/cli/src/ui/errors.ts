/** A problem the user can fix: printed as `error: <message>` plus a hint, never with a stack trace. */
export class UserError extends Error {
  readonly hint: string | undefined;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = "UserError";
    this.hint = hint;
  }
}

// Errors of the libraries that describe bad input (their messages name the problem and the fix).
const USER_FACING = new Set([
  "UserError",
  "TensorError",
  "ShapeError",
  "DTypeError",
  "ValueRangeError",
  "CheckpointError",
  "RunFolderError",
  "DataError",
  "TrainingError",
  "OptimizerError",
  "TokenizerFormatError",
  "OnnxFormatError",
  "OnnxRuntimeError",
  "CommanderError",
]);

/** Whether `describeError` reports `error` as the user's problem (a message and a hint) rather than as a bug. */
export function isUserFacing(error: unknown): boolean {
  const e = error instanceof Error ? error : new Error(String(error));
  return USER_FACING.has(e.name) || (e as NodeJS.ErrnoException).code === "ENOENT";
}

/** The lines to print for an error: the message (and hint) for input problems, more for bugs. */
export function describeError(error: unknown, verbose: boolean): string[] {
  const e = error instanceof Error ? error : new Error(String(error));
  const lines: string[] = [];
  if (isUserFacing(e)) {
    lines.push(`error: ${e.message}`);
    const hint = (e as { hint?: unknown }).hint;
    if (typeof hint === "string" && hint !== "") lines.push(`hint: ${hint}`);
  } else {
    lines.push(`internal error: ${e.message}`);
    if (!verbose) lines.push("hint: this looks like a bug in unroll; rerun with --verbose for the stack trace and report it");
  }
  if (verbose && e.stack) lines.push(e.stack);
  return lines;
}

/**
 * A run stopped by the user (Ctrl-C) after saving what it had: not an error to print, but the
 * command ends with exit code 130 (128 + SIGINT), as interrupted programs do, so that scripts can
 * tell a finished run from a stopped one.
 */
export class Interrupted extends Error {
  constructor() {
    super("stopped by the user");
    this.name = "Interrupted";
  }
}
