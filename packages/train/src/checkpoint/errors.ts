import { TensorError } from "@unroll/tensor";

/**
 * A checkpoint or safetensors file that cannot be written or read: a truncated, corrupted, foreign or
 * missing file, a format tag or version this library does not read, or values that cannot be stored.
 * The message starts with the operation and names the file (when there is one) and the problem;
 * `file` holds the file's path, and `cause` the underlying error where there was one (an I/O error).
 */
export class CheckpointError extends TensorError {
  readonly file: string | undefined;

  constructor(op: string, message: string, options: { readonly file?: string; readonly cause?: unknown } = {}) {
    super(op, options.file === undefined ? message : `${options.file}: ${message}`);
    this.name = "CheckpointError";
    this.file = options.file;
    if (options.cause !== undefined) {
      Object.defineProperty(this, "cause", { value: options.cause, writable: true, configurable: true });
    }
  }
}

/**
 * A parser's error message made fit to quote: engines echo the offending input, which for a foreign
 * file is binary; control and replacement characters become "?", and the length is capped.
 */
export function quoteParseError(e: unknown, max = 120): string {
  let message = "";
  for (const ch of e instanceof Error ? e.message : String(e)) {
    const c = ch.codePointAt(0)!;
    message += c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0xfffd ? "?" : ch;
  }
  return message.length > max ? `${message.slice(0, max)}...` : message;
}
