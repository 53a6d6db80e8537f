/** What went wrong while reading or fetching a corpus, for programs that react to the kind. */
export type DataErrorCode =
  | "NOT_FOUND" // no such file, or an unknown corpus name
  | "NOT_A_FILE" // a directory or other non-regular file
  | "UNREADABLE" // the file exists but cannot be read (permissions, I/O)
  | "EMPTY" // no text at all
  | "TOO_LARGE" // above `maxBytes`
  | "BINARY" // a NUL byte: not a text file
  | "INVALID_UTF8" // bytes that are not UTF-8
  | "TOO_SHORT" // too little text for the batches asked for
  | "CHANGED" // not the text a run was trained on (its sha256 differs from the recorded one)
  | "MALFORMED" // text that does not follow the file's layout (a pair line without a tab, an empty side)
  | "DOWNLOAD_FAILED" // connection refused, offline, dropped connection, HTTP error
  | "CHECKSUM_MISMATCH" // downloaded bytes differ from the registered sha256 or size
  | "NOT_DOWNLOADABLE"; // a corpus without a URL and checksum

/**
 * Errors about data on disk or on the network. The message names the file or URL and says what
 * to do; `code`, `path` and `byteOffset` carry the same facts for programs.
 */
export class DataError extends Error {
  readonly code: DataErrorCode;
  readonly path: string | undefined;
  /** Where in the file the problem starts (binary or invalid UTF-8 input). */
  readonly byteOffset: number | undefined;

  constructor(code: DataErrorCode, message: string, details: { path?: string; byteOffset?: number; cause?: unknown } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "DataError";
    this.code = code;
    this.path = details.path;
    this.byteOffset = details.byteOffset;
  }
}
