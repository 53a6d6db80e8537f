/** Where a command's results go: human-readable lines, or one JSON object per line with --json. */
export interface Output {
  readonly json: boolean;
  /** A line for people (suppressed with --json). */
  info(line: string): void;
  /** A result record: printed as JSON with --json, else formatted by `human`. */
  result(record: Record<string, unknown>, human?: (r: Record<string, unknown>) => string): void;
  /** Streamed text (generation): written as it comes, without a newline. */
  write(text: string): void;
}

export function makeOutput(json: boolean, stdout: NodeJS.WritableStream = process.stdout, stderr: NodeJS.WritableStream = process.stderr): Output {
  return {
    json,
    info: (line) => {
      if (!json) stderr.write(`${line}\n`);
    },
    result: (record, human) => {
      if (json) stdout.write(`${JSON.stringify(record)}\n`);
      else stdout.write(`${human ? human(record) : Object.entries(record).map(([k, v]) => `${k}: ${String(v)}`).join("\n")}\n`);
    },
    write: (text) => {
      if (!json) stdout.write(text);
    },
  };
}
