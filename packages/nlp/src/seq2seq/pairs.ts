import { ValueRangeError } from "@unroll/tensor";
import { DataError } from "../data/errors.js";
import { loadText, type LoadTextOptions } from "../data/text.js";

/** A sentence and its translation, with the line of the file it came from (1-based). */
export interface SentencePair {
  readonly source: string;
  readonly target: string;
  readonly line: number;
}

export interface ParsePairsOptions {
  /**
   * Which tab-separated columns hold the source and the target (0-based). Default [0, 1]: the
   * first column is translated into the second. The Anki/Tatoeba files (`eng-fra.txt`: English,
   * French, attribution) read French -> English with [1, 0]. Further columns are ignored.
   */
  readonly columns?: readonly [number, number];
  /** Named in error messages (a file path). */
  readonly name?: string;
}

export interface ParsedPairs {
  readonly pairs: SentencePair[];
  /** Lines that hold nothing but whitespace: skipped. */
  readonly blankLines: number;
}

/**
 * Reads tab-separated sentence pairs, one pair a line (`source<TAB>target[<TAB>more...]`), as
 * the Anki/Tatoeba files and `../shared/data/de-en` lay them out. Line endings may be `\n` or
 * `\r\n`; sentences are trimmed; blank lines are skipped (and counted). A line without enough
 * columns, or with an empty source or target, is an error that names the line and shows it.
 */
export function parsePairs(text: string, options: ParsePairsOptions = {}): ParsedPairs {
  const [sourceColumn, targetColumn] = options.columns ?? [0, 1];
  for (const c of [sourceColumn, targetColumn]) {
    if (!Number.isSafeInteger(c) || c < 0) throw new ValueRangeError("parsePairs", `columns must be two non-negative integers, got ${JSON.stringify(options.columns)}`);
  }
  if (sourceColumn === targetColumn) throw new ValueRangeError("parsePairs", `the source and target columns are both ${sourceColumn}: name two different columns`);
  const name = options.name ?? "the pair file";
  const needed = Math.max(sourceColumn, targetColumn) + 1;
  const pairs: SentencePair[] = [];
  let blankLines = 0;
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  lines.forEach((raw, i) => {
    const line = i + 1;
    const content = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (content.trim() === "") {
      blankLines++;
      return;
    }
    const cells = content.split("\t");
    const shown = JSON.stringify(content.length > 80 ? `${content.slice(0, 77)}...` : content);
    if (cells.length < needed) {
      throw new DataError(
        "MALFORMED",
        `${name}, line ${line}: expected ${needed} tab-separated columns (source${sourceColumn < targetColumn ? " then " : " after "}target), found ${cells.length}: ${shown}` +
          (cells.length === 1 ? "; separate the two sentences with a tab" : ""),
        { ...(options.name ? { path: options.name } : {}) },
      );
    }
    const source = cells[sourceColumn]!.trim();
    const target = cells[targetColumn]!.trim();
    if (source === "" || target === "") {
      throw new DataError("MALFORMED", `${name}, line ${line}: the ${source === "" ? "source" : "target"} sentence (column ${(source === "" ? sourceColumn : targetColumn) + 1}) is empty: ${shown}`, {
        ...(options.name ? { path: options.name } : {}),
      });
    }
    pairs.push({ source, target, line });
  });
  if (pairs.length === 0) throw new DataError("EMPTY", `${name} holds no sentence pairs (${lines.length} lines, all blank)`, { ...(options.name ? { path: options.name } : {}) });
  return { pairs, blankLines };
}

/**
 * `parsePairs` over a UTF-8 file (Node only): a missing file, bytes that are not UTF-8 (with the
 * line) and every layout problem are `DataError`s naming the file.
 */
export async function readPairs(path: string, options: Omit<ParsePairsOptions, "name"> & LoadTextOptions = {}): Promise<ParsedPairs> {
  const { columns, ...load } = options;
  const text = await loadText(path, load);
  return parsePairs(text, { name: path, ...(columns ? { columns } : {}) });
}
